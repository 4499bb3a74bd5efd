"""Commands the core returns. Adapters carry them out; the core never waits for their result — a
result comes back, if at all, as a later event."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from callcenter.core.agents import AgentState
from callcenter.core.interaction import Interaction


@dataclass(frozen=True, slots=True)
class DialAgent:
    """Ring the agent's phone; when it answers, connect it to the waiting caller."""

    interaction_id: str
    agent_id: str
    extension: str
    caller_channel: str
    caller_id: str  # what the agent's phone shows
    timeout: float
    attempt: int


@dataclass(frozen=True, slots=True)
class CancelDial:
    """Stop ringing the agent (the caller left, or the offer timed out)."""

    interaction_id: str
    agent_id: str


@dataclass(frozen=True, slots=True)
class SaveInteraction:
    interaction: Interaction


@dataclass(frozen=True, slots=True)
class RecordEvent:
    """An entry for the interaction's event log (audit, reporting, explanation of routing)."""

    interaction_id: str
    at: float
    kind: str
    data: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AgentStateChanged:
    agent_id: str
    state: AgentState
    reason: str
    at: float


Command = DialAgent | CancelDial | SaveInteraction | RecordEvent | AgentStateChanged

"""Commands the core returns. Adapters carry them out; the core never waits for their result — a
result comes back, if at all, as a later event."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from callcenter.core.acd.agents import AgentState
from callcenter.core.calls.machine import CallOutput
from callcenter.core.interaction import Interaction
from callcenter.core.notices import Notice


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
    """An untyped entry for the interaction's event log: what the call controls still emit until
    they have their own :class:`~callcenter.core.notices.Notice` classes (every other notice is
    typed). Stored as given."""

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


@dataclass(frozen=True, slots=True)
class DialCustomer:
    """A callback came up: ring the reserved agent, then the customer, and connect them.

    Results come back as ``AgentDialFailed`` (the agent did not answer), ``CallbackFailed`` (the
    customer did not) or ``CallbackConnected``.
    """

    interaction_id: str
    agent_id: str
    extension: str
    number: str
    timeout: float
    attempt: int


@dataclass(frozen=True, slots=True)
class Announce:
    """Tell a waiting caller their position and estimated wait (seconds, rounded up to 30)."""

    interaction_id: str
    caller_channel: str
    position: int
    estimated_wait: float


@dataclass(frozen=True, slots=True)
class ExitQueue:
    """The queue's maximum wait was reached, or the caller pressed ``*`` (``callback``): send the
    caller to the exit (voicemail, a callback confirmation, or on hold in another queue, ``target``)."""

    interaction_id: str
    caller_channel: str
    kind: str
    target: str | None = None


@dataclass(frozen=True, slots=True)
class OfferConversation:
    """Show the agent an offer for a messaging interaction, accepted or declined within ``timeout``
    (the result comes back as ``OfferAccepted`` / ``OfferDeclined``)."""

    interaction_id: str
    agent_id: str
    channel: str
    conversation_id: str
    customer_id: str
    timeout: float
    attempt: int


@dataclass(frozen=True, slots=True)
class WithdrawOffer:
    """Take an offer off the agent's screen (timed out, the customer left, someone else took it)."""

    interaction_id: str
    agent_id: str
    reason: str


Command = (
    DialAgent
    | CancelDial
    | SaveInteraction
    | Notice
    | RecordEvent
    | AgentStateChanged
    | DialCustomer
    | Announce
    | ExitQueue
    | OfferConversation
    | WithdrawOffer
    | CallOutput  # call control: core/calls.py
)

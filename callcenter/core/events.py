"""Events the core accepts. Adapters translate the outside world (AMI, AGI, HTTP) into these, once.

Every event carries ``at``: the time it happened, in POSIX seconds, as seen by the adapter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class CallArrived:
    interaction_id: str
    caller_number: str
    caller_name: str
    dialed_number: str
    caller_channel: str
    at: float
    customer_id: str | None = None  # the customer the caller's number belongs to, if known


@dataclass(frozen=True, slots=True)
class IvrFinished:
    """The IVR is done with the caller: ``queue`` set means "put in queue", else the call ends."""

    interaction_id: str
    choice: str | None
    queue: str | None
    at: float
    priority: int = 0
    # From YAML flows: what the queue should match, the caller's language, what the flow collected
    # (caller number, account, CRM answers...) and how the flow ended ("queue", "hangup",
    # "voicemail", "callback", "error"; "" from the fixed menu).
    skills: tuple[str, ...] = ()
    language: str | None = None
    data: Mapping[str, str] = field(default_factory=dict)
    outcome: str = ""
    # Held for this agent first (a campaign's preview call: the agent who chose to make it), as a
    # transfer to an agent is: for ``transfer_agent_seconds``, then for the queue's agents.
    agent: str | None = None


@dataclass(frozen=True, slots=True)
class CallerHungUp:
    """The caller's leg ended. ``system``: not by the caller's own hang-up (Asterisk shut down,
    the dialplan or the network ended it)."""

    interaction_id: str
    cause: str
    at: float
    system: bool = False


@dataclass(frozen=True, slots=True)
class OutboundAbandoned:
    """A campaign's call that a person answered found no agent free (the engine offered it to no
    one when it entered the queue): it leaves the line as abandoned while Asterisk plays the
    campaign's message (docs/outbound.md)."""

    interaction_id: str
    at: float
    cause: str = "no agent free: the campaign's message was played"


@dataclass(frozen=True, slots=True)
class AgentRegistered:
    """The agent's phone registered (a contact appeared for its endpoint)."""

    extension: str
    at: float


@dataclass(frozen=True, slots=True)
class AgentUnregistered:
    extension: str
    at: float


@dataclass(frozen=True, slots=True)
class AgentLogin:
    agent_id: str
    at: float


@dataclass(frozen=True, slots=True)
class AgentLogout:
    agent_id: str
    at: float


@dataclass(frozen=True, slots=True)
class AgentPause:
    agent_id: str
    reason: str
    at: float


@dataclass(frozen=True, slots=True)
class AgentResume:
    agent_id: str
    at: float


@dataclass(frozen=True, slots=True)
class AgentAnswered:
    interaction_id: str
    agent_id: str
    at: float


@dataclass(frozen=True, slots=True)
class AgentDialFailed:
    interaction_id: str
    agent_id: str
    reason: str
    at: float


@dataclass(frozen=True, slots=True)
class AgentHungUp:
    """The agent's leg ended; ``system`` as for :class:`CallerHungUp`."""

    interaction_id: str
    agent_id: str
    at: float
    system: bool = False


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passes; timers (ring safety timeout, wrap-up) are checked against ``at``."""

    at: float


@dataclass(frozen=True, slots=True)
class Reconciled:
    """Asterisk's live state after a (re)connect: which callers still exist, which phones are registered."""

    live_interactions: frozenset[str]
    registered_extensions: frozenset[str]
    at: float


@dataclass(frozen=True, slots=True)
class CallbackKeyPressed:
    """A caller pressed the callback key (``*``) while its call was up: a request to be called back
    at ``number`` if, and only if, it is waiting in line (the ACD decides; elsewhere it is a key)."""

    interaction_id: str
    number: str
    at: float


@dataclass(frozen=True, slots=True)
class CallbackRequested:
    """A waiting caller asked to be called back at ``number``; they keep their place in line."""

    interaction_id: str
    number: str
    at: float


@dataclass(frozen=True, slots=True)
class CallbackConnected:
    """The reserved agent and the called-back customer are talking."""

    interaction_id: str
    agent_id: str
    at: float


@dataclass(frozen=True, slots=True)
class CallbackFailed:
    """The customer could not be reached (no answer, busy, ...); the agent was not at fault."""

    interaction_id: str
    agent_id: str
    reason: str
    at: float


# --- Messaging interactions (chats, SMS, WhatsApp, WeChat, email) ---------------------------------
# A conversation needs an agent: it goes straight to its queue (no IVR). Offers are accepted or
# declined on the agent's screen; an offer not accepted in time passes to the next agent.


@dataclass(frozen=True, slots=True)
class ConversationArrived:
    interaction_id: str
    channel: str  # a core.interaction.Channel value other than "voice"
    customer_id: str
    conversation_id: str
    queue: str
    at: float
    priority: int = 0
    skills: tuple[str, ...] = ()
    language: str | None = None
    last_agent: str | None = None  # sticky routing: the agent who served this customer last
    data: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OfferAccepted:
    interaction_id: str
    agent_id: str
    at: float


@dataclass(frozen=True, slots=True)
class OfferDeclined:
    interaction_id: str
    agent_id: str
    at: float
    reason: str = "declined"


@dataclass(frozen=True, slots=True)
class ConversationEnded:
    """The agent closed the conversation (``by="agent"``), the customer left (``"customer"``), or
    it ended otherwise (``"system"``)."""

    interaction_id: str
    by: str
    at: float


@dataclass(frozen=True, slots=True)
class ConversationTransferred:
    """The serving agent hands the conversation to another agent or queue; it keeps its history."""

    interaction_id: str
    from_agent: str
    at: float
    to_agent: str | None = None
    to_queue: str | None = None


@dataclass(frozen=True, slots=True)
class WrapUpDone:
    """The agent submitted the wrap-up of an interaction it handled: the disposition and notes go
    on the interaction; a call's wrap-up time ends now."""

    agent_id: str
    interaction_id: str
    disposition: str
    notes: str
    at: float
    # The codes this wrap-up allows when they are not the engine's: a campaign call's (its
    # definition's dispositions). None: the engine's own list.
    dispositions: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class AgentAdded:
    """An administrator added an agent while the server runs (docs/admin.md, "Adding and removing
    agents"): the engine knows it from now on, logged out until its phone registers (or it logs in)."""

    agent_id: str
    extension: str
    at: float
    queues: frozenset[str] = frozenset()
    skills: Mapping[str, int] = field(default_factory=dict)
    languages: frozenset[str] = frozenset()
    capacity: Mapping[str, int] = field(default_factory=dict)  # per messaging channel
    max_chats: int = 3
    auto_login: bool = True
    chat_while_on_call: bool = False
    call_while_chatting: bool = True


@dataclass(frozen=True, slots=True)
class AgentRemoved:
    """An administrator removed (or disabled) an agent. Refused (``AgentInUse``) while the agent
    holds an interaction or owes a wrap-up: the customer is never cut off by an edit."""

    agent_id: str
    at: float


Event = (
    CallArrived
    | IvrFinished
    | CallerHungUp
    | OutboundAbandoned
    | AgentRegistered
    | AgentUnregistered
    | AgentLogin
    | AgentLogout
    | AgentPause
    | AgentResume
    | AgentAnswered
    | AgentDialFailed
    | AgentHungUp
    | Tick
    | Reconciled
    | CallbackKeyPressed
    | CallbackRequested
    | CallbackConnected
    | CallbackFailed
    | ConversationArrived
    | OfferAccepted
    | OfferDeclined
    | ConversationEnded
    | ConversationTransferred
    | WrapUpDone
    | AgentAdded
    | AgentRemoved
)

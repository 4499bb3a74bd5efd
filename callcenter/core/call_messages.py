"""The call-control messages of core/calls.py: the agent panel's requests, the call-control
adapter's results, the commands the core answers with, and the typed notices (each one becomes the
event-log row the engine wrote before calls had a module: same ``kind`` and data keys)."""

from __future__ import annotations

from dataclasses import dataclass

# --- requests (from the agent panel) -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HoldRequested:
    interaction_id: str
    agent_id: str
    at: float


@dataclass(frozen=True, slots=True)
class ResumeRequested:
    interaction_id: str
    agent_id: str
    at: float


@dataclass(frozen=True, slots=True)
class HangupRequested:
    interaction_id: str
    agent_id: str
    at: float


@dataclass(frozen=True, slots=True)
class BlindTransferRequested:
    """To another agent or a queue (back in line, held for ``to_agent`` for a while), or out to a
    number (the interaction then ends, answered)."""

    interaction_id: str
    agent_id: str
    at: float
    to_agent: str | None = None
    to_queue: str | None = None
    to_number: str | None = None


@dataclass(frozen=True, slots=True)
class ConsultRequested:
    """Attended transfer, step one: the caller on hold, ring ``to_agent`` to talk first."""

    interaction_id: str
    agent_id: str
    to_agent: str
    at: float


@dataclass(frozen=True, slots=True)
class ConsultCompleteRequested:
    interaction_id: str
    agent_id: str
    at: float


@dataclass(frozen=True, slots=True)
class ConsultCancelRequested:
    interaction_id: str
    agent_id: str
    at: float


@dataclass(frozen=True, slots=True)
class ConferenceRequested:
    """Three parties: bring ``to_agent`` in; the call stays this agent's."""

    interaction_id: str
    agent_id: str
    to_agent: str
    at: float


@dataclass(frozen=True, slots=True)
class ConferenceDropRequested:
    interaction_id: str
    agent_id: str
    at: float


Request = (
    HoldRequested
    | ResumeRequested
    | HangupRequested
    | BlindTransferRequested
    | ConsultRequested
    | ConsultCompleteRequested
    | ConsultCancelRequested
    | ConferenceRequested
    | ConferenceDropRequested
)
REQUESTS = (
    HoldRequested,
    ResumeRequested,
    HangupRequested,
    BlindTransferRequested,
    ConsultRequested,
    ConsultCompleteRequested,
    ConsultCancelRequested,
    ConferenceRequested,
    ConferenceDropRequested,
)


# --- results (from the call-control adapter) ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HoldConfirmed:
    """Asterisk moved the legs: on hold (``held``) or back together."""

    interaction_id: str
    held: bool
    at: float


@dataclass(frozen=True, slots=True)
class HoldFound:
    """After a restart: Asterisk has this call's caller waiting on hold (in cc-hold)."""

    interaction_id: str
    at: float


@dataclass(frozen=True, slots=True)
class TransferConfirmed:
    """The caller was sent on (blind transfer); the agent's leg ended."""

    interaction_id: str
    at: float


@dataclass(frozen=True, slots=True)
class ConsultAnswered:
    interaction_id: str
    to_agent: str
    at: float


@dataclass(frozen=True, slots=True)
class ConsultFailed:
    """The consult is over without a transfer: the colleague did not answer, hung up, or Asterisk
    refused. ``on_hold``: the caller waits on hold (false: the hold itself failed)."""

    interaction_id: str
    to_agent: str
    reason: str
    at: float
    on_hold: bool = True


@dataclass(frozen=True, slots=True)
class ConsultCompleted:
    interaction_id: str
    at: float


@dataclass(frozen=True, slots=True)
class ConsultCancelled:
    interaction_id: str
    at: float


@dataclass(frozen=True, slots=True)
class GuestJoined:
    interaction_id: str
    agent_id: str
    at: float


@dataclass(frozen=True, slots=True)
class GuestLeft:
    """The invited agent is out of the conference (hung up, did not answer, or was dropped)."""

    interaction_id: str
    agent_id: str
    reason: str
    at: float


@dataclass(frozen=True, slots=True)
class ControlFailed:
    """Asterisk refused the pending control (hold, resume, transfer, complete, cancel, hang-up,
    drop): the call stays as it was."""

    interaction_id: str
    reason: str
    at: float


Result = (
    HoldConfirmed
    | HoldFound
    | TransferConfirmed
    | ConsultAnswered
    | ConsultFailed
    | ConsultCompleted
    | ConsultCancelled
    | GuestJoined
    | GuestLeft
    | ControlFailed
)
RESULTS = (
    HoldConfirmed,
    HoldFound,
    TransferConfirmed,
    ConsultAnswered,
    ConsultFailed,
    ConsultCompleted,
    ConsultCancelled,
    GuestJoined,
    GuestLeft,
    ControlFailed,
)
CallEvent = Request | Result


# --- commands (to the call-control adapter) ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HoldCall:
    interaction_id: str
    agent_id: str
    caller_channel: str


@dataclass(frozen=True, slots=True)
class ResumeCall:
    interaction_id: str
    agent_id: str


@dataclass(frozen=True, slots=True)
class HangupCall:
    interaction_id: str
    agent_id: str


@dataclass(frozen=True, slots=True)
class TransferCall:
    """The caller back to waiting in ``queue`` (the engine then rings the target), or out to
    ``number``; the agent's leg ends."""

    interaction_id: str
    agent_id: str
    caller_channel: str
    queue: str | None = None
    number: str | None = None


@dataclass(frozen=True, slots=True)
class OriginateConsult:
    interaction_id: str
    agent_id: str
    caller_channel: str
    to_agent: str
    to_extension: str
    hold_first: bool  # the caller is still bridged to the agent: hold them first


@dataclass(frozen=True, slots=True)
class BridgeConsult:
    """Complete the consult: the colleague's leg takes the caller, the first agent's leg ends."""

    interaction_id: str
    agent_id: str
    caller_channel: str


@dataclass(frozen=True, slots=True)
class CancelConsult:
    interaction_id: str
    agent_id: str


@dataclass(frozen=True, slots=True)
class OriginateConference:
    interaction_id: str
    agent_id: str
    caller_channel: str
    to_agent: str
    to_extension: str


@dataclass(frozen=True, slots=True)
class DropGuest:
    interaction_id: str


CallCommand = (
    HoldCall
    | ResumeCall
    | HangupCall
    | TransferCall
    | OriginateConsult
    | BridgeConsult
    | CancelConsult
    | OriginateConference
    | DropGuest
)
CALL_COMMANDS = (
    HoldCall,
    ResumeCall,
    HangupCall,
    TransferCall,
    OriginateConsult,
    BridgeConsult,
    CancelConsult,
    OriginateConference,
    DropGuest,
)


def failed(command: CallCommand, reason: str, at: float) -> Result:
    """What to report when ``command`` could not be carried out at all (Asterisk refused its first
    step, or there is no connection to Asterisk): a reserved colleague is then freed."""
    match command:
        case OriginateConsult():
            return ConsultFailed(command.interaction_id, command.to_agent, reason, at, not command.hold_first)
        case OriginateConference():
            return GuestLeft(command.interaction_id, command.to_agent, reason, at)
        case _:
            return ControlFailed(command.interaction_id, reason, at)


# --- notices (to the event log and the panels) -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HeldNotice:
    interaction_id: str
    agent_id: str
    held: bool
    at: float

    def row(self) -> tuple[str, dict[str, object]]:
        return ("held" if self.held else "resumed"), {"agent": self.agent_id}


@dataclass(frozen=True, slots=True)
class TransferNotice:
    """The call left ``from_agent``: blind (to an agent and/or queue, or a number) or attended."""

    interaction_id: str
    from_agent: str
    at: float
    to_agent: str | None = None
    to_queue: str | None = None
    to_number: str | None = None
    attended: bool = False

    def row(self) -> tuple[str, dict[str, object]]:
        if self.to_number is not None:
            return "transferred", {"from": self.from_agent, "to_number": self.to_number}
        if self.attended:
            return "transferred", {"from": self.from_agent, "to_agent": self.to_agent, "attended": True}
        return "transferred", {"from": self.from_agent, "to_agent": self.to_agent, "to_queue": self.to_queue}


@dataclass(frozen=True, slots=True)
class ConsultNotice:
    """A consult began (``started``) or ended without a transfer."""

    interaction_id: str
    from_agent: str
    to_agent: str
    started: bool
    at: float
    reason: str = ""

    def row(self) -> tuple[str, dict[str, object]]:
        if self.started:
            return "consult_started", {"from": self.from_agent, "to_agent": self.to_agent}
        return "consult_cancelled", {
            "from": self.from_agent,
            "to_agent": self.to_agent,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class ConferenceNotice:
    """The colleague was invited, joined, or left the conference."""

    interaction_id: str
    agent_id: str  # the colleague
    step: str  # "invited", "joined" or "left"
    at: float
    from_agent: str = ""
    reason: str = ""

    def row(self) -> tuple[str, dict[str, object]]:
        if self.step == "invited":
            return "conference_invited", {"from": self.from_agent, "agent": self.agent_id}
        if self.step == "joined":
            return "conference_joined", {"agent": self.agent_id}
        return "conference_left", {"agent": self.agent_id, "reason": self.reason}


CallNotice = HeldNotice | TransferNotice | ConsultNotice | ConferenceNotice
CALL_NOTICES = (HeldNotice, TransferNotice, ConsultNotice, ConferenceNotice)

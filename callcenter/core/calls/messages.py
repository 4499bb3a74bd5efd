"""The call-control messages of core/calls/machine.py: the agent panel's and the supervisor's
requests, the call-control adapter's results, the commands the core answers with, and the typed
notices (each one becomes the event-log row the engine wrote before calls had a module: same
``kind`` and data keys)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from callcenter.core.notices import Notice, RecordingPaused, RecordingResumed, Transferred, row_key

# How a supervisor joins an agent's call: ``listen`` (nobody hears the supervisor), ``whisper``
# (the agent does), ``barge`` (the agent and the caller do).
SPY_MODES = ("listen", "whisper", "barge")

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


@dataclass(frozen=True, slots=True)
class RecordingPauseRequested:
    """Pause (``paused``) or resume the recording of a call in progress (PCI: while the customer
    gives card data). ``agent_id``: the agent asking, for its own call only; None for a supervisor
    (any live call). ``by`` and ``role``: who asked, for the call's record."""

    interaction_id: str
    paused: bool
    by: str
    role: str
    at: float
    agent_id: str | None = None


@dataclass(frozen=True, slots=True)
class SpyRequested:
    """A supervisor asks to listen to, whisper to or barge into ``agent_id``'s call (``mode``, one
    of :data:`SPY_MODES`): their own phone rings. ``supervisor``: the agent id linked to the
    supervisor's account (its extension is the phone), None when the account has none."""

    supervisor: str | None
    agent_id: str
    mode: str
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
    | RecordingPauseRequested
    | SpyRequested
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
    RecordingPauseRequested,
    SpyRequested,
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


@dataclass(frozen=True, slots=True)
class RecordingConfirmed:
    """Asterisk muted (``paused``) or unmuted the call's recording."""

    interaction_id: str
    paused: bool
    at: float


@dataclass(frozen=True, slots=True)
class RecordingFailed:
    """The recording could not be paused or resumed (no recording leg up, Asterisk refused): it
    stays as it was."""

    interaction_id: str
    reason: str
    at: float


@dataclass(frozen=True, slots=True)
class RecordingFound:
    """After a restart: the call's events say its recording was paused last (Asterisk keeps the
    mute while the server is away; it cannot be asked whether a MixMonitor is muted)."""

    interaction_id: str
    at: float


@dataclass(frozen=True, slots=True)
class SpyRinging:
    """The supervisor's phone is being rung into ChanSpy on the agent's leg of this call."""

    interaction_id: str
    supervisor: str
    agent_id: str
    mode: str
    at: float


@dataclass(frozen=True, slots=True)
class SpyFailed:
    """The supervisor's phone could not be rung (the agent's leg is gone, Asterisk refused)."""

    interaction_id: str
    supervisor: str
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
    | RecordingConfirmed
    | RecordingFailed
    | RecordingFound
    | SpyRinging
    | SpyFailed
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
    RecordingConfirmed,
    RecordingFailed,
    RecordingFound,
    SpyRinging,
    SpyFailed,
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


@dataclass(frozen=True, slots=True)
class PauseRecording:
    """Mute the call's recording (every recorded leg of it): its tracks get silence meanwhile."""

    interaction_id: str


@dataclass(frozen=True, slots=True)
class ResumeRecording:
    interaction_id: str


@dataclass(frozen=True, slots=True)
class SpyCall:
    """Ring the supervisor's phone (``extension``) into ChanSpy on ``agent_id``'s leg of the call."""

    interaction_id: str
    agent_id: str
    supervisor: str
    extension: str
    mode: str


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
    | PauseRecording
    | ResumeRecording
    | SpyCall
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
    PauseRecording,
    ResumeRecording,
    SpyCall,
)


def failed(command: CallCommand, reason: str, at: float) -> Result:
    """What to report when ``command`` could not be carried out at all (Asterisk refused its first
    step, or there is no connection to Asterisk): a reserved colleague is then freed."""
    match command:
        case OriginateConsult():
            return ConsultFailed(command.interaction_id, command.to_agent, reason, at, not command.hold_first)
        case OriginateConference():
            return GuestLeft(command.interaction_id, command.to_agent, reason, at)
        case PauseRecording() | ResumeRecording():
            return RecordingFailed(command.interaction_id, reason, at)
        case SpyCall():
            return SpyFailed(command.interaction_id, command.supervisor, reason, at)
        case _:
            return ControlFailed(command.interaction_id, reason, at)


# --- notices (to the event log and the panels) -------------------------------------------------------
# Typed like the engine's (core/notices.py): storage turns each into the row the engine wrote before
# calls had a module (same kind, same keys). A blind transfer to an agent or a queue is the engine's
# own ``notices.Transferred``; the two other transfers have their own keys.


@dataclass(frozen=True, slots=True)
class CallHeld(Notice):
    kind: ClassVar[str] = "held"
    agent: str


@dataclass(frozen=True, slots=True)
class CallResumed(Notice):
    kind: ClassVar[str] = "resumed"
    agent: str


@dataclass(frozen=True, slots=True)
class TransferredOut(Notice):
    """A blind transfer to a number: the interaction ends here."""

    kind: ClassVar[str] = "transferred"
    from_agent: str = field(metadata=row_key("from"))
    to_number: str


@dataclass(frozen=True, slots=True)
class TransferredAttended(Notice):
    """A consult completed: the consulted agent has the call."""

    kind: ClassVar[str] = "transferred"
    from_agent: str = field(metadata=row_key("from"))
    to_agent: str
    attended: bool = True


@dataclass(frozen=True, slots=True)
class ConsultStarted(Notice):
    kind: ClassVar[str] = "consult_started"
    from_agent: str = field(metadata=row_key("from"))
    to_agent: str


@dataclass(frozen=True, slots=True)
class ConsultEnded(Notice):
    """The consult is over without a transfer (cancelled, not answered, hung up...)."""

    kind: ClassVar[str] = "consult_cancelled"
    from_agent: str = field(metadata=row_key("from"))
    to_agent: str
    reason: str


@dataclass(frozen=True, slots=True)
class ConferenceInvited(Notice):
    kind: ClassVar[str] = "conference_invited"
    from_agent: str = field(metadata=row_key("from"))
    agent: str


@dataclass(frozen=True, slots=True)
class ConferenceJoined(Notice):
    kind: ClassVar[str] = "conference_joined"
    agent: str


@dataclass(frozen=True, slots=True)
class ConferenceLeft(Notice):
    kind: ClassVar[str] = "conference_left"
    agent: str
    reason: str


@dataclass(frozen=True, slots=True)
class Supervised(Notice):
    """A supervisor's phone was rung to listen to, whisper to or barge into the call (``mode``) on
    ``agent``'s leg."""

    kind: ClassVar[str] = "supervised"
    supervisor: str
    agent: str
    mode: str


CallNotice = (
    CallHeld
    | CallResumed
    | Transferred
    | TransferredOut
    | TransferredAttended
    | ConsultStarted
    | ConsultEnded
    | ConferenceInvited
    | ConferenceJoined
    | ConferenceLeft
    | RecordingPaused
    | RecordingResumed
    | Supervised
)
CALL_NOTICES = (
    CallHeld,
    CallResumed,
    Transferred,
    TransferredOut,
    TransferredAttended,
    ConsultStarted,
    ConsultEnded,
    ConferenceInvited,
    ConferenceJoined,
    ConferenceLeft,
    RecordingPaused,
    RecordingResumed,
    Supervised,
)

"""Calls under an agent's control, as a state machine. Pure: events in, commands out.

Everything that changes a call's control state lives in ``TRANSITIONS``: a move not in the table
raises :class:`IllegalCallMove` and leaves the call unchanged. One owner of each call's state: this
module. The agent panel submits requests (``HoldRequested``, ``ConsultRequested``...); the core checks
them (the agent's own call, its state, the colleague able to take a call) and answers with typed
commands (``HoldCall``, ``OriginateConsult``...) that the call-control adapter carries out against
Asterisk; the adapter reports what happened as result events (``HoldConfirmed``, ``ConsultAnswered``,
``ControlFailed``...). Asterisk's facts (channel names, leg ids) stay in the adapter.

Two requests do not move the control state: the PCI recording pause (``RecordingPauseRequested``:
the call's ``recording_paused`` flag, moved by ``RecordingConfirmed``, with its own pending request,
so a pause is never held up by a hold under way, nor the reverse) and a supervisor joining the call
(``SpyRequested``: listen and whisper in any state in which the agent is on the line, barge only
while the caller is with the agent — on hold, during a consult, nobody would hear the barge but the
agent; the supervisor's phone ringing is the ``Supervised`` notice).

Invariants (checked by tests, including a property test over random request sequences):
- a call has at most one control under way (``pending``); another request meanwhile is refused;
- a refused request (a :class:`CallRefused`, a domain error) changes nothing;
- the colleague of a consult or a conference is set exactly in the states that have one
  (``CONSULTING``, ``CONSULTED``, ``INVITING``, ``CONFERENCE``), and is reserved by the engine
  (offered, then busy) for as long;
- a state moves only on a fact: a confirmation from Asterisk, or (consult, conference) the
  colleague's phone being rung, which reserves the colleague at once.

The engine (:class:`~callcenter.core.acd.engine.Acd`) keeps what routing needs — which agent holds which
interaction, queues, wrap-ups — and does the routing side of each step through :class:`Routing`.
Notices are typed (``CallHeld``, ``ConsultStarted``... in core/call_messages.py); storage turns
each into the row the engine wrote before (same ``kind`` and data keys: the stored history and the
restart recovery read them).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Protocol

from callcenter.core.calls.messages import (
    CALL_COMMANDS,
    CALL_NOTICES,
    REQUESTS,
    RESULTS,
    SPY_MODES,
    BlindTransferRequested,
    BridgeConsult,
    CallCommand,
    CallEvent,
    CallHeld,
    CallNotice,
    CallResumed,
    CancelConsult,
    ConferenceDropRequested,
    ConferenceInvited,
    ConferenceJoined,
    ConferenceLeft,
    ConferenceRequested,
    ConsultAnswered,
    ConsultCancelled,
    ConsultCancelRequested,
    ConsultCompleted,
    ConsultCompleteRequested,
    ConsultEnded,
    ConsultFailed,
    ConsultRequested,
    ConsultStarted,
    ControlFailed,
    DropGuest,
    GuestJoined,
    GuestLeft,
    HangupCall,
    HangupRequested,
    HoldCall,
    HoldConfirmed,
    HoldFound,
    HoldRequested,
    OriginateConference,
    OriginateConsult,
    PauseRecording,
    RecordingConfirmed,
    RecordingFailed,
    RecordingFound,
    RecordingPauseRequested,
    Request,
    Result,
    ResumeCall,
    ResumeRecording,
    ResumeRequested,
    SpyCall,
    SpyFailed,
    SpyRequested,
    SpyRinging,
    Supervised,
    TransferCall,
    TransferConfirmed,
    TransferredAttended,
    TransferredOut,
    failed,
)
from callcenter.core.errors import DomainError, InvalidRequest, NotYourCall, UnknownAgent
from callcenter.core.interaction import Interaction
from callcenter.core.notices import RecordingPaused, RecordingResumed, Transferred

__all__ = [
    "CALL_COMMANDS",
    "CALL_NOTICES",
    "COLLEAGUE_ON_LINE",
    "NO_BARGE",
    "REQUESTS",
    "RESULTS",
    "SPY_MODES",
    "TRANSITIONS",
    "WITH_COLLEAGUE",
    "BlindTransferRequested",
    "BridgeConsult",
    "Call",
    "CallChanged",
    "CallCommand",
    "CallEvent",
    "CallHeld",
    "CallMove",
    "CallNotice",
    "CallOutput",
    "CallRefused",
    "CallResumed",
    "CallState",
    "Calls",
    "CancelConsult",
    "ConferenceDropRequested",
    "ConferenceInvited",
    "ConferenceJoined",
    "ConferenceLeft",
    "ConferenceRequested",
    "ConsultAnswered",
    "ConsultCancelRequested",
    "ConsultCancelled",
    "ConsultCompleteRequested",
    "ConsultCompleted",
    "ConsultEnded",
    "ConsultFailed",
    "ConsultRequested",
    "ConsultStarted",
    "ControlFailed",
    "ControlInProgress",
    "ControlRefused",
    "DropGuest",
    "GuestJoined",
    "GuestLeft",
    "HangupCall",
    "HangupRequested",
    "HoldCall",
    "HoldConfirmed",
    "HoldFound",
    "HoldRequested",
    "IllegalCallMove",
    "OriginateConference",
    "OriginateConsult",
    "PauseRecording",
    "RecordingConfirmed",
    "RecordingFailed",
    "RecordingFound",
    "RecordingPauseRequested",
    "Request",
    "Result",
    "ResumeCall",
    "ResumeRecording",
    "ResumeRequested",
    "Routing",
    "SpyCall",
    "SpyFailed",
    "SpyRequested",
    "SpyRinging",
    "Supervised",
    "TransferCall",
    "TransferConfirmed",
    "TransferredAttended",
    "TransferredOut",
    "failed",
]


class CallState(enum.StrEnum):
    TALKING = "talking"  # caller and agent bridged (or alone together in a conference room)
    HELD = "held"  # the caller hears music, the agent silence
    CONSULTING = "consulting"  # the caller on hold, the colleague's phone ringing
    CONSULTED = "consulted"  # the caller on hold, the agent talking to the colleague
    INVITING = "inviting"  # caller and agent in a conference room, the colleague's phone ringing
    CONFERENCE = "conference"  # three parties in the room
    GONE = "gone"  # transferred away or hung up: no longer under this agent's control


class CallMove(enum.StrEnum):
    HOLD = "hold"
    RESUME = "resume"
    HANG_UP = "hang_up"
    TRANSFER = "transfer"
    CONSULT = "consult"
    CONSULT_ANSWERED = "consult_answered"
    CONSULT_FAILED = "consult_failed"  # the colleague did not answer or hung up: the caller waits on hold
    CONSULT_REFUSED = "consult_refused"  # the hold before the consult failed: the caller never left
    CONSULT_CANCEL = "consult_cancel"
    CONSULT_COMPLETE = "consult_complete"  # the colleague takes the caller (the call is theirs)
    INVITE = "invite"
    GUEST_JOINED = "guest_joined"
    GUEST_LEFT = "guest_left"


S, M = CallState, CallMove
TRANSITIONS: dict[tuple[CallState, CallMove], CallState] = {
    (S.TALKING, M.HOLD): S.HELD,
    (S.HELD, M.RESUME): S.TALKING,
    (S.TALKING, M.TRANSFER): S.GONE,
    (S.HELD, M.TRANSFER): S.GONE,
    (S.TALKING, M.CONSULT): S.CONSULTING,
    (S.HELD, M.CONSULT): S.CONSULTING,
    (S.CONSULTING, M.CONSULT_ANSWERED): S.CONSULTED,
    (S.CONSULTING, M.CONSULT_FAILED): S.HELD,
    (S.CONSULTED, M.CONSULT_FAILED): S.HELD,
    (S.CONSULTING, M.CONSULT_REFUSED): S.TALKING,
    (S.CONSULTING, M.CONSULT_CANCEL): S.TALKING,
    (S.CONSULTED, M.CONSULT_CANCEL): S.TALKING,
    (S.CONSULTED, M.CONSULT_COMPLETE): S.TALKING,
    (S.TALKING, M.INVITE): S.INVITING,
    (S.HELD, M.INVITE): S.INVITING,
    (S.INVITING, M.GUEST_JOINED): S.CONFERENCE,
    (S.INVITING, M.GUEST_LEFT): S.TALKING,
    (S.CONFERENCE, M.GUEST_LEFT): S.TALKING,
    **{(s, M.HANG_UP): S.GONE for s in S if s != S.GONE},
}
WITH_COLLEAGUE = frozenset({S.CONSULTING, S.CONSULTED, S.INVITING, S.CONFERENCE})
# The caller waits on hold, away from the agent: a barge would reach the agent only.
NO_BARGE = frozenset({S.HELD, S.CONSULTING, S.CONSULTED})
# A consulted or invited colleague is on the line (its phone is not just ringing).
COLLEAGUE_ON_LINE = frozenset({S.CONSULTED, S.CONFERENCE})
del S, M


# --- errors ------------------------------------------------------------------------------------------


class CallRefused(DomainError):
    """A call control the core refuses (the message says why); nothing was changed."""


class IllegalCallMove(CallRefused):
    def __init__(self, state: CallState, move: CallMove) -> None:
        super().__init__(_WHY.get((state, move)) or _WHY_STATE.get(state) or f"cannot {move} a call {state}")
        self.state = state
        self.move = move


class ControlInProgress(CallRefused):
    """Another control of this call is still being carried out."""


class ControlRefused(CallRefused):
    """Asterisk could not carry the control out (or there is no connection to it)."""


_WHY: dict[tuple[CallState, CallMove], str] = {
    (CallState.HELD, CallMove.HOLD): "the call is already on hold",
    (CallState.TALKING, CallMove.RESUME): "the call is not on hold",
    (CallState.TALKING, CallMove.CONSULT_CANCEL): "no consult going on",
    (CallState.TALKING, CallMove.CONSULT_COMPLETE): "no consult going on",
    (CallState.HELD, CallMove.CONSULT_CANCEL): "no consult going on",
    (CallState.HELD, CallMove.CONSULT_COMPLETE): "no consult going on",
    (CallState.CONSULTING, CallMove.CONSULT_COMPLETE): "the consulted agent is not on the line",
}
_WHY_STATE: dict[CallState, str] = {
    CallState.INVITING: "drop the third party from the conference first",
    CallState.CONFERENCE: "drop the third party from the conference first",
    CallState.CONSULTING: "finish the consult first",
    CallState.CONSULTED: "finish the consult first",
    CallState.GONE: "not your call",
}


# --- the call ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Call:
    interaction_id: str
    agent_id: str  # the agent in control of it
    state: CallState = CallState.TALKING
    colleague: str | None = None  # the agent consulted or invited
    pending: Request | None = None  # the control being carried out
    recording_paused: bool = False  # PCI: the recording is muted
    recording_pending: RecordingPauseRequested | None = None  # a pause or resume being carried out

    def can(self, move: CallMove) -> bool:
        return (self.state, move) in TRANSITIONS

    def check(self, move: CallMove) -> None:
        if not self.can(move):
            raise IllegalCallMove(self.state, move)

    def moved(self, move: CallMove, **changes: object) -> Call:
        self.check(move)
        return replace(self, state=TRANSITIONS[(self.state, move)], pending=None, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class CallChanged:
    """The call's control state changed (for the panels; not stored). ``call`` is None once it is
    no longer under an agent's control."""

    interaction_id: str
    agent_id: str
    call: Call | None
    at: float


CallOutput = CallCommand | CallNotice | CallChanged


# --- the routing side, done by the engine ------------------------------------------------------------


class Routing(Protocol):
    """What a call's control asks of the engine (agents' states, queues, wrap-ups)."""

    def live_call(self, interaction_id: str) -> Interaction | None: ...

    def call_of(self, agent_id: str) -> str | None:
        """The call the agent's phone is on (ringing, talking, consulted, invited), if any."""
        ...

    def extension_of(self, agent_id: str) -> str | None: ...

    def can_take_call(self, agent_id: str) -> bool: ...

    def reserve(self, agent_id: str, interaction_id: str, at: float, reason: str) -> None: ...

    def seat(self, agent_id: str, interaction_id: str, at: float) -> None: ...

    def free_helper(self, agent_id: str, interaction_id: str, at: float) -> None: ...

    def hand_over(self, interaction_id: str, from_agent: str, to_agent: str, at: float) -> None: ...

    def requeue(
        self, interaction_id: str, from_agent: str, at: float, to_agent: str | None, to_queue: str | None
    ) -> str: ...

    def transfer_out(self, interaction_id: str, from_agent: str, number: str, at: float) -> None: ...


# --- the calls ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class Calls:
    """Every answered call's control state, by interaction. A call is TALKING until a control moves
    it; it is forgotten when it ends or leaves its agent (``ended``)."""

    _calls: dict[str, Call] = field(default_factory=dict)

    def get(self, interaction_id: str) -> Call | None:
        return self._calls.get(interaction_id)

    def __iter__(self) -> Iterator[Call]:
        return iter(list(self._calls.values()))

    def colleague_of(self, interaction_id: str) -> str | None:
        call = self._calls.get(interaction_id)
        return call.colleague if call is not None else None

    def handle(self, event: CallEvent, routing: Routing, out: list[CallOutput]) -> None:
        """One request or result. A refused request raises a :class:`CallRefused` before anything
        is changed; a stale result (for a call or colleague no longer there) is ignored."""
        match event:
            case HoldRequested() | ResumeRequested() | HangupRequested():
                self._simple(event, routing, out)
            case BlindTransferRequested():
                self._transfer(event, routing, out)
            case ConsultRequested() | ConferenceRequested():
                self._bring_in(event, routing, out)
            case ConsultCompleteRequested() | ConsultCancelRequested():
                self._end_consult(event, routing, out)
            case ConferenceDropRequested():
                call = self._mine(event.interaction_id, event.agent_id, routing)
                if call.state not in (CallState.INVITING, CallState.CONFERENCE):
                    raise CallRefused("nobody else is in the conference")
                out.append(DropGuest(call.interaction_id))
            case RecordingPauseRequested():
                self._recording(event, routing, out)
            case SpyRequested():
                self._spy(event, routing, out)
            case _:
                self._result(event, routing, out)

    def ended(self, interaction_id: str, at: float, routing: Routing) -> None:
        """The interaction ended: a consulted or invited colleague is free again."""
        call = self._calls.pop(interaction_id, None)
        if call is not None and call.colleague is not None:
            routing.free_helper(call.colleague, interaction_id, at)

    # -- requests ----------------------------------------------------------------------------------

    def _mine(self, interaction_id: str, agent_id: str, routing: Routing) -> Call:
        i = routing.live_call(interaction_id)
        if i is None or i.is_messaging or i.agent_id != agent_id or i.answered_at is None:
            raise NotYourCall("not your call")
        call = self._calls.get(interaction_id)
        if call is None or call.agent_id != agent_id:
            call = Call(interaction_id, agent_id)
        if call.pending is not None:
            raise ControlInProgress("another control of this call is under way")
        return call

    @staticmethod
    def _caller(routing: Routing, interaction_id: str, what: str) -> str:
        i = routing.live_call(interaction_id)
        if i is None or i.caller_channel is None:
            raise CallRefused(f"this call has no caller leg{what}")
        return i.caller_channel

    def _simple(
        self,
        e: HoldRequested | ResumeRequested | HangupRequested,
        routing: Routing,
        out: list[CallOutput],
    ) -> None:
        call = self._mine(e.interaction_id, e.agent_id, routing)
        command: CallCommand
        if isinstance(e, HoldRequested):
            call.check(CallMove.HOLD)
            command = HoldCall(
                call.interaction_id, call.agent_id, self._caller(routing, call.interaction_id, " to hold")
            )
        elif isinstance(e, ResumeRequested):
            call.check(CallMove.RESUME)
            command = ResumeCall(call.interaction_id, call.agent_id)
        else:
            call.check(CallMove.HANG_UP)
            command = HangupCall(call.interaction_id, call.agent_id)
        self._calls[call.interaction_id] = replace(call, pending=e)
        out.append(command)

    def _transfer(self, e: BlindTransferRequested, routing: Routing, out: list[CallOutput]) -> None:
        call = self._mine(e.interaction_id, e.agent_id, routing)
        if (e.to_number is None) == (e.to_agent is None and e.to_queue is None):
            raise CallRefused("a call transfer names an agent and/or a queue, or a number")
        if e.to_agent is not None and (e.to_agent == e.agent_id or routing.extension_of(e.to_agent) is None):
            raise CallRefused("no such agent to transfer to")
        call.check(CallMove.TRANSFER)
        caller = self._caller(routing, call.interaction_id, " to transfer")
        i = routing.live_call(call.interaction_id)
        queue = None if e.to_number is not None else (e.to_queue or (i.queue if i is not None else None))
        self._calls[call.interaction_id] = replace(call, pending=e)
        out.append(TransferCall(call.interaction_id, call.agent_id, caller, queue=queue, number=e.to_number))

    def _bring_in(
        self, e: ConsultRequested | ConferenceRequested, routing: Routing, out: list[CallOutput]
    ) -> None:
        consult = isinstance(e, ConsultRequested)
        call = self._mine(e.interaction_id, e.agent_id, routing)
        extension = routing.extension_of(e.to_agent)
        if extension is None or e.to_agent == e.agent_id:
            raise CallRefused("no such agent to consult" if consult else "no such agent to bring in")
        caller = self._caller(routing, call.interaction_id, "")
        if call.state in (
            CallState.CONSULTING,
            CallState.CONSULTED,
            CallState.INVITING,
            CallState.CONFERENCE,
        ):
            raise CallRefused("another agent is already being brought into this call")
        move = CallMove.CONSULT if consult else CallMove.INVITE
        call.check(move)
        if not routing.can_take_call(e.to_agent):
            raise CallRefused(f"agent {e.to_agent} cannot take a call now")
        iid = call.interaction_id
        why = f"consult from {e.agent_id}" if consult else f"conference with {e.agent_id}"
        routing.reserve(e.to_agent, iid, e.at, why)
        moved = call.moved(move, colleague=e.to_agent)
        self._calls[iid] = moved
        if consult:
            out.append(ConsultStarted(iid, e.at, e.agent_id, e.to_agent))
            hold_first = call.state == CallState.TALKING
            out.append(OriginateConsult(iid, e.agent_id, caller, e.to_agent, extension, hold_first))
        else:
            out.append(ConferenceInvited(iid, e.at, e.agent_id, e.to_agent))
            out.append(OriginateConference(iid, e.agent_id, caller, e.to_agent, extension))
        out.append(CallChanged(iid, e.agent_id, moved, e.at))

    def _end_consult(
        self, e: ConsultCompleteRequested | ConsultCancelRequested, routing: Routing, out: list[CallOutput]
    ) -> None:
        call = self._mine(e.interaction_id, e.agent_id, routing)
        if isinstance(e, ConsultCompleteRequested):
            call.check(CallMove.CONSULT_COMPLETE)
            caller = self._caller(routing, call.interaction_id, "")
            command: CallCommand = BridgeConsult(call.interaction_id, call.agent_id, caller)
        else:
            call.check(CallMove.CONSULT_CANCEL)
            command = CancelConsult(call.interaction_id, call.agent_id)
        self._calls[call.interaction_id] = replace(call, pending=e)
        out.append(command)

    def _recording(self, e: RecordingPauseRequested, routing: Routing, out: list[CallOutput]) -> None:
        """The PCI pause: an agent for its own call, a supervisor (``agent_id`` None) for any; in
        every control state (the recorded legs are muted wherever they are)."""
        i = routing.live_call(e.interaction_id)
        if e.agent_id is not None and (i is None or i.is_messaging or i.agent_id != e.agent_id):
            raise NotYourCall("not your call")
        if i is None or i.is_messaging:
            raise CallRefused("no call in progress with this id")
        if i.agent_id is None or i.answered_at is None:
            raise CallRefused("this call has no agent talking yet: nothing is being recorded")
        call = self._calls.get(i.id)
        if call is None or call.agent_id != i.agent_id:
            call = Call(i.id, i.agent_id)
        if call.recording_pending is not None:
            raise ControlInProgress("the recording is being paused or resumed already")
        if e.paused == call.recording_paused:
            raise CallRefused("the recording is already paused" if e.paused else "the recording is on")
        self._calls[i.id] = replace(call, recording_pending=e)
        out.append(PauseRecording(i.id) if e.paused else ResumeRecording(i.id))

    def _spy(self, e: SpyRequested, routing: Routing, out: list[CallOutput]) -> None:
        """A supervisor's phone into the agent's call. Listen and whisper whenever the agent is on
        the line (talking, holding, consulting, in a conference; a consulted or invited colleague
        once it answered); barge only while the caller is with the agent."""
        if e.mode not in SPY_MODES:
            raise InvalidRequest(f"mode must be one of {', '.join(SPY_MODES)}")
        if routing.extension_of(e.agent_id) is None:
            raise UnknownAgent(e.agent_id)
        extension = routing.extension_of(e.supervisor) if e.supervisor is not None else None
        if e.supervisor is None or extension is None:
            raise CallRefused("your account has no phone: link it to an agent id (its extension rings)")
        if e.supervisor == e.agent_id:
            raise CallRefused("you cannot listen to your own calls")
        iid = routing.call_of(e.agent_id)
        i = routing.live_call(iid) if iid is not None else None
        if i is None or i.is_messaging or i.agent_id is None or i.answered_at is None:
            raise CallRefused("this agent has no call in progress")
        call = self._calls.get(i.id)
        if call is None or call.agent_id != i.agent_id:
            call = Call(i.id, i.agent_id)
        on_line = i.agent_id == e.agent_id or (
            call.colleague == e.agent_id and call.state in COLLEAGUE_ON_LINE
        )
        if not on_line:
            raise CallRefused("this agent has no call in progress")
        if e.supervisor in (call.agent_id, call.colleague):
            raise CallRefused("you are on this call yourself")
        if e.mode == "barge" and call.state in NO_BARGE:
            raise CallRefused("the caller is on hold: barge in once the agent is back with the caller")
        out.append(SpyCall(i.id, e.agent_id, e.supervisor, extension, e.mode))

    # -- results -----------------------------------------------------------------------------------

    def _recording_result(
        self, e: RecordingConfirmed | RecordingFailed, call: Call, out: list[CallOutput]
    ) -> None:
        asked = call.recording_pending
        if asked is None:
            return  # stale: the call changed hands meanwhile
        if isinstance(e, RecordingFailed):
            self._set(replace(call, recording_pending=None), e.at, out)
        elif e.paused == asked.paused:
            self._set(replace(call, recording_paused=e.paused, recording_pending=None), e.at, out)
            notice = RecordingPaused if e.paused else RecordingResumed
            out.append(notice(call.interaction_id, e.at, asked.by, asked.role))

    def _result(self, e: Result, routing: Routing, out: list[CallOutput]) -> None:
        call = self._calls.get(e.interaction_id)
        if isinstance(e, HoldFound):
            self._hold_found(e, call, routing, out)
            return
        if isinstance(e, RecordingFound):
            self._recording_found(e, call, routing, out)
            return
        if isinstance(e, SpyRinging):
            if routing.live_call(e.interaction_id) is not None:
                out.append(Supervised(e.interaction_id, e.at, e.supervisor, e.agent_id, e.mode))
            return
        if call is None:
            return  # the call ended meanwhile
        match e:
            case RecordingConfirmed() | RecordingFailed():
                self._recording_result(e, call, out)
            case ControlFailed():
                if call.pending is not None:
                    self._set(replace(call, pending=None), e.at, out)
            case HoldConfirmed(held=held):
                wanted = HoldRequested if held else ResumeRequested
                if isinstance(call.pending, wanted):
                    self._set(call.moved(CallMove.HOLD if held else CallMove.RESUME), e.at, out)
                    out.append((CallHeld if held else CallResumed)(call.interaction_id, e.at, call.agent_id))
            case TransferConfirmed():
                if isinstance(call.pending, BlindTransferRequested):
                    self._transferred(call, call.pending, e.at, routing, out)
            case ConsultAnswered() | ConsultFailed() | ConsultCancelled() | ConsultCompleted():
                self._consult_result(e, call, routing, out)
            case GuestJoined() if call.colleague == e.agent_id and call.state == CallState.INVITING:
                routing.seat(e.agent_id, call.interaction_id, e.at)
                self._set(call.moved(CallMove.GUEST_JOINED), e.at, out)
                out.append(ConferenceJoined(call.interaction_id, e.at, e.agent_id))
            case GuestLeft() if call.colleague == e.agent_id and call.can(CallMove.GUEST_LEFT):
                self._set(call.moved(CallMove.GUEST_LEFT, colleague=None), e.at, out)
                routing.free_helper(e.agent_id, call.interaction_id, e.at)
                out.append(ConferenceLeft(call.interaction_id, e.at, e.agent_id, e.reason))
            case _:
                pass  # a stale result (the call moved on meanwhile), or SpyFailed: nothing to undo

    def _hold_found(self, e: HoldFound, call: Call | None, routing: Routing, out: list[CallOutput]) -> None:
        i = routing.live_call(e.interaction_id)
        if call is None and i is not None and i.agent_id is not None and i.answered_at is not None:
            call = Call(e.interaction_id, i.agent_id)
        if call is not None and call.state == CallState.TALKING and call.pending is None:
            self._set(call.moved(CallMove.HOLD), e.at, out)

    def _recording_found(
        self, e: RecordingFound, call: Call | None, routing: Routing, out: list[CallOutput]
    ) -> None:
        i = routing.live_call(e.interaction_id)
        if i is None or i.is_messaging or i.agent_id is None or i.answered_at is None:
            return
        if call is None or call.agent_id != i.agent_id:
            call = Call(i.id, i.agent_id)
        if call.recording_pending is None and not call.recording_paused:
            self._set(replace(call, recording_paused=True), e.at, out)

    def _consult_result(
        self,
        e: ConsultAnswered | ConsultFailed | ConsultCancelled | ConsultCompleted,
        call: Call,
        routing: Routing,
        out: list[CallOutput],
    ) -> None:
        match e:
            case ConsultAnswered() if call.colleague == e.to_agent and call.state == CallState.CONSULTING:
                # The colleague stays reserved (offered) until the caller is handed over.
                self._set(call.moved(CallMove.CONSULT_ANSWERED), e.at, out)
            case ConsultFailed() if call.colleague == e.to_agent and call.state in (
                CallState.CONSULTING,
                CallState.CONSULTED,
            ):
                refused = not e.on_hold and call.can(CallMove.CONSULT_REFUSED)
                move = CallMove.CONSULT_REFUSED if refused else CallMove.CONSULT_FAILED
                self._consult_over(call, call.moved(move, colleague=None), e.reason, e.at, routing, out)
            case ConsultCancelled() if isinstance(call.pending, ConsultCancelRequested):
                moved = call.moved(CallMove.CONSULT_CANCEL, colleague=None)
                self._consult_over(call, moved, "cancelled", e.at, routing, out)
            case ConsultCompleted() if isinstance(call.pending, ConsultCompleteRequested):
                assert call.colleague is not None  # CONSULTED has one
                to_agent, iid = call.colleague, call.interaction_id
                self._calls[iid] = call.moved(CallMove.CONSULT_COMPLETE, agent_id=to_agent, colleague=None)
                routing.hand_over(iid, call.agent_id, to_agent, e.at)
                out.append(TransferredAttended(iid, e.at, call.agent_id, to_agent))
                out.append(CallChanged(iid, call.agent_id, None, e.at))
                out.append(CallChanged(iid, to_agent, self._calls[iid], e.at))
            case _:
                pass  # stale: another consult, or the call moved on

    def _set(self, call: Call, at: float, out: list[CallOutput]) -> None:
        self._calls[call.interaction_id] = call
        out.append(CallChanged(call.interaction_id, call.agent_id, call, at))

    def _consult_over(
        self, before: Call, moved: Call, reason: str, at: float, routing: Routing, out: list[CallOutput]
    ) -> None:
        assert before.colleague is not None
        self._set(moved, at, out)
        routing.free_helper(before.colleague, before.interaction_id, at)
        out.append(ConsultEnded(before.interaction_id, at, before.agent_id, before.colleague, reason))

    def _transferred(
        self, call: Call, e: BlindTransferRequested, at: float, routing: Routing, out: list[CallOutput]
    ) -> None:
        call.check(CallMove.TRANSFER)
        self._calls.pop(call.interaction_id, None)
        out.append(CallChanged(call.interaction_id, call.agent_id, None, at))
        if e.to_number is not None:
            out.append(TransferredOut(call.interaction_id, at, call.agent_id, e.to_number))
            routing.transfer_out(call.interaction_id, call.agent_id, e.to_number, at)
            return
        queue = routing.requeue(call.interaction_id, call.agent_id, at, e.to_agent, e.to_queue)
        out.append(Transferred(call.interaction_id, at, call.agent_id, e.to_agent, queue))

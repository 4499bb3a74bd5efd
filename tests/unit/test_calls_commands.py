"""The call machine's exact answers, through the engine: each command with every field the
adapter needs, each refusal with its words, and who may ask (pinned for bench/mutation.py's
``calls`` target: the table and property tests check kinds and states, not the fields)."""

from __future__ import annotations

import pytest

from callcenter.core import events as ev
from callcenter.core.acd.agents import AgentState
from callcenter.core.acd.engine import Acd
from callcenter.core.calls import machine as cl
from callcenter.core.commands import Command
from callcenter.core.errors import DomainError
from callcenter.core.interaction import Channel, Interaction
from tests.unit import test_calls_supervision as sup
from tests.unit.test_acd_call_controls import make, talking


def calls(out: list[Command]) -> list[object]:
    return [c for c in out if isinstance(c, cl.CALL_COMMANDS)]


def refused(acd: Acd, request: object) -> DomainError:
    with pytest.raises(DomainError) as err:
        acd.handle(request)  # type: ignore[arg-type]
    return err.value


def test_hold_resume_and_hang_up_name_the_call_the_agent_and_the_caller_leg() -> None:
    acd = make()
    agent = talking(acd, "a", 10.0)
    held = calls(acd.handle(cl.HoldRequested("a", agent, 11.0)))
    assert held == [cl.HoldCall("a", agent, "PJSIP/caller-a")]
    assert [c.interaction_id for c in acd.calls] == ["a"]  # the call is known while a control runs
    acd.handle(cl.HoldConfirmed("a", True, 12.0))
    assert calls(acd.handle(cl.ResumeRequested("a", agent, 13.0))) == [cl.ResumeCall("a", agent)]
    acd.handle(cl.HoldConfirmed("a", False, 14.0))
    assert calls(acd.handle(cl.HangupRequested("a", agent, 15.0))) == [cl.HangupCall("a", agent)]


def test_who_may_ask_and_the_words_of_each_refusal() -> None:
    acd = make()
    agent = talking(acd, "a", 10.0)
    other = next(a for a in ("1001", "1002", "1003") if a != agent)
    assert str(refused(acd, cl.HoldRequested("a", other, 11.0))) == "not your call"
    assert str(refused(acd, cl.HoldRequested("nobody", agent, 11.0))) == "not your call"
    acd.handle(cl.HoldRequested("a", agent, 11.0))
    busy = refused(acd, cl.ResumeRequested("a", agent, 11.5))
    assert isinstance(busy, cl.ControlInProgress)
    assert str(busy) == "another control of this call is under way"
    acd.handle(cl.HoldConfirmed("a", True, 12.0))
    nobody = refused(acd, cl.ConferenceDropRequested("a", agent, 13.0))
    assert isinstance(nobody, cl.CallRefused) and str(nobody) == "nobody else is in the conference"


def test_a_chat_or_a_call_not_answered_is_not_a_call_to_control() -> None:
    acd = make()
    ringing = Interaction(
        "r", Channel.VOICE, "+15550100", 1.0, queue="support", agent_id="1002", caller_channel="PJSIP/c-r"
    )
    acd.restore([ringing], 2.0)
    assert acd.live["r"].answered_at is None
    assert str(refused(acd, cl.HoldRequested("r", "1002", 2.5))) == "not your call"
    chat = Interaction(
        "chat-1", Channel.WEBCHAT, "visitor", 1.0, queue="support", agent_id="1003", answered_at=2.0
    )
    acd.restore([chat], 3.0)
    assert acd.live["chat-1"].is_messaging
    assert str(refused(acd, cl.HoldRequested("chat-1", "1003", 4.0))) == "not your call"


def test_a_call_without_a_caller_leg_cannot_be_held() -> None:
    """A call taken back after a restart before its caller's channel was known."""
    acd = make()
    legless = Interaction(
        "n", Channel.VOICE, "+15550100", 1.0, queue="support", agent_id="1001", answered_at=2.0
    )
    acd.restore([legless], 3.0)
    assert acd.live["n"].caller_channel is None
    no_leg = refused(acd, cl.HoldRequested("n", "1001", 4.0))
    assert isinstance(no_leg, cl.CallRefused) and str(no_leg) == "this call has no caller leg to hold"


def test_dropping_the_guest_and_the_colleague_freed_at_the_end() -> None:
    acd = make()
    agent = talking(acd, "a", 10.0)
    guest = next(a for a in ("1001", "1002", "1003") if a != agent)
    (invite,) = calls(acd.handle(cl.ConferenceRequested("a", agent, guest, 11.0)))
    assert isinstance(invite, cl.OriginateConference) and invite.interaction_id == "a"
    acd.handle(cl.GuestJoined("a", guest, 12.0))
    assert acd.agents[guest].state == AgentState.BUSY
    assert calls(acd.handle(cl.ConferenceDropRequested("a", agent, 13.0))) == [cl.DropGuest("a")]
    # The caller hangs up while the guest is still on: the guest is free, from that moment.
    acd.handle(ev.CallerHungUp("a", "normal", 20.0))
    assert acd.agents[guest].state != AgentState.BUSY
    assert acd.agents[guest].since == 20.0


def test_blind_transfers_name_their_target_and_refuse_what_cannot_be() -> None:
    acd = make()
    agent = talking(acd, "a", 10.0)
    to_self = refused(acd, cl.BlindTransferRequested("a", agent, 11.0, to_agent=agent))
    assert isinstance(to_self, cl.CallRefused) and str(to_self) == "no such agent to transfer to"
    assert str(refused(acd, cl.BlindTransferRequested("a", agent, 11.0, to_agent="9999"))) == (
        "no such agent to transfer to"
    )
    both = refused(acd, cl.BlindTransferRequested("a", agent, 11.0, to_queue="support", to_number="+1555"))
    assert str(both) == "a call transfer names an agent and/or a queue, or a number"
    assert str(refused(acd, cl.BlindTransferRequested("a", agent, 11.0))) == (
        "a call transfer names an agent and/or a queue, or a number"
    )
    out = calls(acd.handle(cl.BlindTransferRequested("a", agent, 11.0, to_number="+15550199")))
    assert out == [cl.TransferCall("a", agent, "PJSIP/caller-a", queue=None, number="+15550199")]

    acd2 = make()
    agent2 = talking(acd2, "b", 10.0)
    other2 = next(a for a in ("1001", "1002", "1003") if a != agent2)
    out = calls(acd2.handle(cl.BlindTransferRequested("b", agent2, 11.0, to_agent=other2)))
    # To an agent: the caller waits in the call's own queue for that agent.
    assert out == [cl.TransferCall("b", agent2, "PJSIP/caller-b", queue="support", number=None)]


def test_consult_and_conference_ring_the_colleagues_extension_and_end_exactly() -> None:
    acd = make()
    agent = talking(acd, "a", 10.0)
    colleague = next(a for a in ("1001", "1002", "1003") if a != agent)
    assert str(refused(acd, cl.ConsultRequested("a", agent, agent, 11.0))) == "no such agent to consult"
    assert str(refused(acd, cl.ConferenceRequested("a", agent, "9999", 11.0))) == "no such agent to bring in"
    out = calls(acd.handle(cl.ConsultRequested("a", agent, colleague, 11.0)))
    assert out == [cl.OriginateConsult("a", agent, "PJSIP/caller-a", colleague, colleague, hold_first=True)]
    again = refused(acd, cl.ConferenceRequested("a", agent, colleague, 11.5))
    assert str(again) == "another agent is already being brought into this call"
    acd.handle(cl.ConsultAnswered("a", colleague, 12.0))
    assert calls(acd.handle(cl.ConsultCancelRequested("a", agent, 13.0))) == [cl.CancelConsult("a", agent)]


def test_a_consult_reserves_the_colleague_with_why_and_when_and_says_so() -> None:
    acd = make()
    agent = talking(acd, "a", 10.0)
    colleague = next(a for a in ("1001", "1002", "1003") if a != agent)
    out = acd.handle(cl.ConsultRequested("a", agent, colleague, 11.0))
    assert cl.ConsultStarted("a", 11.0, agent, colleague) in out
    reserved = acd.agents[colleague]
    assert (reserved.state, reserved.reason, reserved.since) == (
        AgentState.OFFERED,
        f"consult from {agent}",
        11.0,
    )


def test_a_conference_invites_with_its_own_words() -> None:
    acd = make()
    agent = talking(acd, "a", 10.0)
    guest = next(a for a in ("1001", "1002", "1003") if a != agent)
    out = acd.handle(cl.ConferenceRequested("a", agent, guest, 11.0))
    assert cl.ConferenceInvited("a", 11.0, agent, guest) in out
    assert acd.agents[guest].reason == f"conference with {agent}"


def test_a_busy_colleague_or_a_legless_call_is_refused_in_words() -> None:
    acd = make()
    agent = talking(acd, "a", 10.0)
    colleague = next(a for a in ("1001", "1002", "1003") if a != agent)
    acd.handle(ev.AgentPause(colleague, "lunch", 10.5))
    busy = refused(acd, cl.ConsultRequested("a", agent, colleague, 11.0))
    assert str(busy) == f"agent {colleague} cannot take a call now"
    legless = Interaction(
        "n", Channel.VOICE, "+15550100", 1.0, queue="support", agent_id="1003", answered_at=2.0
    )
    acd2 = make()
    acd2.restore([legless], 3.0)
    assert str(refused(acd2, cl.ConsultRequested("n", "1003", "1001", 4.0))) == "this call has no caller leg"
    assert str(refused(acd2, cl.BlindTransferRequested("n", "1003", 4.0, to_queue="support"))) == (
        "this call has no caller leg to transfer"
    )


# --- the recording pause and the supervisor's spy: exact words (test_calls_supervision matches parts)


def test_recording_pause_refusals_word_for_word() -> None:
    acd, owner = sup.engine()
    helper = next(a for a in ("1001", "1002", "1003") if a != owner)

    def pause(paused: bool, agent: str | None = owner, iid: str = sup.IID) -> cl.RecordingPauseRequested:
        return cl.RecordingPauseRequested(iid, paused, "who", "agent" if agent else "supervisor", 5.0, agent)

    assert str(refused(acd, pause(True, helper))) == "not your call"
    assert str(refused(acd, pause(True, None, "nope"))) == "no call in progress with this id"
    assert str(refused(acd, pause(False))) == "the recording is on"
    assert calls(acd.handle(pause(True))) == [cl.PauseRecording(sup.IID)]
    assert str(refused(acd, pause(False))) == "the recording is being paused or resumed already"
    acd.handle(cl.RecordingConfirmed(sup.IID, True, 6.0))
    assert str(refused(acd, pause(True))) == "the recording is already paused"
    assert calls(acd.handle(pause(False))) == [cl.ResumeRecording(sup.IID)]
    # A call an agent was given but has not answered: nothing is being recorded yet.
    unanswered = Interaction(
        "u", Channel.VOICE, "+1555", 1.0, queue="support", agent_id=helper, caller_channel="PJSIP/u"
    )
    acd.restore([unanswered], 7.0)
    assert str(refused(acd, pause(True, None, "u"))) == (
        "this call has no agent talking yet: nothing is being recorded"
    )


def test_spy_refusals_word_for_word_and_the_command() -> None:
    acd, owner = sup.engine()
    free = next(a for a in ("1001", "1002", "1003") if a != owner)

    def spy(agent: str, mode: str = "listen", supervisor: str | None = sup.SUPERVISOR) -> cl.SpyRequested:
        return cl.SpyRequested(supervisor, agent, mode, 5.0)

    assert str(refused(acd, spy(owner, supervisor=None))) == (
        "your account has no phone: link it to an agent id (its extension rings)"
    )
    assert str(refused(acd, spy(owner, supervisor=owner))) == "you cannot listen to your own calls"
    assert str(refused(acd, spy(free))) == "this agent has no call in progress"
    whisper = cl.SpyCall(sup.IID, owner, sup.SUPERVISOR, "2009", "whisper")
    assert calls(acd.handle(spy(owner, "whisper"))) == [whisper]
    sup.into(acd, owner, cl.CallState.HELD)
    assert str(refused(acd, spy(owner, "barge"))) == (
        "the caller is on hold: barge in once the agent is back with the caller"
    )


def test_conference_and_consult_complete_commands_and_the_calls_change() -> None:
    acd = make()
    agent = talking(acd, "a", 10.0)
    guest = next(a for a in ("1001", "1002", "1003") if a != agent)
    out = acd.handle(cl.ConferenceRequested("a", agent, guest, 11.0))
    assert calls(out) == [cl.OriginateConference("a", agent, "PJSIP/caller-a", guest, guest)]
    (changed,) = [c for c in out if isinstance(c, cl.CallChanged)]
    assert (changed.interaction_id, changed.agent_id, changed.at) == ("a", agent, 11.0)
    assert (changed.call.state, changed.call.colleague) == (cl.CallState.INVITING, guest)

    acd2 = make()
    agent2 = talking(acd2, "b", 10.0)
    colleague = next(a for a in ("1001", "1002", "1003") if a != agent2)
    acd2.handle(cl.ConsultRequested("b", agent2, colleague, 11.0))
    acd2.handle(cl.ConsultAnswered("b", colleague, 12.0))
    done = calls(acd2.handle(cl.ConsultCompleteRequested("b", agent2, 13.0)))
    assert done == [cl.BridgeConsult("b", agent2, "PJSIP/caller-b")]


def changes(out: list[Command]) -> list[tuple[str, str, cl.CallState | None, float]]:
    return [
        (c.interaction_id, c.agent_id, c.call.state if c.call else None, c.at)
        for c in out
        if isinstance(c, cl.CallChanged)
    ]


def test_results_say_what_changed_and_when() -> None:
    acd = make()
    agent = talking(acd, "a", 10.0)
    acd.handle(cl.HoldRequested("a", agent, 11.0))
    refused_by_asterisk = acd.handle(cl.ControlFailed("a", "no such channel", 11.5))
    assert changes(refused_by_asterisk) == [("a", agent, cl.CallState.TALKING, 11.5)]
    acd.handle(cl.HoldRequested("a", agent, 12.0))
    out = acd.handle(cl.HoldConfirmed("a", True, 12.5))
    assert changes(out) == [("a", agent, cl.CallState.HELD, 12.5)]
    assert cl.CallHeld("a", 12.5, agent) in out
    acd.handle(cl.ResumeRequested("a", agent, 13.0))
    out = acd.handle(cl.HoldConfirmed("a", False, 13.5))
    assert cl.CallResumed("a", 13.5, agent) in out
    assert changes(out) == [("a", agent, cl.CallState.TALKING, 13.5)]


def test_a_caller_found_on_hold_after_a_restart_is_held_again() -> None:
    acd = make()
    restored = Interaction(
        "h", Channel.VOICE, "+1555", 1.0, queue="support", agent_id="1002", answered_at=2.0,
        caller_channel="PJSIP/h",
    )  # fmt: skip
    acd.restore([restored], 3.0)
    out = acd.handle(cl.HoldFound("h", 4.0))
    assert changes(out) == [("h", "1002", cl.CallState.HELD, 4.0)]
    assert calls(acd.handle(cl.ResumeRequested("h", "1002", 5.0))) == [cl.ResumeCall("h", "1002")]


def test_spy_on_a_colleague_not_yet_on_the_line_or_from_inside_the_call() -> None:
    acd, owner = sup.engine()
    colleague = next(a for a in ("1001", "1002", "1003") if a != owner)
    acd.handle(cl.ConsultRequested(sup.IID, owner, colleague, 3.0))  # the colleague's phone rings
    ringing = refused(acd, cl.SpyRequested(sup.SUPERVISOR, colleague, "listen", 4.0))
    assert str(ringing) == "this agent has no call in progress"
    acd.handle(cl.ConsultAnswered(sup.IID, colleague, 5.0))
    # The colleague, now on the line, asks to listen to the agent who consulted them.
    inside = refused(acd, cl.SpyRequested(colleague, owner, "listen", 6.0))
    assert str(inside) == "you are on this call yourself"


def test_a_hold_found_while_a_control_is_under_way_changes_nothing() -> None:
    acd = make()
    agent = talking(acd, "a", 10.0)
    acd.handle(cl.HoldRequested("a", agent, 11.0))  # Asterisk has not answered yet
    assert changes(acd.handle(cl.HoldFound("a", 11.5))) == []
    assert acd.calls.get("a") is not None and acd.calls.get("a").state == cl.CallState.TALKING  # type: ignore[union-attr]


def test_a_guest_joins_and_leaves_the_conference_at_their_times() -> None:
    acd = make()
    agent = talking(acd, "a", 10.0)
    guest, stranger = [a for a in ("1001", "1002", "1003") if a != agent]
    acd.handle(cl.ConferenceRequested("a", agent, guest, 11.0))
    assert changes(acd.handle(cl.GuestJoined("a", stranger, 11.5))) == []  # not the one invited
    joined = acd.handle(cl.GuestJoined("a", guest, 12.0))
    assert cl.ConferenceJoined("a", 12.0, guest) in joined
    assert changes(joined) == [("a", agent, cl.CallState.CONFERENCE, 12.0)]
    assert (acd.agents[guest].state, acd.agents[guest].since) == (AgentState.BUSY, 12.0)
    left = acd.handle(cl.GuestLeft("a", guest, "hung up", 20.0))
    assert cl.ConferenceLeft("a", 20.0, guest, "hung up") in left
    assert changes(left) == [("a", agent, cl.CallState.TALKING, 20.0)]
    assert acd.calls.get("a") is not None and acd.calls.get("a").colleague is None  # type: ignore[union-attr]
    assert acd.agents[guest].state != AgentState.BUSY and acd.agents[guest].since == 20.0


def test_a_consult_answered_refused_failed_or_cancelled_at_its_time() -> None:
    acd = make()
    agent = talking(acd, "a", 10.0)
    colleague, stranger = [a for a in ("1001", "1002", "1003") if a != agent]
    acd.handle(cl.ConsultRequested("a", agent, colleague, 11.0))
    assert changes(acd.handle(cl.ConsultFailed("a", stranger, "busy", 11.2))) == []  # not this consult
    assert changes(acd.handle(cl.ConsultAnswered("a", colleague, 12.0))) == [
        ("a", agent, cl.CallState.CONSULTED, 12.0)
    ]
    acd.handle(cl.ConsultCancelRequested("a", agent, 13.0))
    over = acd.handle(cl.ConsultCancelled("a", 13.5))
    assert cl.ConsultEnded("a", 13.5, agent, colleague, "cancelled") in over
    assert changes(over) == [("a", agent, cl.CallState.TALKING, 13.5)]
    assert acd.agents[colleague].since == 13.5

    # Refused before the caller was put on hold: the agent is still with the caller (talking).
    acd.handle(cl.ConsultRequested("a", agent, colleague, 14.0))
    refusal = acd.handle(cl.ConsultFailed("a", colleague, "declined", 14.5, on_hold=False))
    assert cl.ConsultEnded("a", 14.5, agent, colleague, "declined") in refusal
    assert changes(refusal) == [("a", agent, cl.CallState.TALKING, 14.5)]
    # Failed once the caller was on hold: back on hold.
    acd.handle(cl.ConsultRequested("a", agent, colleague, 15.0))
    failed = acd.handle(cl.ConsultFailed("a", colleague, "no answer", 15.5, on_hold=True))
    assert changes(failed) == [("a", agent, cl.CallState.HELD, 15.5)]


def test_a_completed_consult_hands_the_call_over_and_both_panels_hear_it() -> None:
    acd = make()
    agent = talking(acd, "a", 10.0)
    colleague = next(a for a in ("1001", "1002", "1003") if a != agent)
    acd.handle(cl.ConsultRequested("a", agent, colleague, 11.0))
    acd.handle(cl.ConsultAnswered("a", colleague, 12.0))
    acd.handle(cl.ConsultCompleteRequested("a", agent, 13.0))
    done = acd.handle(cl.ConsultCompleted("a", 13.5))
    assert cl.TransferredAttended("a", 13.5, agent, colleague) in done
    assert changes(done) == [("a", agent, None, 13.5), ("a", colleague, cl.CallState.TALKING, 13.5)]
    call = acd.calls.get("a")
    assert call is not None and (call.agent_id, call.colleague) == (colleague, None)
    assert acd.live["a"].agent_id == colleague

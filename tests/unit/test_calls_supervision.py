"""core/calls/machine.py: the two requests that do not move a call's control state — the PCI
recording pause (``RecordingPauseRequested``, the call's ``recording_paused``) and a supervisor
joining the call (``SpyRequested``: listen, whisper, barge) — through the real engine: every
acceptance, refusal and result pinned, and a property test over random sequences mixing them with
the other controls (test_calls.py has the transition table's own tests)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.core import events as ev
from callcenter.core.acd.agents import Agent, AgentState
from callcenter.core.acd.engine import Acd, AcdConfig
from callcenter.core.calls import machine as cl
from callcenter.core.commands import Command, DialAgent, OfferConversation
from callcenter.core.errors import DomainError, InvalidRequest, NotYourCall, UnknownAgent
from callcenter.core.notices import Notice, RecordingPaused, RecordingResumed
from tests.unit import test_calls

S = cl.CallState
IID = "c1"
SUPERVISOR = "1009"  # a supervisor's desk phone: an agent entry with no queues


def engine() -> tuple[Acd, str]:
    """Three agents of support and the supervisor's phone; a call answered by the first picked."""
    agents = [
        Agent(id=a, extension=a, queues=frozenset({"support"}), max_chats=1) for a in ("1001", "1002", "1003")
    ]
    agents.append(Agent(id=SUPERVISOR, extension="2009", queues=frozenset()))
    acd = Acd(AcdConfig(), agents)
    for a in agents:
        acd.handle(ev.AgentRegistered(a.extension, 0.0))
    acd.handle(ev.CallArrived(IID, "+15550100", "", "5000", "PJSIP/caller", 1.0))
    (dial,) = [c for c in acd.handle(ev.IvrFinished(IID, "1", "support", 1.0)) if isinstance(c, DialAgent)]
    acd.handle(ev.AgentAnswered(IID, dial.agent_id, 2.0))
    return acd, dial.agent_id


def other(owner: str, *besides: str) -> str:
    return next(a for a in ("1001", "1002", "1003") if a != owner and a not in besides)


def into(acd: Acd, owner: str, state: cl.CallState) -> str | None:
    """Drive the call into ``state`` with real requests and results; returns the colleague."""
    colleague = other(owner)
    match state:
        case S.TALKING:
            return None
        case S.HELD:
            acd.handle(cl.HoldRequested(IID, owner, 3.0))
            acd.handle(cl.HoldConfirmed(IID, True, 3.0))
            return None
        case S.CONSULTING | S.CONSULTED:
            acd.handle(cl.ConsultRequested(IID, owner, colleague, 3.0))
            if state == S.CONSULTED:
                acd.handle(cl.ConsultAnswered(IID, colleague, 3.5))
        case S.INVITING | S.CONFERENCE:
            acd.handle(cl.ConferenceRequested(IID, owner, colleague, 3.0))
            if state == S.CONFERENCE:
                acd.handle(cl.GuestJoined(IID, colleague, 3.5))
    call = acd.calls.get(IID)
    assert call is not None and call.state == state
    return colleague


def pause(owner: str | None, paused: bool = True, at: float = 5.0) -> cl.RecordingPauseRequested:
    who = owner or "sue"
    return cl.RecordingPauseRequested(
        IID, paused, who, "agent" if owner else "supervisor", at, agent_id=owner
    )


def notices(out: list[Command]) -> list[Notice]:
    return [c for c in out if isinstance(c, Notice)]


def changed(out: list[Command]) -> list[cl.CallChanged]:
    return [c for c in out if isinstance(c, cl.CallChanged)]


def refused(acd: Acd, request: cl.Request, error: type[DomainError], words: str) -> None:
    """``request`` is refused with ``error`` saying ``words``, and nothing changes."""
    before = test_calls.snapshot(acd)
    with pytest.raises(error) as err:
        acd.handle(request)
    assert words in str(err.value)
    assert test_calls.snapshot(acd) == before


# --- the recording pause -----------------------------------------------------------------------------


def test_the_agent_pauses_and_resumes_the_recording_of_its_call_once_asterisk_did() -> None:
    acd, owner = engine()
    out = acd.handle(pause(owner))
    assert out == [cl.PauseRecording(IID)]
    call = acd.calls.get(IID)
    assert call is not None and not call.recording_paused and call.recording_pending == pause(owner)
    assert call.state == S.TALKING and call.pending is None  # the control state is not touched

    out = acd.handle(cl.RecordingConfirmed(IID, True, 6.0))
    call = acd.calls.get(IID)
    assert call is not None and call.recording_paused and call.recording_pending is None
    assert notices(out) == [RecordingPaused(IID, 6.0, owner, "agent")]
    assert changed(out) == [cl.CallChanged(IID, owner, call, 6.0)]  # the panel re-renders the card

    assert acd.handle(pause(owner, False, 7.0)) == [cl.ResumeRecording(IID)]
    out = acd.handle(cl.RecordingConfirmed(IID, False, 8.0))
    call = acd.calls.get(IID)
    assert call is not None and not call.recording_paused and call.recording_pending is None
    assert notices(out) == [RecordingResumed(IID, 8.0, owner, "agent")]


def test_pausing_twice_or_resuming_a_recording_that_is_on_is_refused() -> None:
    acd, owner = engine()
    refused(acd, pause(owner, False), cl.CallRefused, "the recording is on")
    acd.handle(pause(owner))
    refused(acd, pause(owner), cl.ControlInProgress, "being paused or resumed")
    refused(acd, pause(owner, False), cl.ControlInProgress, "being paused or resumed")
    acd.handle(cl.RecordingConfirmed(IID, True, 6.0))
    refused(acd, pause(owner), cl.CallRefused, "the recording is already paused")
    refused(acd, pause(None), cl.CallRefused, "the recording is already paused")


def test_only_the_agent_on_the_call_or_a_supervisor_may_pause_it_and_only_once_answered() -> None:
    acd, owner = engine()
    colleague = other(owner)
    refused(acd, pause(colleague), NotYourCall, "not your call")
    refused(acd, replace(pause(owner), interaction_id="nope"), NotYourCall, "not your call")
    refused(acd, replace(pause(None), interaction_id="nope"), cl.CallRefused, "no call in progress")
    # A supervisor (no agent id) may pause anyone's call: the notice says who.
    acd.handle(pause(None))
    out = acd.handle(cl.RecordingConfirmed(IID, True, 6.0))
    assert notices(out) == [RecordingPaused(IID, 6.0, "sue", "supervisor")]

    # Ringing, not answered yet: nothing is being recorded.
    acd.handle(ev.CallArrived("c2", "+15550101", "", "5000", "PJSIP/caller2", 10.0))
    out = acd.handle(ev.IvrFinished("c2", "1", "support", 10.0))
    (dial,) = [c for c in out if isinstance(c, DialAgent)]
    ringing = replace(pause(None), interaction_id="c2")
    refused(acd, ringing, cl.CallRefused, "no agent talking yet")
    refused(acd, replace(ringing, agent_id=dial.agent_id), NotYourCall, "not your call")


def chat(acd: Acd, at: float) -> str:
    """A web chat accepted by whoever it was offered to; returns that agent."""
    out = acd.handle(ev.ConversationArrived("chat-1", "webchat", "cust-1", "conv-1", "support", at))
    (offer,) = [c for c in out if isinstance(c, OfferConversation)]
    acd.handle(ev.OfferAccepted("chat-1", offer.agent_id, at))
    assert acd.live["chat-1"].agent_id == offer.agent_id
    return offer.agent_id


def test_a_chat_has_no_recording_to_pause() -> None:
    acd, _ = engine()
    chatter = chat(acd, 10.0)
    asked = replace(pause(chatter), interaction_id="chat-1")
    refused(acd, asked, NotYourCall, "not your call")
    refused(acd, replace(asked, agent_id=None), cl.CallRefused, "no call in progress")


@pytest.mark.parametrize("state", [S.TALKING, S.HELD, S.CONSULTING, S.CONSULTED, S.INVITING, S.CONFERENCE])
def test_the_recording_pauses_in_every_control_state_and_keeps_it(state: cl.CallState) -> None:
    acd, owner = engine()
    colleague = into(acd, owner, state)
    assert acd.handle(pause(owner)) == [cl.PauseRecording(IID)]
    acd.handle(cl.RecordingConfirmed(IID, True, 6.0))
    call = acd.calls.get(IID)
    assert call is not None and call.recording_paused
    assert (call.state, call.colleague) == (state, colleague)  # the control state untouched
    if colleague is not None:
        refused(acd, pause(colleague, False), NotYourCall, "not your call")  # the helper's is not


def test_a_pause_and_a_hold_do_not_wait_for_each_other() -> None:
    acd, owner = engine()
    assert acd.handle(cl.HoldRequested(IID, owner, 3.0))  # a hold under way
    assert acd.handle(pause(owner)) == [cl.PauseRecording(IID)]
    refused(acd, cl.ResumeRequested(IID, owner, 4.0), cl.ControlInProgress, "another control")
    acd.handle(cl.HoldConfirmed(IID, True, 4.0))
    call = acd.calls.get(IID)
    assert call is not None and call.state == S.HELD and call.recording_pending is not None
    acd.handle(cl.RecordingConfirmed(IID, True, 5.0))
    call = acd.calls.get(IID)
    assert call is not None and call.state == S.HELD and call.recording_paused
    # ... and the other way round: a control while the pause is under way.
    acd.handle(pause(owner, False, 6.0))
    assert any(isinstance(c, cl.ResumeCall) for c in acd.handle(cl.ResumeRequested(IID, owner, 6.5)))


def test_a_failed_pause_changes_nothing_but_lets_the_agent_try_again() -> None:
    acd, owner = engine()
    acd.handle(pause(owner))
    out = acd.handle(cl.failed(cl.PauseRecording(IID), "no recording leg is up for this call", 6.0))
    call = acd.calls.get(IID)
    assert call is not None and not call.recording_paused and call.recording_pending is None
    assert notices(out) == [] and changed(out) == [cl.CallChanged(IID, owner, call, 6.0)]
    assert acd.handle(pause(owner, at=7.0)) == [cl.PauseRecording(IID)]


def test_stale_recording_results_are_ignored() -> None:
    acd, owner = engine()
    assert acd.handle(cl.RecordingConfirmed(IID, True, 5.0)) == []  # nothing asked
    assert acd.handle(cl.RecordingFailed(IID, "x", 5.0)) == []
    assert acd.calls.get(IID) is None
    acd.handle(pause(owner))
    assert acd.handle(cl.RecordingConfirmed(IID, False, 6.0)) == []  # not what was asked
    call = acd.calls.get(IID)
    assert call is not None and call.recording_pending is not None and not call.recording_paused
    assert acd.handle(cl.RecordingConfirmed("other", True, 6.0)) == []


def test_the_pause_follows_the_call_to_the_consulted_agent_and_ends_with_it() -> None:
    acd, owner = engine()
    colleague = into(acd, owner, S.CONSULTED)
    acd.handle(pause(owner))
    acd.handle(cl.RecordingConfirmed(IID, True, 6.0))
    acd.handle(cl.ConsultCompleteRequested(IID, owner, 7.0))
    acd.handle(cl.ConsultCompleted(IID, 7.5))
    call = acd.calls.get(IID)
    assert call is not None and call.agent_id == colleague and call.recording_paused
    refused(acd, pause(owner, False, 8.0), NotYourCall, "not your call")
    assert acd.handle(pause(colleague, False, 8.0)) == [cl.ResumeRecording(IID)]
    acd.handle(ev.CallerHungUp(IID, "16", 9.0))
    assert acd.calls.get(IID) is None


def test_a_blind_transfer_leaves_the_next_agent_a_recording_that_is_on() -> None:
    acd, owner = engine()
    acd.handle(pause(owner))
    acd.handle(cl.RecordingConfirmed(IID, True, 6.0))
    acd.handle(cl.BlindTransferRequested(IID, owner, 7.0, to_queue="support"))
    acd.handle(cl.TransferConfirmed(IID, 7.5))
    assert acd.calls.get(IID) is None  # the next agent's leg records anew


def test_after_a_restart_a_pause_found_in_the_calls_events_is_the_calls_again() -> None:
    acd, owner = engine()
    out = acd.handle(cl.RecordingFound(IID, 5.0))
    call = acd.calls.get(IID)
    assert call is not None and call.recording_paused and call.state == S.TALKING
    assert changed(out) == [cl.CallChanged(IID, owner, call, 5.0)] and notices(out) == []
    assert acd.handle(cl.RecordingFound(IID, 6.0)) == []  # already known
    assert acd.handle(pause(owner, False, 7.0)) == [cl.ResumeRecording(IID)]
    assert acd.handle(cl.RecordingFound(IID, 8.0)) == []  # a resume under way wins
    call = acd.calls.get(IID)
    assert call is not None and call.recording_paused and call.recording_pending is not None
    acd.handle(cl.RecordingConfirmed(IID, False, 8.5))
    acd.handle(pause(owner, True, 8.6))
    assert acd.handle(cl.RecordingFound(IID, 8.7)) == []  # a pause under way: Asterisk says when
    call = acd.calls.get(IID)
    assert call is not None and not call.recording_paused and call.recording_pending is not None
    # Not a live answered call: nothing.
    assert acd.handle(cl.RecordingFound("nope", 9.0)) == []
    acd.handle(ev.CallArrived("c2", "+15550101", "", "5000", "PJSIP/caller2", 10.0))
    acd.handle(ev.IvrFinished("c2", "1", "support", 10.0))
    assert acd.handle(cl.RecordingFound("c2", 11.0)) == [] and acd.calls.get("c2") is None


# --- listen, whisper, barge ----------------------------------------------------------------------------


def spy(agent: str, mode: str = "listen", supervisor: str | None = SUPERVISOR) -> cl.SpyRequested:
    return cl.SpyRequested(supervisor, agent, mode, 5.0)


def test_the_spy_tables_are_the_intended_ones() -> None:
    assert cl.SPY_MODES == ("listen", "whisper", "barge")
    assert frozenset({S.HELD, S.CONSULTING, S.CONSULTED}) == cl.NO_BARGE
    assert frozenset({S.CONSULTED, S.CONFERENCE}) == cl.COLLEAGUE_ON_LINE


@pytest.mark.parametrize("mode", ["listen", "whisper", "barge"])
def test_a_supervisor_rings_into_a_talking_agents_call_and_nothing_of_the_call_changes(mode: str) -> None:
    acd, owner = engine()
    before = test_calls.snapshot(acd)
    assert acd.handle(spy(owner, mode)) == [cl.SpyCall(IID, owner, SUPERVISOR, "2009", mode)]
    assert test_calls.snapshot(acd) == before


# Which modes a supervisor gets, by the call's state: listen and whisper whenever the agent is on
# the line; barge only while the caller is with the agent (on hold nobody but the agent would hear).
SPY_BY_STATE = {
    S.TALKING: {"listen", "whisper", "barge"},
    S.HELD: {"listen", "whisper"},
    S.CONSULTING: {"listen", "whisper"},
    S.CONSULTED: {"listen", "whisper"},
    S.INVITING: {"listen", "whisper", "barge"},
    S.CONFERENCE: {"listen", "whisper", "barge"},
}


@pytest.mark.parametrize("state", list(SPY_BY_STATE))
@pytest.mark.parametrize("mode", cl.SPY_MODES)
def test_what_a_supervisor_may_do_on_the_agents_call_by_its_state(state: cl.CallState, mode: str) -> None:
    acd, owner = engine()
    into(acd, owner, state)
    if mode in SPY_BY_STATE[state]:
        assert acd.handle(spy(owner, mode)) == [cl.SpyCall(IID, owner, SUPERVISOR, "2009", mode)]
    else:
        refused(acd, spy(owner, mode), cl.CallRefused, "the caller is on hold")


@pytest.mark.parametrize("state", [S.CONSULTING, S.CONSULTED, S.INVITING, S.CONFERENCE])
def test_a_colleague_brought_in_can_be_listened_to_once_it_answered(state: cl.CallState) -> None:
    acd, owner = engine()
    colleague = into(acd, owner, state)
    assert colleague is not None
    if state not in cl.COLLEAGUE_ON_LINE:  # its phone is only ringing
        refused(acd, spy(colleague), cl.CallRefused, "no call in progress")
        return
    assert acd.handle(spy(colleague, "whisper")) == [
        cl.SpyCall(IID, colleague, SUPERVISOR, "2009", "whisper")
    ]
    if state == S.CONSULTED:  # the two agents talk, the caller waits on hold
        refused(acd, spy(colleague, "barge"), cl.CallRefused, "the caller is on hold")
    else:
        assert acd.handle(spy(colleague, "barge"))


def test_spy_refusals_say_why_and_change_nothing() -> None:
    acd, owner = engine()
    idle = other(owner)
    refused(acd, spy(owner, "shout"), InvalidRequest, "mode must be one of listen, whisper, barge")
    refused(acd, spy("nobody"), UnknownAgent, "nobody")
    refused(acd, spy(owner, supervisor=None), cl.CallRefused, "your account has no phone")
    refused(acd, spy(owner, supervisor="ghost"), cl.CallRefused, "your account has no phone")
    refused(acd, spy(owner, supervisor=owner), cl.CallRefused, "you cannot listen to your own calls")
    refused(acd, spy(idle), cl.CallRefused, "this agent has no call in progress")
    assert acd.agents[idle].state == AgentState.AVAILABLE
    assert issubclass(InvalidRequest, ValueError)


def test_no_spying_on_a_ringing_phone_a_chat_or_a_call_that_ended() -> None:
    acd, owner = engine()
    acd.handle(ev.CallArrived("c2", "+15550101", "", "5000", "PJSIP/caller2", 10.0))
    (dial,) = [c for c in acd.handle(ev.IvrFinished("c2", "1", "support", 10.0)) if isinstance(c, DialAgent)]
    assert acd.agents[dial.agent_id].interaction_id == "c2"  # offered: its phone rings
    refused(acd, spy(dial.agent_id), cl.CallRefused, "no call in progress")

    chatter = chat(acd, 11.0)
    assert chatter not in (owner, dial.agent_id)
    refused(acd, spy(chatter), cl.CallRefused, "no call in progress")

    acd.handle(ev.CallerHungUp(IID, "16", 12.0))
    refused(acd, spy(owner), cl.CallRefused, "no call in progress")


def test_a_supervisor_on_the_call_does_not_listen_to_it() -> None:
    """The supervisor's desk phone brought into the call (consulted or in a conference)."""
    acd, owner = engine()
    acd.handle(ev.AgentLogin(SUPERVISOR, 2.5))
    acd.handle(cl.ConferenceRequested(IID, owner, SUPERVISOR, 3.0))
    acd.handle(cl.GuestJoined(IID, SUPERVISOR, 3.5))
    refused(acd, spy(owner), cl.CallRefused, "you are on this call yourself")
    # ... and the other way round: the supervisor's phone has the call, an agent is brought in.
    refused(acd, spy(SUPERVISOR, supervisor=owner), cl.CallRefused, "you are on this call yourself")


def test_a_spy_does_not_wait_for_a_control_under_way_nor_holds_one_up() -> None:
    acd, owner = engine()
    acd.handle(cl.HoldRequested(IID, owner, 3.0))
    assert acd.handle(spy(owner, "barge")) == [cl.SpyCall(IID, owner, SUPERVISOR, "2009", "barge")]
    acd.handle(cl.HoldConfirmed(IID, True, 4.0))
    call = acd.calls.get(IID)
    assert call is not None and call.state == S.HELD


def test_the_supervisors_phone_ringing_is_in_the_calls_story_and_a_failure_changes_nothing() -> None:
    acd, owner = engine()
    out = acd.handle(cl.SpyRinging(IID, SUPERVISOR, owner, "whisper", 6.0))
    assert out == [cl.Supervised(IID, 6.0, SUPERVISOR, owner, "whisper")]
    assert cl.Supervised.kind == "supervised"
    before = test_calls.snapshot(acd)
    assert acd.handle(cl.failed(cl.SpyCall(IID, owner, SUPERVISOR, "2009", "listen"), "gone", 7.0)) == []
    assert cl.failed(cl.SpyCall(IID, owner, SUPERVISOR, "2009", "listen"), "gone", 7.0) == cl.SpyFailed(
        IID, SUPERVISOR, "gone", 7.0
    )
    assert test_calls.snapshot(acd) == before
    acd.handle(ev.CallerHungUp(IID, "16", 8.0))
    assert acd.handle(cl.SpyRinging(IID, SUPERVISOR, owner, "listen", 9.0)) == []  # over meanwhile


def test_the_web_maps_the_new_refusals() -> None:
    from callcenter.web import domain_errors

    assert domain_errors.status_of(InvalidRequest("mode must be one of listen, whisper, barge")) == 400
    assert domain_errors.status_of(cl.CallRefused("this agent has no call in progress")) == 409
    assert domain_errors.status_of(cl.ControlInProgress("the recording is being paused")) == 409


# --- property: the pause and the spy mixed with every other control ------------------------------------

anyone = st.sampled_from(("owner", "owner", "colleague", "free", "1001", "1002", "1003", SUPERVISOR))
extra = st.one_of(
    st.builds(lambda a, p, sup: ("pause", a, p, sup), anyone, st.booleans(), st.booleans()),
    st.builds(lambda p: ("paused", p), st.booleans()),
    st.just(("pause_failed",)),
    st.just(("pause_found",)),
    st.builds(lambda s, a, m: ("spy", s, a, m), anyone, anyone, st.sampled_from((*cl.SPY_MODES, "x"))),
    st.builds(lambda a: ("spied", a), anyone),
)


def make_extra(acd: Acd, step: tuple[object, ...], at: float) -> object:
    who = [
        test_calls.resolve(acd, a) if isinstance(a, str) and a in ("owner", "colleague", "free") else a
        for a in step[1:]
    ]
    match step[0]:
        case "pause":
            agent, paused, by_supervisor = who
            return cl.RecordingPauseRequested(
                IID, bool(paused), "x", "r", at, agent_id=None if by_supervisor else str(agent)
            )
        case "paused":
            return cl.RecordingConfirmed(IID, bool(who[0]), at)
        case "pause_failed":
            return cl.RecordingFailed(IID, "refused", at)
        case "pause_found":
            return cl.RecordingFound(IID, at)
        case "spy":
            return cl.SpyRequested(str(who[0]), str(who[1]), str(who[2]), at)
        case _:
            return cl.SpyRinging(IID, SUPERVISOR, str(who[0]), "listen", at)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(test_calls.step, extra), max_size=30))
def test_random_sequences_keep_the_recording_flag_and_spies_honest(steps: list[tuple[object, ...]]) -> None:
    acd, _ = test_calls.engine()
    for n, step in enumerate(steps):
        at = 10.0 + n
        if step[0] in ("req", "res", "end"):
            event = test_calls.make_event(acd, *step, at)  # type: ignore[arg-type]
        else:
            event = make_extra(acd, step, at)
        before = test_calls.snapshot(acd)
        was = acd.calls.get(IID)
        try:
            out = acd.handle(event)  # type: ignore[arg-type]
        except DomainError:
            assert isinstance(event, cl.REQUESTS)  # only requests are refused; results are facts
            assert test_calls.snapshot(acd) == before
            continue
        finally:
            test_calls.check(acd)
        now = acd.calls.get(IID)
        if isinstance(event, cl.SpyRequested):  # a spy never changes the call
            assert test_calls.snapshot(acd) == before
            assert all(isinstance(c, cl.SpyCall) for c in out)
        paused_before = was is not None and was.recording_paused
        paused_now = now is not None and now.recording_paused
        if paused_now != paused_before and now is not None and isinstance(event, cl.RecordingFound):
            assert paused_now and (was is None or was.recording_pending is None)  # found paused
        elif paused_now != paused_before and now is not None:
            # Only Asterisk's confirmation of what was asked moves the flag, with its notice.
            assert was is not None and isinstance(event, cl.RecordingConfirmed) and event.paused == paused_now
            assert isinstance(was.recording_pending, cl.RecordingPauseRequested)
            assert any(isinstance(c, RecordingPaused if paused_now else RecordingResumed) for c in out)
        if now is not None and now.recording_pending is not None:
            assert now.recording_pending.paused != now.recording_paused  # a real change under way
        if IID not in acd.live:
            break

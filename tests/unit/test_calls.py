"""core/calls.py: the call-control transition table, and a property test over random sequences of
the panel's requests and the adapter's results, run through the real engine."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.core import events as ev
from callcenter.core.acd.agents import Agent, AgentState
from callcenter.core.acd.engine import Acd, AcdConfig
from callcenter.core.calls import machine as cl
from callcenter.core.commands import DialAgent
from callcenter.core.errors import DomainError

S, M = cl.CallState, cl.CallMove

# The table as the feature is meant: written out again, so any entry changed in the module fails here.
EXPECTED = {
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
    (S.TALKING, M.HANG_UP): S.GONE,
    (S.HELD, M.HANG_UP): S.GONE,
    (S.CONSULTING, M.HANG_UP): S.GONE,
    (S.CONSULTED, M.HANG_UP): S.GONE,
    (S.INVITING, M.HANG_UP): S.GONE,
    (S.CONFERENCE, M.HANG_UP): S.GONE,
}


def test_the_transition_table_is_exactly_the_intended_one() -> None:
    assert cl.TRANSITIONS == EXPECTED


@pytest.mark.parametrize("state", list(S))
@pytest.mark.parametrize("move", list(M))
def test_a_move_outside_the_table_raises_and_leaves_the_call_unchanged(
    state: cl.CallState, move: cl.CallMove
) -> None:
    call = cl.Call("i1", "1001", state, colleague="1002" if state in cl.WITH_COLLEAGUE else None)
    if (state, move) in EXPECTED:
        assert call.moved(move).state == EXPECTED[(state, move)]
        assert call.moved(move).pending is None
        return
    with pytest.raises(cl.IllegalCallMove) as refused:
        call.moved(move)
    assert isinstance(refused.value, DomainError) and str(refused.value)
    assert (refused.value.state, refused.value.move) == (state, move)
    assert call.state == state  # frozen: nothing to undo


def test_refusals_say_why_in_the_agents_words() -> None:
    assert str(cl.IllegalCallMove(S.HELD, M.HOLD)) == "the call is already on hold"
    assert str(cl.IllegalCallMove(S.TALKING, M.RESUME)) == "the call is not on hold"
    assert str(cl.IllegalCallMove(S.TALKING, M.CONSULT_COMPLETE)) == "no consult going on"
    assert str(cl.IllegalCallMove(S.CONFERENCE, M.HOLD)) == "drop the third party from the conference first"


def test_a_command_that_could_not_be_done_frees_what_it_reserved() -> None:
    consult = cl.OriginateConsult("i1", "1001", "PJSIP/c", "1002", "1002", hold_first=True)
    assert cl.failed(consult, "down", 5.0) == cl.ConsultFailed("i1", "1002", "down", 5.0, on_hold=False)
    invite = cl.OriginateConference("i1", "1001", "PJSIP/c", "1002", "1002")
    assert cl.failed(invite, "down", 5.0) == cl.GuestLeft("i1", "1002", "down", 5.0)
    assert cl.failed(cl.ResumeCall("i1", "1001"), "down", 5.0) == cl.ControlFailed("i1", "down", 5.0)


# --- property: random requests and results through the engine --------------------------------------

AGENTS = ("1001", "1002", "1003")
IID = "c1"


def engine() -> tuple[Acd, str]:
    agents = [Agent(id=a, extension=a, queues=frozenset({"support"})) for a in AGENTS]
    acd = Acd(AcdConfig(), agents)
    for a in agents:
        acd.handle(ev.AgentRegistered(a.extension, 0.0))
    acd.handle(ev.CallArrived(IID, "+15550100", "", "5000", "PJSIP/caller", 1.0))
    (dial,) = [c for c in acd.handle(ev.IvrFinished(IID, "1", "support", 1.0)) if isinstance(c, DialAgent)]
    acd.handle(ev.AgentAnswered(IID, dial.agent_id, 2.0))
    return acd, dial.agent_id


# Mostly the agents that matter now (resolved when the event is made), sometimes anyone.
agent = st.sampled_from(("owner", "owner", "colleague", "free", *AGENTS))


def resolve(acd: Acd, who: object) -> str:
    i, call = acd.live.get(IID), acd.calls.get(IID)
    owner = i.agent_id if i is not None and i.agent_id is not None else AGENTS[0]
    if who == "owner":
        return owner
    if who == "colleague":
        return call.colleague if call is not None and call.colleague is not None else AGENTS[1]
    if who == "free":
        return next(
            (a for a in AGENTS if a != owner and acd.agents[a].state == AgentState.AVAILABLE), AGENTS[2]
        )
    return str(who)


step = st.one_of(
    st.builds(lambda a: ("req", cl.HoldRequested, (a,)), agent),
    st.builds(lambda a: ("req", cl.ResumeRequested, (a,)), agent),
    st.builds(lambda a: ("req", cl.HangupRequested, (a,)), agent),
    st.builds(lambda a, t: ("req", "transfer", (a, t)), agent, agent),
    st.builds(lambda a, t: ("req", cl.ConsultRequested, (a, t)), agent, agent),
    st.builds(lambda a: ("req", cl.ConsultCompleteRequested, (a,)), agent),
    st.builds(lambda a: ("req", cl.ConsultCancelRequested, (a,)), agent),
    st.builds(lambda a, t: ("req", cl.ConferenceRequested, (a, t)), agent, agent),
    st.builds(lambda a: ("req", cl.ConferenceDropRequested, (a,)), agent),
    st.builds(lambda h: ("res", cl.HoldConfirmed, (h,)), st.booleans()),
    st.just(("res", cl.TransferConfirmed, ())),
    st.builds(lambda t: ("res", cl.ConsultAnswered, (t,)), agent),
    st.builds(lambda t, h: ("res", cl.ConsultFailed, (t, h)), agent, st.booleans()),
    st.just(("res", cl.ConsultCompleted, ())),
    st.just(("res", cl.ConsultCancelled, ())),
    st.builds(lambda t: ("res", cl.GuestJoined, (t,)), agent),
    st.builds(lambda t: ("res", cl.GuestLeft, (t,)), agent),
    st.just(("res", cl.ControlFailed, ())),
    st.just(("end", None, ())),
    *[st.just(("res", "confirm", ()))] * 6,  # what Asterisk most often does: the pending one done
)


def confirm(acd: Acd, at: float) -> object:
    """The result the adapter reports when Asterisk does what is under way."""
    call = acd.calls.get(IID)
    if call is None:
        return ev.Tick(at)
    match call.pending:
        case cl.HoldRequested() | cl.ResumeRequested():
            return cl.HoldConfirmed(IID, isinstance(call.pending, cl.HoldRequested), at)
        case cl.BlindTransferRequested():
            return cl.TransferConfirmed(IID, at)
        case cl.ConsultCompleteRequested():
            return cl.ConsultCompleted(IID, at)
        case cl.ConsultCancelRequested():
            return cl.ConsultCancelled(IID, at)
        case cl.HangupRequested():
            return ev.AgentHungUp(IID, call.agent_id, at)
    if call.state == S.CONSULTING and call.colleague is not None:
        return cl.ConsultAnswered(IID, call.colleague, at)
    if call.state == S.INVITING and call.colleague is not None:
        return cl.GuestJoined(IID, call.colleague, at)
    return ev.Tick(at)


def make_event(acd: Acd, kind: str, cls: object, args: tuple[object, ...], at: float) -> object:
    args = tuple(resolve(acd, a) if isinstance(a, str) else a for a in args)
    if kind == "end":
        return ev.CallerHungUp(IID, "caller hung up", at)
    if cls == "confirm":
        return confirm(acd, at)
    if cls == "transfer":
        return cl.BlindTransferRequested(IID, str(args[0]), at, to_agent=str(args[1]))
    if cls in (cl.ConsultRequested, cl.ConferenceRequested):
        return cls(IID, args[0], args[1], at)  # type: ignore[operator]
    if kind == "req":
        return cls(IID, args[0], at)  # type: ignore[operator]
    if cls in (cl.HoldConfirmed, cl.ConsultAnswered, cl.GuestJoined):
        return cls(IID, args[0], at)  # type: ignore[operator]
    if cls is cl.ConsultFailed:
        return cl.ConsultFailed(IID, str(args[0]), "failed", at, on_hold=bool(args[1]))
    if cls is cl.GuestLeft:
        return cl.GuestLeft(IID, str(args[0]), "left", at)
    if cls is cl.ControlFailed:
        return cl.ControlFailed(IID, "refused", at)
    return cls(IID, at)  # type: ignore[operator]


def snapshot(acd: Acd) -> tuple[object, ...]:
    return (acd.calls.get(IID), dict(acd.agents), dict(acd.live), {a: dict(h) for a, h in acd._held.items()})


def check(acd: Acd) -> None:
    call = acd.calls.get(IID)
    i = acd.live.get(IID)
    keep = {call.colleague} if call is not None else set()
    if i is not None:
        keep |= {i.agent_id, i.offered_to}
    for a in acd.agents.values():  # nobody else is kept on this call, once over nobody at all
        if a.interaction_id == IID and a.id not in keep:
            raise AssertionError(f"{a.id} left {a.state} on the call")
    voice = [sum(1 for c in held.values() if c == "voice") for held in acd._held.values()]
    assert max(voice) <= 1
    if call is None:
        return
    assert i is not None and call.state != S.GONE
    assert call.agent_id == i.agent_id  # the core's owner is the interaction's agent
    assert (call.colleague is not None) == (call.state in cl.WITH_COLLEAGUE)
    if call.colleague is not None:
        helper = acd.agents[call.colleague]
        assert helper.interaction_id == IID and helper.state in (AgentState.OFFERED, AgentState.BUSY)
        assert call.colleague != call.agent_id


@settings(max_examples=400, deadline=None)
@given(st.lists(step, max_size=25))
def test_random_requests_never_reach_an_illegal_state_and_refusals_change_nothing(
    steps: list[tuple[str, object, tuple[object, ...]]],
) -> None:
    acd, _ = engine()
    for n, (kind, cls, args) in enumerate(steps):
        event = make_event(acd, kind, cls, args, 10.0 + n)
        before = snapshot(acd)
        try:
            acd.handle(event)  # type: ignore[arg-type]
        except DomainError:
            assert kind == "req"  # only requests are refused; results are facts
            assert snapshot(acd) == before
        check(acd)
        if IID not in acd.live:
            break  # the call is over: the rest would only be refused


def test_the_web_maps_each_domain_error_to_one_response() -> None:
    from callcenter.core.errors import NotYourCall, UnknownAgent
    from callcenter.web import domain_errors

    assert domain_errors.status_of(NotYourCall("not your call")) == 403
    assert domain_errors.status_of(UnknownAgent("x")) == 404
    assert domain_errors.status_of(cl.ControlRefused("Asterisk refused: x")) == 502
    assert domain_errors.status_of(cl.ControlInProgress("busy")) == 409
    assert domain_errors.status_of(cl.IllegalCallMove(S.HELD, M.HOLD)) == 409
    assert domain_errors.status_of(DomainError("other")) == 400
    assert domain_errors.message_of(cl.IllegalCallMove(S.HELD, M.HOLD)) == "the call is already on hold"

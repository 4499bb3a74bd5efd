"""Call controls (blind transfer, hold, consult, conference) and the wrap-up, in the pure engine: the
panel's requests go in, the engine answers with commands for the call-control adapter, whose results
come back as events (core/calls.py; its own table and property tests are in test_calls.py)."""

from __future__ import annotations

import pytest

from callcenter.core import events as ev
from callcenter.core.acd.agents import Agent, AgentState
from callcenter.core.acd.engine import Acd, AcdConfig, NotYourCall
from callcenter.core.calls import machine as cl
from callcenter.core.commands import Command, DialAgent, RecordEvent, SaveInteraction
from callcenter.core.interaction import EndedBy, Outcome
from callcenter.core.notices import Notice


def make(**config: object) -> Acd:
    agents = [Agent(id=a, extension=a, queues=frozenset({"support"})) for a in ("1001", "1002", "1003")]
    acd = Acd(AcdConfig(**config), agents)  # type: ignore[arg-type]
    for a in agents:
        acd.handle(ev.AgentRegistered(a.extension, 0.0))
    return acd


def talking(acd: Acd, iid: str = "a", at: float = 10.0) -> str:
    """A caller in support, answered by whoever was picked; returns that agent."""
    acd.handle(ev.CallArrived(iid, "+15550100", "", "5000", f"PJSIP/caller-{iid}", at))
    (dial,) = [c for c in acd.handle(ev.IvrFinished(iid, "1", "support", at)) if isinstance(c, DialAgent)]
    acd.handle(ev.AgentAnswered(iid, dial.agent_id, at + 2))
    return dial.agent_id


def saved(out: list[Command]) -> list:
    return [c.interaction for c in out if isinstance(c, SaveInteraction)]


def kinds(out: list[Command]) -> list[str]:
    """The event-log rows' kinds (as stored before calls had a module)."""
    return [c.kind for c in out if isinstance(c, RecordEvent | Notice)]


def transfer(acd: Acd, iid: str, agent: str, at: float, **target: str) -> list[Command]:
    """A blind transfer asked for, and Asterisk doing it."""
    (command,) = [
        c
        for c in acd.handle(cl.BlindTransferRequested(iid, agent, at, **target))
        if isinstance(c, cl.TransferCall)
    ]
    assert command.interaction_id == iid
    return acd.handle(cl.TransferConfirmed(iid, at))


def hold(acd: Acd, iid: str, agent: str, held: bool, at: float) -> list[Command]:
    request = cl.HoldRequested(iid, agent, at) if held else cl.ResumeRequested(iid, agent, at)
    assert any(isinstance(c, (cl.HoldCall, cl.ResumeCall)) for c in acd.handle(request))
    return acd.handle(cl.HoldConfirmed(iid, held, at))


def consult(acd: Acd, iid: str, agent: str, to: str, at: float, *, answered: bool = True) -> list[Command]:
    out = acd.handle(cl.ConsultRequested(iid, agent, to, at))
    assert any(isinstance(c, cl.OriginateConsult) for c in out)
    if answered:
        out += acd.handle(cl.ConsultAnswered(iid, to, at + 1))
    return out


def end_consult(acd: Acd, iid: str, agent: str, complete: bool, at: float) -> list[Command]:
    if complete:
        acd.handle(cl.ConsultCompleteRequested(iid, agent, at))
        return acd.handle(cl.ConsultCompleted(iid, at))
    acd.handle(cl.ConsultCancelRequested(iid, agent, at))
    return acd.handle(cl.ConsultCancelled(iid, at))


def test_blind_transfer_to_an_agent_rings_only_that_agent_and_keeps_the_first_answer() -> None:
    acd = make(wrap_up_seconds=30.0)
    first = talking(acd)
    target = "1003" if first != "1003" else "1002"
    out = transfer(acd, "a", first, 20.0, to_agent=target)
    dials = [c for c in out if isinstance(c, DialAgent)]
    assert [d.agent_id for d in dials] == [target]
    assert dials[0].caller_channel == "PJSIP/caller-a"
    assert acd.agents[first].state == AgentState.WRAP_UP
    assert "transferred" in kinds(out)
    live = acd.live["a"]
    assert live.agent_id is None and live.transferred_to == f"agent:{target}"
    assert live.answered_at == 12.0
    acd.handle(ev.AgentAnswered("a", target, 23.0))
    assert acd.live["a"].answered_at == 12.0 and acd.live["a"].agent_id == target
    # The first agent's leg ending now changes nothing: the call is the target's.
    assert not saved(acd.handle(ev.AgentHungUp("a", first, 24.0, system=True)))
    out = acd.handle(ev.CallerHungUp("a", "caller hung up", 60.0))
    (ended,) = saved(out)
    assert (ended.outcome, ended.ended_by, ended.agent_id) == (Outcome.ANSWERED, EndedBy.CALLER, target)


def test_blind_transfer_to_a_queue_and_to_a_number() -> None:
    acd = make()
    first = talking(acd, "a")
    transfer(acd, "a", first, 20.0, to_queue="sales")
    assert acd.live["a"].queue == "sales" and acd.live["a"].transferred_to == "queue:sales"
    assert acd.agents[first].state == AgentState.AVAILABLE
    second = talking(acd, "b", 30.0)
    out = transfer(acd, "b", second, 40.0, to_number="+15550199")
    (ended,) = saved(out)
    assert ended.outcome == Outcome.ANSWERED and ended.ended_by == EndedBy.AGENT
    assert ended.transferred_to == "number:+15550199" and "b" not in acd.live


def test_only_the_agent_on_the_call_controls_it() -> None:
    acd = make()
    me = talking(acd)
    other = next(a for a in acd.agents if a != me)
    before = acd.live["a"]
    with pytest.raises(NotYourCall):
        acd.handle(cl.BlindTransferRequested("a", other, 20.0, to_queue="sales"))
    with pytest.raises(NotYourCall):
        acd.handle(cl.HoldRequested("a", other, 20.0))
    with pytest.raises(cl.CallRefused, match="no such agent"):
        acd.handle(cl.BlindTransferRequested("a", me, 20.0, to_agent="nobody"))
    with pytest.raises(cl.CallRefused, match="names an agent"):
        acd.handle(cl.BlindTransferRequested("a", me, 20.0))
    with pytest.raises(cl.CallRefused, match="no such agent"):
        acd.handle(cl.BlindTransferRequested("a", me, 20.0, to_agent=me))
    with pytest.raises(cl.CallRefused, match="not on hold"):
        acd.handle(cl.ResumeRequested("a", me, 20.0))
    assert acd.live["a"] == before and acd.agents[me].state == AgentState.BUSY
    assert acd.calls.get("a") is None  # nothing was started


def test_asterisk_refusing_a_control_leaves_the_call_as_it_was_and_one_at_a_time() -> None:
    acd = make()
    me = talking(acd)
    acd.handle(cl.HoldRequested("a", me, 20.0))
    with pytest.raises(cl.ControlInProgress):
        acd.handle(cl.BlindTransferRequested("a", me, 20.5, to_queue="sales"))
    assert kinds(acd.handle(cl.ControlFailed("a", "Asterisk refused", 21.0))) == []
    call = acd.calls.get("a")
    assert call is not None and call.state == cl.CallState.TALKING and call.pending is None
    # A confirmation nobody asked for changes nothing either.
    assert kinds(acd.handle(cl.HoldConfirmed("a", True, 22.0))) == []
    assert acd.calls.get("a") == call


def test_hold_and_resume_are_recorded() -> None:
    acd = make()
    me = talking(acd)
    assert kinds(hold(acd, "a", me, True, 20.0)) == ["held"]
    call = acd.calls.get("a")
    assert call is not None and call.state == cl.CallState.HELD
    with pytest.raises(cl.IllegalCallMove, match="already on hold"):
        acd.handle(cl.HoldRequested("a", me, 25.0))
    assert kinds(hold(acd, "a", me, False, 30.0)) == ["resumed"]


def test_wrap_up_stores_disposition_and_notes_and_ends_the_wrap_up_early() -> None:
    acd = make(wrap_up_seconds=60.0, dispositions=("resolved", "follow-up"))
    me = talking(acd)
    acd.handle(ev.AgentHungUp("a", me, 30.0))
    assert acd.agents[me].state == AgentState.WRAP_UP
    assert [i.id for i in acd.wrap_ups_of(me)] == ["a"]
    with pytest.raises(ValueError, match="disposition"):
        acd.handle(ev.WrapUpDone(me, "a", "made up", "", 31.0))
    assert acd.agents[me].state == AgentState.WRAP_UP
    out = acd.handle(ev.WrapUpDone(me, "a", "resolved", "refund sent", 35.0))
    (record,) = saved(out)
    assert (record.disposition, record.notes, record.outcome) == ("resolved", "refund sent", Outcome.ANSWERED)
    assert "wrap_up" in kinds(out)
    assert acd.agents[me].state == AgentState.AVAILABLE and acd.agents[me].since == 35.0
    assert acd.wrap_ups_of(me) == []
    with pytest.raises(NotYourCall):  # once only
        acd.handle(ev.WrapUpDone(me, "a", "resolved", "", 36.0))


def test_wrap_up_of_someone_elses_interaction_is_refused() -> None:
    acd = make(wrap_up_seconds=60.0)
    me = talking(acd)
    acd.handle(ev.CallerHungUp("a", "bye", 30.0))
    other = next(a for a in acd.agents if a != me)
    with pytest.raises(NotYourCall):
        acd.handle(ev.WrapUpDone(other, "a", "resolved", "", 31.0))
    assert acd.agents[me].state == AgentState.WRAP_UP


def test_a_chat_wrap_up_does_not_move_the_voice_state() -> None:
    acd = Acd(AcdConfig(), [Agent(id="1001", extension="1001", queues=frozenset({"chat"}), max_chats=2)])
    acd.handle(ev.AgentLogin("1001", 0.0))
    acd.handle(ev.ConversationArrived("c", "webchat", "cust", "conv", "chat", 1.0))
    acd.handle(ev.OfferAccepted("c", "1001", 2.0))
    acd.handle(ev.ConversationEnded("c", "agent", 9.0))
    out = acd.handle(ev.WrapUpDone("1001", "c", "resolved", "", 10.0))
    assert saved(out)[0].disposition == "resolved"
    assert acd.agents["1001"].state == AgentState.AVAILABLE


def test_pending_wrap_ups_are_bounded() -> None:
    acd = make(wrap_up_keep=2)
    me = talking(acd, "a", 10.0)
    acd.handle(ev.CallerHungUp("a", "bye", 20.0))
    for n, iid in enumerate(("b", "c")):
        for a in acd.agents:
            if a != me and acd.agents[a].state == AgentState.AVAILABLE:
                acd.handle(ev.AgentPause(a, "x", 21.0 + n))
        assert talking(acd, iid, 30.0 + 10 * n) == me
        acd.handle(ev.CallerHungUp(iid, "bye", 35.0 + 10 * n))
    assert [i.id for i in acd.wrap_ups_of(me)] == ["b", "c"]


def test_attended_transfer_reserves_the_target_then_hands_the_call_over() -> None:
    acd = make(wrap_up_seconds=30.0)
    first = talking(acd)
    target = "1003" if first != "1003" else "1002"
    out = consult(acd, "a", first, target, 20.0, answered=False)
    assert kinds(out) == ["consult_started"]
    assert acd.agents[target].state == AgentState.OFFERED and acd.calls.colleague_of("a") == target
    (originate,) = [c for c in out if isinstance(c, cl.OriginateConsult)]
    assert originate.hold_first and originate.caller_channel == "PJSIP/caller-a"
    # Reserved: a new caller is not offered to the consulted agent.
    acd.handle(ev.CallArrived("b", "+15550101", "", "5000", "PJSIP/caller-b", 21.0))
    dials = [c for c in acd.handle(ev.IvrFinished("b", "1", "support", 21.0)) if isinstance(c, DialAgent)]
    assert all(d.agent_id != target for d in dials)
    with pytest.raises(cl.CallRefused, match="already being brought"):
        acd.handle(cl.ConsultRequested("a", first, target, 22.0))
    with pytest.raises(cl.CallRefused, match="not on the line"):  # still ringing
        acd.handle(cl.ConsultCompleteRequested("a", first, 22.0))
    acd.handle(cl.ConsultAnswered("a", target, 23.0))
    assert acd.agents[target].state == AgentState.OFFERED  # reserved until the hand-over
    out = end_consult(acd, "a", first, True, 30.0)
    assert kinds(out) == ["transferred"] and acd.calls.get("a") == cl.Call("a", target)
    assert acd.live["a"].agent_id == target and acd.live["a"].transferred_to == f"agent:{target}"
    assert acd.agents[target].state == AgentState.BUSY and acd.agents[first].state == AgentState.WRAP_UP
    assert [i.id for i in acd.wrap_ups_of(first)] == ["a"]
    (ended,) = saved(acd.handle(ev.AgentHungUp("a", target, 50.0)))
    assert (ended.ended_by, ended.agent_id, ended.answered_at) == (EndedBy.AGENT, target, 12.0)


def test_a_cancelled_consult_frees_the_target_and_the_call_stays() -> None:
    acd = make()
    first = talking(acd)
    target = "1003" if first != "1003" else "1002"
    consult(acd, "a", first, target, 20.0, answered=False)
    with pytest.raises(NotYourCall):
        acd.handle(cl.ConsultCompleteRequested("a", target, 21.0))
    out = acd.handle(cl.ConsultFailed("a", target, "no answer", 25.0))
    assert "consult_cancelled" in kinds(out)
    assert acd.agents[target].state == AgentState.AVAILABLE and acd.live["a"].agent_id == first
    call = acd.calls.get("a")
    assert call is not None and call.state == cl.CallState.HELD and call.colleague is None  # still waiting
    # Cancelled after the colleague answered: back to the caller, the colleague free (no wrap-up).
    consult(acd, "a", first, target, 26.0)
    out = end_consult(acd, "a", first, False, 28.0)
    assert kinds(out) == ["consult_cancelled"] and acd.agents[target].state == AgentState.AVAILABLE
    assert acd.calls.get("a") == cl.Call("a", first)
    # The caller hanging up during a consult frees the consulted agent too.
    consult(acd, "a", first, target, 30.0)
    acd.handle(ev.CallerHungUp("a", "bye", 31.0))
    assert acd.agents[target].state == AgentState.AVAILABLE and acd.calls.get("a") is None


def test_conference_reserves_then_holds_the_third_party_until_it_leaves_or_the_call_ends() -> None:
    acd = make(wrap_up_seconds=30.0)
    first = talking(acd)
    other = "1003" if first != "1003" else "1002"
    acd.handle(cl.ConferenceRequested("a", first, other, 20.0))
    assert acd.agents[other].state == AgentState.OFFERED and acd.calls.colleague_of("a") == other
    with pytest.raises(cl.CallRefused):
        acd.handle(cl.ConsultRequested("a", first, other, 21.0))
    with pytest.raises(cl.IllegalCallMove, match="drop the third party"):
        acd.handle(cl.HoldRequested("a", first, 21.0))
    out = acd.handle(cl.GuestJoined("a", other, 22.0))
    assert "conference_joined" in kinds(out) and acd.agents[other].state == AgentState.BUSY
    assert acd.live["a"].agent_id == first  # the call stays the first agent's
    assert [type(c) for c in acd.handle(cl.ConferenceDropRequested("a", first, 29.0))] == [cl.DropGuest]
    out = acd.handle(cl.GuestLeft("a", other, "dropped", 30.0))
    assert "conference_left" in kinds(out) and acd.agents[other].state == AgentState.AVAILABLE
    # Again, and the caller hangs up: both agents are released (the invited one without wrap-up).
    acd.handle(cl.ConferenceRequested("a", first, other, 40.0))
    acd.handle(cl.GuestJoined("a", other, 41.0))
    (ended,) = saved(acd.handle(ev.CallerHungUp("a", "bye", 50.0)))
    assert ended.agent_id == first and ended.outcome == Outcome.ANSWERED
    assert acd.agents[other].state == AgentState.AVAILABLE and acd.agents[first].state == AgentState.WRAP_UP
    assert acd.calls.get("a") is None
    assert acd.handle(cl.GuestLeft("a", other, "late", 51.0)) == []  # stale: ignored


def test_wrap_ups_owed_before_a_restart_are_given_back() -> None:
    before = make(wrap_up_seconds=60.0, wrap_up_keep=2)
    me = talking(before, "a", 10.0)
    ended = [saved(before.handle(ev.CallerHungUp("a", "bye", 20.0)))[-1]]
    assert ended[0].is_ended and ended[0].agent_id == me
    # A fresh engine (the restarted server) gets the ended interactions the database has.
    after = make(wrap_up_seconds=60.0, wrap_up_keep=2)
    never_answered = ended[0].with_(id="x", answered_at=None)
    unknown_agent = ended[0].with_(id="y", agent_id="9999")
    still_live = ended[0].with_(id="z", outcome=None, ended_at=None)
    newer = [ended[0].with_(id=f"n{k}", ended_at=30.0 + k) for k in range(2)]
    owed = [ended[0], never_answered, unknown_agent, still_live, *newer]
    after.restore_wrap_ups([(i.agent_id or "", i) for i in owed])
    assert [i.id for i in after.wrap_ups_of(me)] == ["n0", "n1"]  # the newest two are kept
    after.restore_wrap_ups([(me, ended[0])])
    assert [i.id for i in after.wrap_ups_of(me)] == ["n1", "a"]
    out = after.handle(ev.WrapUpDone(me, "a", "", "called back", 40.0))
    assert saved(out)[0].notes == "called back" and "wrap_up" in kinds(out)
    assert [i.id for i in after.wrap_ups_of(me)] == ["n1"]
    assert after.agents[me].state == AgentState.AVAILABLE  # the state was not touched


def test_a_transferring_agent_wrapping_up_after_the_call_ended_keeps_the_final_record() -> None:
    """The first agent's wrap-up was kept as the call was when it transferred it (not ended, its own
    agent): wrapped up after the call ended, that stale snapshot overwrote the final record."""
    acd = make(wrap_up_seconds=60.0)
    first = talking(acd)
    target = next(a for a in acd.agents if a != first)
    transfer(acd, "a", first, 20.0, to_agent=target)
    acd.handle(ev.AgentAnswered("a", target, 23.0))
    (final,) = saved(acd.handle(ev.CallerHungUp("a", "caller hung up", 60.0)))
    assert [i.id for i in acd.wrap_ups_of(first)] == ["a"] == [i.id for i in acd.wrap_ups_of(target)]
    (owed,) = acd.wrap_ups_of(first)
    assert owed.transferred_to == f"agent:{target}"  # what the wrap-up form shows

    (record,) = saved(acd.handle(ev.WrapUpDone(first, "a", "", "passed to billing", 61.0)))
    assert record == final.with_(notes="passed to billing")  # ended, the target's: not rolled back
    (record,) = saved(acd.handle(ev.WrapUpDone(target, "a", "", "refunded", 62.0)))
    assert record == final.with_(notes="refunded")

    # Restored after a restart, the transferring agent's form saves the final record too.
    after = make(wrap_up_seconds=60.0)
    after.restore_wrap_ups([(first, final), (target, final)])
    assert [i.id for i in after.wrap_ups_of(first)] == ["a"] == [i.id for i in after.wrap_ups_of(target)]
    (record,) = saved(after.handle(ev.WrapUpDone(first, "a", "", "passed on", 70.0)))
    assert record == final.with_(notes="passed on")


def test_a_call_held_for_an_agent_rings_that_agent_only() -> None:
    # A campaign's preview call: the agent who chose to make it takes it, not the longest free.
    acd = make(transfer_agent_seconds=60.0)
    for n, agent in enumerate(("1003", "1002", "1001")):
        iid = f"p{n}"
        acd.handle(ev.CallArrived(iid, "+15550100", "", "renewals", f"PJSIP/o-{iid}", 10.0))
        out = acd.handle(ev.IvrFinished(iid, None, "support", 10.0, outcome="outbound", agent=agent))
        assert [d.agent_id for d in out if isinstance(d, DialAgent)] == [agent]
    # Its agent busy: nobody else is rung before the hold ends (the placer gives the message).
    acd = make(transfer_agent_seconds=60.0)
    talking(acd, "a")
    busy = next(a for a in acd.agents.values() if a.state != AgentState.AVAILABLE).id
    acd.handle(ev.CallArrived("p", "+15550100", "", "renewals", "PJSIP/o-p", 20.0))
    out = acd.handle(ev.IvrFinished("p", None, "support", 20.0, outcome="outbound", agent=busy))
    assert not [d for d in out if isinstance(d, DialAgent)]

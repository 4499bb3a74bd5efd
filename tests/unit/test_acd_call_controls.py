"""Call controls (blind transfer, hold) and the wrap-up, in the pure engine."""

from __future__ import annotations

import pytest

from callcenter.core import events as ev
from callcenter.core.acd import Acd, AcdConfig, NotYourCall, UnknownAgent
from callcenter.core.agents import Agent, AgentState
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
    return [c.kind for c in out if isinstance(c, RecordEvent | Notice)]


def test_blind_transfer_to_an_agent_rings_only_that_agent_and_keeps_the_first_answer() -> None:
    acd = make(wrap_up_seconds=30.0)
    first = talking(acd)
    target = "1003" if first != "1003" else "1002"
    out = acd.handle(ev.CallTransferred("a", first, 20.0, to_agent=target))
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
    out = acd.handle(ev.CallTransferred("a", first, 20.0, to_queue="sales"))
    assert acd.live["a"].queue == "sales" and acd.live["a"].transferred_to == "queue:sales"
    assert acd.agents[first].state == AgentState.AVAILABLE
    second = talking(acd, "b", 30.0)
    out = acd.handle(ev.CallTransferred("b", second, 40.0, to_number="+15550199"))
    (ended,) = saved(out)
    assert ended.outcome == Outcome.ANSWERED and ended.ended_by == EndedBy.AGENT
    assert ended.transferred_to == "number:+15550199" and "b" not in acd.live


def test_only_the_agent_on_the_call_controls_it() -> None:
    acd = make()
    me = talking(acd)
    other = next(a for a in acd.agents if a != me)
    before = acd.live["a"]
    with pytest.raises(NotYourCall):
        acd.handle(ev.CallTransferred("a", other, 20.0, to_queue="sales"))
    with pytest.raises(NotYourCall):
        acd.handle(ev.CallHeld("a", other, True, 20.0))
    with pytest.raises(UnknownAgent):
        acd.handle(ev.CallTransferred("a", me, 20.0, to_agent="nobody"))
    with pytest.raises(ValueError):
        acd.handle(ev.CallTransferred("a", me, 20.0))
    with pytest.raises(ValueError):
        acd.handle(ev.CallTransferred("a", me, 20.0, to_agent=me))
    assert acd.live["a"] == before and acd.agents[me].state == AgentState.BUSY


def test_hold_and_resume_are_recorded() -> None:
    acd = make()
    me = talking(acd)
    assert kinds(acd.handle(ev.CallHeld("a", me, True, 20.0))) == ["held"]
    assert kinds(acd.handle(ev.CallHeld("a", me, False, 30.0))) == ["resumed"]


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
    out = acd.handle(ev.ConsultStarted("a", first, target, 20.0))
    assert kinds(out) == ["consult_started"]
    assert acd.agents[target].state == AgentState.OFFERED and acd.consults == {"a": target}
    # Reserved: a new caller is not offered to the consulted agent.
    acd.handle(ev.CallArrived("b", "+15550101", "", "5000", "PJSIP/caller-b", 21.0))
    dials = [c for c in acd.handle(ev.IvrFinished("b", "1", "support", 21.0)) if isinstance(c, DialAgent)]
    assert all(d.agent_id != target for d in dials)
    with pytest.raises(ValueError):
        acd.handle(ev.ConsultStarted("a", first, target, 22.0))
    out = acd.handle(ev.ConsultEnded("a", first, True, 30.0))
    assert acd.live["a"].agent_id == target and acd.live["a"].transferred_to == f"agent:{target}"
    assert acd.agents[target].state == AgentState.BUSY and acd.agents[first].state == AgentState.WRAP_UP
    assert [i.id for i in acd.wrap_ups_of(first)] == ["a"]
    (ended,) = saved(acd.handle(ev.AgentHungUp("a", target, 50.0)))
    assert (ended.ended_by, ended.agent_id, ended.answered_at) == (EndedBy.AGENT, target, 12.0)


def test_a_cancelled_consult_frees_the_target_and_the_call_stays() -> None:
    acd = make()
    first = talking(acd)
    target = "1003" if first != "1003" else "1002"
    acd.handle(ev.ConsultStarted("a", first, target, 20.0))
    with pytest.raises(NotYourCall):
        acd.handle(ev.ConsultEnded("a", target, True, 21.0))
    out = acd.handle(ev.ConsultEnded("a", first, False, 25.0, "no answer"))
    assert "consult_cancelled" in kinds(out)
    assert acd.agents[target].state == AgentState.AVAILABLE and acd.live["a"].agent_id == first
    # The caller hanging up during a consult frees the consulted agent too.
    acd.handle(ev.ConsultStarted("a", first, target, 30.0))
    acd.handle(ev.CallerHungUp("a", "bye", 31.0))
    assert acd.agents[target].state == AgentState.AVAILABLE and acd.consults == {}


def test_conference_reserves_then_holds_the_third_party_until_it_leaves_or_the_call_ends() -> None:
    acd = make(wrap_up_seconds=30.0)
    first = talking(acd)
    other = "1003" if first != "1003" else "1002"
    acd.handle(ev.ConferenceInvited("a", first, other, 20.0))
    assert acd.agents[other].state == AgentState.OFFERED and acd.conferences == {"a": other}
    with pytest.raises(ValueError):
        acd.handle(ev.ConsultStarted("a", first, other, 21.0))
    out = acd.handle(ev.ConferenceJoined("a", other, 22.0))
    assert "conference_joined" in kinds(out) and acd.agents[other].state == AgentState.BUSY
    assert acd.live["a"].agent_id == first  # the call stays the first agent's
    out = acd.handle(ev.ConferenceLeft("a", other, 30.0, "dropped"))
    assert "conference_left" in kinds(out) and acd.agents[other].state == AgentState.AVAILABLE
    # Again, and the caller hangs up: both agents are released (the invited one without wrap-up).
    acd.handle(ev.ConferenceInvited("a", first, other, 40.0))
    acd.handle(ev.ConferenceJoined("a", other, 41.0))
    (ended,) = saved(acd.handle(ev.CallerHungUp("a", "bye", 50.0)))
    assert ended.agent_id == first and ended.outcome == Outcome.ANSWERED
    assert acd.agents[other].state == AgentState.AVAILABLE and acd.agents[first].state == AgentState.WRAP_UP
    assert acd.conferences == {}
    with pytest.raises(NotYourCall):
        acd.handle(ev.ConferenceLeft("a", other, 51.0))


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
    acd.handle(ev.CallTransferred("a", first, 20.0, to_agent=target))
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

"""The ACD engine, driven by plain function calls: events in, commands out, time moved by the test."""

from __future__ import annotations

import pytest

from callcenter.core import events as ev
from callcenter.core import notices as nt
from callcenter.core.acd.agents import Agent, AgentState, IllegalTransition
from callcenter.core.acd.engine import Acd, AcdConfig
from callcenter.core.commands import CancelDial, DialAgent, SaveInteraction
from callcenter.core.errors import UnknownAgent
from callcenter.core.interaction import EndedBy, Outcome


def make(agents: int = 2, **config: float) -> Acd:
    return Acd(
        AcdConfig(**config),
        [
            Agent(id=str(1001 + n), extension=str(1001 + n), queues=frozenset({"support"}))
            for n in range(agents)
        ],
    )


def arrive(acd: Acd, iid: str, at: float, queue: str | None = "support", priority: int = 0) -> list:
    acd.handle(ev.CallArrived(iid, "+15550100", "", "5000", f"PJSIP/caller-{iid}", at))
    return acd.handle(ev.IvrFinished(iid, "1", queue, at, priority))


def dials(commands: list) -> list[DialAgent]:
    return [c for c in commands if isinstance(c, DialAgent)]


def saved(commands: list):
    return [c.interaction for c in commands if isinstance(c, SaveInteraction)][-1]


def test_registered_agent_logs_in_and_gets_the_caller() -> None:
    acd = make(1)
    assert arrive(acd, "a", 10.0) and not acd.agents["1001"].can_take_call
    out = acd.handle(ev.AgentRegistered("1001", 11.0))
    (dial,) = dials(out)
    assert (dial.agent_id, dial.interaction_id, dial.caller_channel) == ("1001", "a", "PJSIP/caller-a")
    assert acd.agents["1001"].state == AgentState.OFFERED
    assert "longest-idle" in (saved(out).routing_reason or "")


def test_answer_then_caller_hangs_up_records_wait_and_talk() -> None:
    acd = make(1)
    acd.handle(ev.AgentRegistered("1001", 0.0))
    arrive(acd, "a", 10.0)
    acd.handle(ev.AgentAnswered("a", "1001", 14.0))
    assert acd.agents["1001"].state == AgentState.BUSY
    out = acd.handle(ev.CallerHungUp("a", "Normal Clearing", 74.0))
    record = saved(out)
    assert record.outcome == Outcome.ANSWERED and record.ended_by == EndedBy.CALLER
    assert record.wait_seconds == 4.0 and record.talk_seconds == 60.0
    assert record.agent_id == "1001"
    assert acd.agents["1001"].state == AgentState.AVAILABLE
    assert "a" not in acd.interactions


def test_longest_idle_agent_wins_and_ties_break_by_id() -> None:
    acd = make(3)
    acd.handle(ev.AgentRegistered("1003", 1.0))
    acd.handle(ev.AgentRegistered("1002", 2.0))
    acd.handle(ev.AgentRegistered("1001", 2.0))
    (dial,) = dials(arrive(acd, "a", 5.0))
    assert dial.agent_id == "1003"
    (dial,) = dials(arrive(acd, "b", 6.0))
    assert dial.agent_id == "1001"


def test_ring_no_answer_requeues_at_head_and_pauses_agent() -> None:
    acd = make(2)
    acd.handle(ev.AgentRegistered("1001", 0.0))
    arrive(acd, "first", 10.0)
    arrive(acd, "second", 11.0)  # nobody free for it
    out = acd.handle(ev.AgentDialFailed("first", "1001", "ring no answer", 30.0))
    assert acd.agents["1001"].state == AgentState.PAUSED
    assert acd.agents["1001"].reason == "ring no answer"
    assert not dials(out)
    # The next free agent gets the first caller, not the second.
    (dial,) = dials(acd.handle(ev.AgentRegistered("1002", 31.0)))
    assert dial.interaction_id == "first" and dial.attempt == 2


def test_caller_abandons_while_ringing_cancels_the_dial() -> None:
    acd = make(1)
    acd.handle(ev.AgentRegistered("1001", 0.0))
    arrive(acd, "a", 10.0)
    out = acd.handle(ev.CallerHungUp("a", "Normal Clearing", 12.0))
    assert any(isinstance(c, CancelDial) and c.agent_id == "1001" for c in out)
    record = saved(out)
    assert record.outcome == Outcome.ABANDONED and record.wait_seconds == 2.0
    assert acd.agents["1001"].state == AgentState.AVAILABLE
    # A late answer for the abandoned call only hangs the agent leg up.
    late = acd.handle(ev.AgentAnswered("a", "1001", 13.0))
    assert [type(c) for c in late] == [CancelDial]
    assert acd.agents["1001"].state == AgentState.AVAILABLE


def test_hangup_in_ivr_and_no_choice() -> None:
    acd = make(1)
    acd.handle(ev.CallArrived("a", "100", "", "5000", "PJSIP/caller-1", 1.0))
    assert saved(acd.handle(ev.CallerHungUp("a", "x", 3.0))).outcome == Outcome.IVR_HANGUP
    acd.handle(ev.CallArrived("b", "100", "", "5000", "PJSIP/caller-2", 1.0))
    record = saved(acd.handle(ev.IvrFinished("b", "9", None, 9.0)))
    assert record.outcome == Outcome.IVR_NO_INPUT and record.ivr_choice == "9"
    # Hangups after the end change nothing.
    assert acd.handle(ev.CallerHungUp("b", "x", 10.0)) == []


def test_priority_goes_first() -> None:
    acd = make(1)
    arrive(acd, "normal", 1.0)
    arrive(acd, "vip", 5.0, priority=5)
    (dial,) = dials(acd.handle(ev.AgentRegistered("1001", 6.0)))
    assert dial.interaction_id == "vip"


def test_agent_hangs_up_first() -> None:
    acd = make(1)
    acd.handle(ev.AgentRegistered("1001", 0.0))
    arrive(acd, "a", 1.0)
    acd.handle(ev.AgentAnswered("a", "1001", 2.0))
    record = saved(acd.handle(ev.AgentHungUp("a", "1001", 9.0)))
    assert record.ended_by == EndedBy.AGENT and record.talk_seconds == 7.0


def test_wrap_up_is_timed() -> None:
    acd = make(1, wrap_up_seconds=10.0)
    acd.handle(ev.AgentRegistered("1001", 0.0))
    arrive(acd, "a", 1.0)
    acd.handle(ev.AgentAnswered("a", "1001", 2.0))
    acd.handle(ev.CallerHungUp("a", "x", 5.0))
    assert acd.agents["1001"].state == AgentState.WRAP_UP
    arrive(acd, "b", 6.0)
    assert acd.handle(ev.Tick(14.9)) == [] or acd.agents["1001"].state == AgentState.WRAP_UP
    (dial,) = dials(acd.handle(ev.Tick(15.0)))
    assert dial.interaction_id == "b"


def test_lost_dial_result_is_taken_back_after_grace() -> None:
    acd = make(1, ring_timeout=20.0, offer_grace=15.0)
    acd.handle(ev.AgentRegistered("1001", 0.0))
    arrive(acd, "a", 1.0)
    assert not acd.handle(ev.Tick(35.0))
    out = acd.handle(ev.Tick(36.0))
    assert any(isinstance(c, CancelDial) for c in out)
    assert acd.agents["1001"].state == AgentState.PAUSED
    assert "a" in acd.waiting


def test_reconcile_ends_vanished_calls_and_syncs_registrations() -> None:
    acd = make(2)
    acd.handle(ev.AgentRegistered("1001", 0.0))
    arrive(acd, "gone", 1.0)
    arrive(acd, "alive", 2.0)
    out = acd.handle(ev.Reconciled(frozenset({"alive"}), frozenset({"1002"}), 50.0))
    ended = [c.interaction for c in out if isinstance(c, SaveInteraction) and c.interaction.id == "gone"]
    assert ended[-1].outcome == Outcome.LOST
    assert acd.agents["1001"].state == AgentState.LOGGED_OUT
    assert dials(out)[0].agent_id == "1002" and dials(out)[0].interaction_id == "alive"


def test_restore_keeps_order_and_original_wait() -> None:
    acd = make(1)
    arrive(acd, "a", 1.0)
    arrive(acd, "b", 2.0)
    snapshots = list(acd.interactions.values())
    fresh = make(1)
    fresh.restore(reversed(snapshots), at=100.0)
    (dial,) = dials(fresh.handle(ev.AgentRegistered("1001", 101.0)))
    assert dial.interaction_id == "a"
    fresh.handle(ev.AgentAnswered("a", "1001", 102.0))
    assert fresh.interactions["a"].wait_seconds == 101.0


def test_api_errors() -> None:
    acd = make(1)
    with pytest.raises(UnknownAgent):
        acd.handle(ev.AgentLogin("9999", 1.0))
    acd.handle(ev.AgentRegistered("1001", 0.0))
    arrive(acd, "a", 1.0)
    before = acd.agents["1001"]
    with pytest.raises(IllegalTransition):
        acd.handle(ev.AgentLogout("1001", 2.0))
    assert acd.agents["1001"] == before


def test_pause_resume_and_unregister() -> None:
    acd = make(1)
    acd.handle(ev.AgentRegistered("1001", 0.0))
    acd.handle(ev.AgentPause("1001", "lunch", 1.0))
    assert not dials(arrive(acd, "a", 2.0))
    (dial,) = dials(acd.handle(ev.AgentResume("1001", 3.0)))
    assert dial.agent_id == "1001"
    acd.handle(ev.CallerHungUp("a", "x", 4.0))
    acd.handle(ev.AgentUnregistered("1001", 5.0))
    assert acd.agents["1001"].state == AgentState.LOGGED_OUT


def test_system_hangups_are_not_blamed_on_people() -> None:
    acd = make(1)
    arrive(acd, "waiting", 1.0)
    record = saved(acd.handle(ev.CallerHungUp("waiting", "shutdown", 5.0, system=True)))
    assert record.outcome == Outcome.LOST and record.ended_by == EndedBy.SYSTEM
    acd.handle(ev.AgentRegistered("1001", 6.0))
    arrive(acd, "talking", 7.0)
    acd.handle(ev.AgentAnswered("talking", "1001", 8.0))
    record = saved(acd.handle(ev.AgentHungUp("talking", "1001", 20.0, system=True)))
    assert record.outcome == Outcome.ANSWERED and record.ended_by == EndedBy.SYSTEM
    assert record.talk_seconds == 12.0


def test_ivr_endings_become_outcomes_and_the_flow_data_is_recorded() -> None:
    acd = make(1)
    expected = {
        "voicemail": (Outcome.VOICEMAIL, EndedBy.CALLER),
        "hangup": (Outcome.IVR_ENDED, EndedBy.SYSTEM),
        "error": (Outcome.FAILED, EndedBy.SYSTEM),
        "": (Outcome.IVR_NO_INPUT, EndedBy.SYSTEM),
    }
    for n, (ending, (outcome, by)) in enumerate(expected.items()):
        iid = f"c{n}"
        acd.handle(ev.CallArrived(iid, "100", "", "5000", f"PJSIP/caller-{n}", 1.0))
        out = acd.handle(ev.IvrFinished(iid, "1", None, 2.0, data={"account": "4729"}, outcome=ending))
        record = saved(out)
        assert (record.outcome, record.ended_by) == (outcome, by), ending
        logged = [c for c in out if isinstance(c, nt.IvrFinished)]
        assert logged == [nt.IvrFinished(iid, 2.0, ending, {"account": "4729"})]

"""Callback in queue: keep the place, reserve an agent, dial the customer, retry per policy; and
crash safety (restore) of waiting callers and callbacks."""

from __future__ import annotations

from callcenter.core import events as ev
from callcenter.core.acd import queues as qs
from callcenter.core.acd.agents import Agent, AgentState
from callcenter.core.acd.engine import Acd, AcdConfig
from callcenter.core.commands import DialAgent, DialCustomer, ExitQueue, SaveInteraction
from callcenter.core.interaction import Outcome

POLICY = qs.CallbackPolicy(attempts=2, retry_delay=60, ring_timeout=25)


def make(n: int = 1, **queue: object) -> Acd:
    q = qs.Queue("s", callback=POLICY, **queue)  # type: ignore[arg-type]
    return Acd(
        AcdConfig(),
        [Agent(id=f"a{k}", extension=f"a{k}", queues=frozenset({"s"})) for k in range(n)],
        {"s": q},
    )


def arrive(acd: Acd, iid: str, at: float) -> None:
    acd.handle(ev.CallArrived(iid, f"+1555{iid}", "", "5000", f"PJSIP/{iid}", at))
    acd.handle(ev.IvrFinished(iid, "1", "s", at))


def customer_dials(out: list) -> list[DialCustomer]:
    return [c for c in out if isinstance(c, DialCustomer)]


def test_callback_keeps_the_place_and_reserves_an_agent() -> None:
    acd = make()
    arrive(acd, "first", 0.0)
    arrive(acd, "second", 1.0)
    acd.handle(ev.CallbackRequested("first", "+15550199", 5.0))
    acd.handle(ev.CallerHungUp("first", "Normal Clearing", 6.0))
    assert "first" in acd.waiting and acd.interactions["first"].caller_channel is None
    out = acd.handle(ev.AgentRegistered("a0", 7.0))
    (dial,) = customer_dials(out)
    assert (dial.interaction_id, dial.agent_id, dial.number, dial.timeout, dial.attempt) == (
        "first",
        "a0",
        "+15550199",
        25,
        1,
    )
    assert acd.agents["a0"].state == AgentState.OFFERED
    acd.handle(ev.AgentAnswered("first", "a0", 9.0))  # the agent picked up: still reserved
    assert acd.interactions["first"].answered_at is None
    acd.handle(ev.CallbackConnected("first", "a0", 15.0))
    assert acd.agents["a0"].state == AgentState.BUSY
    out = acd.handle(ev.AgentHungUp("first", "a0", 75.0))
    record = [c.interaction for c in out if isinstance(c, SaveInteraction) and c.interaction.id == "first"][
        -1
    ]
    assert record.outcome == Outcome.CALLED_BACK and record.talk_seconds == 60.0
    assert acd.queue_stats("s", 80.0).called_back == 1


def test_failed_callback_retries_then_gives_up() -> None:
    acd = make()
    acd.handle(ev.AgentRegistered("a0", 0.0))
    acd.handle(ev.AgentPause("a0", "setup", 0.0))
    arrive(acd, "c", 1.0)
    acd.handle(ev.CallbackRequested("c", "+1999", 2.0))
    acd.handle(ev.CallerHungUp("c", "x", 3.0))
    assert customer_dials(acd.handle(ev.AgentResume("a0", 4.0)))
    acd.handle(ev.CallbackFailed("c", "a0", "no answer", 30.0))
    assert acd.agents["a0"].state == AgentState.AVAILABLE  # not the agent's fault: not paused
    assert "c" not in acd.waiting and acd.interactions["c"].callback_due_at == 90.0
    assert not customer_dials(acd.handle(ev.Tick(89.0)))
    (dial,) = customer_dials(acd.handle(ev.Tick(90.0)))
    assert dial.attempt == 2
    out = acd.handle(ev.CallbackFailed("c", "a0", "busy", 100.0))
    record = [c.interaction for c in out if isinstance(c, SaveInteraction)][-1]
    assert record.outcome == Outcome.CALLBACK_FAILED and "c" not in acd.interactions


def test_agent_not_answering_a_callback_pauses_the_agent_and_keeps_the_place() -> None:
    acd = make(2)
    acd.handle(ev.AgentRegistered("a0", 0.0))
    acd.handle(ev.AgentPause("a0", "x", 0.0))
    arrive(acd, "c", 1.0)
    acd.handle(ev.CallbackRequested("c", "+1999", 2.0))
    acd.handle(ev.AgentResume("a0", 3.0))
    acd.handle(ev.AgentDialFailed("c", "a0", "ring no answer", 20.0))
    assert acd.agents["a0"].state == AgentState.PAUSED and acd.interactions["c"].callback_attempts == 0
    (dial,) = customer_dials(acd.handle(ev.AgentRegistered("a1", 21.0)))
    assert dial.agent_id == "a1" and dial.attempt == 1


def test_max_wait_exit_to_callback_uses_the_caller_number() -> None:
    acd = make(max_wait=60, exit=qs.QueueExit(qs.ExitKind.CALLBACK))
    arrive(acd, "c", 0.0)
    out = acd.handle(ev.Tick(60.0))
    assert any(isinstance(c, ExitQueue) and c.kind == "callback" for c in out)
    assert acd.interactions["c"].callback_number == "+1555c"
    acd.handle(ev.CallerHungUp("c", "x", 65.0))
    assert "c" in acd.waiting


def test_reconcile_keeps_callbacks() -> None:
    acd = make()
    arrive(acd, "cb", 0.0)
    arrive(acd, "gone", 1.0)
    acd.handle(ev.CallbackRequested("cb", "+1", 2.0))
    acd.handle(ev.Reconciled(frozenset(), frozenset(), 10.0))
    assert "cb" in acd.waiting and "gone" not in acd.interactions


def test_restart_restores_order_wait_callbacks_and_offers_nobody_twice() -> None:
    acd = make(2)
    acd.handle(ev.AgentRegistered("a0", 0.0))
    arrive(acd, "ringing", 1.0)  # offered to a0 when the server dies
    arrive(acd, "cb", 2.0)
    arrive(acd, "w", 3.0)
    acd.handle(ev.CallbackRequested("cb", "+1", 4.0))
    acd.handle(ev.CallerHungUp("cb", "x", 5.0))
    arrive(acd, "retry", 0.5)
    snapshots = list(acd.interactions.values())  # what the database holds
    assert acd.interactions["ringing"].offered_to == "a0"

    fresh = make(2)
    fresh.restore(reversed(snapshots), at=100.0)
    assert [i.id for i in fresh.waiting_in("s")] == ["retry", "ringing", "cb", "w"]
    out = fresh.handle(ev.Reconciled(frozenset({"ringing", "w", "retry"}), frozenset({"a0", "a1"}), 101.0))
    offers = [(c.interaction_id, c.agent_id) for c in out if isinstance(c, (DialAgent, DialCustomer))]
    assert [i for i, _ in offers] == ["retry", "ringing"] and len({a for _, a in offers}) == 2
    fresh.handle(ev.AgentAnswered("retry", offers[0][1], 102.0))
    assert fresh.interactions["retry"].wait_seconds == 101.5


def test_restore_parks_a_callback_until_its_retry_time() -> None:
    acd = make()
    arrive(acd, "c", 0.0)
    acd.handle(ev.CallbackRequested("c", "+1", 1.0))
    snap = acd.interactions["c"].with_(callback_due_at=200.0, callback_attempts=1)
    fresh = make()
    fresh.restore([snap], at=100.0)
    fresh.handle(ev.AgentRegistered("a0", 101.0))
    assert "c" not in fresh.waiting
    (dial,) = customer_dials(fresh.handle(ev.Tick(200.0)))
    assert dial.attempt == 2


def test_withheld_number_is_not_turned_into_a_callback() -> None:
    acd = make(max_wait=60, exit=qs.QueueExit(qs.ExitKind.CALLBACK))
    acd.handle(ev.CallArrived("c", "", "", "5000", "PJSIP/c", 0.0))
    acd.handle(ev.IvrFinished("c", "1", "s", 0.0))
    acd.handle(ev.Tick(60.0))
    assert "c" in acd.waiting and not acd.interactions["c"].is_callback


def test_the_callback_key_counts_only_for_a_caller_waiting_in_line() -> None:
    # Issue 13 #11: callers wait in a holding bridge, where the dialplan hears no key; the `*` comes
    # from AMI (DTMFEnd) and the engine decides: in line -> the confirmation exit and a callback.
    acd = make()
    acd.handle(ev.CallArrived("menu", "+1555menu", "", "5000", "PJSIP/menu", 0.0))
    assert acd.handle(ev.CallbackKeyPressed("menu", "+1555menu", 1.0)) == []  # still in the IVR
    arrive(acd, "c", 2.0)
    out = acd.handle(ev.CallbackKeyPressed("c", "+15550177", 3.0))
    assert [c for c in out if isinstance(c, ExitQueue)] == [ExitQueue("c", "PJSIP/c", "callback")]
    assert acd.interactions["c"].callback_number == "+15550177" and "c" in acd.waiting
    assert acd.handle(ev.CallbackKeyPressed("c", "+15550177", 4.0)) == []  # once is enough
    acd.handle(ev.CallerHungUp("c", "hung up after the callback offer", 5.0))
    assert "c" in acd.waiting  # the place is kept
    # An agent ringing for a caller: the key is just a key (the caller stays on the line).
    arrive(acd, "r", 6.0)
    out = acd.handle(ev.AgentRegistered("a0", 7.0))
    assert [c for c in customer_dials(out)]  # the callback "c" goes first
    acd2 = make()
    acd2.handle(ev.AgentRegistered("a0", 0.0))
    arrive(acd2, "ringing", 1.0)
    assert acd2.agents["a0"].state == AgentState.OFFERED
    assert acd2.handle(ev.CallbackKeyPressed("ringing", "+1", 2.0)) == []
    acd2.handle(ev.AgentAnswered("ringing", "a0", 3.0))
    assert acd2.handle(ev.CallbackKeyPressed("ringing", "+1", 4.0)) == []  # talking
    assert acd2.interactions["ringing"].callback_number is None
    assert acd2.handle(ev.CallbackKeyPressed("nobody", "+1", 5.0)) == []

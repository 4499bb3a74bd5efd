"""Skills, overflow, strategies, fairness across queues, exits, announcements, statistics."""

from __future__ import annotations

from callcenter.core import events as ev
from callcenter.core.acd import queues as qs
from callcenter.core.acd.agents import Agent, AgentState
from callcenter.core.acd.engine import Acd, AcdConfig
from callcenter.core.commands import Announce, DialAgent, ExitQueue, SaveInteraction
from callcenter.core.interaction import Outcome


def agent(
    aid: str, queues: set[str], skills: dict[str, int] | None = None, langs: set[str] | None = None
) -> Agent:
    return Agent(
        id=aid,
        extension=aid,
        queues=frozenset(queues),
        skills=skills or {},
        languages=frozenset(langs or ()),
    )


def arrive(acd: Acd, iid: str, at: float, queue: str, priority: int = 0, **extra: object) -> list:
    acd.handle(ev.CallArrived(iid, "+15550100", "", "5000", f"PJSIP/{iid}", at))
    return acd.handle(ev.IvrFinished(iid, "1", queue, at, priority, **extra))  # type: ignore[arg-type]


def dials(out: list) -> list[tuple[str, str]]:
    return [(c.interaction_id, c.agent_id) for c in out if isinstance(c, DialAgent)]


def up(acd: Acd, *ids: str, at: float = 0.0) -> list:
    out: list = []
    for n, aid in enumerate(ids):
        out += acd.handle(ev.AgentRegistered(aid, at + n * 0.001))
    return out


def test_skill_level_is_required() -> None:
    q = qs.Queue("billing", skills={"billing": 3})
    acd = Acd(
        AcdConfig(),
        [agent("junior", {"billing"}, {"billing": 1}), agent("senior", {"billing"}, {"billing": 4})],
        {"billing": q},
    )
    up(acd, "junior", "senior")
    assert dials(arrive(acd, "c", 1.0, "billing")) == [("c", "senior")]


def test_caller_skills_and_language_add_to_the_queue_requirement() -> None:
    acd = Acd(
        AcdConfig(),
        [
            agent("en", {"support"}, {"printers": 5}, {"en"}),
            agent("fr", {"support"}, {"printers": 2}, {"fr"}),
        ],
    )
    up(acd, "en", "fr")
    assert dials(arrive(acd, "c", 1.0, "support", language="fr")) == [("c", "fr")]
    assert not dials(arrive(acd, "d", 2.0, "support", skills=("printers:3",), language="fr"))
    assert acd.waiting_in("support")[0].id == "d"


def test_overflow_widens_by_wait_time_driven_by_tick() -> None:
    q = qs.Queue(
        "billing",
        skills={"billing": 4},
        overflow=(qs.Overflow(after=60, skills={"billing": 2}), qs.Overflow(after=120, queue="general")),
    )
    acd = Acd(
        AcdConfig(),
        [agent("mid", {"billing"}, {"billing": 2}), agent("gen", {"general"})],
        {"billing": q},
    )
    up(acd, "mid", "gen")
    arrive(acd, "c", 0.0, "billing")
    arrive(acd, "d", 1.0, "billing")
    assert not dials(acd.handle(ev.Tick(59.0)))
    out = acd.handle(ev.Tick(60.0))
    assert dials(out) == [("c", "mid")]
    reason = acd.interactions["c"].routing_reason or ""
    assert "billing{billing>=2}" in reason and "1 overflow step" in reason
    acd.handle(ev.AgentAnswered("c", "mid", 61.0))
    assert not dials(acd.handle(ev.Tick(120.0)))  # d queued at 1.0: its second step is at 121
    assert dials(acd.handle(ev.Tick(121.0))) == [("d", "gen")]


def test_fair_order_across_queues_and_priority() -> None:
    acd = Acd(AcdConfig(), [agent("both", {"a", "b"})])
    arrive(acd, "a-late", 5.0, "a")
    arrive(acd, "b-early", 1.0, "b")
    arrive(acd, "a-vip", 9.0, "a", priority=2)
    order = []
    acd.handle(ev.AgentRegistered("both", 10.0))
    for _ in range(3):
        (iid,) = [i for i, _ in dials(acd.handle(ev.Tick(0)))] or [acd.agents["both"].interaction_id]
        order.append(iid)
        acd.handle(ev.AgentAnswered(iid, "both", 11.0))
        acd.handle(ev.CallerHungUp(iid, "x", 12.0))
    assert order == ["a-vip", "b-early", "a-late"]


def test_strategies() -> None:
    def run(strategy: qs.Strategy) -> str:
        q = qs.Queue("s", skills={"x": 1}, strategy=strategy)
        acd = Acd(
            AcdConfig(),
            [agent("a1", {"s"}, {"x": 1}), agent("a2", {"s"}, {"x": 5}), agent("a3", {"s"}, {"x": 3})],
            {"s": q},
        )
        acd.handle(ev.AgentRegistered("a3", 0.0))
        acd.handle(ev.AgentRegistered("a1", 1.0))
        acd.handle(ev.AgentRegistered("a2", 2.0))
        # a3 talks 50 s of its 100 s; the others never talked.
        arrive(acd, "warm", 3.0, "s")
        first = acd.interactions["warm"].offered_to
        assert first is not None
        acd.handle(ev.AgentAnswered("warm", first, 10.0))
        acd.handle(ev.CallerHungUp("warm", "x", 60.0))
        (dial,) = dials(arrive(acd, "c", 100.0, "s"))
        return f"{first}:{dial[1]}"

    assert run(qs.Strategy.LONGEST_IDLE) == "a3:a1"
    assert run(qs.Strategy.SKILLS_WEIGHTED) == "a2:a2"
    assert run(qs.Strategy.ROUND_ROBIN) == "a1:a2"
    assert run(qs.Strategy.LEAST_OCCUPIED).split(":")[1] != run(qs.Strategy.LEAST_OCCUPIED).split(":")[0]


def test_wrap_up_per_queue() -> None:
    acd = Acd(AcdConfig(wrap_up_seconds=0), [agent("a", {"s"})], {"s": qs.Queue("s", wrap_up_seconds=30)})
    up(acd, "a")
    arrive(acd, "c", 1.0, "s")
    acd.handle(ev.AgentAnswered("c", "a", 2.0))
    acd.handle(ev.CallerHungUp("c", "x", 10.0))
    assert acd.agents["a"].state == AgentState.WRAP_UP
    acd.handle(ev.Tick(39.0))
    assert acd.agents["a"].state == AgentState.WRAP_UP
    acd.handle(ev.Tick(40.0))
    assert acd.agents["a"].state == AgentState.AVAILABLE


def test_max_wait_exits_to_voicemail() -> None:
    q = qs.Queue("s", max_wait=30, exit=qs.QueueExit(qs.ExitKind.VOICEMAIL))
    acd = Acd(AcdConfig(), [agent("a", {"s"})], {"s": q})
    arrive(acd, "c", 0.0, "s")
    out = acd.handle(ev.Tick(30.0))
    assert any(isinstance(c, ExitQueue) and c.kind == "voicemail" for c in out)
    (record,) = [c.interaction for c in out if isinstance(c, SaveInteraction)]
    assert record.outcome == Outcome.EXITED and "c" not in acd.interactions
    assert acd.queue_stats("s", 31.0).exited == 1


def test_max_wait_moves_to_another_queue_once_keeping_the_wait() -> None:
    a = qs.Queue("a", max_wait=30, exit=qs.QueueExit(qs.ExitKind.QUEUE, "b"))
    b = qs.Queue("b", max_wait=30, exit=qs.QueueExit(qs.ExitKind.QUEUE, "a"))
    acd = Acd(AcdConfig(), [agent("x", {"b"})], {"a": a, "b": b})
    arrive(acd, "c", 0.0, "a")
    acd.handle(ev.Tick(30.0))
    acd.handle(ev.Tick(60.0))
    i = acd.interactions["c"]
    assert (i.queue, i.overflowed_from, i.queued_at) == ("b", "a", 0.0)
    assert acd.queue_stats("a", 61).overflowed == 1
    assert dials(acd.handle(ev.AgentRegistered("x", 61.0))) == [("c", "x")]


def test_announcements_give_position_and_estimated_wait() -> None:
    q = qs.Queue("s", announce_every=30)
    acd = Acd(AcdConfig(), [agent("a", {"s"}), agent("b", {"s"})], {"s": q})
    acd.handle(ev.AgentLogin("a", 0.0))  # logged in but not registered: staffed, not reachable
    arrive(acd, "c1", 0.0, "s")
    arrive(acd, "c2", 10.0, "s", priority=1)
    out = acd.handle(ev.Tick(30.0))
    (ann,) = [c for c in out if isinstance(c, Announce)]
    assert (ann.interaction_id, ann.position, ann.estimated_wait) == ("c1", 2, 360.0)
    out = acd.handle(ev.Tick(40.0))
    (ann,) = [c for c in out if isinstance(c, Announce)]
    assert (ann.interaction_id, ann.position) == ("c2", 1)
    assert [c.interaction_id for c in acd.handle(ev.Tick(60.0)) if isinstance(c, Announce)] == ["c1"]


def test_statistics() -> None:
    q = qs.Queue("s", service_level_seconds=20)
    acd = Acd(AcdConfig(), [agent("a", {"s"})], {"s": q})
    arrive(acd, "fast", 0.0, "s")
    arrive(acd, "slow", 0.0, "s")
    arrive(acd, "gone", 0.0, "s")
    arrive(acd, "quick-abandon", 0.0, "s")
    acd.handle(ev.CallerHungUp("quick-abandon", "x", 5.0))
    up(acd, "a", at=10.0)
    acd.handle(ev.AgentAnswered("fast", "a", 10.0))
    acd.handle(ev.CallerHungUp("fast", "x", 70.0))
    acd.handle(ev.AgentAnswered("slow", "a", 70.0))
    acd.handle(ev.CallerHungUp("gone", "x", 80.0))
    s = acd.queue_stats("s", 90.0)
    assert (s.entered, s.answered, s.abandoned, s.waiting) == (4, 2, 2, 0)
    assert s.service_level == 1 / 3  # fast in SL; slow and gone (after 20 s) against; quick ignored
    assert s.asa_seconds == 40.0 and s.abandonment_rate == 0.5
    assert s.agents["busy"] == 1


def test_reload_retargets_waiting_callers() -> None:
    acd = Acd(AcdConfig(), [agent("a", {"s"}, {"x": 1})], {"s": qs.Queue("s", skills={"x": 2})})
    up(acd, "a")
    assert not dials(arrive(acd, "c", 1.0, "s"))
    out = acd.set_queues({"s": qs.Queue("s", skills={"x": 1})}, 2.0)
    assert dials(out) == [("c", "a")]


def test_voice_capacity_is_one() -> None:
    acd = Acd(AcdConfig(), [agent("a", {"s"})])
    up(acd, "a")
    assert dials(arrive(acd, "c1", 1.0, "s")) == [("c1", "a")]
    assert not dials(arrive(acd, "c2", 2.0, "s"))
    zero = Agent(id="z", extension="z", queues=frozenset({"s"}), capacity={"voice": 0})
    acd = Acd(AcdConfig(), [zero])
    up(acd, "z")
    assert not dials(arrive(acd, "c", 1.0, "s"))


def test_ivr_skills_are_names_with_an_optional_level() -> None:
    from callcenter.core.acd.engine import skill_levels

    assert skill_levels(("billing", "printers:3", "odd:x")) == {"billing": 1, "printers": 3, "odd:x": 1}


def test_ivr_callback_ending_puts_a_callback_in_line() -> None:
    acd = Acd(AcdConfig(), [agent("a", {"support"})])
    acd.handle(ev.CallArrived("c", "+1555", "", "5000", "PJSIP/c", 0.0))
    data = {"callback_number": "+1666", "callback_queue": "support"}
    acd.handle(ev.IvrFinished("c", None, None, 1.0, outcome="callback", data=data))
    acd.handle(ev.CallerHungUp("c", "16", 2.0))
    i = acd.interactions["c"]
    assert (i.queue, i.callback_number, i.caller_channel) == ("support", "+1666", None)
    from callcenter.core.commands import DialCustomer

    out = acd.handle(ev.AgentRegistered("a", 3.0))
    assert [c.number for c in out if isinstance(c, DialCustomer)] == ["+1666"]

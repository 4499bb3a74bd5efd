"""The what-if simulator (callcenter/planning/simulate.py): simulated callers through the routing
engine itself. Validated against the queueing models on one single-skill queue, then the engine's
own routing (skills, overflow, maximum wait, wrap-up) seen through it, and the roster search."""

from __future__ import annotations

from dataclasses import replace

import pytest

from callcenter.core.acd import queues as qs
from callcenter.core.acd.agents import Agent
from callcenter.planning.demand import Demand, QueueDemand
from callcenter.planning.search import agents_for_targets, below_target
from callcenter.planning.simulate import SimConfig, simulate
from callcenter.planning.staffing import Load, evaluate


def agents(
    n: int, queues: frozenset[str] = frozenset({"q"}), prefix: str = "a", **skills: int
) -> list[Agent]:
    return [
        Agent(id=f"{prefix}{k}", extension=f"{prefix}{k}", queues=queues, skills=dict(skills))
        for k in range(n)
    ]


def steady(calls_per_hour: float, aht: float, hours: float, patience: float | None = None) -> Demand:
    """One queue ``q``, the same rate for ``hours`` (in hour-long intervals)."""
    n = round(hours)
    return Demand(3600, n, (QueueDemand("q", (calls_per_hour,) * n, (aht,) * n, patience),))


# The validation grid: one queue, one skill, agents always logged in, no ring, no wrap-up,
# exponential handle times (and patience): the assumptions of Erlang C (no patience) and Erlang A.
# Each point runs about 20,000 callers after a two-hour warm-up, seeded. Stated tolerance: service
# level (share answered within 20 s), abandon share and occupancy within 0.03 absolute; the mean
# wait within 30 % or 3 s (near saturation, waits come in long correlated busy periods: the
# mean wait of 20,000 callers at occupancy 0.9 is itself that noisy). bench/simulate.py --validate
# runs the same grid with 5x the callers.
GRID = [
    # agents, calls per hour, AHT s, patience s (None: Erlang C)
    (10, 160, 180, None),  # 8 Erlangs, occupancy 0.80
    (25, 440, 180, None),  # 22 Erlangs, 0.88
    (50, 900, 180, None),  # 45 Erlangs, 0.90
    (10, 220, 180, 90.0),  # 11 Erlangs on 10 agents: overloaded, only abandons keep it stable
    (30, 560, 180, 120.0),  # 28 Erlangs, 0.93
]


@pytest.mark.parametrize(("n", "per_hour", "aht", "patience"), GRID)
def test_agrees_with_erlang_c_and_erlang_a(
    n: int, per_hour: float, aht: float, patience: float | None
) -> None:
    hours = 2 + 20_000 / per_hour
    demand = steady(per_hour, aht, hours, patience)
    queue = qs.Queue("q", service_level_seconds=20.0, short_abandon_seconds=0.0)
    result = simulate(demand, agents(n), {"q": queue}, config=SimConfig(seed=7, warmup_seconds=7200))
    model = evaluate(Load(per_hour, 3600, aht, patience), n, seconds=20)
    f = result.queue("q").figures
    assert f.offered > 19_000
    assert f.answered_in_time == pytest.approx(model.service_level, abs=0.03)
    assert f.abandon_share == pytest.approx(model.abandon_rate, abs=0.03)
    assert result.queue("q").occupancy == pytest.approx(model.occupancy, abs=0.03)
    assert f.mean_wait == pytest.approx(model.asa, rel=0.3, abs=3.0)
    if patience is None:
        assert f.abandoned == 0 and f.service_level == f.answered_in_time


def test_seeded_and_repeatable() -> None:
    demand = steady(100, 180, 3)
    one = simulate(demand, agents(6), {}, config=SimConfig(seed=3))
    assert one == simulate(demand, agents(6), {}, config=SimConfig(seed=3))
    assert one != simulate(demand, agents(6), {}, config=SimConfig(seed=4))


def test_the_engine_routes_by_skill_and_overflows() -> None:
    # Billing callers need billing:3; one such agent is not enough, three generalists idle in
    # support. After 30 s of wait billing's overflow step lets support's agents take them.
    demand = Demand(
        3600,
        2,
        (
            QueueDemand("billing", (60, 60), (180, 180), None),
            QueueDemand("support", (10, 10), (180, 180), None),
        ),
    )
    roster = agents(1, frozenset({"billing"}), "b", billing=3) + agents(3, frozenset({"support"}), "s")
    strict = {"billing": qs.Queue("billing", skills={"billing": 3}), "support": qs.Queue("support")}
    widened = {**strict, "billing": replace(strict["billing"], overflow=(qs.Overflow(30, queue="support"),))}
    alone = simulate(demand, roster, strict)
    helped = simulate(demand, roster, widened)
    assert alone.waiting_at_end == 0  # one agent clears the line once arrivals stop
    assert alone.queue("billing").figures.service_level < 0.3
    helped_asa, alone_asa = helped.queue("billing").figures.asa, alone.queue("billing").figures.asa
    assert helped_asa is not None and alone_asa is not None and helped_asa < alone_asa / 5
    assert helped.queue("support").occupancy > alone.queue("support").occupancy


def test_nobody_qualified_leaves_callers_waiting() -> None:
    demand = Demand(3600, 1, (QueueDemand("q", (20,), (60,), None, skills=("french",)),))
    result = simulate(demand, agents(3), {})
    assert result.queue("q").figures.answered == 0 and result.waiting_at_end == result.calls > 0


def test_maximum_wait_exits_and_wrap_up_takes_agent_time() -> None:
    demand = steady(120, 180, 2)
    exit_queue = qs.Queue("q", max_wait=30, exit=qs.QueueExit(qs.ExitKind.VOICEMAIL))
    exits = simulate(demand, agents(4), {"q": exit_queue}).queue("q").figures
    assert exits.exited > 0 and exits.answered + exits.exited == exits.offered
    plain = simulate(demand, agents(8), {"q": qs.Queue("q")}).queue("q")
    wrapped = simulate(demand, agents(8), {"q": qs.Queue("q", wrap_up_seconds=60)}).queue("q")
    assert wrapped.occupancy > plain.occupancy + 0.1
    assert wrapped.figures.service_level < plain.figures.service_level


def test_figures_per_interval_add_up() -> None:
    demand = Demand(900, 4, (QueueDemand("q", (10, 40, 40, 10), (120,) * 4, 60.0),))
    result = simulate(demand, agents(3), {})
    per = [i.figures for i in result.intervals if i.queue == "q"]
    total = result.queue("q").figures
    assert sum(f.offered for f in per) == total.offered
    assert sum(f.abandoned for f in per) == total.abandoned
    assert max(per, key=lambda f: f.offered) in per[1:3]


def test_search_finds_the_fewest_agents_with_the_skill() -> None:
    demand = Demand(
        3600,
        2,
        (
            QueueDemand("billing", (120, 120), (180, 180), None),
            QueueDemand("support", (30, 30), (180, 180), None),
        ),
    )
    queues = {"billing": qs.Queue("billing", skills={"billing": 2}), "support": qs.Queue("support")}
    roster = agents(4, frozenset({"support"}), "s")
    found = agents_for_targets(demand, roster, queues, "billing", 2, config=SimConfig(seed=5))
    assert found.joined == ("billing",) and found.added is not None and found.added > 6
    assert not below_target(found.result)
    fewer = agents_for_targets(
        demand, roster, queues, "billing", 2, config=SimConfig(seed=5), limit=found.added - 1
    )
    assert fewer.added is None and fewer.missing == ("billing",)

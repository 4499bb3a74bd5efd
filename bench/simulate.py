"""The what-if simulator's speed, and its agreement with Erlang C and Erlang A.

    .venv/bin/python bench/simulate.py                 # 500 agents, 20 queues, 2 simulated hours
    .venv/bin/python bench/simulate.py --hours 8 --agents 500 --queues 20
    .venv/bin/python bench/simulate.py --validate      # the tests' grid with 5x the callers

Speed: 20 queues, queue *k* needs skill *k* at level 2, widening to level 1 after 30 s; every agent
has 3 of the 20 skills (levels 1-3) and is a member of those skills' queues; strategy longest idle,
10 s wrap-up; handle times lognormal (mean 240 s, CV 0.8), patience exponential (mean 180 s); the
arrival rate loads the agents to about 85 %. Reports simulated contact-hours (the handle time of
the calls answered) per wall second, callers and engine events per second.

Validation: one queue, one skill, no ring, no wrap-up, exponential handle times (and patience);
the simulator's share answered within 20 s, abandon share, occupancy and mean wait against
pyworkforce's Erlang C / Erlang A. Figures go to docs/performance.md ("Planning").
"""

from __future__ import annotations

import argparse
import gc
import random
import time

from callcenter.core.acd import queues as qs
from callcenter.core.acd.agents import Agent
from callcenter.core.acd.engine import AcdConfig
from callcenter.planning.demand import Demand, QueueDemand
from callcenter.planning.simulate import SimConfig, simulate
from callcenter.planning.staffing import Load, evaluate


def scene(agents: int, queues: int, hours: int, seed: int) -> tuple[Demand, list[Agent], dict[str, qs.Queue]]:
    rng = random.Random(seed)
    roster = []
    for n in range(agents):
        skills = {f"s{k}": rng.randint(1, 3) for k in rng.sample(range(queues), min(3, queues))}
        roster.append(
            Agent(
                f"a{n}",
                f"a{n}",
                frozenset(f"q{k}" for k in range(queues) if f"s{k}" in skills),
                skills=skills,
            )
        )
    defs = {
        f"q{k}": qs.Queue(
            f"q{k}", skills={f"s{k}": 2}, overflow=(qs.Overflow(30, skills={f"s{k}": 1}),), wrap_up_seconds=10
        )
        for k in range(queues)
    }
    aht = 240.0
    per_queue_hour = agents * 0.85 * 3600 / (aht + 10) / queues
    demand = Demand(
        3600,
        hours,
        tuple(QueueDemand(f"q{k}", (per_queue_hour,) * hours, (aht,) * hours, 180.0) for k in range(queues)),
    )
    return demand, roster, defs


def speed(args: argparse.Namespace) -> None:
    demand, roster, defs = scene(args.agents, args.queues, args.hours, args.seed)
    gc.collect()
    began = time.perf_counter()
    result = simulate(demand, roster, defs, AcdConfig(), SimConfig(seed=args.seed, handle_cv=0.8))
    wall = time.perf_counter() - began
    hours = result.contact_seconds / 3600
    sl = [q.figures.service_level or 0.0 for q in result.queues]
    print(f"{args.agents} agents, {args.queues} queues, {args.hours} simulated hour(s), seed {args.seed}")
    print(f"callers {result.calls}, engine events {result.handled_events}, wall {wall:.1f} s")
    print(f"contact-hours {hours:.0f}: {hours / wall:.1f} contact-hours per wall second")
    print(
        f"callers per wall second {result.calls / wall:.0f}, "
        f"events per wall second {result.handled_events / wall:.0f}"
    )
    print(f"occupancy {result.occupancy:.3f}; service level per queue {min(sl):.2f} to {max(sl):.2f}")


GRID = [
    (10, 160, 180, None),
    (25, 440, 180, None),
    (50, 900, 180, None),
    (10, 220, 180, 90.0),
    (30, 560, 180, 120.0),
]


def validate(args: argparse.Namespace) -> None:
    print(
        "agents calls/h model    | SL sim  model  | abandon sim model | occupancy sim model "
        "| wait sim   model"
    )
    for n, per_hour, aht, patience in GRID:
        hours = round(2 + args.callers / per_hour)
        demand = Demand(3600, hours, (QueueDemand("q", (per_hour,) * hours, (aht,) * hours, patience),))
        queue = qs.Queue("q", short_abandon_seconds=0.0)
        agents = [Agent(f"a{k}", f"a{k}", frozenset({"q"})) for k in range(n)]
        result = simulate(demand, agents, {"q": queue}, config=SimConfig(seed=args.seed, warmup_seconds=7200))
        model = evaluate(Load(per_hour, 3600, aht, patience), n, seconds=20)
        f, occupancy = result.queue("q").figures, result.queue("q").occupancy or 0.0
        name = "erlang_c" if patience is None else f"A p={patience:g}"
        print(
            f"{n:6d} {per_hour:7g} {name:8s} | {f.answered_in_time or 0:.3f} {model.service_level:.3f} | "
            f"{f.abandon_share or 0:.3f} {model.abandon_rate:.3f}       | "
            f"{occupancy:.3f} {model.occupancy:.3f}"
            f"         | {f.mean_wait or 0:6.1f} {model.asa:6.1f}   ({f.offered} callers)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--queues", type=int, default=20)
    parser.add_argument("--hours", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--validate", action="store_true")
    parser.add_argument("--callers", type=int, default=100_000, help="--validate: callers per grid point")
    args = parser.parse_args()
    validate(args) if args.validate else speed(args)


if __name__ == "__main__":
    main()

"""How long one routing decision takes, and how it grows with agents and waiting interactions.

Run:  python bench/acd_decision.py            (the full table, about a minute)
      python bench/acd_decision.py --quick    (smaller sizes, a few seconds)

The scene: 50 skills; 50 queues, queue k needing skill k at level 3 and widening to level 1 after
60 s; agents with 5 random skills (levels 1-5), 1-2 of 3 languages, member of their skills' queues;
callers spread over the queues, two thirds with a language, 5 % VIP. Every agent is busy and the
interactions wait. One *decision* is ``Acd.handle(AgentHungUp)``: the call ends, the agent is free,
the engine finds the best-placed caller it may take across its queues and offers it (the agent then
answers and a new caller arrives, untimed, so the sizes stay put). An *arrival* is
``handle(IvrFinished)`` of a new caller while nobody is free.

The baseline is the naive scan the foundation's engine did on every event: every waiting caller in
order x every agent. It is timed on the same states and must reach the same decision (checked).
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from callcenter.core import events as ev
from callcenter.core.acd import queues as qs
from callcenter.core.acd.agents import Agent, AgentState
from callcenter.core.acd.engine import Acd, AcdConfig
from callcenter.core.commands import DialAgent

SKILLS = [f"s{k}" for k in range(50)]
LANGS = ["en", "fr", "de"]


def build(n_agents: int, n_waiting: int, rng: random.Random) -> tuple[Acd, list[str], int]:
    queues = {s: qs.Queue(s, skills={s: 3}, overflow=(qs.Overflow(60, skills={s: 1}),)) for s in SKILLS}
    agents = []
    for n in range(n_agents):
        skills = {s: rng.randint(1, 5) for s in rng.sample(SKILLS, 5)}
        langs = frozenset(rng.sample(LANGS, rng.randint(1, 2)))
        agents.append(
            Agent(id=f"a{n}", extension=f"a{n}", queues=frozenset(skills), skills=skills, languages=langs)
        )
    acd = Acd(AcdConfig(ring_timeout=1e9), agents, queues)
    for a in agents:
        acd.handle(ev.AgentRegistered(a.extension, 0.0))
    counter = 0
    at = 1.0

    def arrive() -> list[DialAgent]:
        nonlocal counter
        counter += 1
        iid = f"c{counter}"
        acd.handle(ev.CallArrived(iid, "1", "", "5000", f"PJSIP/{iid}", at))
        language = rng.choice([None, *LANGS])
        prio = 5 if rng.random() < 0.05 else 0
        out = acd.handle(ev.IvrFinished(iid, "1", rng.choice(SKILLS), at, prio, language=language))
        return [c for c in out if isinstance(c, DialAgent)]

    # Make every agent busy (agents nobody's caller can use are paused), then fill the line.
    tries = 0
    while any(a.state == AgentState.AVAILABLE for a in acd.agents.values()) and tries < 40 * n_agents:
        tries += 1
        for d in arrive():
            acd.handle(ev.AgentAnswered(d.interaction_id, d.agent_id, at))
        if len(acd.waiting) > n_waiting // 2:
            break
    for a in list(acd.agents.values()):
        if a.state == AgentState.AVAILABLE:
            acd.handle(ev.AgentPause(a.id, "bench", at))
    while len(acd.waiting) < n_waiting:
        for d in arrive():
            acd.handle(ev.AgentAnswered(d.interaction_id, d.agent_id, at))
    busy = [a.id for a in acd.agents.values() if a.state == AgentState.BUSY]
    return acd, busy, counter


def naive_choice(acd: Acd, freed: Agent, at: float) -> str | None:
    """The foundation's dispatch: every waiting caller in order, every agent scanned for each."""
    first: str | None = None
    for _place, iid in sorted((p, i) for i, p in acd.waiting.items()):
        i = acd.interactions[iid]
        assert i.queue is not None and i.queued_at is not None
        targets, _ = qs.targets(acd.queue(i.queue), i.queued_at, at, i.skills, i.language)
        candidates = [
            a
            for a in acd.agents.values()
            if (a.id == freed.id or a.can_take_call) and _could_take(a, targets)
        ]
        if candidates and first is None:
            first = iid  # the old code went on through every caller: so does the baseline
    return first


def _could_take(a: Agent, targets: tuple[qs.Target, ...]) -> bool:
    return any(t.pool in a.queues and all(a.level(s) >= lvl for s, lvl in t.needs) for t in targets)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))]


def run(n_agents: int, n_waiting: int, decisions: int, naive: int, seed: int = 1) -> dict[str, float]:
    rng = random.Random(seed)
    acd, busy, counter = build(n_agents, n_waiting, rng)
    # The scene's objects are long-lived: keep the collector from re-scanning them mid-measure
    # (a server would do the same after start-up). Without this, p99 shows gen-2 collections.
    gc.collect()
    gc.freeze()
    at = 2.0
    timings: list[float] = []
    arrivals: list[float] = []
    naive_t: list[float] = []
    for n in range(decisions):
        at += 0.01
        agent_id = rng.choice(busy)
        agent = acd.agents[agent_id]
        iid = agent.interaction_id
        assert iid is not None
        expected = None
        if n < naive:
            started = time.perf_counter()
            expected = naive_choice(acd, agent, at)
            naive_t.append(time.perf_counter() - started)
        started = time.perf_counter()
        out = acd.handle(ev.AgentHungUp(iid, agent_id, at))
        timings.append(time.perf_counter() - started)
        dials = [c for c in out if isinstance(c, DialAgent)]
        if n < naive:
            got = dials[0].interaction_id if dials else None
            assert got == expected, (got, expected)
        for d in dials:
            acd.handle(ev.AgentAnswered(d.interaction_id, d.agent_id, at))
        if not dials:
            acd.handle(ev.AgentPause(agent_id, "bench", at))
            busy.remove(agent_id)
        counter += 1
        new = f"c{counter}"
        acd.handle(ev.CallArrived(new, "1", "", "5000", f"PJSIP/{new}", at))
        started = time.perf_counter()
        acd.handle(ev.IvrFinished(new, "1", rng.choice(SKILLS), at, 0, language=rng.choice(LANGS)))
        arrivals.append(time.perf_counter() - started)
    return {
        "agents": n_agents,
        "waiting": len(acd.waiting),
        "p50": pct(timings, 0.5) * 1e6,
        "p99": pct(timings, 0.99) * 1e6,
        "arr50": pct(arrivals, 0.5) * 1e6,
        "arr99": pct(arrivals, 0.99) * 1e6,
        "naive50": statistics.median(naive_t) * 1e6 if naive_t else float("nan"),
        "buckets": len(acd._lines.buckets),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        sizes, decisions, naive = [(200, 500), (500, 1000)], 300, 5
    else:
        sizes = [(500, 5000), (1000, 5000), (2000, 1000), (2000, 2500), (2000, 5000)]
        decisions, naive = 2000, 5
    print(f"python {sys.version.split()[0]}; {decisions} decisions per row; naive: {naive} per row")
    header = (
        f"{'agents':>6} {'waiting':>7} {'buckets':>7} | {'decision p50':>12} {'p99':>9} |"
        f" {'arrival p50':>11} {'p99':>9} | {'naive scan p50':>14} {'speed-up':>8}"
    )
    print(header)
    print("-" * len(header))
    for n_agents, n_waiting in sizes:
        r = run(n_agents, n_waiting, decisions, naive)
        print(
            f"{r['agents']:>6} {r['waiting']:>7} {r['buckets']:>7} |"
            f" {r['p50']:>9.0f} µs {r['p99']:>6.0f} µs |"
            f" {r['arr50']:>8.0f} µs {r['arr99']:>6.0f} µs | {r['naive50'] / 1000:>11.1f} ms"
            f" {r['naive50'] / r['p50']:>7.0f}x"
        )


if __name__ == "__main__":
    main()

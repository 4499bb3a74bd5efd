"""How many agents with skill X for every queue's service level? A search over rosters, each one
judged by the simulator (``simulate.py``) on the same callers (same seed: common random numbers).

The agents added have only skill X (at the level asked) and the languages the demand's callers of
their queues ask for; they join the demand's queues whose requirement they meet and that need X
(the queue's skills or its callers'), or, when none needs X, every queue whose requirement they
meet. A roster passes when every queue with callers reaches its service-level target (the queue's
``service_level: {seconds, target}``, or the one given), by the reports' formula. More agents never
make the engine's service worse in these runs, so the fewest are found by doubling, then bisection.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from callcenter.core.acd import queues as qs
from callcenter.core.acd.agents import Agent
from callcenter.core.acd.engine import AcdConfig
from callcenter.core.acd.voice import skill_levels
from callcenter.planning.demand import Demand
from callcenter.planning.simulate import SimConfig, SimResult, simulate


@dataclass(frozen=True, slots=True)
class SearchResult:
    skill: str
    level: int
    joined: tuple[str, ...]  # the queues the added agents are members of
    added: int | None  # the fewest agents that pass; None: not within the limit
    result: SimResult  # the run at ``added`` (or at the limit)
    missing: tuple[str, ...]  # queues below target in that run
    tried: tuple[tuple[int, int], ...]  # (agents added, queues below target), in the order run


def with_target(
    demand: Demand, queues: Mapping[str, qs.Queue], target: float, seconds: float
) -> dict[str, qs.Queue]:
    """The queues with every demand queue's service-level target replaced (``target`` within
    ``seconds``); a demand queue missing from the file gets the defaults and this target."""
    out = dict(queues)
    for d in demand.queues:
        q = out.get(d.queue, qs.Queue(d.queue))
        out[d.queue] = replace(q, service_level_seconds=seconds, service_level_target=target)
    return out


def below_target(result: SimResult) -> tuple[str, ...]:
    """The queues with callers whose service level is under their target (no figure: under)."""
    missing = []
    for q in result.queues:
        if q.figures.offered == 0:
            continue
        sl = q.figures.service_level
        if sl is None or sl < q.service_level_target:
            missing.append(q.queue)
    return tuple(missing)


def joins(demand: Demand, queues: Mapping[str, qs.Queue], skill: str, level: int) -> tuple[str, ...]:
    """The demand queues an agent with only ``skill`` at ``level`` joins (see the header)."""

    def meets(name: str) -> bool:
        q = queues.get(name, qs.Queue(name))
        return all(s == skill and need <= level for s, need in q.skills.items())

    def needs(name: str) -> bool:
        q = queues.get(name, qs.Queue(name))
        callers = [skill_levels(d.skills) for d in demand.queues if d.queue == name]
        return skill in q.skills or any(skill in c for c in callers)

    possible = [d.queue for d in demand.queues if meets(d.queue)]
    wanted = [name for name in possible if needs(name)]
    return tuple(wanted or possible)


def added_agents(
    demand: Demand, queues: Mapping[str, qs.Queue], skill: str, level: int, count: int
) -> list[Agent]:
    """``count`` agents with ``skill`` at ``level``, members of :func:`joins`' queues."""
    joined = joins(demand, queues, skill, level)
    languages = frozenset(d.language for d in demand.queues if d.queue in joined and d.language)
    return [
        Agent(
            id=f"added-{skill}-{n}",
            extension=f"added-{skill}-{n}",
            queues=frozenset(joined),
            skills={skill: level},
            languages=languages,
        )
        for n in range(1, count + 1)
    ]


def agents_for_targets(
    demand: Demand,
    agents: Sequence[Agent],
    queues: Mapping[str, qs.Queue],
    skill: str,
    level: int = 1,
    *,
    acd_config: AcdConfig | None = None,
    config: SimConfig | None = None,
    limit: int = 500,
) -> SearchResult:
    """The fewest agents with ``skill`` (at ``level``) to add to ``agents`` so that every queue
    meets its target, within ``limit``."""
    joined = joins(demand, queues, skill, level)
    if not joined:
        raise ValueError(f"no queue of the demand takes an agent with only {skill}:{level}")
    tried: list[tuple[int, int]] = []
    runs: dict[int, SimResult] = {}

    def run(count: int) -> tuple[str, ...]:
        extra = added_agents(demand, queues, skill, level, count)
        runs[count] = simulate(demand, [*agents, *extra], queues, acd_config, config)
        missing = below_target(runs[count])
        tried.append((count, len(missing)))
        return missing

    if not run(0):
        return SearchResult(skill, level, joined, 0, runs[0], (), tuple(tried))
    low, high = 0, 1
    while run(high):
        if high >= limit:
            return SearchResult(
                skill, level, joined, None, runs[high], below_target(runs[high]), tuple(tried)
            )
        low, high = high, min(limit, high * 2)
    while high - low > 1:
        middle = (low + high) // 2
        if run(middle):
            low = middle
        else:
            high = middle
    return SearchResult(skill, level, joined, high, runs[high], (), tuple(tried))

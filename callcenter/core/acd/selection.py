"""Selection: which waiting interaction goes to which agent, and why (in words).

``dispatch`` serves the candidates of one event in place order; ``choose`` picks the agent for one
interaction with the queue's strategy and explains the choice. Reads the lines and the roster; the
offer itself (commands, state moves) is the engine's.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass

from callcenter.core.acd import queues as qs
from callcenter.core.acd.agents import Agent
from callcenter.core.acd.lines import Key, Lines, Place
from callcenter.core.acd.roster import CHANNELS, VOICE, Roster
from callcenter.core.interaction import Interaction


@dataclass(frozen=True, slots=True)
class Choice:
    agent: Agent
    reason: str


def dispatch(lines: Lines, roster: Roster, serve: Callable[[str], None]) -> None:
    """Offer what can be offered, best-placed callers first.

    Candidates are the callers that changed (new, back in line, widened) and the best caller of
    each agent that became able to take one. They are served in place order; when a caller goes
    to another agent, the agents that were waiting for it look again (their next caller is
    placed after it, so the order of the heap holds). An agent offered a conversation may have
    room for more; it needs no second look: it either watches a caller of the heap already, or
    was at rest before this event (matching nobody then, and taking more only narrows what it
    can take).
    """
    if not roster.dirty and not lines.dirty:
        return
    heap = [lines.waiting[i] for i in lines.dirty if i in lines.waiting]
    lines.dirty.clear()
    watchers: dict[str, set[str]] = {}
    agents = sorted(roster.dirty)
    roster.dirty.clear()
    for agent_id in agents:
        _watch(lines, roster, agent_id, heap, watchers)
    heapq.heapify(heap)
    done: set[str] = set()
    while heap:
        place = heapq.heappop(heap)
        if place.iid in done or lines.waiting.get(place.iid) != place:
            continue
        done.add(place.iid)
        serve(place.iid)
        for agent_id in sorted(watchers.pop(place.iid, ())):
            _watch(lines, roster, agent_id, heap, watchers, push=True)
    # Whatever became dirty while offering (nothing can: offers only make agents unavailable).
    roster.dirty.clear()
    lines.dirty.clear()


def _watch(
    lines: Lines,
    roster: Roster,
    agent_id: str,
    heap: list[Place],
    watchers: dict[str, set[str]],
    push: bool = False,
) -> None:
    agent = roster.agents[agent_id]
    if not any((agent_id, c) in roster.indexed for c in CHANNELS):
        return
    best = best_caller(lines, roster, agent)
    if best is not None:
        watchers.setdefault(best.iid, set()).add(agent_id)
        if push:
            heapq.heappush(heap, best)
        else:
            heap.append(best)


def best_caller(lines: Lines, roster: Roster, agent: Agent) -> Place | None:
    """The best-placed waiting caller this agent may take, across all its queues."""
    best: Place | None = None
    seen: set[Key] = set()
    pools = [lines.by_pool.get(pool, ()) for pool in agent.queues]
    for keys in (lines.by_agent.get(agent.id, ()), *pools):
        for key in keys:
            if key in seen:
                continue
            seen.add(key)
            head = lines.buckets[key][0]
            if (best is None or head < best) and roster.may(agent, key):
                best = head
    return best


def choose(i: Interaction, q: qs.Queue, key: Key, steps: int, roster: Roster, at: float) -> Choice | None:
    """The agent to offer ``i`` to (``None``: nobody may take it now), with the reason in words."""
    found = roster.candidates(key)
    found = {a: t for a, t in found.items() if roster.can_take(roster.agents[a], i.channel.value)}
    if not found:
        return None
    candidates = [roster.agents[a] for a in found]
    load_note = ""
    if i.is_messaging and len(candidates) > 1:
        # Conversations spread: the agents holding the fewest come first.
        loads = {a.id: sum(n for c, n in roster.load(a.id).items() if c != VOICE) for a in candidates}
        least = min(loads.values())
        candidates = [a for a in candidates if loads[a.id] == least]
        load_note = f" among those holding the fewest conversations ({least})"
    agent, why = pick(q, candidates, key, roster, at)
    target = found[agent.id]
    if target is None:
        why = f"held for this agent ({'transfer' if i.agent_id is None and i.answered_at else 'sticky'})"
        matched = f"agent {agent.id}"
    else:
        matched = target.describe()
    wait = at - (i.queued_at or at)
    reason = (
        f"{why}{load_note}; matched {matched}"
        + (f" (after {steps} overflow step(s))" if steps else "")
        + f"; {len(found)} candidate(s); caller waited {wait:.1f} s, priority {i.priority},"
        f" first in line of the callers this agent could take"
    )
    return Choice(agent, reason)


def pick(q: qs.Queue, candidates: list[Agent], key: Key, roster: Roster, at: float) -> tuple[Agent, str]:
    """The queue's strategy picks among qualified agents; every answer says why, in words."""

    def idle(a: Agent) -> tuple[float, str]:
        return (a.since, a.id)  # longest idle first; the id makes decisions reproducible

    match q.strategy:
        case qs.Strategy.LEAST_OCCUPIED:

            def occupancy(a: Agent) -> float:
                logged = at - roster.login_at.get(a.id, a.since)
                return roster.talk.get(a.id, 0.0) / logged if logged > 0 else 0.0

            agent = min(candidates, key=lambda a: (occupancy(a), *idle(a)))
            why = f"least-occupied agent in queue {q.name} (occupancy {occupancy(agent):.0%})"
        case qs.Strategy.SKILLS_WEIGHTED:
            skills = {s for t in key.targets for s, _ in t.needs}

            def score(a: Agent) -> int:
                return sum(a.level(s) for s in skills)

            agent = min(candidates, key=lambda a: (-score(a), *idle(a)))
            why = f"best skill match in queue {q.name} (score {score(agent)})"
        case qs.Strategy.ROUND_ROBIN:
            agent = min(candidates, key=lambda a: (roster.last_offer.get((q.name, a.id), -1), a.id))
            why = f"round-robin in queue {q.name} (offered a call of this queue longest ago)"
        case _:
            agent = min(candidates, key=idle)
            why = f"longest-idle available agent in queue {q.name} (idle {at - agent.since:.1f} s)"
    return agent, why

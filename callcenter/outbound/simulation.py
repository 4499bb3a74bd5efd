"""A simulated campaign: the pure dialler against simulated customers and agents, one second at a
time, on a simulated clock. The property tests (tests/unit/test_outbound_properties.py) and the
pacing bench (bench/outbound_pacing.py) both run it.

Customers answer with ``contact_rate`` after a ring of 3-15 s (else no answer after the campaign's
ring time, or busy); an answered call takes a free agent if there is one, else it is abandoned.
Talk times are log-normal around ``talk_seconds``; each call is followed by ``wrap_seconds``.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC

from callcenter.core.outbound import dialler as dl
from callcenter.core.outbound.campaign import Campaign, CampaignMove, Outcome
from callcenter.core.outbound.pacing import AgentLoad, AgentView


@dataclass(slots=True)
class _Agent:
    load: AgentLoad = AgentLoad.FREE
    since: float = 0.0
    until: float = 0.0
    record: int = 0
    talk: float = 0.0


@dataclass
class Result:
    """What happened, counted by the simulation itself (not by the dialler)."""

    hours: int
    talk_per_hour: list[float]  # agents' talk seconds in each hour, all agents together
    answered_per_period: Counter[int] = field(default_factory=Counter)  # by a person
    abandoned_per_period: Counter[int] = field(default_factory=Counter)
    dialled: int = 0
    connected: int = 0
    worst_rate: float = 0.0  # the highest running abandonment rate seen in any period
    reasons: Counter[str] = field(default_factory=Counter)

    def rate(self, period: int) -> float:
        answered = self.answered_per_period[period]
        return self.abandoned_per_period[period] / answered if answered else 0.0


def simulate(
    campaign: Campaign,
    *,
    agents: int,
    seconds: int,
    contact_rate: float,
    talk_seconds: float,
    wrap_seconds: float,
    records: int,
    seed: int,
    start: float = 1_700_000_000.0,
) -> Result:
    rng = random.Random(seed)
    d = dl.Dialler(
        campaign, records=[dl.Record(i, f"+1555{i:07d}", UTC, due_at=start) for i in range(records)]
    )
    d.handle(dl.CampaignMoved(CampaignMove.START, start))
    staff = [_Agent(since=start) for _ in range(agents)]
    calls: list[tuple[float, int, str, float, int]] = []  # (resolves at, record, what, rang, period)
    result = Result(math.ceil(seconds / 3600), [0.0] * math.ceil(seconds / 3600))
    origin = start
    for step in range(seconds):
        now = start + step
        hour = step // 3600
        for a in staff:  # agents first: one freed this second is free for a call answered now
            if a.load == AgentLoad.BUSY and now >= a.until:
                a.load, a.since, a.until = AgentLoad.WRAP_UP, now, now + wrap_seconds
            if a.load == AgentLoad.WRAP_UP and now >= a.until:
                d.handle(dl.CallHandled(a.record, a.talk, wrap_seconds, now))
                a.load, a.since = AgentLoad.FREE, now
            if a.load == AgentLoad.BUSY:
                result.talk_per_hour[hour] += 1.0
        while calls and calls[0][0] <= now:
            # A call counts in the window it was dialled in (docs/outbound.md, "Abandonment").
            _, record, what, rang, period = heapq.heappop(calls)
            if what == "person":
                result.answered_per_period[period] += 1
                free = next((a for a in staff if a.load == AgentLoad.FREE), None)
                if free is None:
                    result.abandoned_per_period[period] += 1
                    outcome = Outcome.ABANDONED
                else:
                    talk = rng.lognormvariate(math.log(talk_seconds) - 0.18, 0.6)
                    free.load, free.since, free.until = AgentLoad.BUSY, now, now + talk
                    free.record, free.talk = record, talk
                    result.connected += 1
                    outcome = Outcome.CONNECTED
                result.worst_rate = max(result.worst_rate, result.rate(period))
            else:
                outcome = Outcome(what)
            d.handle(dl.AttemptEnded(record, outcome, now, answered_after=rang))
        view = tuple(AgentView(a.load, a.since) for a in staff)
        for command in d.handle(dl.Paced(view, 0, now)):
            if isinstance(command, dl.DialDecided):
                result.dialled += 1
                result.reasons[command.reason] += 1
                period = int((now - origin) // campaign.abandon_window)
                at, what, rang = _resolution(rng, now, contact_rate, campaign)
                heapq.heappush(calls, (at, command.record_id, what, rang, period))
    return result


def _resolution(
    rng: random.Random, now: float, contact_rate: float, campaign: Campaign
) -> tuple[float, str, float]:
    """When and how a call placed now resolves: (at, "person" or an outcome, seconds rung)."""
    if rng.random() < contact_rate:
        rang = rng.uniform(3.0, 15.0)
        return (now + rang, "person", rang)
    if rng.random() < 0.2:
        return (now + 2.0, Outcome.BUSY.value, 2.0)
    return (now + campaign.ring_seconds, Outcome.NO_ANSWER.value, campaign.ring_seconds)

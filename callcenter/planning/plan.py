"""A plan side by side, per queue and interval: the forecast (contacts, AHT, with its backtest), the
agents Erlang needs for the target (and to schedule, with shrinkage), the shifts that cover those
agents (planning/schedule.py) and the service level the roster of today would give, simulated
through the routing engine. What the planning page shows
(``/planning``, ``GET /api/planning``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from callcenter.core.acd import queues as qs
from callcenter.core.acd.agents import Agent
from callcenter.core.acd.engine import AcdConfig
from callcenter.core.reports.adherence import Shift
from callcenter.planning.forecast import Accuracy, Observed, forecast
from callcenter.planning.schedule import ShiftRules, make_schedule
from callcenter.planning.search import with_target
from callcenter.planning.simulate import SimConfig, simulate
from callcenter.planning.staffing import Load, Target, required

#: The most forecast contacts a plan simulates (a request's CPU is bounded; the command line is not).
MAX_SIMULATED = 50_000


class PlanTooBig(ValueError):
    """The forecast has more contacts than a plan simulates on request."""


@dataclass(frozen=True, slots=True)
class PlanRow:
    start: int  # epoch seconds
    calls: float
    aht: float
    agents: int  # on the phones, by Erlang C (or A with a patience)
    scheduled: int  # with shrinkage
    erlang_service_level: float
    simulated_offered: int
    simulated_service_level: float | None  # the roster's, through the engine (None: no callers)
    simulated_asa: float | None
    on_shift: int = 0  # agents working (on shift, not on break) in the queue's schedule


@dataclass(frozen=True, slots=True)
class QueuePlan:
    queue: str
    method: str
    accuracy: Accuracy | None
    roster: int  # agents of the roster who are members of the queue
    rows: tuple[PlanRow, ...]
    shifts: tuple[Shift, ...] = ()  # covering ``agents`` of every row


@dataclass(frozen=True, slots=True)
class Plan:
    start: int
    interval_seconds: int
    queues: tuple[QueuePlan, ...]


def make_plan(
    history: Sequence[Observed],
    start: int,
    days: int,
    interval_seconds: int,
    target: Target,
    agents: Sequence[Agent],
    queues: Mapping[str, qs.Queue],
    *,
    patience: float | None = None,
    acd_config: AcdConfig | None = None,
    seed: int = 1,
    rules: ShiftRules | None = None,
) -> Plan:
    """Forecast ``days`` from ``start``, staff every interval for ``target`` (its service level and
    threshold also judge the simulation), schedule shifts for those agents per queue (``rules``;
    None: no schedule), and simulate the forecast with ``agents``."""
    assert target.service_level is not None
    found = forecast(history, start, days, interval_seconds=interval_seconds)
    demand = found.demand(patience)
    if demand.total_calls > MAX_SIMULATED:
        raise PlanTooBig(
            f"{demand.total_calls:.0f} contacts forecast: more than {MAX_SIMULATED} to simulate on request "
            "(fewer days, or callcenter simulate)"
        )
    judged = with_target(demand, queues, target.service_level, target.seconds)
    run = simulate(demand, agents, judged, acd_config, SimConfig(seed=seed))
    per_interval = {(i.queue, i.interval): i.figures for i in run.intervals}
    out = []
    for q in found.queues:
        rows = []
        for k in range(found.intervals):
            staffed = required(Load(q.calls[k], interval_seconds, q.aht[k], patience), target)
            simulated = per_interval.get((q.queue, k))
            rows.append(
                PlanRow(
                    start + k * interval_seconds,
                    q.calls[k],
                    q.aht[k],
                    staffed.agents,
                    staffed.scheduled,
                    staffed.service_level,
                    0 if simulated is None else simulated.offered,
                    None if simulated is None else simulated.service_level,
                    None if simulated is None else simulated.asa,
                )
            )
        members = sum(1 for a in agents if q.queue in a.queues)
        shifts: tuple[Shift, ...] = ()
        if rules is not None:
            schedule = make_schedule([r.agents for r in rows], start, interval_seconds, rules)
            offset = (start - schedule.start) // interval_seconds
            rows = [replace(r, on_shift=schedule.coverage[offset + k]) for k, r in enumerate(rows)]
            shifts = schedule.shifts
        out.append(QueuePlan(q.queue, q.method, q.accuracy, members, tuple(rows), shifts))
    return Plan(start, interval_seconds, tuple(out))

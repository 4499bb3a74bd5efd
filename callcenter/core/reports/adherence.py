"""Schedule adherence: each agent's logged states against the shifts they were scheduled for.

Pure (docs/reports.md, "Adherence"). Shifts lie on 15-minute boundaries (planning/schedule.py),
so every 15-minute interval of an agent is wholly *working* (on shift, not on break), wholly
*break*, or off shift, and the per-interval state seconds of ``report_agent_states`` are enough to
judge it exactly:

- working: in adherence while the agent is open for contacts (available, ringing, busy, wrap-up);
  logged out or paused is out of adherence;
- break: in adherence while the agent is not open for contacts (paused or logged out);
- off shift: not judged (adherence is measured over scheduled time only).

An interval is judged once it has ended before ``until`` (the time the report tables are complete
up to), never in advance. Adherence = in-adherence seconds ÷ scheduled seconds, from summed
seconds when rolled up.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from callcenter.core.reports.aggregate import AgentStateRow
from callcenter.core.reports.intervals import QUARTER, Granularity, bucket, quarter

#: States in which an agent is open for contacts.
OPEN_STATES = frozenset({"available", "offered", "busy", "wrap_up"})


@dataclass(frozen=True, slots=True)
class Shift:
    """One scheduled shift (epoch seconds; the break inside it, if any). ``agent`` None: open."""

    start: int
    end: int
    break_start: int | None = None
    break_end: int | None = None
    agent: str | None = None

    def working(self, start: int, end: int) -> bool:
        """Whether ``[start, end)`` lies within the shift and outside its break (a break needs
        both ends)."""
        if not (self.start <= start and end <= self.end):
            return False
        if self.break_start is None or self.break_end is None:
            return True
        return end <= self.break_start or self.break_end <= start


@dataclass(frozen=True, slots=True)
class AdherenceRow:
    """One agent over one interval (15 minutes, or rolled up)."""

    start: int
    agent: str
    scheduled_seconds: float  # on shift, breaks included
    working_seconds: float  # on shift and not on break
    in_adherence_seconds: float
    open_seconds: float  # open for contacts during working time

    @property
    def out_of_adherence_seconds(self) -> float:
        return self.scheduled_seconds - self.in_adherence_seconds

    @property
    def adherence(self) -> float | None:
        return self.in_adherence_seconds / self.scheduled_seconds if self.scheduled_seconds else None


def _plan(shifts: Iterable[Shift], start: int, end: int) -> dict[tuple[int, str], bool]:
    """(quarter, agent) -> working (True) or on a break (False), for the quarters of ``[start,
    end)`` wholly within an agent's shift; working in one shift beats a break in an overlapping one."""
    plan: dict[tuple[int, str], bool] = {}
    for s in shifts:
        if s.agent is None:
            continue
        first = max(-(-s.start // QUARTER) * QUARTER, start)
        for q in range(first, min(s.end, end) - QUARTER + 1, QUARTER):
            key = (q, s.agent)
            plan[key] = plan.get(key, False) or s.working(q, q + QUARTER)
    return plan


def adherence(
    shifts: Iterable[Shift],
    states: Iterable[AgentStateRow],
    start: int,
    end: int,
    until: float,
    granularity: Granularity = Granularity.QUARTER,
    agents: Sequence[str] | None = None,
) -> list[AdherenceRow]:
    """Adherence per agent and ``granularity`` interval over ``[start, end)``, judged up to ``until``.

    ``states``: the agents' 15-minute state rows of the period (``report_agent_states``).
    ``agents``: only these (None: every agent with a shift).
    """
    wanted = None if agents is None else set(agents)
    last = min(end, quarter(until))  # quarters ending after ``until`` are not judged yet
    plan = {
        k: v
        for k, v in _plan(shifts, quarter(start), last).items()
        if k[0] >= start and (wanted is None or k[1] in wanted)
    }
    open_seconds: dict[tuple[int, str], float] = {}
    for row in states:
        key = (row.start, row.agent)
        if key in plan and row.state in OPEN_STATES:
            open_seconds[key] = open_seconds.get(key, 0.0) + row.seconds
    sums: dict[tuple[int, str], list[float]] = {}
    for (q, agent), working in plan.items():
        opened = min(float(QUARTER), open_seconds.get((q, agent), 0.0))
        whole = float(QUARTER)
        add = (whole, whole, opened, opened) if working else (whole, 0.0, whole - opened, 0.0)
        total = sums.setdefault((bucket(q, granularity), agent), [0.0, 0.0, 0.0, 0.0])
        for n, value in enumerate(add):
            total[n] += value
    return [AdherenceRow(k[0], k[1], *v) for k, v in sorted(sums.items())]

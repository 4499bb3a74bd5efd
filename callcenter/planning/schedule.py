"""Shifts and breaks that cover the agents required per interval (docs/reports.md, "Schedules").

The solver is pyworkforce's ``MinRequiredResources`` (OR-tools' CP-SAT underneath): given every
shift *pattern* a day allows — a start, a length, and where its one break falls — it finds how
many agents to put on each pattern each day so that every interval has at least the agents
required, with the fewest shifts. This module only builds the patterns (a shift is a 0/1 row over
the day's intervals, 0 during its break), converts the answer, and hands shifts to agents.

Invariants:

- A shift lies within one *scheduling day*: the 24 hours from ``day_start_minutes`` (UTC; 0 is
  midnight), as pyworkforce's model has no shift across its day's end. A centre open at night
  starts its day at its quietest hour (06:00, say), so a 22:00-06:00 shift is one shift. Its start,
  end and break are on interval boundaries, so each 15-minute quarter of a shift is wholly
  working, wholly break, or wholly off (what adherence relies on: ``core/reports/adherence.py``).
- Coverage is counted from the returned shifts, never taken from the solver's word: ``coverage[k]``
  is the number of shifts working (not on break) in interval ``k``.
- ``assign`` is a pure rule (below); the same schedule and agents give the same assignment.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from callcenter.core.reports.adherence import Shift

DAY = 86_400


class ScheduleError(ValueError):
    """Rules or requirements that cannot be scheduled (the message says which and why)."""


@dataclass(frozen=True, slots=True)
class ShiftRules:
    """What a shift may look like. Minutes must be multiples of the interval (and of 15)."""

    shift_minutes: int = 480
    break_minutes: int = 60  # one break per shift; 0: none
    #: The break starts at least this long after the shift's start and ends at least this long
    #: before its end.
    break_margin_minutes: int = 120
    start_step_minutes: int = 0  # 0: a shift may start on every interval
    max_search_seconds: float = 10.0
    day_start_minutes: int = 0  # when the scheduling day starts (UTC minutes past midnight)

    def check(self, interval_seconds: int) -> None:
        step = interval_seconds // 60
        names = ("shift_minutes", "break_minutes", "break_margin_minutes", "start_step_minutes")
        for name in (*names, "day_start_minutes"):
            value = getattr(self, name)
            if value < 0 or value % step or value % 15:
                raise ScheduleError(f"{name}: {value} is not a multiple of the {step}-minute interval")
        if not 0 < self.shift_minutes <= DAY // 60:
            raise ScheduleError(f"shift_minutes: {self.shift_minutes}: from one interval to 24 hours")
        if self.break_minutes and self.break_minutes + 2 * self.break_margin_minutes > self.shift_minutes:
            raise ScheduleError(
                f"break_minutes: a {self.break_minutes}-minute break with {self.break_margin_minutes} "
                f"minutes of margin on each side does not fit a {self.shift_minutes}-minute shift"
            )
        if not self.max_search_seconds > 0:
            raise ScheduleError("max_search_seconds: above 0")
        if not 0 <= self.day_start_minutes < DAY // 60:
            raise ScheduleError(
                f"day_start_minutes: {self.day_start_minutes}: from 0 to 1439 (a time of day)"
            )


@dataclass(frozen=True, slots=True)
class Schedule:
    start: int  # epoch seconds of the first interval (the start of the first scheduling day)
    interval_seconds: int
    required: tuple[int, ...]  # agents required per interval, over every day
    coverage: tuple[int, ...]  # agents on shift and not on break, per interval
    shifts: tuple[Shift, ...]
    status: str  # the solver's: OPTIMAL, or FEASIBLE when stopped at max_search_seconds

    @property
    def shortfall(self) -> int:
        return sum(max(0, r - c) for r, c in zip(self.required, self.coverage, strict=True))

    @property
    def surplus(self) -> int:
        return sum(max(0, c - r) for r, c in zip(self.required, self.coverage, strict=True))


@dataclass(frozen=True, slots=True)
class _Pattern:
    name: str
    start: int  # interval within the day
    length: int  # intervals
    break_at: int | None  # interval within the day
    break_length: int

    def row(self, periods: int) -> list[int]:
        row = [0] * periods
        for p in range(self.start, self.start + self.length):
            row[p] = 1
        if self.break_at is not None:
            for p in range(self.break_at, self.break_at + self.break_length):
                row[p] = 0
        return row


def patterns(rules: ShiftRules, interval_seconds: int) -> list[_Pattern]:
    """Every shift a day allows: each start (every ``start_step``, and the latest start), each break."""
    rules.check(interval_seconds)
    per_minute = interval_seconds // 60
    periods = DAY // interval_seconds
    length = rules.shift_minutes // per_minute
    step = max(1, rules.start_step_minutes // per_minute)
    brk = rules.break_minutes // per_minute
    margin = rules.break_margin_minutes // per_minute
    starts = sorted({*range(0, periods - length + 1, step), periods - length})
    found = []
    for s in starts:
        if brk == 0:
            found.append(_Pattern(f"s{s}", s, length, None, 0))
            continue
        for b in range(s + margin, s + length - margin - brk + 1):
            found.append(_Pattern(f"s{s}b{b}", s, length, b, brk))
    return found


def day_matrix(
    required: Sequence[int], start: int, interval_seconds: int, day_start: int = 0
) -> tuple[int, list[list[int]]]:
    """``required`` (from ``start``) laid on whole scheduling days, each beginning ``day_start``
    seconds after a UTC midnight: the first day's beginning and a row per day (intervals outside
    the given ones require nobody)."""
    if interval_seconds not in (900, 1800, 3600):
        raise ScheduleError(f"interval: {interval_seconds} s; 15, 30 or 60 minutes")
    if start % interval_seconds:
        raise ScheduleError("start: not on an interval boundary")
    periods = DAY // interval_seconds
    first = start - (start - day_start) % DAY
    offset = (start - first) // interval_seconds
    days = max(1, math.ceil((offset + len(required)) / periods))
    matrix = [[0] * periods for _ in range(days)]
    for k, r in enumerate(required):
        if r < 0:
            raise ScheduleError(f"required agents: {r} at interval {k} (0 or more)")
        d, p = divmod(offset + k, periods)
        matrix[d][p] = int(r)
    return first, matrix


def _solve_day(day: list[int], found: Sequence[_Pattern], rules: ShiftRules) -> tuple[str, dict[str, int]]:
    """One day's model for pyworkforce: how many agents on each pattern, and the solver's status."""
    from pyworkforce.scheduling import MinRequiredResources

    periods = len(day)
    most = max(1, sum(day))  # one shift per required agent-interval is always enough
    rows = {p.name: p.row(periods) for p in found}
    # The fewest shifts first; among as many, the fewest working intervals nobody is required
    # for: each shift costs more than all the idle intervals any solution can have.
    heavy = periods * most + 1
    cost = {
        name: heavy + sum(1 for p, works in enumerate(row) if works and not day[p])
        for name, row in rows.items()
    }
    solution = MinRequiredResources(
        num_days=1,
        periods=periods,
        shifts_coverage=rows,
        required_resources=[day],
        cost_dict=cost,
        max_period_concurrency=most,
        max_shift_concurrency=max(day),  # more on one pattern than the busiest interval is never needed
        max_search_time=float(rules.max_search_seconds),
        num_search_workers=1,
    ).solve()
    status = str(solution["status"])
    if status not in ("OPTIMAL", "FEASIBLE"):
        return status, {}
    return status, {e["shift"]: int(e["resources"]) for e in solution["resources_shifts"]}


def make_schedule(
    required: Sequence[int], start: int, interval_seconds: int, rules: ShiftRules = ShiftRules()
) -> Schedule:
    """The fewest shifts (per ``rules``) such that every interval has its ``required`` agents working.

    ``required[k]`` is for the interval starting at ``start + k * interval_seconds``; the schedule
    covers the whole scheduling days these fall in (``rules.day_start_minutes``).
    """
    found = patterns(rules, interval_seconds)
    first, matrix = day_matrix(required, start, interval_seconds, rules.day_start_minutes * 60)
    if not found:
        raise ScheduleError("no shift fits in a day with these rules")
    by_name = {p.name: p for p in found}
    shifts: list[Shift] = []
    status = "OPTIMAL"
    # Each day is one model: the days do not interact (no shift crosses the day's end), and small
    # models solve faster than one large one.
    for d, day in enumerate(matrix):
        if not any(day):
            continue
        solved, counts = _solve_day(day, found, rules)
        if not counts:
            raise ScheduleError(f"the solver found no schedule for day {d + 1}: {solved}")
        if solved == "FEASIBLE":
            status = "FEASIBLE"
        begins = first + d * DAY
        for name, count in counts.items():
            p = by_name[name]
            at = begins + p.start * interval_seconds
            b = None if p.break_at is None else begins + p.break_at * interval_seconds
            b_end = None if b is None else b + p.break_length * interval_seconds
            shifts.extend(Shift(at, at + p.length * interval_seconds, b, b_end) for _ in range(count))
    shifts.sort(key=lambda s: (s.start, s.break_start or 0, s.end))
    flat = [r for day in matrix for r in day]
    covered = coverage(shifts, first, interval_seconds, len(flat))
    return Schedule(first, interval_seconds, tuple(flat), covered, tuple(shifts), status)


def coverage(shifts: Sequence[Shift], start: int, interval_seconds: int, intervals: int) -> tuple[int, ...]:
    """Shifts working (on shift, not on break) in each interval from ``start``."""
    counts = [0] * intervals
    for s in shifts:
        for k in range(max(0, (s.start - start) // interval_seconds), intervals):
            a = start + k * interval_seconds
            if a >= s.end:
                break
            if s.working(a, a + interval_seconds):
                counts[k] += 1
    return tuple(counts)


def assign(shifts: Sequence[Shift], agents: Sequence[str], day_start: int = 0) -> tuple[Shift, ...]:
    """Shifts handed to agents, by one rule: agents in id order, taken round-robin from where the
    previous day stopped, each day's shifts in start order, at most one shift per agent a day (the
    scheduling day: from ``day_start`` seconds past a UTC midnight).
    A day with more shifts than agents leaves the rest open (``agent`` None). So days off rotate
    through the roster; there is no rest rule between a late shift and the next day's early one."""
    order = sorted(set(agents))
    out: list[Shift] = []
    cursor = 0
    days: dict[int, list[Shift]] = {}
    for s in sorted(shifts, key=lambda s: (s.start, s.break_start or 0, s.end)):
        days.setdefault((s.start - day_start) // DAY, []).append(s)
    for day in sorted(days):
        todo = days[day]
        given = min(len(todo), len(order))
        for n, s in enumerate(todo):
            agent = order[(cursor + n) % len(order)] if n < given else None
            out.append(Shift(s.start, s.end, s.break_start, s.break_end, agent))
        if order:
            cursor = (cursor + given) % len(order)
    return tuple(out)

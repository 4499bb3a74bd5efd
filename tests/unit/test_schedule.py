"""Shift schedules (callcenter/planning/schedule.py over pyworkforce's CP-SAT scheduler): coverage
of the requirement, the shape of the shifts, the fewest shifts on cases whose optimum is known by
hand, and the assignment rule."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.core.reports.adherence import Shift
from callcenter.planning.schedule import (
    DAY,
    ScheduleError,
    ShiftRules,
    assign,
    coverage,
    day_matrix,
    make_schedule,
    patterns,
)

MONDAY = 1796601600  # 2026-12-07T00:00Z
HOUR = 3600


def test_a_flat_requirement_takes_exactly_its_agents_in_shifts_without_breaks() -> None:
    required = [0] * 8 + [2] * 8 + [0] * 8
    got = make_schedule(required, MONDAY, HOUR, ShiftRules(480, 0, 0))
    assert got.status == "OPTIMAL"
    assert [(s.start, s.end, s.break_start) for s in got.shifts] == [
        (MONDAY + 8 * HOUR, MONDAY + 16 * HOUR, None)
    ] * 2
    assert got.coverage == tuple(required)
    assert (got.shortfall, got.surplus) == (0, 0)


def test_breaks_cost_shifts_and_are_placed_inside_the_margins() -> None:
    # Two agents for 8 hours; an 8-hour shift with a 1-hour break works 7 of them: 16 agent-hours
    # need at least 3 shifts, and 3 suffice (breaks staggered, a third shift filling in).
    required = [0] * 8 + [2] * 8 + [0] * 8
    got = make_schedule(required, MONDAY, HOUR, ShiftRules(480, 60, 120))
    assert len(got.shifts) == 3
    assert all(c >= r for c, r in zip(got.coverage, required, strict=True))
    for s in got.shifts:
        assert s.end - s.start == 8 * HOUR
        assert s.break_start is not None and s.break_end is not None
        assert s.break_end - s.break_start == HOUR
        assert s.break_start - s.start >= 2 * HOUR and s.end - s.break_end >= 2 * HOUR


def test_a_night_shift_crosses_midnight_when_the_scheduling_day_starts_in_the_morning() -> None:
    # Two agents from 22:00 to 06:00 (Monday night): with days from midnight every shift must end
    # at midnight or start there, so the night takes four shifts (two of 2 hours' work); with days
    # from 06:00 it is two shifts of 22:00-06:00.
    required = [0] * 22 + [2] * 8 + [0] * 18
    at_midnight = make_schedule(required, MONDAY, HOUR, ShiftRules(480, 0, 0))
    assert len(at_midnight.shifts) == 4 and at_midnight.shortfall == 0
    morning = ShiftRules(480, 0, 0, day_start_minutes=360)
    got = make_schedule(required, MONDAY, HOUR, morning)
    assert [(s.start, s.end) for s in got.shifts] == [(MONDAY + 22 * HOUR, MONDAY + 30 * HOUR)] * 2
    assert got.start == MONDAY + 6 * HOUR - DAY  # the scheduling day Sunday 06:00 - Monday 06:00 ...
    offset = (MONDAY - got.start) // HOUR
    assert got.coverage[offset : offset + len(required)] == tuple(required)  # ... and the next one
    # Both night shifts are one day's: two agents take them, one each.
    given = assign(got.shifts, ["1001", "1002"], morning.day_start_minutes * 60)
    assert sorted(s.agent or "" for s in given) == ["1001", "1002"]
    with pytest.raises(ScheduleError, match="day_start_minutes: 1440"):
        ShiftRules(day_start_minutes=1440).check(HOUR)
    with pytest.raises(ScheduleError, match="day_start_minutes: 390 is not a multiple"):
        ShiftRules(day_start_minutes=390).check(HOUR)


def test_a_requirement_starting_mid_day_is_laid_on_its_day() -> None:
    first, matrix = day_matrix([1, 2, 3], MONDAY + 10 * HOUR, HOUR)
    assert first == MONDAY and len(matrix) == 1
    assert matrix[0][10:13] == [1, 2, 3] and sum(matrix[0]) == 6
    _, two = day_matrix([1] * 30, MONDAY + 20 * HOUR, HOUR)
    assert len(two) == 3 and sum(two[0]) == 4 and sum(two[1]) == 24 and sum(two[2]) == 2


def test_the_latest_start_is_always_a_pattern() -> None:
    starts = {p.start for p in patterns(ShiftRules(480, 0, 0, start_step_minutes=180), HOUR)}
    assert starts == {0, 3, 6, 9, 12, 15, 16}


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (ShiftRules(450), "shift_minutes: 450 is not a multiple of the 60-minute interval"),
        (ShiftRules(480, 45), "break_minutes: 45 is not a multiple of the 60-minute interval"),
        (
            ShiftRules(240, 60, 120),
            "break_minutes: a 60-minute break with 120 minutes of margin on each side does not fit a "
            "240-minute shift",
        ),
        (ShiftRules(1500, 0, 0), "shift_minutes: 1500: from one interval to 24 hours"),
    ],
)
def test_rules_that_cannot_be_used_are_refused_with_the_reason(rules: ShiftRules, message: str) -> None:
    with pytest.raises(ScheduleError) as err:
        make_schedule([1], MONDAY, HOUR, rules)
    assert str(err.value) == message


def test_a_negative_requirement_is_refused() -> None:
    with pytest.raises(ScheduleError, match=r"^required agents: -1 at interval 1 \(0 or more\)$"):
        make_schedule([1, -1], MONDAY, HOUR)


@settings(max_examples=12, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=24, max_size=24), st.sampled_from([0, 60]))
def test_every_interval_is_covered_and_coverage_is_counted_from_the_shifts(
    required: list[int], break_minutes: int
) -> None:
    rules = ShiftRules(360, break_minutes, 120 if break_minutes else 0, max_search_seconds=5.0)
    got = make_schedule(required, MONDAY, HOUR, rules)
    assert got.coverage == coverage(got.shifts, MONDAY, HOUR, 24)
    assert all(c >= r for c, r in zip(got.coverage, required, strict=True))
    # No fewer shifts than the busiest hour needs, nor than the agent-hours need.
    per_shift = 6 - (1 if break_minutes else 0)
    assert len(got.shifts) >= max(max(required), math.ceil(sum(required) / per_shift))
    for s in got.shifts:
        assert MONDAY <= s.start and s.end <= MONDAY + DAY and s.start % 900 == 0


def test_assignment_rotates_through_the_agents_and_leaves_extra_shifts_open() -> None:
    day = [Shift(MONDAY + h * HOUR, MONDAY + (h + 8) * HOUR) for h in (6, 8, 8)]
    next_day = [Shift(s.start + DAY, s.end + DAY) for s in day[:2]]
    got = assign(day + next_day, ["1003", "1001", "1002", "1001"])
    assert [s.agent for s in got] == ["1001", "1002", "1003", "1001", "1002"]
    more = assign(day, ["1002", "1001"])
    assert [s.agent for s in more] == ["1001", "1002", None]
    assert assign(day, []) == tuple(Shift(s.start, s.end) for s in day)

"""Schedule adherence (callcenter/core/reports/adherence.py): logged agent states against shifts,
with the clock given (nothing judged before ``until``), checked by hand and against a second-by-
second recomputation from the raw state changes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.core import notices as nt
from callcenter.core.reports.adherence import OPEN_STATES, AdherenceRow, Shift, adherence
from callcenter.core.reports.aggregate import AgentStateRow, compute
from callcenter.core.reports.intervals import Granularity

T0 = 1796630400  # 2026-12-07T08:00Z
Q = 900


def _logged(agent: str, at: float, state: str, reason: str = "") -> nt.AgentStateLogged:
    return nt.AgentStateLogged(nt.AGENT_LOG_PREFIX + agent, at, agent, state, reason)


def _rows(changes: list[nt.AgentStateLogged], start: int, end: int, until: float) -> list[AgentStateRow]:
    return list(compute(changes, start, end, until).agent_states)


def test_an_agent_open_through_the_shift_and_away_on_the_break_adheres_fully() -> None:
    shift = Shift(T0, T0 + 4 * Q, T0 + 2 * Q, T0 + 3 * Q, "1001")
    changes = [
        _logged("1001", T0, "available"),
        _logged("1001", T0 + 2 * Q, "paused", "lunch"),
        _logged("1001", T0 + 3 * Q, "busy"),
    ]
    until = T0 + 5 * Q
    rows = adherence([shift], _rows(changes, T0, T0 + 5 * Q, until), T0, T0 + 5 * Q, until)
    assert [(r.start, r.in_adherence_seconds, r.scheduled_seconds) for r in rows] == [
        (T0 + k * Q, 900.0, 900.0) for k in range(4)
    ]
    changes_rows = _rows(changes, T0, T0 + 5 * Q, until)
    whole = adherence([shift], changes_rows, T0 - T0 % 86400, T0 - T0 % 86400 + 86400, until, Granularity.DAY)
    assert whole == [AdherenceRow(T0 - T0 % 86400, "1001", 3600.0, 2700.0, 3600.0, 2700.0)]
    assert whole[0].adherence == 1.0 and whole[0].out_of_adherence_seconds == 0.0


def test_late_login_a_pause_and_working_through_the_break_are_out_of_adherence() -> None:
    shift = Shift(T0, T0 + 4 * Q, T0 + 2 * Q, T0 + 3 * Q, "1001")
    changes = [
        _logged("1001", T0 + 300, "available"),  # 5 minutes late
        _logged("1001", T0 + Q + 300, "paused", "coffee"),  # 5 minutes off the phone
        _logged("1001", T0 + Q + 600, "available"),  # stays open through 10 minutes of break
        _logged("1001", T0 + 2 * Q + 600, "logged_out"),  # and never comes back
    ]
    until = T0 + 8 * Q
    rows = adherence([shift], _rows(changes, T0, until, until), T0, until, until)
    assert [r.in_adherence_seconds for r in rows] == [600.0, 600.0, 300.0, 0.0]
    assert sum(r.out_of_adherence_seconds for r in rows) == 300 + 300 + 600 + 900
    hourly = adherence([shift], _rows(changes, T0, until, until), T0, until, until, Granularity.HOUR)
    assert [(r.start, r.in_adherence_seconds, r.scheduled_seconds) for r in hourly] == [(T0, 1500.0, 3600.0)]
    assert hourly[0].adherence == 1500 / 3600


def test_nothing_is_judged_before_its_interval_has_ended() -> None:
    shift = Shift(T0, T0 + 4 * Q, agent="1001")
    until = T0 + Q + 10  # the second quarter has not ended
    rows = adherence([shift], [], T0, T0 + 4 * Q, until)
    assert [(r.start, r.in_adherence_seconds, r.scheduled_seconds) for r in rows] == [(T0, 0.0, 900.0)]
    assert adherence([shift], [], T0, T0 + 4 * Q, T0 + 899) == []


def test_open_shifts_other_agents_and_time_off_shift_are_not_judged() -> None:
    shifts = [Shift(T0, T0 + Q), Shift(T0, T0 + Q, agent="1002")]
    states = [
        AgentStateRow(T0 + Q, "1002", "available", "", 900.0),
        AgentStateRow(T0, "1003", "busy", "", 900.0),
    ]
    rows = adherence(shifts, states, T0, T0 + 4 * Q, T0 + 4 * Q)
    assert [(r.agent, r.start, r.in_adherence_seconds) for r in rows] == [("1002", T0, 0.0)]
    assert adherence(shifts, states, T0, T0 + 4 * Q, T0 + 4 * Q, agents=["1001"]) == []
    assert AdherenceRow(T0, "1002", 0.0, 0.0, 0.0, 0.0).adherence is None


def test_working_time_is_inside_the_shift_and_outside_its_break() -> None:
    shift = Shift(T0, T0 + 4 * Q, T0 + 2 * Q, T0 + 3 * Q, "1001")
    assert [shift.working(T0 + k * Q, T0 + (k + 1) * Q) for k in range(-1, 5)] == [
        False,  # before the shift
        True,
        True,
        False,  # the break
        True,
        False,  # after it
    ]
    assert not shift.working(T0 - 60, T0 + Q - 60)  # straddles the start
    assert not shift.working(T0 + 3 * Q + 60, T0 + 4 * Q + 60)  # straddles the end
    assert not shift.working(T0 + 2 * Q - 60, T0 + 2 * Q + 60)  # straddles the break's start
    assert Shift(T0, T0 + Q, T0, None).working(T0, T0 + Q)  # half a break is none


def test_a_shift_off_quarter_boundaries_is_judged_on_its_whole_quarters_only() -> None:
    shift = Shift(T0 + 300, T0 + 3 * Q + 300, agent="1001")  # 08:05-08:50
    rows = adherence([shift], [], T0, T0 + 4 * Q, T0 + 4 * Q)
    assert [(r.start, r.scheduled_seconds) for r in rows] == [(T0 + Q, 900.0), (T0 + 2 * Q, 900.0)]


def test_working_in_one_shift_beats_a_break_in_an_overlapping_one() -> None:
    shifts = [Shift(T0, T0 + 2 * Q, T0, T0 + Q, "1001"), Shift(T0, T0 + 2 * Q, T0 + Q, T0 + 2 * Q, "1001")]
    rows = adherence(shifts, [], T0, T0 + 2 * Q, T0 + 2 * Q)
    assert [(r.start, r.working_seconds) for r in rows] == [(T0, 900.0), (T0 + Q, 900.0)]


_STATES = ["available", "offered", "busy", "wrap_up", "paused", "logged_out"]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 16 * Q - 1), st.sampled_from(_STATES)), max_size=25),
    st.integers(0, 8),
    st.integers(1, 8),
    st.one_of(st.none(), st.integers(0, 4)),
    st.integers(0, 16 * Q),
)
def test_adherence_matches_a_second_by_second_recount(
    changes: list[tuple[int, str]], first: int, length: int, brk: int | None, elapsed: int
) -> None:
    start, end = T0 + first * Q, T0 + (first + length) * Q
    b0 = None if brk is None or brk >= length else start + brk * Q
    shift = Shift(start, end, b0, None if b0 is None else b0 + Q, "1001")
    logged = [_logged("1001", T0 + at, state) for at, state in sorted(changes, key=lambda c: c[0])]
    until = T0 + elapsed
    rows = adherence([shift], _rows(logged, T0, T0 + 16 * Q, until), T0, T0 + 16 * Q, until)

    # The oracle: walk every second of each ended quarter of the shift.
    def state_at(t: int) -> str:
        current = "logged_out"
        for n in logged:
            if n.at <= t:
                current = n.state
        return current

    expected = {}
    for q in range(start, min(end, until - until % Q) if until >= start else start, Q):
        on_break = b0 is not None and b0 <= q < b0 + Q
        good = 0
        for t in range(q, q + Q):
            opened = state_at(t) in OPEN_STATES and t < until
            good += opened != on_break
        expected[q] = good
    assert {r.start: r.in_adherence_seconds for r in rows} == expected
    for r in rows:
        assert 0 <= r.in_adherence_seconds <= r.scheduled_seconds == 900
        assert r.out_of_adherence_seconds == r.scheduled_seconds - r.in_adherence_seconds

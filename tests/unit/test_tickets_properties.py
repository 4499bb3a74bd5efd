"""Property tests of the tickets' core: no illegal transition is reachable, whatever is asked in
whatever order; the business-time and SLA clocks equal a minute-by-minute count over random
calendars and status histories."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.core.tickets import sla
from callcenter.core.tickets import workflow as wfl
from callcenter.core.tickets.calendar import add_business, business_seconds
from callcenter.core.tickets.fields import TicketInvalid
from callcenter.core.tickets.model import (
    ALWAYS_OPEN_HOURS,
    Calendar,
    Escalation,
    EscalationStep,
    SlaPolicy,
    Team,
    TicketType,
    Workflow,
)
from callcenter.core.tickets.ticket import StatusChange, Ticket

START = datetime(2026, 3, 20, tzinfo=UTC)  # a week with days of every kind around it
MINUTE = timedelta(minutes=1)


# -- calendars -----------------------------------------------------------------------------------
@st.composite
def calendars(draw: st.DrawFn) -> Calendar:
    offset = timedelta(minutes=15 * draw(st.integers(-48, 56)))
    hours = {}
    for day in range(7):
        cuts = sorted(draw(st.sets(st.integers(0, 1440), max_size=6)))
        pairs = [(cuts[i], cuts[i + 1]) for i in range(0, len(cuts) - 1, 2)]
        hours[day] = tuple((_clock(a), _clock(b)) for a, b in pairs if b > a)
    days = draw(st.sets(st.integers(-2, 12), max_size=4))
    holidays = frozenset(START.date() + timedelta(days=d) for d in days)
    return Calendar(timezone(offset), hours, holidays)


def _clock(minute: int) -> time:
    return time(0) if minute == 1440 else time(minute // 60, minute % 60)


def open_at(cal: Calendar, at: datetime) -> bool:
    """The reference: is this instant inside a window, read on the local wall clock."""
    local = at.astimezone(cal.zone)
    if local.date() in cal.holidays:
        return False
    now = local.time()
    return any(
        start <= now and (now < end or end == time(0)) for start, end in cal.hours.get(local.weekday(), ())
    )


def minutes(start: datetime, end: datetime) -> list[datetime]:
    out, at = [], start
    while at < end:
        out.append(at)
        at += MINUTE
    return out


@settings(max_examples=60, deadline=None)
@given(calendars(), st.integers(0, 6 * 1440), st.integers(0, 3 * 1440))
def test_business_seconds_equal_a_minute_by_minute_count(cal: Calendar, start: int, span: int) -> None:
    a = START + start * MINUTE
    b = a + span * MINUTE
    assert business_seconds(cal, a, b) == 60 * sum(open_at(cal, m) for m in minutes(a, b))


@settings(max_examples=60, deadline=None)
@given(calendars(), st.integers(0, 6 * 1440), st.integers(0, 600))
def test_add_business_is_the_first_instant_with_that_much_working_time(
    cal: Calendar, start: int, needed: int
) -> None:
    a = START + start * MINUTE
    got = add_business(cal, a, needed * 60)
    if needed == 0:
        assert got == a
        return
    count, at, expected = 0, a, None
    for _ in range(21 * 1440):  # calendars here repeat weekly apart from holidays
        if open_at(cal, at):
            count += 1
            if count == needed:
                expected = at + MINUTE
                break
        at += MINUTE
    if expected is None:
        assert got is None or got > at
    else:
        assert got == expected


# -- a workflow drawn at random ----------------------------------------------------------------------
STATUSES = ("s0", "s1", "s2", "s3", "s4")


@st.composite
def ticket_types(draw: st.DrawFn) -> TicketType:
    table = {s: frozenset(draw(st.sets(st.sampled_from(STATUSES)))) for s in STATUSES}
    closed = frozenset(draw(st.sets(st.sampled_from(STATUSES[1:]), min_size=1)))
    open_ones = [s for s in STATUSES if s not in closed]
    paused = frozenset(draw(st.sets(st.sampled_from(STATUSES))))
    resolved = closed | frozenset(draw(st.sets(st.sampled_from(STATUSES))))
    return TicketType(
        "t", (), STATUSES, "s0", table, closed, resolved, paused, draw(st.sampled_from(open_ones))
    )


def workflow(tt: TicketType, cal: Calendar) -> Workflow:
    teams = {
        "a": Team("a", frozenset({"b"})),
        "b": Team("b", frozenset({"a", "c"})),
        "c": Team("c", frozenset()),
    }
    policy = SlaPolicy(
        "p2", 3600, 4 * 3600, warn_before=600,
        on_breach=(EscalationStep(Escalation.REASSIGN, "c"), EscalationStep(Escalation.RAISE_PRIORITY)),
    )  # fmt: skip
    return Workflow({"t": tt}, teams, ("p1", "p2"), (), (policy,), cal, "a", "p2")


action = st.one_of(
    st.tuples(st.just("move"), st.sampled_from(STATUSES)),
    st.tuples(st.just("reply"), st.text(max_size=5)),
    st.tuples(st.just("transfer"), st.sampled_from(["a", "b", "c", "d"])),
    st.tuples(st.just("comment"), st.booleans()),
    st.tuples(st.just("sla"), st.just(None)),
)


def legal(tt: TicketType, before: StatusChange, after: StatusChange) -> bool:
    """The reference rule, written apart from the core's."""
    if after.status in tt.transitions.get(before.status, frozenset()):
        return True
    return before.status in tt.closed and after.status == tt.reopen_to and after.reason != ""


@settings(max_examples=200, deadline=None)
@given(ticket_types(), st.lists(st.tuples(action, st.integers(0, 600)), max_size=30))
def test_no_illegal_transition_is_reachable(tt: TicketType, steps: list) -> None:
    wf = workflow(tt, Calendar(UTC, ALWAYS_OPEN_HOURS))
    ticket, _ = wfl.create(wf, wfl.Draft("t", "title"), "T", START, "x")
    at = START
    for (kind, arg), gap in steps:
        at += gap * MINUTE
        before = ticket
        try:
            if kind == "move":
                ticket, _ = wfl.transition(wf, ticket, arg, at, "x")
            elif kind == "reply":
                ticket, _ = wfl.customer_replied(wf, ticket, at, arg)
            elif kind == "transfer":
                ticket, _ = wfl.transfer(wf, ticket, arg, at, "x")
            elif kind == "comment":
                ticket, _ = wfl.comment(ticket, at, "x", internal=arg)
            else:
                ticket, _ = sla.check(wf, ticket, at)
        except (wfl.TicketRefused, TicketInvalid):
            assert ticket is before
        assert ticket.status == ticket.history[-1].status
        assert ticket.team in wf.teams and ticket.priority in wf.priorities
    assert ticket.history[0].status == tt.initial
    for a, b in zip(ticket.history, ticket.history[1:], strict=False):
        assert legal(tt, a, b), (a, b)


# -- SLA clocks against the reference ---------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(
    calendars(),
    ticket_types(),
    st.lists(st.tuples(st.integers(0, 900), st.sampled_from(STATUSES)), max_size=8),
    st.integers(0, 900),
    st.one_of(st.none(), st.integers(0, 4000)),
)
def test_sla_clocks_equal_a_minute_by_minute_count(
    cal: Calendar, tt: TicketType, changes: list, tail: int, replied: int | None
) -> None:
    wf = workflow(tt, cal)
    history, at = [StatusChange(START, tt.initial, "x")], START
    for gap, status in changes:
        at += gap * MINUTE
        history.append(StatusChange(at, status, "x"))
    now = at + tail * MINUTE
    first = None if replied is None else START + replied * MINUTE
    ticket = Ticket("T", "t", "x", history[-1].status, "a", "p2", {}, START, "x", tuple(history),
                    first_response_at=first)  # fmt: skip
    for target, stops in ((sla.FIRST_RESPONSE, tt.paused), (sla.RESOLUTION, tt.paused | tt.resolved)):
        expected = 0
        for m in minutes(START, now):
            if target == sla.FIRST_RESPONSE and first is not None and m >= first:
                break
            status = [c for c in history if c.at <= m][-1].status
            expected += open_at(cal, m) and status not in stops
        assert sla.elapsed(wf, ticket, target, now) == 60 * expected, target


def test_a_daylight_saving_day_counts_its_real_hours() -> None:
    from zoneinfo import ZoneInfo

    cal = Calendar(ZoneInfo("Europe/Madrid"), ALWAYS_OPEN_HOURS)
    day = date(2026, 3, 29)  # clocks go forward at 02:00: a 23-hour day
    start = datetime.combine(day, time(0), tzinfo=cal.zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=cal.zone)
    assert business_seconds(cal, start, end) == 23 * 3600

"""Business time: how many working seconds of a :class:`~.model.Calendar` lie between two instants,
and when a number of working seconds will have passed.

Windows are local wall-clock times in the calendar's zone, each turned into an instant with the
zone's offset on that day; the sums are exact for any fixed-offset zone (the property tests compare
them with a minute-by-minute count). A window crossing a daylight-saving change counts the real
seconds between its two ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

from callcenter.core.tickets.model import Calendar

_DAY = timedelta(days=1)
#: how far :func:`add_business` looks ahead before answering "never"
HORIZON_DAYS = 3 * 366


def windows(cal: Calendar, first: date, last: date) -> Iterator[tuple[datetime, datetime]]:
    """The working windows of the local dates ``first``..``last`` as UTC [start, end) pairs."""
    day = first
    while day <= last:
        if day not in cal.holidays:
            for start, end in cal.hours.get(day.weekday(), ()):
                begin = datetime.combine(day, start, tzinfo=cal.zone).astimezone(UTC)
                end_day = day + _DAY if end == time(0) else day
                finish = datetime.combine(end_day, end, tzinfo=cal.zone).astimezone(UTC)
                if finish > begin:
                    yield begin, finish
        day += _DAY


def _local_date(cal: Calendar, at: datetime) -> date:
    return at.astimezone(cal.zone).date()


def business_seconds(cal: Calendar, start: datetime, end: datetime) -> float:
    """Working seconds in [start, end) (0 when end is not after start)."""
    if end <= start:
        return 0.0
    total = 0.0
    first, last = _local_date(cal, start) - _DAY, _local_date(cal, end) + _DAY
    for begin, finish in windows(cal, first, last):
        lo, hi = max(begin, start), min(finish, end)
        if hi > lo:
            total += (hi - lo).total_seconds()
    return total


def add_business(cal: Calendar, start: datetime, seconds: float) -> datetime | None:
    """The instant at which ``seconds`` working seconds after ``start`` have passed (``start``
    itself for 0); None when the calendar has no such time within :data:`HORIZON_DAYS`."""
    if seconds <= 0:
        return start
    remaining = seconds
    day = _local_date(cal, start) - _DAY
    for _ in range(HORIZON_DAYS):
        for begin, finish in windows(cal, day, day):
            lo = max(begin, start)
            if finish <= lo:
                continue
            span = (finish - lo).total_seconds()
            if span >= remaining:
                return lo + timedelta(seconds=remaining)
            remaining -= span
        day += _DAY
    return None


def is_open(cal: Calendar, at: datetime) -> bool:
    day = _local_date(cal, at)
    return any(begin <= at < finish for begin, finish in windows(cal, day - _DAY, day + _DAY))

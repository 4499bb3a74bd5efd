"""Report intervals: 15-minute buckets and their roll-ups (hour, day, week, month), in UTC.

Pure arithmetic on epoch seconds. Every interval is named by its start; a 15-minute interval
``[start, start + 900)`` belongs to exactly one hour, day, ISO week (Monday 00:00 UTC) and calendar
month, so roll-ups are sums of whole 15-minute rows.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta

QUARTER = 900  # seconds in the base interval


class Granularity(enum.StrEnum):
    QUARTER = "15m"
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


def quarter(at: float) -> int:
    """The start of the 15-minute interval holding ``at``."""
    return int(at // QUARTER) * QUARTER


def quarters(start: float, end: float) -> range:
    """The starts of every 15-minute interval that overlaps ``[start, end)``."""
    if end <= start:
        return range(0)
    last = quarter(end)
    if last >= end:  # end on a boundary: that interval is not overlapped
        last -= QUARTER
    return range(quarter(start), last + QUARTER, QUARTER)


def bucket(start: int, granularity: Granularity) -> int:
    """The start of the ``granularity`` interval holding the 15-minute interval ``start``."""
    if granularity is Granularity.QUARTER:
        return start
    if granularity is Granularity.HOUR:
        return start - start % 3600
    day = start - start % 86400
    if granularity is Granularity.DAY:
        return day
    moment = datetime.fromtimestamp(day, UTC)
    if granularity is Granularity.WEEK:
        return int((moment - timedelta(days=moment.weekday())).timestamp())
    return int(moment.replace(day=1).timestamp())


def overlap(a: float, b: float, start: int) -> float:
    """Seconds of ``[a, b)`` inside the 15-minute interval beginning at ``start``."""
    return max(0.0, min(b, start + QUARTER) - max(a, start))

"""Calling windows in the callee's local time.

The callee's zone is a ``tzinfo`` the adapter gives with each record (a ``zoneinfo.ZoneInfo``); the
core only converts instants with it, so daylight-saving changes are the zone's business. A time
that does not exist locally (the hour skipped in spring) is never "open" by itself: the next
instant that is open is returned instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo

from callcenter.core.outbound.campaign import CallingWindow

# How far ahead an opening is looked for: a week covers every weekly pattern (and DST shifts).
_HORIZON_DAYS = 8


def is_open(windows: Sequence[CallingWindow], at: float, tz: tzinfo) -> bool:
    local = datetime.fromtimestamp(at, tz)
    now = local.time().replace(tzinfo=None)
    return any(local.weekday() in w.days and w.start <= now < w.end for w in windows)


def next_opening(windows: Sequence[CallingWindow], at: float, tz: tzinfo) -> float | None:
    """The first instant after ``at`` (strictly) at which a window is open; None if no window
    opens within a week (no window has days, or every one is empty)."""
    local = datetime.fromtimestamp(at, tz)
    best: float | None = None
    for offset in range(_HORIZON_DAYS):
        day = local.date() + timedelta(days=offset)
        for w in windows:
            if day.weekday() not in w.days or w.start >= w.end:
                continue
            opening = datetime.combine(day, w.start, tzinfo=tz).timestamp()
            if opening <= at:
                continue
            if not is_open(windows, opening, tz):
                # A start inside the hour skipped by a DST change: the window opens when the
                # clock jumps past it, an hour later at most.
                later = _first_open(windows, opening, tz)
                if later is None:
                    continue
                opening = later
            if best is None or opening < best:
                best = opening
        if best is not None:
            return best
    return best


def _first_open(windows: Sequence[CallingWindow], at: float, tz: tzinfo) -> float | None:
    for minutes in range(1, 121):
        probe = at + 60.0 * minutes
        if is_open(windows, probe, tz):
            return probe
    return None

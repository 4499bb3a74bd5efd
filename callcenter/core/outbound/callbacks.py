"""Callbacks at a time the customer picks, as records of a campaign (docs/outbound.md, "Scheduled
callbacks"). Pure: the time, the zone and what the do-not-call list says come in.

A scheduled callback is an ordinary record of its queue's callbacks campaign whose ``due_at`` is the
chosen time: the dialler never dials a record before its ``due_at``, and everything else (the
do-not-call list, calling windows in the callee's time, attempts, retries, the abandonment ledger,
dispositions, every decision stored with its reason) applies as to any record. What is checked here
is only what the customer is told at once, before anything is stored: a number on the do-not-call
list, a time in the past or too far ahead, a time outside every calling window (with the next
opening after it, in the customer's own time).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import datetime, time, timedelta, tzinfo

from callcenter.core.errors import DomainError
from callcenter.core.outbound import windows
from callcenter.core.outbound.campaign import CallingWindow

PAST_GRACE = 60.0  # seconds: "now" typed a little late is still now, not the past


class Refusal(enum.StrEnum):
    DNC = "dnc"
    PAST = "past"
    TOO_FAR = "too_far"
    OUTSIDE_WINDOW = "outside_window"
    NO_WINDOW = "no_window"


class CallbackRefused(DomainError):
    """The callback cannot be filed, and why; ``opening``: the next time it could be (the first
    opening of a calling window after the time asked), when there is one."""

    def __init__(self, reason: Refusal, message: str, opening: float | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.opening = opening


def local(at: float, tz: tzinfo) -> str:
    """An instant as the customer reads it: their local date and time, with the zone's offset."""
    return datetime.fromtimestamp(at, tz).isoformat(timespec="minutes")


def check(
    calling: Sequence[CallingWindow],
    at: float,
    now: float,
    tz: tzinfo,
    *,
    on_dnc: bool,
    max_ahead: float,
) -> None:
    """Raise :class:`CallbackRefused` when a callback at ``at`` cannot be promised."""
    if on_dnc:
        raise CallbackRefused(Refusal.DNC, "the number is on the do-not-call list")
    if at < now - PAST_GRACE:
        raise CallbackRefused(Refusal.PAST, f"{local(at, tz)} is in the past")
    if at > now + max_ahead:
        days = max_ahead / 86400.0
        raise CallbackRefused(Refusal.TOO_FAR, f"{local(at, tz)} is more than {days:g} days ahead")
    if windows.is_open(calling, at, tz):
        return
    opening = windows.next_opening(calling, at, tz)
    if opening is None or opening > now + max_ahead:
        raise CallbackRefused(Refusal.NO_WINDOW, "no calling window opens in time for this callback")
    raise CallbackRefused(
        Refusal.OUTSIDE_WINDOW,
        f"{local(at, tz)} is outside the calling hours; the next opening is {local(opening, tz)}",
        opening,
    )


def picked(now: float, tz: tzinfo, *, minutes: int | None = None, day: int = 0, at: str = "") -> datetime:
    """The time a caller picked from a menu ("in an hour", "tomorrow at 09:00"), in their zone:
    ``minutes`` from now, else ``day`` days after their today at ``at`` (HH:MM)."""
    if minutes is not None:
        return datetime.fromtimestamp(now + 60.0 * minutes, tz)
    hours, mins = (int(x) for x in at.split(":"))
    date = datetime.fromtimestamp(now, tz).date() + timedelta(days=day)
    return datetime.combine(date, time(hours, mins), tzinfo=tz)

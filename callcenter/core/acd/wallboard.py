"""The supervisor's wallboard figures over time: a rolling per-minute series per queue and the
service-level alerts. Pure: samples and interactions in, points and alert transitions out.

Definitions (docs/supervisor.md):

- a minute's ``waiting`` is the most callers seen waiting in the queue during that minute;
- a minute's service level counts the calls that LEFT the queue in that minute: answered within
  the queue's threshold / (answered + abandoned after the threshold) — the same rule as
  ``core/stats.py``, applied per minute; None when no call was counted in that minute;
- the hour's service level (what alerts watch) is the same ratio over the whole window;
- an alert fires once when the hour's service level drops below the queue's target with at least
  ``min_calls`` counted calls, and once more when it is back at or above the target.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from callcenter.core.interaction import Interaction, Outcome

MINUTE = 60.0
WINDOW_MINUTES = 60


def minute_of(at: float) -> int:
    return int(at // MINUTE)


@dataclass(slots=True)
class _Minute:
    waiting: int = 0
    in_sl: int = 0
    counted: int = 0


@dataclass(frozen=True, slots=True)
class Point:
    minute: int  # minutes since the epoch (the minute's start is minute * 60)
    waiting: int | None  # None: no sample in that minute
    service_level: float | None
    counted: int


@dataclass(slots=True)
class RollingSeries:
    """Per queue, per minute, the last ``window`` minutes; older minutes are dropped as time goes."""

    window: int = WINDOW_MINUTES
    _data: dict[str, dict[int, _Minute]] = field(default_factory=dict)
    # Interactions already counted (no double count) -> the minute they left; trimmed with it.
    _seen: dict[str, int] = field(default_factory=dict)

    def _minute(self, queue: str, minute: int) -> _Minute:
        return self._data.setdefault(queue, {}).setdefault(minute, _Minute())

    def sample(self, queue: str, waiting: int, at: float) -> None:
        m = self._minute(queue, minute_of(at))
        m.waiting = max(m.waiting, waiting)
        self._trim(at)

    def observe(self, interaction: Interaction, sl_seconds: float) -> None:
        """Count a call that left its queue: answered (in or out of the threshold) or abandoned.
        Each interaction counts once, at the moment it left the queue."""
        if interaction.queue is None or interaction.queued_at is None or interaction.id in self._seen:
            return
        if interaction.answered_at is not None:
            left, wait = interaction.answered_at, interaction.answered_at - interaction.queued_at
            in_sl, counted = wait <= sl_seconds, True
        elif interaction.outcome == Outcome.ABANDONED and interaction.ended_at is not None:
            left, wait = interaction.ended_at, interaction.ended_at - interaction.queued_at
            in_sl, counted = False, wait > sl_seconds  # abandoned within the threshold: not counted
        else:
            return
        self._seen[interaction.id] = minute_of(left)
        if not counted:
            return
        m = self._minute(interaction.queue, minute_of(left))
        m.counted += 1
        m.in_sl += int(in_sl)

    def restore(
        self, interactions: Iterable[Interaction], sl_seconds: Mapping[str, float], now: float
    ) -> None:
        """Rebuild the window from stored interactions (after a restart): the calls that left a
        queue in the window, and per minute the most callers waiting at once (from queue times)."""
        first = minute_of(now) - self.window + 1
        spans: dict[str, list[tuple[float, float]]] = {}
        for i in interactions:
            if i.queue is None or i.queued_at is None:
                continue
            self.observe(i, sl_seconds.get(i.queue, 20.0))
            left = i.answered_at or i.ended_at or math.inf  # still waiting
            if left >= first * MINUTE:
                spans.setdefault(i.queue, []).append((i.queued_at, left))
        for queue, found in spans.items():
            for minute in range(first, minute_of(now) + 1):
                start, end = minute * MINUTE, (minute + 1) * MINUTE
                # The most at once within the minute: count at each start inside it (and its start).
                moments = [start] + [s for s, _ in found if start <= s < end]
                peak = max(sum(1 for s, e in found if s <= t < e) for t in moments)
                if peak:
                    self.sample(queue, peak, start)
        self._trim(now)

    def _trim(self, now: float) -> None:
        oldest = minute_of(now) - self.window + 1
        for minutes in self._data.values():
            for old in [m for m in minutes if m < oldest]:
                del minutes[old]
        for iid in [i for i, m in self._seen.items() if m < oldest]:
            del self._seen[iid]

    def points(self, queue: str, now: float) -> list[Point]:
        """The window's minutes, oldest first, gaps included (waiting None)."""
        minutes = self._data.get(queue, {})
        last = minute_of(now)
        out = []
        for minute in range(last - self.window + 1, last + 1):
            m = minutes.get(minute)
            if m is None:
                out.append(Point(minute, None, None, 0))
            else:
                sl = m.in_sl / m.counted if m.counted else None
                out.append(Point(minute, m.waiting, sl, m.counted))
        return out

    def hour_service_level(self, queue: str, now: float) -> tuple[float | None, int]:
        """(service level over the window, calls counted)."""
        oldest = minute_of(now) - self.window + 1
        minutes = [m for k, m in self._data.get(queue, {}).items() if k >= oldest]
        counted = sum(m.counted for m in minutes)
        in_sl = sum(m.in_sl for m in minutes)
        return (in_sl / counted if counted else None), counted


@dataclass(frozen=True, slots=True)
class SlAlert:
    queue: str
    below: bool  # True: dropped below the target; False: back at or above it
    service_level: float
    target: float
    counted: int


@dataclass(slots=True)
class SlAlerts:
    """Edge-triggered service-level alerts per queue (one event per crossing, not per check)."""

    min_calls: int = 3
    below: set[str] = field(default_factory=set)

    def check(self, queue: str, service_level: float | None, target: float, counted: int) -> SlAlert | None:
        if service_level is None or counted < self.min_calls:
            return None
        if service_level < target and queue not in self.below:
            self.below.add(queue)
            return SlAlert(queue, True, service_level, target, counted)
        if service_level >= target and queue in self.below:
            self.below.discard(queue)
            return SlAlert(queue, False, service_level, target, counted)
        return None

    def forget(self, queues: Iterable[str]) -> None:
        """Queues that no longer exist: their alert state goes."""
        for q in queues:
            self.below.discard(q)

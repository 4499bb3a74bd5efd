"""The wallboard's rolling per-minute series and the service-level alerts (pure)."""

from __future__ import annotations

from callcenter.core.acd.wallboard import RollingSeries, SlAlerts, minute_of
from callcenter.core.interaction import Channel, Interaction, Outcome

T0 = 1_800_000_000.0 - (1_800_000_000.0 % 60)  # a minute's start


def call(
    iid: str, queued: float, *, answered: float | None = None, abandoned: float | None = None
) -> Interaction:
    return Interaction(
        id=iid,
        channel=Channel.VOICE,
        caller_number="100",
        started_at=queued - 5,
        queue="sales",
        queued_at=queued,
        answered_at=answered,
        ended_at=abandoned,
        outcome=Outcome.ABANDONED if abandoned is not None else None,
    )


def test_waiting_keeps_the_most_seen_in_each_minute() -> None:
    s = RollingSeries()
    s.sample("sales", 2, T0 + 1)
    s.sample("sales", 5, T0 + 30)
    s.sample("sales", 1, T0 + 59)
    s.sample("sales", 3, T0 + 61)
    points = s.points("sales", T0 + 61)
    assert len(points) == 60
    assert [p.waiting for p in points[-2:]] == [5, 3]
    assert points[0].waiting is None and points[-1].minute == minute_of(T0 + 61)


def test_service_level_per_minute_counts_calls_when_they_leave_the_queue() -> None:
    s = RollingSeries()
    s.observe(call("a", T0, answered=T0 + 10), 20)  # in SL
    s.observe(call("b", T0, answered=T0 + 30), 20)  # out of SL
    s.observe(call("c", T0, abandoned=T0 + 5), 20)  # abandoned within the threshold: not counted
    s.observe(call("d", T0, abandoned=T0 + 70), 20)  # abandoned after it: against, next minute
    s.observe(call("a", T0, answered=T0 + 10), 20)  # the same call again: counted once
    s.observe(call("e", T0), 20)  # still waiting: nothing yet
    points = s.points("sales", T0 + 70)
    assert (points[-2].service_level, points[-2].counted) == (0.5, 2)
    assert (points[-1].service_level, points[-1].counted) == (0.0, 1)
    assert s.hour_service_level("sales", T0 + 70) == (1 / 3, 3)


def test_old_minutes_leave_the_window() -> None:
    s = RollingSeries()
    s.sample("sales", 4, T0)
    s.observe(call("a", T0, answered=T0 + 1), 20)
    later = T0 + 60 * 60
    s.sample("sales", 1, later)
    assert all(p.minute > minute_of(T0) for p in s.points("sales", later))
    assert s.hour_service_level("sales", later) == (None, 0)


def test_restore_rebuilds_waiting_and_service_level_from_interactions() -> None:
    now = T0 + 600
    stored = [
        call("a", T0 + 10, answered=T0 + 15),
        call("b", T0 + 20, answered=T0 + 100),
        call("c", T0 + 30, abandoned=T0 + 90),
        call("d", T0 + 500),  # still waiting now
    ]
    s = RollingSeries()
    s.restore(stored, {"sales": 20.0}, now)
    by_minute = {p.minute: p for p in s.points("sales", now)}
    first = by_minute[minute_of(T0)]
    assert first.waiting == 2 and first.service_level == 1.0  # a left before c came
    assert by_minute[minute_of(T0 + 60)].waiting == 2
    assert by_minute[minute_of(T0 + 60)].counted == 2  # b answered late, c abandoned late
    assert by_minute[minute_of(T0 + 300)].waiting is None
    assert by_minute[minute_of(now)].waiting == 1
    assert s.hour_service_level("sales", now) == (1 / 3, 3)


def test_alerts_fire_once_per_crossing() -> None:
    alerts = SlAlerts(min_calls=3)
    assert alerts.check("sales", 0.1, 0.8, 2) is None  # too few calls to judge
    down = alerts.check("sales", 0.5, 0.8, 3)
    assert down is not None and down.below and down.service_level == 0.5
    assert alerts.check("sales", 0.4, 0.8, 4) is None  # still below: no new alert
    up = alerts.check("sales", 0.8, 0.8, 5)
    assert up is not None and not up.below
    assert alerts.check("sales", 0.9, 0.8, 6) is None
    assert alerts.check("sales", None, 0.8, 0) is None


def test_forgotten_queue_alerts_again() -> None:
    alerts = SlAlerts(min_calls=1)
    assert alerts.check("q", 0.0, 0.5, 1) is not None
    alerts.forget(["q"])
    assert alerts.check("q", 0.0, 0.5, 1) is not None

"""Forecasts of contacts and handle time (callcenter/planning/forecast.py) and the demand file they
write (callcenter/planning/demand.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from callcenter.planning.demand import dump_demand, parse_demand
from callcenter.planning.forecast import DAY, QUARTER, SLOTS, Observed, forecast
from callcenter.settings import ConfigError

MONDAY = 1_796_601_600  # 2026-12-07 00:00 UTC, a Monday
WEEKDAYS = (1.0, 0.95, 0.9, 0.9, 1.1, 0.45, 0.25)  # Monday first


def daily_curve() -> np.ndarray:
    """Open 08:00-20:00 with a morning and an afternoon peak; a trickle at night."""
    hours = (np.arange(SLOTS) + 0.5) / 4
    day = np.exp(-((hours - 11) ** 2) / 4) + 0.8 * np.exp(-((hours - 15.5) ** 2) / 5)
    return np.where((hours >= 8) & (hours < 20), day, 0.01)


def history(weeks: int, per_day: float = 2000, seed: int = 1, queue: str = "support") -> list[Observed]:
    rng = np.random.default_rng(seed)
    curve = daily_curve() / daily_curve().sum()
    rows = []
    for d in range(weeks * 7):
        expected = per_day * WEEKDAYS[d % 7] * curve
        calls = rng.poisson(expected)
        for s in range(SLOTS):
            if calls[s]:
                aht = 200 + (30 if s < 48 else 0)  # mornings are longer
                handle = float(rng.gamma(4, aht / 4, calls[s]).sum())
                rows.append(
                    Observed(queue, MONDAY + d * DAY + s * QUARTER, int(calls[s]), int(calls[s]), handle)
                )
    return rows


def test_weekly_and_daily_seasonality_are_forecast_with_a_backtest() -> None:
    rows = history(10)
    start = MONDAY + 70 * DAY
    result = forecast(rows, start, 7, holdout_weeks=2)
    (q,) = result.queues
    assert q.method == "holt-winters" and result.intervals == 7 * SLOTS and len(q.calls) == 7 * SLOTS
    days = np.asarray(q.calls).reshape(7, SLOTS).sum(axis=1)
    truth = np.asarray(WEEKDAYS) * 2000
    assert np.abs(days - truth).max() / truth.max() < 0.08  # Monday busy, Sunday quiet
    peak = int(np.argmax(np.asarray(q.calls[:SLOTS])))
    assert 40 <= peak <= 48  # around 11:00
    assert q.accuracy is not None and q.accuracy.weeks == 2
    # Poisson noise alone on ~20 calls a quarter is a WAPE of about 18 % per quarter.
    assert q.accuracy.wape is not None and 0.08 < q.accuracy.wape < 0.3
    assert q.accuracy.daily_wape is not None and q.accuracy.daily_wape < 0.06
    assert q.accuracy.aht_wape is not None and q.accuracy.aht_wape < 0.2
    assert 220 < q.aht[40] < 240 and 190 < q.aht[64] < 210  # 10:00 vs 16:00


def test_hourly_intervals_add_the_quarters() -> None:
    rows = history(4)
    quarters = forecast(rows, MONDAY + 28 * DAY, 2, holdout_weeks=1)
    hours = forecast(rows, MONDAY + 28 * DAY, 2, holdout_weeks=1, interval_seconds=3600)
    assert hours.intervals == 48 and quarters.intervals == 192
    assert hours.queues[0].calls[10] == pytest.approx(sum(quarters.queues[0].calls[40:44]), abs=0.01)
    assert hours.queues[0].accuracy is not None and quarters.queues[0].accuracy is not None
    assert hours.queues[0].accuracy.wape < quarters.queues[0].accuracy.wape  # less noise per hour


def test_short_history_has_no_backtest_and_uses_weekday_means() -> None:
    rows = history(1)
    (q,) = forecast(rows, MONDAY + 7 * DAY, 7).queues
    assert q.method == "weekday mean" and q.accuracy is None
    assert sum(q.calls) == pytest.approx(sum(r.offered for r in rows), rel=1e-6)


def test_every_queue_is_forecast_apart() -> None:
    rows = history(3, 500, queue="billing") + history(3, 1500, seed=2)
    result = forecast(rows, MONDAY + 21 * DAY, 1, holdout_weeks=0)
    totals = {q.queue: sum(q.calls) for q in result.queues}
    assert set(totals) == {"billing", "support"} and 2.5 < totals["support"] / totals["billing"] < 3.5
    assert all(q.accuracy is None for q in result.queues)


def test_bad_requests_are_refused() -> None:
    with pytest.raises(ValueError, match="midnight"):
        forecast(history(1), MONDAY + 3600)
    with pytest.raises(ValueError, match="no history"):
        forecast(history(1), MONDAY)
    with pytest.raises(ValueError, match="interval"):
        forecast(history(1), MONDAY + 7 * DAY, interval_seconds=600)


def test_the_demand_file_round_trips_and_refuses_garbage() -> None:
    result = forecast(history(3), MONDAY + 21 * DAY, 1, holdout_weeks=1, interval_seconds=3600)
    text = dump_demand(result.demand(patience=90))
    demand = parse_demand(text, "demand.yaml")
    assert demand.intervals == 24 and demand.interval_seconds == 3600 and demand.start == MONDAY + 21 * DAY
    (q,) = demand.queues
    assert q.patience == 90 and math.isclose(sum(q.calls), sum(result.queues[0].calls), rel_tol=1e-3)
    with pytest.raises(ConfigError, match=r"^d.yaml:3: queues.q.aht.*greater than 0"):
        parse_demand("queues:\n  q:\n    aht: -1\n    calls: [1, 2]\n", "d.yaml")
    with pytest.raises(ConfigError, match="same length"):
        parse_demand("queues:\n  q: {calls: [1, 2], aht: [1, 2, 3]}\n", "d.yaml")
    with pytest.raises(ConfigError, match="how many intervals"):
        parse_demand("queues:\n  q: {calls: 5, aht: 100}\n", "d.yaml")
    with pytest.raises(ConfigError, match=r"d.yaml:\d+: invalid YAML"):
        parse_demand("queues: [\n", "d.yaml")

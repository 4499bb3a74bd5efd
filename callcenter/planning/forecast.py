"""Forecast of contacts and handle time per queue and interval, from the report tables' history,
with its accuracy measured by a backtest.

The method (docs/reports.md, "Planning"), per queue:

1. **Days**: the contacts offered per UTC day. With at least two weeks of history, Holt-Winters
   exponential smoothing (statsmodels' ``ExponentialSmoothing``: additive damped trend, additive
   weekly seasonality, parameters fitted by maximum likelihood) forecasts the next days; with
   less, each weekday's mean.
2. **Within the day**: each weekday's profile — the share of its contacts in each 15-minute slot —
   over the last ``profile_weeks`` weeks of that weekday (the whole history's profile for a
   weekday never seen). A day's forecast is spread over its slots by its weekday's profile.
3. **Handle time**: per slot of the week, (talk + hold + wrap-up) / answered over the history;
   a slot with fewer than 5 answered contacts takes the queue's overall AHT.
4. **Backtest**: the last ``holdout_weeks`` whole weeks are held back, the same method is fitted on
   what came before and forecasts them, and the error is the WAPE, Σ|actual - forecast| / Σ actual,
   over the output intervals (and over days, and for handle time weighted by the contacts
   answered). It needs two weeks of history before the held-back weeks, else it is not given.

Pure but for the fitting library: history in, frozen forecast out; no clock (the forecast starts
where it is told).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from callcenter.planning.demand import Demand, QueueDemand

QUARTER = 900
DAY = 86400
SLOTS = DAY // QUARTER  # 96 quarters a day
MIN_ANSWERED = 5
Array = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Observed:
    """One queue's history over one 15-minute interval."""

    queue: str
    start: int  # epoch seconds, a multiple of 900
    offered: int
    answered: int = 0
    handle_seconds: float = 0.0  # talk + hold + wrap-up of the answered contacts


@dataclass(frozen=True, slots=True)
class Accuracy:
    weeks: int  # held back
    wape: float | None  # over the output intervals (None: no contacts in the held-back weeks)
    daily_wape: float | None
    aht_wape: float | None


@dataclass(frozen=True, slots=True)
class QueueForecast:
    queue: str
    calls: tuple[float, ...]  # per output interval
    aht: tuple[float, ...]  # seconds, per output interval
    method: str  # "holt-winters" or "weekday mean"
    accuracy: Accuracy | None  # None: too little history to hold weeks back


@dataclass(frozen=True, slots=True)
class Forecast:
    start: int  # the first interval (a UTC midnight)
    interval_seconds: int
    intervals: int
    queues: tuple[QueueForecast, ...]

    def demand(self, patience: float | None = None) -> Demand:
        """As the demand of ``callcenter staffing`` and ``callcenter simulate``."""
        return Demand(
            self.interval_seconds,
            self.intervals,
            tuple(QueueDemand(q.queue, q.calls, q.aht, patience) for q in self.queues),
            self.start,
        )


@dataclass(frozen=True, slots=True)
class _Series:
    """One queue's history as day x slot matrices, from day ``first`` (epoch of its midnight)."""

    first: int
    offered: Array  # days x 96
    answered: Array
    handle: Array


def _series(rows: Iterable[Observed], first: int, days: int) -> _Series:
    offered = np.zeros((days, SLOTS))
    answered = np.zeros((days, SLOTS))
    handle = np.zeros((days, SLOTS))
    for r in rows:
        d, s = divmod((r.start - first) // QUARTER, SLOTS)
        if 0 <= d < days:
            offered[d, s] += r.offered
            answered[d, s] += r.answered
            handle[d, s] += r.handle_seconds
    return _Series(first, offered, answered, handle)


def _weekday(first: int, d: int) -> int:
    return int(((first // DAY) + d + 3) % 7)  # 1970-01-01 was a Thursday (3, Monday being 0)


def _days_ahead(daily: Array, horizon: int) -> tuple[Array, str]:
    if len(daily) >= 14 and daily.sum() > 0:
        from statsmodels.tsa.holtwinters import ExponentialSmoothing

        with warnings.catch_warnings():
            # statsmodels warns about convergence and frequencies on plain arrays: not errors here.
            warnings.simplefilter("ignore")
            model = ExponentialSmoothing(
                daily,
                trend="add",
                damped_trend=True,
                seasonal="add",
                seasonal_periods=7,
                initialization_method="estimated",
            )
            try:
                ahead = np.asarray(model.fit().forecast(horizon), dtype=float)
            except (ValueError, np.linalg.LinAlgError):  # a series it cannot fit: the fallback
                ahead = np.full(horizon, np.nan)
        if np.all(np.isfinite(ahead)):
            return np.clip(ahead, 0.0, None), "holt-winters"
    return _weekday_means(daily, horizon), "weekday mean"


def _weekday_means(daily: Array, horizon: int) -> Array:
    n = len(daily)
    if n == 0:
        return np.zeros(horizon)
    out = np.empty(horizon)
    for h in range(horizon):
        same = daily[(n + h) % 7 :: 7] if n >= 7 else daily
        out[h] = float(np.mean(same)) if len(same) else float(np.mean(daily))
    return out


def _profiles(series: _Series, profile_weeks: int) -> Array:
    """Per weekday, the share of the day's contacts in each slot (7 x 96)."""
    days = series.offered.shape[0]
    overall = series.offered.sum(axis=0)
    fallback = overall / overall.sum() if overall.sum() > 0 else np.full(SLOTS, 1.0 / SLOTS)
    out = np.tile(fallback, (7, 1))
    for wd in range(7):
        rows = [d for d in range(days) if _weekday(series.first, d) == wd][-profile_weeks:]
        total = series.offered[rows].sum(axis=0) if rows else np.zeros(SLOTS)
        if total.sum() > 0:
            out[wd] = total / total.sum()
    return out


def _aht(series: _Series, default: float) -> Array:
    """Per weekday and slot (7 x 96): handle / answered, or the queue's overall AHT."""
    answered = np.zeros((7, SLOTS))
    handle = np.zeros((7, SLOTS))
    for d in range(series.offered.shape[0]):
        wd = _weekday(series.first, d)
        answered[wd] += series.answered[d]
        handle[wd] += series.handle[d]
    overall = handle.sum() / answered.sum() if answered.sum() > 0 else default
    with np.errstate(invalid="ignore", divide="ignore"):
        per_slot = np.where(answered >= MIN_ANSWERED, handle / np.maximum(answered, 1), overall)
    return np.asarray(np.maximum(per_slot, 1.0), dtype=float)  # a handle time is never 0 s


def _predict(
    series: _Series, horizon_days: int, profile_weeks: int, default_aht: float
) -> tuple[Array, Array, str]:
    """Contacts and AHT for the ``horizon_days`` after the series, as days x 96."""
    daily, method = _days_ahead(series.offered.sum(axis=1), horizon_days)
    profiles, aht = _profiles(series, profile_weeks), _aht(series, default_aht)
    days = series.offered.shape[0]
    calls = np.empty((horizon_days, SLOTS))
    handle = np.empty((horizon_days, SLOTS))
    for h in range(horizon_days):
        wd = _weekday(series.first, days + h)
        calls[h] = daily[h] * profiles[wd]
        handle[h] = aht[wd]
    return calls, handle, method


def _regroup(matrix: Array, per: int, how: str, weights: Array | None = None) -> Array:
    """Day x 96 quarters → a flat series of ``per``-quarter intervals (summed, or weighted means)."""
    flat = matrix.reshape(-1, per)
    if how == "sum":
        return np.asarray(flat.sum(axis=1))
    assert weights is not None
    w = weights.reshape(-1, per)
    total = w.sum(axis=1)
    mean = flat.mean(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.where(total > 0, (flat * w).sum(axis=1) / np.maximum(total, 1e-12), mean))


def _wape(actual: Array, predicted: Array) -> float | None:
    total = float(np.abs(actual).sum())
    return float(np.abs(actual - predicted).sum()) / total if total > 0 else None


def _backtest(
    series: _Series, weeks: int, profile_weeks: int, per: int, default_aht: float
) -> Accuracy | None:
    held = weeks * 7
    days = series.offered.shape[0]
    if weeks < 1 or days - held < 14:
        return None
    train = _Series(series.first, series.offered[:-held], series.answered[:-held], series.handle[:-held])
    calls, aht, _ = _predict(train, held, profile_weeks, default_aht)
    actual = series.offered[-held:]
    answered = series.answered[-held:]
    actual_aht = np.where(answered > 0, series.handle[-held:] / np.maximum(answered, 1), 0.0)
    weights = answered.reshape(-1)
    aht_error = float((weights * np.abs(actual_aht.reshape(-1) - aht.reshape(-1))).sum())
    aht_total = float((weights * actual_aht.reshape(-1)).sum())
    return Accuracy(
        weeks,
        _wape(_regroup(actual, per, "sum"), _regroup(calls, per, "sum")),
        _wape(actual.sum(axis=1), calls.sum(axis=1)),
        aht_error / aht_total if aht_total > 0 else None,
    )


def forecast(
    history: Sequence[Observed],
    start: int,
    days: int = 7,
    *,
    interval_seconds: int = QUARTER,
    holdout_weeks: int = 2,
    profile_weeks: int = 8,
    default_aht: float = 180.0,
    since: int | None = None,
) -> Forecast:
    """Forecast ``days`` days from ``start`` (a UTC midnight) for every queue in ``history``
    (its intervals before ``start``, and from ``since`` when given)."""
    if start % DAY:
        raise ValueError("start: a UTC midnight (a day, YYYY-MM-DD)")
    if interval_seconds not in (900, 1800, 3600):
        raise ValueError("interval: 15, 30 or 60 minutes")
    if not 1 <= days <= 366:
        raise ValueError("days: 1 to 366")
    before = [r for r in history if r.start < start and (since is None or r.start >= since)]
    if not before:
        raise ValueError("no history before the forecast's start: nothing to forecast from")
    per = interval_seconds // QUARTER
    out = []
    for queue in sorted({r.queue for r in before}):
        rows = [r for r in before if r.queue == queue]
        # From the queue's first day with history (days before a queue existed are not a season).
        first = min(r.start for r in rows) // DAY * DAY
        series = _series(rows, first, (start - first) // DAY)
        calls, aht, method = _predict(series, days, profile_weeks, default_aht)
        out.append(
            QueueForecast(
                queue,
                tuple(round(float(c), 3) for c in _regroup(calls, per, "sum")),
                tuple(round(float(a), 1) for a in _regroup(aht, per, "mean", calls)),
                method,
                _backtest(series, holdout_weeks, profile_weeks, per, default_aht),
            )
        )
    return Forecast(start, interval_seconds, days * SLOTS // per, tuple(out))


def fmt_share(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value * 100:.1f} %"

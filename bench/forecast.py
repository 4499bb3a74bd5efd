"""The forecast's accuracy on a synthetic year: weekly and daily seasonality, a slow trend, noise.

    .venv/bin/python bench/forecast.py [--weeks 52] [--per-day 3000] [--holdout 2] [--seed 1]

The year: one queue, `--per-day` contacts on an average weekday (Monday 1.0 ... Sunday 0.25),
open 08:00-20:00 with a morning and an afternoon peak, a trend of +10 % over the year, each day's
volume off by a random ±8 % (weather, campaigns), and Poisson noise on every 15-minute count.
The forecast (callcenter/planning/forecast.py) is backtested on the last `--holdout` weeks at four
origins a month apart; WAPE per 15 minutes, per hour and per day, beside a naive forecast (the
same interval one week earlier) and the noise floor (the WAPE of the true expected counts against
the noisy ones, what no forecast can beat). Figures go to docs/performance.md ("Planning").
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from callcenter.planning.forecast import DAY, QUARTER, SLOTS, Observed, forecast

MONDAY = 1_765_152_000  # 2025-12-08 00:00 UTC, a Monday
WEEKDAYS = np.array([1.0, 0.95, 0.9, 0.9, 1.1, 0.45, 0.25])


def curve() -> np.ndarray:
    hours = (np.arange(SLOTS) + 0.5) / 4
    day = np.exp(-((hours - 11) ** 2) / 4) + 0.8 * np.exp(-((hours - 15.5) ** 2) / 5)
    shape = np.where((hours >= 8) & (hours < 20), day, 0.005)
    return np.asarray(shape / shape.sum())


def year(weeks: int, per_day: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    days = weeks * 7
    trend = 1 + 0.10 * np.arange(days) / days
    daily = per_day * WEEKDAYS[np.arange(days) % 7] * trend * rng.uniform(0.92, 1.08, days)
    expected = daily[:, None] * curve()[None, :]
    return expected, rng.poisson(expected).astype(float)


def wape(actual: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.abs(actual - predicted).sum() / actual.sum())


def by(matrix: np.ndarray, per: int) -> np.ndarray:
    return np.asarray(matrix.reshape(-1, per).sum(axis=1))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--per-day", type=float, default=3000)
    parser.add_argument("--holdout", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    expected, observed = year(args.weeks, args.per_day, args.seed)
    print(
        f"{args.weeks} weeks, {args.per_day:g} contacts on an average weekday, "
        f"{args.holdout} week(s) held back"
    )
    print(
        "origin (week) | method        | WAPE 15 min  hour    day | naive 15 min  hour    day "
        "| floor 15 min | fit s"
    )
    held = args.holdout * 7
    for origin_week in range(args.weeks - 4 * 4 - args.holdout + 4, args.weeks - args.holdout + 1, 4):
        end = origin_week * 7  # the first held-back day
        rows = [
            Observed(
                "q",
                MONDAY + d * DAY + s * QUARTER,
                int(observed[d, s]),
                int(observed[d, s]),
                240.0 * observed[d, s],
            )
            for d in range(end)
            for s in range(SLOTS)
            if observed[d, s]
        ]
        began = time.perf_counter()
        result = forecast(rows, MONDAY + end * DAY, held, holdout_weeks=0)
        fit = time.perf_counter() - began
        predicted = np.asarray(result.queues[0].calls).reshape(held, SLOTS)
        actual = observed[end : end + held]
        naive = (
            observed[end - 7 : end - 7 + held]
            if held <= 7
            else np.tile(observed[end - 7 : end], (args.holdout, 1))
        )
        floor = wape(actual.reshape(-1), expected[end : end + held].reshape(-1))
        print(
            f"{origin_week:13d} | {result.queues[0].method:13s} | "
            f"{wape(actual.reshape(-1), predicted.reshape(-1)):12.3f} "
            f"{wape(by(actual, 4), by(predicted, 4)):5.3f} "
            f"{wape(actual.sum(axis=1), predicted.sum(axis=1)):6.3f} | "
            f"{wape(actual.reshape(-1), naive.reshape(-1)):12.3f} {wape(by(actual, 4), by(naive, 4)):5.3f} "
            f"{wape(actual.sum(axis=1), naive.sum(axis=1)):6.3f} | {floor:12.3f} | {fit:5.1f}"
        )


if __name__ == "__main__":
    main()

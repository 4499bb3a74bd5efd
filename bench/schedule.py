"""Shift schedules for a week of a mid-size center: how many shifts the solver needs against the
lower bound no schedule can beat, how much paid time is idle, and how long it takes.

    .venv/bin/python bench/schedule.py [--per-day 3000] [--interval 900] [--max-search 10]

The week: the contacts of bench/forecast.py's synthetic year (Monday 1.0 ... Sunday 0.25, open
08:00-20:00 with a morning and an afternoon peak), AHT 240 s, staffed per interval by Erlang C for
80 % within 20 s (callcenter/planning/staffing.py); shifts of 8 hours with a 1-hour break at least
2 hours from either end (callcenter/planning/schedule.py: pyworkforce's CP-SAT scheduler).

The lower bound per day: max(the busiest interval's agents, ⌈required agent-intervals ÷ working
intervals per shift⌉). Figures go to docs/performance.md ("Schedules").
"""

from __future__ import annotations

import argparse
import math
import time

from callcenter.planning.schedule import DAY, ShiftRules, make_schedule
from callcenter.planning.staffing import Load, Target, required

MONDAY = 1_796_601_600  # 2026-12-07 00:00 UTC
WEEKDAYS = (1.0, 0.95, 0.9, 0.9, 1.1, 0.45, 0.25)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-day", type=float, default=3000)
    parser.add_argument("--interval", type=int, default=900, choices=[900, 1800, 3600])
    parser.add_argument("--max-search", type=float, default=10.0)
    args = parser.parse_args()
    import numpy as np

    slots = DAY // args.interval
    hours = (np.arange(slots) + 0.5) * args.interval / 3600
    shape = np.exp(-((hours - 11) ** 2) / 4) + 0.8 * np.exp(-((hours - 15.5) ** 2) / 5)
    shape = np.where((hours >= 8) & (hours < 20), shape, 0.0)
    shape = shape / shape.sum()
    target = Target(0.8, 20)
    need = []
    for w in WEEKDAYS:
        for c in shape * args.per_day * w:
            need.append(required(Load(float(c), args.interval, 240.0), target).agents)
    rules = ShiftRules(480, 60, 120, max_search_seconds=args.max_search)
    working = (480 - 60) * 60 // args.interval
    began = time.perf_counter()
    found = make_schedule(need, MONDAY, args.interval, rules)
    wall = time.perf_counter() - began
    print(f"interval {args.interval // 60} min, {args.per_day:.0f} contacts on a Monday, AHT 240 s, 80/20")
    print("day | required agent-h | shifts | lower bound | paid h | idle paid h | short | status")
    total_shifts = total_bound = 0
    for d in range(7):
        day = need[d * slots : (d + 1) * slots]
        shifts = [s for s in found.shifts if MONDAY + d * DAY <= s.start < MONDAY + (d + 1) * DAY]
        bound = max(max(day), math.ceil(sum(day) / working))
        covered = found.coverage[d * slots : (d + 1) * slots]
        short = sum(max(0, r - c) for r, c in zip(day, covered, strict=True))
        agent_h = sum(day) * args.interval / 3600
        paid = len(shifts) * 8
        idle = paid - agent_h - len(shifts) * 1  # paid minus required minus breaks
        total_shifts += len(shifts)
        total_bound += bound
        print(
            f"{d + 1:3d} | {agent_h:16.1f} | {len(shifts):6d} | {bound:11d} | {paid:6d} | {idle:11.1f} | "
            f"{short:5d} | {found.status}"
        )
    print(f"week: {total_shifts} shifts against a lower bound of {total_bound}; solved in {wall:.1f} s")


if __name__ == "__main__":
    main()

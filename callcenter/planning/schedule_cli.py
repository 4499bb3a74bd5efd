"""``callcenter schedule`` (docs/reports.md, "Schedules").

- From a demand file (``--demand``, the target as ``callcenter staffing``'s) or a list of required
  agents per interval (``--required 0,3,5 --start 2026-12-07T08:00 --interval hour``): the shifts
  and breaks that cover it (planning/schedule.py: pyworkforce's solver), printed with the coverage
  against the requirement per interval.
- ``--assign``: the shifts handed to the roster's agents who serve the demand's queues (or
  ``--agents 1001,1002``), by the rule of ``schedule.assign``; ``--save``: stored (migration 0020),
  replacing the shifts of the days the schedule covers.
- ``--show --from DAY --to DAY [--agent ID]``: the stored shifts.

Exit status: 0; 2 for bad arguments, an invalid file, a schedule not found, or a database that
cannot be used.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from callcenter.core.reports.adherence import Shift
from callcenter.planning.schedule import DAY, Schedule, ScheduleError, ShiftRules, assign, make_schedule
from callcenter.reports.query import Cell, to_csv, to_text
from callcenter.settings import ConfigError, Settings

_INTERVALS = {"15m": 900, "30m": 1800, "hour": 3600}


class Usage(ValueError):
    """A command-line value that cannot be used; the message says which and why."""


def _time_of_day(value: str) -> int:
    """``HH:MM`` as minutes past midnight."""
    try:
        hours, minutes = (int(part) for part in value.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: a time of day, HH:MM") from None
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise argparse.ArgumentTypeError(f"{value!r}: a time of day, HH:MM")
    return hours * 60 + minutes


def add_parser(sub: Any) -> None:
    from callcenter.planning.cli import _share, _targets

    p = sub.add_parser("schedule", help="shifts and breaks covering the agents required per interval")
    p.add_argument("--demand", help="a demand file (agents required by Erlang, as callcenter staffing)")
    p.add_argument("--queue", action="append", help="--demand: only this queue (repeatable)")
    _targets(p)
    p.add_argument("--patience", type=float, help="--demand: callers' mean patience, seconds (Erlang A)")
    p.add_argument("--max-occupancy", type=_share, default=1.0, help="--demand: e.g. 0.85")
    p.add_argument("--required", help="agents required per interval, comma-separated (without --demand)")
    p.add_argument("--start", help="--required: the first interval, YYYY-MM-DDTHH:MM (UTC)")
    p.add_argument("--interval", default="hour", choices=list(_INTERVALS), help="--required: (hour)")
    p.add_argument("--shift-minutes", type=int, default=480, help="length of a shift, breaks included (480)")
    p.add_argument("--break-minutes", type=int, default=60, help="one break per shift (60; 0: none)")
    p.add_argument("--break-margin", type=int, default=120, help="minutes between the break and either end")
    p.add_argument(
        "--start-step", type=int, default=0, help="minutes between possible starts (0: any interval)"
    )
    p.add_argument("--max-search", type=float, default=10.0, help="seconds the solver may search per day")
    p.add_argument(
        "--day-starts",
        type=_time_of_day,
        default=0,
        help="HH:MM (UTC) the scheduling day starts: no shift crosses it (00:00; a centre open at night: "
        "its quietest hour, e.g. 06:00, for 22:00-06:00 shifts)",
    )
    p.add_argument("--assign", action="store_true", help="hand the shifts to the roster's agents")
    p.add_argument("--agents", help="--assign: these agents (comma-separated) instead of the roster")
    p.add_argument("--save", action="store_true", help="store the shifts (replacing those of the days)")
    p.add_argument("--show", action="store_true", help="print the stored shifts of --from..--to")
    p.add_argument("--from", dest="day_from", help="--show: first day (YYYY-MM-DD)")
    p.add_argument("--to", dest="day_to", help="--show: last day, included")
    p.add_argument("--agent", help="--show: only this agent")
    p.add_argument("--format", default="table", choices=["table", "csv", "json"])


def main(args: argparse.Namespace, settings: Settings) -> int:
    from callcenter.planning.staffing import StaffingError

    try:
        if args.show:
            return asyncio.run(_show(args, settings))
        return _make(args, settings)
    except (Usage, ConfigError, StaffingError, ScheduleError) as err:
        print(f"schedule: {err}", file=sys.stderr)
        return 2


def _print(columns: Sequence[str], rows: Sequence[Sequence[Cell]], fmt: str) -> None:
    if fmt == "csv":
        print(to_csv(columns, rows), end="")
    elif fmt == "json":
        print(json.dumps({"columns": list(columns), "rows": [list(r) for r in rows]}))
    else:
        print(to_text(columns, rows), end="")


def _time(t: int | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M")


def shift_rows(shifts: Sequence[Shift]) -> tuple[list[str], list[list[Cell]]]:
    columns = ["start", "end", "break_start", "break_end", "agent"]
    return columns, [
        [_time(s.start), _time(s.end), _time(s.break_start), _time(s.break_end), s.agent] for s in shifts
    ]


def _required(args: argparse.Namespace) -> tuple[list[int], int, int, list[str]]:
    """Agents required per interval, the first interval, its length, and the queues (for --assign)."""
    if args.demand:
        if args.required:
            raise Usage("give --demand or --required, not both")
        from callcenter.planning.demand import load_demand
        from callcenter.planning.staffing import Load, Target, required

        demand = load_demand(args.demand)
        target = Target(args.sl, args.seconds, None, args.max_occupancy)
        wanted = None if not args.queue else set(args.queue)
        queues = [q for q in demand.queues if wanted is None or q.queue in wanted]
        if not queues:
            raise Usage(f"--queue: none of {sorted(wanted or ())} is in the demand file")
        per = [0] * demand.intervals
        for q in queues:
            patience = args.patience if args.patience is not None else q.patience
            for k in range(demand.intervals):
                per[k] += required(
                    Load(q.calls[k], demand.interval_seconds, q.aht[k], patience), target
                ).agents
        return per, demand.start, demand.interval_seconds, [q.queue for q in queues]
    if not args.required or not args.start:
        raise Usage("give --demand FILE, or --required N,N,... with --start")
    try:
        values = [int(v) for v in args.required.split(",")]
    except ValueError as err:
        raise Usage(f"--required {args.required!r}: whole numbers of agents, comma-separated") from err
    try:
        start = datetime.fromisoformat(args.start)
    except ValueError as err:
        raise Usage(f"--start {args.start!r}: YYYY-MM-DDTHH:MM") from err
    first = int((start if start.tzinfo else start.replace(tzinfo=UTC)).timestamp())
    return values, first, _INTERVALS[args.interval], []


def _make(args: argparse.Namespace, settings: Settings) -> int:
    per, start, interval, queues = _required(args)
    rules = ShiftRules(
        args.shift_minutes,
        args.break_minutes,
        args.break_margin,
        args.start_step,
        args.max_search,
        args.day_starts,
    )
    schedule = make_schedule(per, start, interval, rules)
    shifts = schedule.shifts
    if args.assign or args.agents:
        shifts = assign(shifts, _agents(args, settings, queues), args.day_starts * 60)
    if args.save:
        saved = asyncio.run(_save(settings, schedule, shifts))
        print(f"schedule: {saved} shift(s) stored for {_days(schedule)}", file=sys.stderr)
    columns, rows = shift_rows(shifts)
    _print(columns, rows, args.format)
    if args.format == "table":
        print()
    _print(*coverage_rows(schedule), "csv" if args.format == "csv" else args.format)
    print(
        f"{len(shifts)} shift(s), solver {schedule.status}; agent-intervals short {schedule.shortfall}, "
        f"over {schedule.surplus}",
        file=sys.stderr,
    )
    return 0


def coverage_rows(schedule: Schedule) -> tuple[list[str], list[list[Cell]]]:
    columns = ["start", "required", "scheduled", "difference"]
    rows: list[list[Cell]] = []
    for k, (r, c) in enumerate(zip(schedule.required, schedule.coverage, strict=True)):
        if r or c:
            rows.append([_time(schedule.start + k * schedule.interval_seconds), r, c, c - r])
    return columns, rows


def _days(schedule: Schedule) -> str:
    days = len(schedule.required) * schedule.interval_seconds // DAY
    first = datetime.fromtimestamp(schedule.start, UTC).date()
    return f"{days} day(s) from {first.isoformat()}"


def _agents(args: argparse.Namespace, settings: Settings, queues: list[str]) -> list[str]:
    if args.agents:
        return [a.strip() for a in args.agents.split(",") if a.strip()]
    from callcenter.planning.roster import configured

    agents, _, _ = configured(settings)
    found = [a.id for a in agents if not queues or set(a.queues) & set(queues)]
    if not found:
        raise Usage("--assign: no agent of the roster serves these queues (give --agents)")
    return found


async def _save(settings: Settings, schedule: Schedule, shifts: Sequence[Shift]) -> int:
    from callcenter.errors import StorageError
    from callcenter.storage.schedule_store import ScheduleStore

    store = ScheduleStore(settings.database.url)
    end = schedule.start + len(schedule.required) * schedule.interval_seconds
    label = f"callcenter schedule {datetime.now(UTC):%Y-%m-%dT%H:%MZ}"
    try:
        await store.start()
        try:
            return await store.replace(schedule.start, end, shifts, label)
        finally:
            await store.stop()
    except StorageError as err:
        raise Usage(f"{err}; is the schema current? run 'callcenter db upgrade'") from err


def _day(text: str | None, flag: str) -> int:
    if not text:
        raise Usage(f"--show needs {flag} YYYY-MM-DD")
    try:
        day = date.fromisoformat(text)
    except ValueError as err:
        raise Usage(f"{flag} {text!r}: a day, YYYY-MM-DD") from err
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


async def _show(args: argparse.Namespace, settings: Settings) -> int:
    from callcenter.errors import StorageError
    from callcenter.storage.schedule_store import ScheduleStore

    start, end = _day(args.day_from, "--from"), _day(args.day_to, "--to") + DAY
    if end <= start:
        raise Usage("--to is before --from")
    store = ScheduleStore(settings.database.url)
    try:
        await store.start()
        try:
            shifts = await store.shifts(start, end, None if args.agent is None else [args.agent])
        finally:
            await store.stop()
    except StorageError as err:
        raise Usage(f"{err}; is the schema current? run 'callcenter db upgrade'") from err
    _print(*shift_rows(shifts), args.format)
    return 0

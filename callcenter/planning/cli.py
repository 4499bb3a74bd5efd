"""``callcenter staffing``, ``callcenter simulate`` and ``callcenter forecast`` (docs/reports.md,
"Planning").

- ``staffing``: agents needed for a target (Erlang C; Erlang A with ``--patience``), for one load
  (``--calls --aht --interval``) or per queue and interval of a demand file (``--demand``).
- ``simulate``: the demand through the routing engine with the roster of the configuration (the
  settings' agents and ``acd.agents_file``, the queues of ``acd.queues_file``), with agents added
  (``--add billing:3=5``); ``--search billing:3`` finds how many such agents every queue's target
  needs.
- ``forecast``: contacts and handle time per queue and interval from the report tables, with the
  backtest's WAPE; ``--format demand`` writes the demand file the other two read.

Exit status: 0; 2 for bad arguments, an invalid file, or a database that cannot be read.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from callcenter.reports.query import Cell, to_csv, to_text
from callcenter.settings import ConfigError, Settings

_INTERVALS = {"15m": 900, "30m": 1800, "hour": 3600}


class Usage(ValueError):
    """A command-line value that cannot be used; the message says which and why."""


def _share(text: str) -> float:
    value = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r}: a share from 0 to 1 (or 0% to 100%)")
    return value


def _targets(parser: Any) -> None:
    parser.add_argument("--sl", type=_share, default=0.8, help="service-level target (0.8 or 80%%)")
    parser.add_argument("--seconds", type=float, default=20.0, help="service-level threshold, seconds (20)")


def add_parser(sub: Any) -> None:
    staffing = sub.add_parser("staffing", help="agents needed for a service level (Erlang C / Erlang A)")
    staffing.add_argument("--demand", help="a demand file: per queue and interval (see docs/reports.md)")
    staffing.add_argument("--calls", type=float, help="contacts in the interval (without --demand)")
    staffing.add_argument("--aht", type=float, help="average handle time, seconds (without --demand)")
    staffing.add_argument("--interval", default="30m", choices=list(_INTERVALS), help="(without --demand)")
    staffing.add_argument("--patience", type=float, help="mean seconds before a caller hangs up: Erlang A")
    _targets(staffing)
    staffing.add_argument("--no-sl", action="store_true", help="no service-level target (with --asa)")
    staffing.add_argument("--asa", type=float, help="a mean wait not to exceed, seconds")
    staffing.add_argument("--shrinkage", type=_share, default=0.0, help="share of paid time off the phones")
    staffing.add_argument("--max-occupancy", type=_share, default=1.0, help="e.g. 0.85")
    staffing.add_argument("--max-abandon", type=_share, default=1.0, help="Erlang A: abandon rate cap")
    staffing.add_argument("--format", default="table", choices=["table", "csv", "json"])

    simulate = sub.add_parser("simulate", help="what-if: a demand through the routing engine, simulated")
    simulate.add_argument(
        "--demand", required=True, help="the demand file (callcenter forecast --format demand)"
    )
    simulate.add_argument("--seed", type=int, default=1)
    simulate.add_argument("--ring", type=float, default=0.0, help="seconds an agent's phone rings (0)")
    simulate.add_argument(
        "--handle-cv", type=float, help="lognormal handle times with this CV (default: exponential)"
    )
    simulate.add_argument("--warmup", type=float, default=0.0, help="seconds not counted at the start")
    simulate.add_argument(
        "--add", action="append", default=[], metavar="SKILL[:LEVEL]=N", help="add N agents with this skill"
    )
    simulate.add_argument("--target", metavar="SL/SECONDS", help="every queue's target, e.g. 0.8/20")
    simulate.add_argument(
        "--search", metavar="SKILL[:LEVEL]", help="how many agents with this skill for every target"
    )
    simulate.add_argument("--limit", type=int, default=500, help="--search: the most agents to add (500)")
    simulate.add_argument("--intervals", action="store_true", help="also a row per queue and interval")
    simulate.add_argument("--format", default="table", choices=["table", "csv", "json"])

    fc = sub.add_parser("forecast", help="contacts and handle time per queue and interval, from history")
    fc.add_argument("--start", help="first day forecast (YYYY-MM-DD, UTC; default: tomorrow)")
    fc.add_argument("--days", type=int, default=7, help="days forecast (7)")
    fc.add_argument("--history-days", type=int, default=182, help="days of history read before --start (182)")
    fc.add_argument("--interval", default="15m", choices=list(_INTERVALS))
    fc.add_argument("--holdout-weeks", type=int, default=2, help="weeks held back for the backtest (2)")
    fc.add_argument("--queue", action="append", help="only this queue (repeatable)")
    fc.add_argument("--patience", type=float, help="--format demand: the callers' mean patience, seconds")
    fc.add_argument("--format", default="summary", choices=["summary", "table", "csv", "demand"])


def _r(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def _print(columns: Sequence[str], rows: Sequence[Sequence[Cell]], fmt: str) -> None:
    if fmt == "csv":
        print(to_csv(columns, rows), end="")
    elif fmt == "json":
        print(json.dumps({"columns": list(columns), "rows": [list(r) for r in rows]}))
    else:
        print(to_text(columns, rows), end="")


def main(args: argparse.Namespace, settings: Settings) -> int:
    from callcenter.planning.staffing import StaffingError

    try:
        if args.command == "staffing":
            return _staffing(args)
        if args.command == "simulate":
            return _simulate(args, settings)
        return asyncio.run(_forecast(args, settings))
    except (Usage, ConfigError, StaffingError) as err:
        print(f"{args.command}: {err}", file=sys.stderr)
        return 2
    except ValueError as err:  # a simulation or forecast refused its inputs
        print(f"{args.command}: {err}", file=sys.stderr)
        return 2


# -- staffing ---------------------------------------------------------------------------------------
STAFFING_COLUMNS = [
    "start",
    "queue",
    "calls",
    "aht",
    "erlangs",
    "model",
    "agents",
    "scheduled",
    "service_level",
    "asa",
    "occupancy",
    "waiting_probability",
    "abandon_rate",
]


def _staffing(args: argparse.Namespace) -> int:
    from callcenter.planning.demand import load_demand
    from callcenter.planning.staffing import Load, Target, required

    target = Target(
        None if args.no_sl else args.sl,
        args.seconds,
        args.asa,
        args.max_occupancy,
        args.shrinkage,
        args.max_abandon,
    )
    rows: list[list[Cell]] = []
    if args.demand:
        if args.calls is not None or args.aht is not None:
            raise Usage("--demand gives the calls and handle times: drop --calls and --aht")
        demand = load_demand(args.demand)
        for q in demand.queues:
            patience = args.patience if args.patience is not None else q.patience
            for k in range(demand.intervals):
                load = Load(q.calls[k], demand.interval_seconds, q.aht[k], patience)
                rows.append(_staffing_row(demand.label(k), q.queue, load, required(load, target)))
    else:
        if args.calls is None or args.aht is None:
            raise Usage("give --calls and --aht (and --interval), or --demand FILE")
        load = Load(args.calls, _INTERVALS[args.interval], args.aht, args.patience)
        rows.append(_staffing_row("-", "-", load, required(load, target)))
    _print(STAFFING_COLUMNS, rows, args.format)
    return 0


def _staffing_row(start: str, queue: str, load: Any, s: Any) -> list[Cell]:
    return [
        start,
        queue,
        _r(load.calls, 2),
        _r(load.aht, 1),
        _r(s.intensity),
        s.model,
        s.agents,
        s.scheduled,
        _r(s.service_level),
        _r(s.asa, 1),
        _r(s.occupancy),
        _r(s.waiting_probability),
        _r(s.abandon_rate),
    ]


# -- simulate ---------------------------------------------------------------------------------------
_SKILL = re.compile(r"^([A-Za-z0-9_.-]{1,64})(?::([0-9]{1,2}))?$")


def _skill(text: str, flag: str) -> tuple[str, int]:
    found = _SKILL.match(text)
    if found is None:
        raise Usage(f"{flag} {text!r}: expected SKILL or SKILL:LEVEL (e.g. billing:3)")
    level = int(found.group(2) or 1)
    if not 1 <= level <= 10:
        raise Usage(f"{flag} {text!r}: a level from 1 to 10")
    return found.group(1), level


def _scenario(args: argparse.Namespace, settings: Settings) -> tuple[Any, list[Any], dict[str, Any], Any]:
    """The demand, the configured roster with ``--add``'s agents, the queues with ``--target``."""
    from callcenter.planning.demand import load_demand
    from callcenter.planning.roster import configured
    from callcenter.planning.search import added_agents, with_target

    demand = load_demand(args.demand)
    agents, queues, acd_config = configured(settings)
    if args.target:
        sl, _, seconds = args.target.partition("/")
        try:
            queues = with_target(demand, queues, _share(sl), float(seconds or 20))
        except (ValueError, argparse.ArgumentTypeError) as err:
            raise Usage(f"--target {args.target!r}: expected SL/SECONDS, e.g. 0.8/20") from err
    for spec in args.add:
        skill, _, count = spec.rpartition("=")
        if not skill or not count.isdigit():
            raise Usage(f"--add {spec!r}: expected SKILL[:LEVEL]=N, e.g. billing:3=5")
        name, level = _skill(skill, "--add")
        agents += added_agents(demand, queues, name, level, int(count))
    return demand, agents, queues, acd_config


def _simulate(args: argparse.Namespace, settings: Settings) -> int:
    from callcenter.planning.search import agents_for_targets
    from callcenter.planning.simulate import SimConfig, simulate

    demand, agents, queues, acd_config = _scenario(args, settings)
    config = SimConfig(args.seed, args.ring, args.handle_cv, args.warmup)
    began = time.perf_counter()
    if args.search:
        name, level = _skill(args.search, "--search")
        found = agents_for_targets(
            demand, agents, queues, name, level, acd_config=acd_config, config=config, limit=args.limit
        )
        result = found.result
        joined = ", ".join(found.joined)
        if found.added is None:
            said = f"simulate: {args.limit} more agents with {name}:{level} (joining {joined}) "
            said += f"leave {', '.join(found.missing)} below target"
        else:
            said = f"{found.added} agent(s) with {name}:{level} (joining {joined}) bring every queue to "
            said += "its target; runs: " + ", ".join(f"+{n}: {m} below" for n, m in found.tried)
        print(said, file=sys.stderr)
    else:
        result = simulate(demand, agents, queues, acd_config, config)
    wall = time.perf_counter() - began
    columns, rows = _simulated_table(result, demand, args.intervals)
    _print(columns, rows, args.format)
    hours = result.contact_seconds / 3600
    print(
        f"{result.calls} callers, {hours:.1f} contact-hours simulated in {wall:.1f} s; "
        f"occupancy {_r(result.occupancy)}; still waiting at the end: {result.waiting_at_end}",
        file=sys.stderr,
    )
    return 0


def _figures(f: Any) -> list[Cell]:
    return [f.offered, f.answered, f.abandoned, f.exited, f.overflowed, _r(f.service_level)]


def _simulated_table(result: Any, demand: Any, intervals: bool) -> tuple[list[str], list[list[Cell]]]:
    columns = ["queue", "agents", "offered", "answered", "abandoned", "exited", "overflowed"]
    columns += ["service_level", "target", "asa", "abandon_rate", "occupancy"]
    rows: list[list[Cell]] = []
    for q in result.queues:
        f = q.figures
        target = f"{q.service_level_target:g}/{q.service_level_seconds:g}s"
        rows.append(
            [q.queue, q.agents, *_figures(f), target, _r(f.asa, 1), _r(f.abandon_rate), _r(q.occupancy)]
        )
    if intervals:
        columns = ["start", *columns]
        rows = [["all", *r] for r in rows]
        for i in result.intervals:
            f = i.figures
            label = demand.label(i.interval)
            rows.append([label, i.queue, None, *_figures(f), None, _r(f.asa, 1), _r(f.abandon_rate), None])
    return columns, rows


# -- forecast ---------------------------------------------------------------------------------------
def _day(text: str, flag: str) -> int:
    try:
        day = date.fromisoformat(text)
    except ValueError as err:
        raise Usage(f"{flag} {text!r}: a day, YYYY-MM-DD") from err
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


async def _history(args: argparse.Namespace, settings: Settings, since: int, start: int) -> list[Any]:
    """The report tables' queue rows of ``[since, start)`` as the forecast's history."""
    from callcenter.errors import StorageError
    from callcenter.planning.forecast import Observed
    from callcenter.storage.reports_store import ReportsStore

    store = ReportsStore(settings.database.url)
    try:
        await store.start()
        try:
            rows = await store.queue_rows(since, start)
        finally:
            await store.stop()
    except StorageError as err:
        raise Usage(f"{err}; is the schema current? run 'callcenter db upgrade'") from err
    wanted = None if not args.queue else set(args.queue)
    return [
        Observed(r.queue, r.start, r.offered, r.answered, r.talk_seconds + r.hold_seconds + r.wrap_up_seconds)
        for r in rows
        if wanted is None or r.queue in wanted
    ]


async def _forecast(args: argparse.Namespace, settings: Settings) -> int:
    from callcenter.planning.demand import dump_demand
    from callcenter.planning.forecast import DAY, fmt_share, forecast

    start = _day(args.start, "--start") if args.start else (int(time.time()) // DAY + 1) * DAY
    if not 1 <= args.history_days <= 3660:
        raise Usage("--history-days: 1 to 3660")
    since = start - args.history_days * DAY
    history = await _history(args, settings, since, start)
    interval = _INTERVALS[args.interval]
    result = forecast(history, start, args.days, interval_seconds=interval, holdout_weeks=args.holdout_weeks)
    if args.format == "demand":
        lines = [f"# callcenter forecast from {args.history_days} days of history before the start"]
        for q in result.queues:
            a = q.accuracy
            backtest = "no backtest (too little history)"
            if a is not None:
                backtest = f"backtest on {a.weeks} held-back week(s): WAPE {fmt_share(a.wape)} per interval, "
                backtest += f"{fmt_share(a.daily_wape)} per day, AHT {fmt_share(a.aht_wape)}"
            lines.append(f"# {q.queue}: {q.method}; {backtest}")
        print("\n".join(lines))
        print(dump_demand(result.demand(args.patience)), end="")
        return 0
    summary_columns, summary = _forecast_summary(result)
    if args.format == "summary":
        _print(summary_columns, summary, "table")
        return 0
    detail: list[list[Cell]] = []
    demand = result.demand()
    for q in result.queues:
        wape = None if q.accuracy is None else _r(q.accuracy.wape)
        daily = None if q.accuracy is None else _r(q.accuracy.daily_wape)
        for k in range(result.intervals):
            detail.append([demand.label(k), q.queue, round(q.calls[k], 2), q.aht[k], wape, daily])
    if args.format == "table":
        _print(summary_columns, summary, "table")
        print()
    columns = ["start", "queue", "calls", "aht", "wape", "daily_wape"]
    _print(columns, detail, "csv" if args.format == "csv" else "table")
    return 0


def _forecast_summary(result: Any) -> tuple[list[str], list[list[Cell]]]:
    columns = ["queue", "method", "calls", "mean_aht", "backtest_weeks", "wape", "daily_wape", "aht_wape"]
    rows: list[list[Cell]] = []
    for q in result.queues:
        a = q.accuracy
        calls = sum(q.calls)
        mean_aht = sum(c * t for c, t in zip(q.calls, q.aht, strict=True)) / calls if calls else None
        backtest: list[Cell] = (
            [None] * 4 if a is None else [a.weeks, _r(a.wape), _r(a.daily_wape), _r(a.aht_wape)]
        )
        rows.append([q.queue, q.method, round(calls, 1), _r(mean_aht, 1), *backtest])
    return columns, rows

"""``callcenter report backfill|queues|agents|adherence|fcr|conversations|surveys`` (docs/reports.md).

``backfill --from --to`` recomputes the 15-minute tables of a period from the event log (a day at a
time, with a progress bar); it may run while the server runs: a recomputed range replaces itself
with the same rows. The others print a report as a table or CSV, or write it to
``--output`` (an Excel workbook with ``--format xlsx``). Exit status: 0,
2 for bad arguments or a database that cannot be read.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from callcenter.core.reports.aggregate import QueueSettings, queue_settings
from callcenter.core.reports.intervals import QUARTER, Granularity
from callcenter.core.reports.resolution import DEFAULT_WINDOW_DAYS, FCR_GROUPS
from callcenter.core.reports.rollup import GROUPS, Filters
from callcenter.core.surveys.scores import SURVEY_GROUPS
from callcenter.errors import StorageError
from callcenter.reports.query import (
    BadQuery,
    ReportQuery,
    adherence_report,
    agents_report,
    conversations_report,
    fcr_report_table,
    queues_report,
    surveys_report,
    to_csv,
    to_text,
    to_xlsx,
)
from callcenter.settings import ConfigError, Settings

DAY = 86400


def add_parser(sub: Any) -> None:
    report = sub.add_parser("report", help="historical reports from the event log")
    actions = report.add_subparsers(dest="report_action", required=True)
    backfill = actions.add_parser("backfill", help="recompute the report tables of a period")
    backfill.add_argument("--from", dest="start", help="first day (YYYY-MM-DD; default: the log's first)")
    backfill.add_argument("--to", dest="end", help="last day, included (default: the log's last)")
    reports = (
        ("queues", "per queue"),
        ("agents", "per agent"),
        ("adherence", "of the scheduled agents to their shifts"),
        ("fcr", "first-contact resolution across channels"),
        ("conversations", "of chats and messages: first response, resolution"),
        ("surveys", "of customer satisfaction: CSAT and NPS of post-contact surveys"),
    )
    for name, what in reports:
        shown = actions.add_parser(name, help=f"the report {what}")
        shown.add_argument("--from", dest="start", required=True, help="YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC)")
        shown.add_argument("--to", dest="end", required=True, help="a day (included) or a time (excluded)")
        shown.add_argument("--interval", default="15m", choices=[g.value for g in Granularity])
        shown.add_argument("--format", default="table", choices=["table", "csv", "xlsx"])
        shown.add_argument("--output", help="write to this file (needed for --format xlsx)")
        shown.add_argument("--queue", action="append", help="only this queue (repeatable)")
        shown.add_argument("--agent", action="append", help="only this agent (repeatable)")
        shown.add_argument("--channel", action="append", help="only this channel (repeatable)")
        shown.add_argument("--line", action="append", help="only this business line (repeatable)")
        if name == "queues":
            shown.add_argument(
                "--by", default="queue", choices=list(GROUPS), help="rows per queue, channel, line"
            )
        if name in ("fcr", "conversations"):
            shown.add_argument(
                "--by", default="queue", choices=list(FCR_GROUPS), help="rows per queue, agent, channel, line"
            )
        if name == "surveys":
            shown.add_argument(
                "--by",
                default="queue",
                choices=list(SURVEY_GROUPS),
                help="rows per agent, queue, channel, line",
            )
        if name == "fcr":
            shown.add_argument(
                "--days",
                type=int,
                default=DEFAULT_WINDOW_DAYS,
                help="a contact is repeated when its customer comes back within these days (1-90)",
            )


def _set(values: list[str] | None) -> frozenset[str] | None:
    return None if not values else frozenset(values)


def _queue_settings(settings: Settings) -> dict[str, QueueSettings]:
    if settings.acd.queues_file is None:
        return {}
    from callcenter.settings.queues_file import load_queues

    return queue_settings(load_queues(settings.acd.queues_file).values())


def main(args: argparse.Namespace, settings: Settings) -> int:
    try:
        if args.report_action == "backfill":
            return asyncio.run(_backfill(args, settings))
        filters = Filters(_set(args.queue), _set(args.agent), _set(args.channel), _set(args.line))
        groups = FCR_GROUPS if args.report_action in ("fcr", "conversations") else GROUPS
        groups = SURVEY_GROUPS if args.report_action == "surveys" else groups
        if args.report_action == "fcr" and not 1 <= args.days <= 90:
            raise BadQuery("--days: must be from 1 to 90")
        query = ReportQuery.parse(
            args.start, args.end, args.interval, filters, getattr(args, "by", "queue"), groups
        )
        if args.format == "xlsx" and not args.output:
            raise BadQuery("--format xlsx: give --output FILE (a workbook is not text for a terminal)")
        return asyncio.run(_show(args, settings, query))
    except (BadQuery, ConfigError) as err:
        print(f"report: {err}", file=sys.stderr)
        return 2
    except StorageError as err:
        print(f"report: {err}; is the schema current? run 'callcenter db upgrade'", file=sys.stderr)
        return 2


async def _show(args: argparse.Namespace, settings: Settings, query: ReportQuery) -> int:
    from callcenter.storage.reports_store import ReportsStore

    known = _queue_settings(settings)
    store = ReportsStore(settings.database.url, settings=lambda: known)
    await store.start()
    try:
        if args.report_action == "queues":
            columns, rows = await queues_report(store, query)
        elif args.report_action == "fcr":
            columns, rows = await fcr_report_table(store, query, args.days, time.time())
        elif args.report_action == "conversations":
            columns, rows = await conversations_report(store, query)
        elif args.report_action == "surveys":
            columns, rows = await surveys_report(store, query)
        elif args.report_action == "adherence":
            columns, rows = await _adherence(settings, store, query)
        else:
            columns, rows = await agents_report(store, query)
    finally:
        await store.stop()
    if args.format == "xlsx":
        await asyncio.to_thread(Path(args.output).write_bytes, to_xlsx(columns, rows, args.report_action))
        print(f"{len(rows)} row(s) written to {args.output}")
        return 0
    text = to_csv(columns, rows) if args.format == "csv" else to_text(columns, rows)
    if args.output:
        await asyncio.to_thread(Path(args.output).write_text, text, "utf-8")
        return 0
    print(text, end="")
    return 0


async def _adherence(settings: Settings, store: Any, query: ReportQuery) -> tuple[list[str], list[list[Any]]]:
    from callcenter.storage.schedule_store import ScheduleStore

    schedule = ScheduleStore(settings.database.url)
    await schedule.start()
    try:
        return await adherence_report(store, schedule, query, time.time())
    finally:
        await schedule.stop()


async def _backfill(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from callcenter.reports.query import parse_time
    from callcenter.storage.reports_store import ReportsStore

    known = _queue_settings(settings)
    store = ReportsStore(settings.database.url, settings=lambda: known)
    await store.start()
    try:
        span = await store.log_span()
        if span is None and (args.start is None or args.end is None):
            print("report: the event log is empty: nothing to backfill")
            return 0
        start = parse_time(args.start, "from") if args.start else int(span[0]) if span else 0
        end = parse_time(args.end, "to", end=True) if args.end else int(span[1]) + 1 if span else 0
        if end <= start:
            raise BadQuery("to: must not be before from")
        start -= start % QUARTER
        now = time.time()
        days = range(start, end, DAY)
        queues = states = 0
        with tqdm(total=len(days), desc="backfill", unit="day", file=sys.stderr) as bar:
            for day in days:
                rows = await store.rebuild(day, min(day + DAY, end + (-end % QUARTER)), now)
                queues += len(rows.queues)
                states += len(rows.agent_states)
                bar.update(1)
    finally:
        await store.stop()
    print(f"report tables rebuilt for {len(days)} day(s): {queues} queue rows, {states} agent-state rows")
    return 0

"""A report request (period, interval, filters) and its answer as a table: shared by
``callcenter report`` and ``/api/reports/...``, so both give the same columns and figures.

The stored 15-minute rows come through :class:`ReportRows` (implemented by
``storage/reports_store.py``); rolling up and the derived figures are the pure core's
(``core/reports/rollup.py``). Times are UTC. A period's ``to`` given as a date includes that day.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from callcenter.core.reports.adherence import AdherenceRow, Shift, adherence
from callcenter.core.reports.aggregate import AgentContactRow, AgentStateRow, QueueRow
from callcenter.core.reports.conversations import Conversation, ConversationFigures, conversation_report
from callcenter.core.reports.intervals import Granularity
from callcenter.core.reports.resolution import Contact, FcrFigures, fcr_report, judge
from callcenter.core.reports.rollup import (
    EVERYTHING,
    GROUPS,
    AgentFigures,
    Filters,
    QueueFigures,
    agent_report,
    queue_report,
)
from callcenter.core.surveys.model import Response
from callcenter.core.surveys.scores import SurveyFigures, survey_report

Cell = str | int | float | None
#: The longest period one request may cover (the rows of a year of 15-minute intervals).
MAX_DAYS = 400


class ReportRows(Protocol):
    """The stored 15-minute rows of the intervals beginning in ``[start, end)``."""

    async def queue_rows(self, start: int, end: int) -> list[QueueRow]: ...

    async def agent_rows(self, start: int, end: int) -> tuple[list[AgentStateRow], list[AgentContactRow]]: ...

    async def contacts(self, start: int, end: int) -> list[Contact]: ...

    async def conversations(self, start: int, end: int) -> list[Conversation]: ...

    async def survey_responses(self, start: int, end: int) -> list[Response]: ...

    async def complete_until(self) -> float | None: ...


class ShiftSource(Protocol):
    """The stored schedule (implemented by ``storage/schedule_store.py``)."""

    async def shifts(self, start: int, end: int, agents: Sequence[str] | None = None) -> list[Shift]: ...


class BadQuery(ValueError):
    """A report request that cannot be answered; the message says which parameter and why."""


def parse_time(text: str, name: str, *, end: bool = False) -> int:
    """``2026-12-01`` (a day: its start, or for ``end`` the start of the next day) or an ISO time
    (``2026-12-01T10:00``, UTC unless it carries an offset) → epoch seconds."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1 if end else 0)
        else:
            moment = datetime.fromisoformat(text)
            moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    except ValueError as err:
        raise BadQuery(f"{name}: {text!r} is not a date (YYYY-MM-DD) or a time (YYYY-MM-DDTHH:MM)") from err
    return int(moment.timestamp())


@dataclass(frozen=True, slots=True)
class ReportQuery:
    start: int
    end: int
    granularity: Granularity
    filters: Filters = EVERYTHING
    by: str = "queue"  # a queue report's groups: queue, channel, line or all

    @classmethod
    def parse(
        cls,
        start: str,
        end: str,
        interval: str = "15m",
        filters: Filters = EVERYTHING,
        by: str = "queue",
        groups: Sequence[str] = GROUPS,
    ) -> ReportQuery:
        a, b = parse_time(start, "from"), parse_time(end, "to", end=True)
        if b <= a:
            raise BadQuery("to: must be after from")
        if b - a > MAX_DAYS * 86400:
            raise BadQuery(f"to: at most {MAX_DAYS} days after from")
        try:
            granularity = Granularity(interval)
        except ValueError as err:
            choices = ", ".join(g.value for g in Granularity)
            raise BadQuery(f"interval: {interval!r} is not one of {choices}") from err
        if by not in groups:
            raise BadQuery(f"by: {by!r} is not one of {', '.join(groups)}")
        return cls(a, b, granularity, filters, by)


def _iso(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%MZ")


def _r(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


QUEUE_COLUMNS = (
    "start",
    "queue",
    "offered",
    "answered",
    "answered_in_sl",
    "service_level",
    "abandoned",
    "short_abandoned",
    "abandon_rate",
    "asa",
    "longest_wait",
    "average_talk",
    "average_hold",
    "average_wrap_up",
    "aht",
    "transfers",
    "callbacks_requested",
    "callbacks_completed",
    "overflowed",
    "exited",
)


def queue_table(figures: Sequence[QueueFigures], by: str = "queue") -> tuple[list[str], list[list[Cell]]]:
    rows: list[list[Cell]] = []
    for f in figures:
        t = f.totals
        rows.append(
            [
                _iso(f.start),
                f.group,
                t.offered,
                t.answered,
                t.answered_in_sl,
                _r(f.service_level, 3),
                t.abandoned,
                t.short_abandoned,
                _r(f.abandon_rate, 3),
                _r(f.asa),
                _r(t.wait_max),
                _r(f.average_talk),
                _r(f.average_hold),
                _r(f.average_wrap_up),
                _r(f.aht),
                t.transfers,
                t.callbacks_requested,
                t.callbacks_completed,
                t.overflowed,
                t.exited,
            ]
        )
    return ["start", by, *QUEUE_COLUMNS[2:]], rows


AGENT_STATES = ("available", "offered", "busy", "wrap_up", "paused")


def agent_table(figures: Sequence[AgentFigures]) -> tuple[list[str], list[list[Cell]]]:
    reasons = sorted({r for f in figures for r, _ in f.pauses})
    channels = sorted({c for f in figures for c, _ in f.handled})
    columns = ["start", "agent", "logged_in", *AGENT_STATES, "occupancy", "utilization", "contacts", "talk"]
    columns += [f"pause:{r or '-'}" for r in reasons] + [f"handled:{c}" for c in channels]
    rows: list[list[Cell]] = []
    for f in figures:
        pauses, handled = dict(f.pauses), dict(f.handled)
        row: list[Cell] = [_iso(f.start), f.agent, _r(f.logged_in)]
        row += [_r(f.seconds(s)) for s in AGENT_STATES]
        row += [_r(f.occupancy, 3), _r(f.utilization, 3), f.contacts, _r(f.talk_seconds)]
        row += [_r(pauses.get(r, 0.0)) for r in reasons] + [handled.get(c, 0) for c in channels]
        rows.append(row)
    return columns, rows


async def queues_report(source: ReportRows, query: ReportQuery) -> tuple[list[str], list[list[Cell]]]:
    rows = await source.queue_rows(query.start, query.end)
    return queue_table(queue_report(rows, query.granularity, query.filters, by=query.by), query.by)


async def agents_report(
    source: ReportRows,
    query: ReportQuery,
    agent_lines: Callable[[str], frozenset[str] | None] = lambda _: None,
) -> tuple[list[str], list[list[Cell]]]:
    states, contacts = await source.agent_rows(query.start, query.end)
    return agent_table(agent_report(states, contacts, query.granularity, query.filters, agent_lines))


ADHERENCE_COLUMNS = (
    "start",
    "agent",
    "scheduled_minutes",
    "working_minutes",
    "in_adherence_minutes",
    "out_of_adherence_minutes",
    "adherence",
)


def adherence_table(figures: Sequence[AdherenceRow]) -> tuple[list[str], list[list[Cell]]]:
    rows: list[list[Cell]] = [
        [
            _iso(f.start),
            f.agent,
            _r(f.scheduled_seconds / 60),
            _r(f.working_seconds / 60),
            _r(f.in_adherence_seconds / 60),
            _r(f.out_of_adherence_seconds / 60),
            _r(f.adherence, 3),
        ]
        for f in figures
    ]
    return list(ADHERENCE_COLUMNS), rows


async def adherence_report(
    source: ReportRows,
    schedule: ShiftSource,
    query: ReportQuery,
    now: float,
    agent_lines: Callable[[str], frozenset[str] | None] = lambda _: None,
) -> tuple[list[str], list[list[Cell]]]:
    """Each scheduled agent's adherence per interval (core/reports/adherence.py), judged up to the
    time the report tables are complete (the job's last run; ``now`` if it never ran)."""
    agents = query.filters.agents
    shifts = await schedule.shifts(query.start, query.end, None if agents is None else sorted(agents))
    states, _ = await source.agent_rows(query.start, query.end)
    until = await source.complete_until()
    found = adherence(
        shifts, states, query.start, query.end, now if until is None else until, query.granularity
    )
    lines = query.filters.lines

    def visible(agent: str) -> bool:
        known = agent_lines(agent)
        return lines is None or known is None or bool(known & lines)

    return adherence_table([f for f in found if visible(f.agent)])


FCR_COLUMNS = ("handled", "resolved", "repeated", "repeated_elsewhere", "pending", "fcr")


def fcr_table(figures: Sequence[FcrFigures], by: str = "queue") -> tuple[list[str], list[list[Cell]]]:
    rows: list[list[Cell]] = [
        [
            _iso(f.start),
            f.group,
            f.handled,
            f.resolved,
            f.repeated,
            f.repeated_elsewhere,
            f.pending,
            _r(f.fcr, 3),
        ]
        for f in figures
    ]
    return ["start", by, *FCR_COLUMNS], rows


async def fcr_report_table(
    source: ReportRows, query: ReportQuery, window_days: int, now: float
) -> tuple[list[str], list[list[Cell]]]:
    """First-contact resolution of the contacts begun in the query's period: a contact is repeated
    when its customer comes back on any channel within ``window_days`` (the repeats are read up to
    ``window_days`` past the period, or now)."""
    window = window_days * 86400
    everything = await source.contacts(query.start, min(query.end + window, int(now) + 1))
    judged = [j for j in judge(everything, window, now) if query.start <= j.contact.at < query.end]
    return fcr_table(fcr_report(judged, query.granularity, query.filters, by=query.by), query.by)


CONVERSATION_COLUMNS = (
    "conversations",
    "answered",
    "replied",
    "average_first_response",
    "longest_first_response",
    "resolved",
    "average_resolution",
    "messages_in",
    "messages_out",
    "messages_per_conversation",
)


def conversation_table(
    figures: Sequence[ConversationFigures], by: str = "queue"
) -> tuple[list[str], list[list[Cell]]]:
    rows: list[list[Cell]] = [
        [
            _iso(f.start),
            f.group,
            f.conversations,
            f.answered,
            f.replied,
            _r(f.average_first_response),
            _r(f.first_response_max) if f.replied else None,
            f.resolved,
            _r(f.average_resolution),
            f.messages_in,
            f.messages_out,
            _r(f.messages_per_conversation),
        ]
        for f in figures
    ]
    return ["start", by, *CONVERSATION_COLUMNS], rows


async def conversations_report(source: ReportRows, query: ReportQuery) -> tuple[list[str], list[list[Cell]]]:
    found = await source.conversations(query.start, query.end)
    return conversation_table(
        conversation_report(found, query.granularity, query.filters, by=query.by), query.by
    )


SURVEY_COLUMNS = (
    "asked",
    "answered",
    "response_rate",
    "csat_answers",
    "satisfied",
    "csat",
    "csat_average",
    "nps_answers",
    "promoters",
    "passives",
    "detractors",
    "nps",
    "low",
)


def survey_table(figures: Sequence[SurveyFigures], by: str = "queue") -> tuple[list[str], list[list[Cell]]]:
    rows: list[list[Cell]] = [
        [
            _iso(f.start),
            f.group,
            f.asked,
            f.answered,
            _r(f.response_rate, 3),
            f.csat_answers,
            f.satisfied,
            _r(f.csat, 3),
            _r(f.csat_average, 2),
            f.nps_answers,
            f.promoters,
            f.passives,
            f.detractors,
            _r(f.nps),
            f.low,
        ]
        for f in figures
    ]
    return ["start", by, *SURVEY_COLUMNS], rows


async def surveys_report(source: ReportRows, query: ReportQuery) -> tuple[list[str], list[list[Cell]]]:
    """CSAT and NPS of the surveys asked in the query's period (docs/reports.md)."""
    found = await source.survey_responses(query.start, query.end)
    return survey_table(survey_report(found, query.granularity, query.filters, by=query.by), query.by)


def _cell(value: Cell) -> Cell:
    # A text cell a spreadsheet would run as a formula (=, +, -, @) is written as text.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def to_csv(columns: Sequence[str], rows: Sequence[Sequence[Cell]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([_cell(c) for c in columns])
    writer.writerows([_cell(c) for c in row] for row in rows)
    return out.getvalue()


def to_xlsx(columns: Sequence[str], rows: Sequence[Sequence[Cell]], title: str = "report") -> bytes:
    """The table as an Excel workbook (openpyxl): one sheet, the header row bold and frozen, numbers
    as numbers; text a spreadsheet would run as a formula is kept as text, as in the CSV."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook(write_only=False)
    sheet = book.active
    assert sheet is not None
    sheet.title = title[:31]
    sheet.append([str(c) for c in columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([_xlsx_cell(c) for c in row])
    sheet.freeze_panes = "A2"
    for n, name in enumerate(columns, start=1):
        width = max([len(str(name)), *(len(str(r[n - 1])) for r in rows[:200] if r[n - 1] is not None)])
        sheet.column_dimensions[sheet.cell(1, n).column_letter].width = min(40, width + 2)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _xlsx_cell(value: Cell) -> Cell:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value  # never a formula
    return value


def to_text(columns: Sequence[str], rows: Sequence[Sequence[Cell]]) -> str:
    """An aligned plain-text table (numbers to the right, "-" for no value)."""
    cells = [list(columns)] + [["-" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[n]) for r in cells) for n in range(len(columns))]
    numeric = [
        all(isinstance(row[n], int | float) or row[n] is None for row in rows) for n in range(len(columns))
    ]
    lines = [
        "  ".join(
            c.rjust(w) if numeric[n] else c.ljust(w) for n, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in cells
    ]
    return "\n".join(line.rstrip() for line in lines) + "\n"

"""``/api/reports/queues``, ``/agents``, ``/adherence``, ``/fcr``, ``/conversations``, ``/surveys`` and the
``/reports`` page
(docs/reports.md).

Supervisors and admins only; a user limited to business lines gets the rows of those lines (queue
rows by the call's line, agents by the lines of the queues they serve) and a 403 for asking for
another line. JSON (columns and rows), CSV or XLSX, the same table as ``callcenter report``.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from callcenter.accounts.principal import Principal
from callcenter.core.reports.conversations import CONVERSATION_GROUPS
from callcenter.core.reports.resolution import DEFAULT_WINDOW_DAYS, FCR_GROUPS
from callcenter.core.reports.rollup import GROUPS, Filters
from callcenter.core.surveys.scores import SURVEY_GROUPS
from callcenter.errors import StorageError
from callcenter.reports.query import (
    BadQuery,
    ReportQuery,
    ReportRows,
    ShiftSource,
    adherence_report,
    agents_report,
    conversations_report,
    fcr_report_table,
    queues_report,
    surveys_report,
    to_csv,
    to_xlsx,
)
from callcenter.web.api import SERVICE, queue_line
from callcenter.web.auth import PRINCIPAL, allow
from callcenter.web.http import error, json_response, read_query
from callcenter.web.openapi import doc
from callcenter.web.pages import add_nav, render

log = logging.getLogger(__name__)

REPORTS = web.AppKey("reports", ReportRows)
SCHEDULE = web.AppKey("schedule", ShiftSource)
_NAME = r"^[A-Za-z0-9_.:@+-]{1,64}(,[A-Za-z0-9_.:@+-]{1,64}){0,49}$"
_SCOPED = "a user limited to business lines gets only the rows of those lines"


class _Period(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str = Field(alias="from", max_length=25, description="first day (YYYY-MM-DD) or time, UTC")
    to: str = Field(max_length=25, description="last day (included) or time (excluded), UTC")
    interval: Literal["15m", "hour", "day", "week", "month"] = Field("15m", description="rows per")
    queue: str | None = Field(None, pattern=_NAME, description="only these queues (comma-separated)")
    agent: str | None = Field(None, pattern=_NAME, description="only these agents (comma-separated)")
    channel: str | None = Field(None, pattern=_NAME, description="only these channels (comma-separated)")
    line: str | None = Field(None, pattern=_NAME, description="only these business lines (comma-separated)")
    format: Literal["json", "csv", "xlsx"] = Field(
        "json", description="json (columns, rows), csv, or xlsx (an Excel workbook)"
    )


class ReportParams(_Period):
    by: Literal["queue", "channel", "line", "all"] = Field(
        "queue", description="queue reports: a row per queue, channel, line, or all together"
    )


class ConversationParams(_Period):
    by: Literal["queue", "agent", "channel", "line", "all"] = Field(
        "queue", description="a row per queue, agent, channel, line, or all together"
    )


class FcrParams(ConversationParams):
    days: int = Field(
        DEFAULT_WINDOW_DAYS,
        ge=1,
        le=90,
        description="a contact is repeated when its customer comes back, on any channel, within these days",
    )


def _names(text: str | None) -> frozenset[str] | None:
    return None if text is None else frozenset(text.split(","))


def _query(
    request: web.Request, model: type[_Period] = ReportParams, groups: Sequence[str] = GROUPS
) -> ReportQuery | web.Response:
    params = read_query(request, model)
    principal: Principal = request[PRINCIPAL]
    lines = _names(params.line)
    if principal.lines is not None:
        if lines is not None and not lines <= principal.lines:
            return error(403, "line: not one of your business lines")
        lines = lines if lines is not None else principal.lines
    filters = Filters(_names(params.queue), _names(params.agent), _names(params.channel), lines)
    try:
        return ReportQuery.parse(
            params.from_, params.to, params.interval, filters, getattr(params, "by", "queue"), groups
        )
    except BadQuery as err:
        return error(400, str(err))


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _answer(request: web.Request, name: str, columns: list[str], rows: list[list[Any]]) -> web.Response:
    if request.query.get("format") == "xlsx":
        filename = f"{name}-{request.query.get('from', '')}-{request.query.get('to', '')}.xlsx"
        return web.Response(
            body=to_xlsx(columns, rows, name),
            content_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    if request.query.get("format") == "csv":
        filename = f"{name}-{request.query.get('from', '')}-{request.query.get('to', '')}.csv"
        return web.Response(
            text=to_csv(columns, rows),
            content_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    return json_response({"columns": columns, "rows": rows})


def _guarded(handler: Any) -> Any:
    """Database failures as 503 (``wraps`` keeps the handler's declared roles and documentation)."""

    @functools.wraps(handler)
    async def run(request: web.Request) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
        except StorageError as err:
            log.warning("reports.database_error", extra={"error": str(err)})
            return error(503, "the report tables are not available")
        return response

    return run


def _agent_lines(request: web.Request) -> Callable[[str], frozenset[str] | None]:
    service = request.app.get(SERVICE)

    def agent_lines(agent_id: str) -> frozenset[str] | None:
        if service is None:
            return frozenset()  # not known on this node: only for users who see every line
        agent = service.engine.agents.get(agent_id)
        if agent is None:
            return frozenset()
        return frozenset(line for q in agent.queues if (line := queue_line(service.engine, q)) is not None)

    return agent_lines


class SurveyParams(_Period):
    by: Literal["agent", "queue", "channel", "line", "all"] = Field(
        "queue", description="a row per agent, queue, channel, line, or all together"
    )


Rows = tuple[list[str], list[list[Any]]]


def _report(
    name: str,
    summary: str,
    run: Callable[[web.Request, ReportQuery], Awaitable[Rows]],
    model: type[_Period] = ReportParams,
    groups: Sequence[str] = GROUPS,
) -> Any:
    """The handler of one report: its query checked (and narrowed to the user's lines), the rows as
    JSON, CSV or XLSX, database failures as 503."""

    @doc(summary, query=model, errors=(400, 503), who=_SCOPED)
    @allow("supervisor", "admin")
    async def report(request: web.Request) -> web.Response:
        query = _query(request, model, groups)
        if isinstance(query, web.Response):
            return query
        columns, rows = await run(request, query)
        return _answer(request, name, columns, rows)

    return _guarded(report)


async def _queues(request: web.Request, query: ReportQuery) -> Rows:
    return await queues_report(request.app[REPORTS], query)


async def _agents(request: web.Request, query: ReportQuery) -> Rows:
    return await agents_report(request.app[REPORTS], query, _agent_lines(request))


async def _adherence(request: web.Request, query: ReportQuery) -> Rows:
    app = request.app
    return await adherence_report(app[REPORTS], app[SCHEDULE], query, time.time(), _agent_lines(request))


async def _fcr(request: web.Request, query: ReportQuery) -> Rows:
    days = read_query(request, FcrParams).days
    return await fcr_report_table(request.app[REPORTS], query, days, time.time())


async def _conversations(request: web.Request, query: ReportQuery) -> Rows:
    return await conversations_report(request.app[REPORTS], query)


async def _surveys(request: web.Request, query: ReportQuery) -> Rows:
    return await surveys_report(request.app[REPORTS], query)


REPORT_ROUTES = {
    "queues": _report(
        "queues",
        "Queue report: offered, answered, service level, abandons, ASA, AHT... per queue and interval",
        _queues,
    ),
    "agents": _report(
        "agents",
        "Agent report: logged-in time, time per state and pause reason, occupancy, contacts per channel",
        _agents,
    ),
    "adherence": _report(
        "adherence",
        "Schedule adherence: each scheduled agent's minutes on shift, in and out of adherence, and "
        "adherence (logged-in, open for contacts while working, away on breaks) per interval",
        _adherence,
    ),
    "fcr": _report(
        "fcr",
        "First-contact resolution across channels: handled contacts whose customer came back (on any "
        "channel) within `days`, per queue, agent, channel or line and interval",
        _fcr,
        FcrParams,
        FCR_GROUPS,
    ),
    "conversations": _report(
        "conversations",
        "Conversation report (chat and messages): first response, resolution time, messages in and "
        "out, per queue, agent, channel or line and interval",
        _conversations,
        ConversationParams,
        CONVERSATION_GROUPS,
    ),
    "surveys": _report(
        "surveys",
        "Customer satisfaction: post-contact surveys asked and answered, CSAT (share of 4-5) and NPS "
        "(promoters - detractors), per agent, queue, channel or line and interval",
        _surveys,
        SurveyParams,
        SURVEY_GROUPS,
    ),
}


@doc(
    "The reports page: period, interval, filters, a chart and the table, CSV and XLSX export",
    content="text/html",
)
@allow("supervisor", "admin")
async def page(request: web.Request) -> web.Response:
    return render(request, "reports.html")


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/reports", page)
    for name, handler in REPORT_ROUTES.items():
        app.router.add_get(f"/api/reports/{name}", handler)
    add_nav(app, "Reports", "/reports", "supervisor", "admin")

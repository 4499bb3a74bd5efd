"""``GET /api/planning`` and the ``/planning`` page (docs/reports.md, "Planning").

Supervisors and admins only. A plan is computed on request, on any node, from the report tables
(the forecast), the Erlang formulas (agents needed) and the simulator (the roster of this node's
directory through the routing engine): it holds no state. The work runs in a thread, bounded: at
most 7 days, and at most ``plan.MAX_SIMULATED`` forecast contacts. A user limited to business lines
gets the queues of those lines only.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from callcenter.accounts.principal import Principal
from callcenter.errors import StorageError
from callcenter.planning.forecast import DAY, Observed
from callcenter.planning.plan import Plan, PlanTooBig, QueuePlan, make_plan
from callcenter.planning.schedule import ScheduleError, ShiftRules
from callcenter.planning.staffing import StaffingError, Target
from callcenter.settings import ConfigError
from callcenter.web.api import DIRECTORY, SETTINGS
from callcenter.web.auth import PRINCIPAL, allow
from callcenter.web.http import error, json_response, read_query
from callcenter.web.openapi import doc
from callcenter.web.pages import add_nav, render
from callcenter.web.reports_api import REPORTS

log = logging.getLogger(__name__)
_NAME = r"^[A-Za-z0-9_.-]{1,64}(,[A-Za-z0-9_.-]{1,64}){0,49}$"
_INTERVALS = {"15m": 900, "30m": 1800, "hour": 3600}


class PlanParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="the first day planned (YYYY-MM-DD, UTC)")
    days: int = Field(1, ge=1, le=7, description="days planned")
    interval: Literal["15m", "30m", "hour"] = Field("hour", description="rows per")
    history_days: int = Field(91, ge=7, le=400, description="days of history the forecast reads")
    sl: float = Field(0.8, gt=0, lt=1, description="service-level target (share)")
    seconds: float = Field(20.0, gt=0, le=3600, description="service-level threshold, seconds")
    shrinkage: float = Field(0.3, ge=0, lt=1, description="share of paid time off the phones")
    max_occupancy: float = Field(1.0, gt=0, le=1, description="occupancy not to exceed")
    patience: float | None = Field(None, gt=0, le=3600, description="callers' mean patience (Erlang A)")
    queue: str | None = Field(None, pattern=_NAME, description="only these queues (comma-separated)")
    seed: int = Field(1, ge=0, le=2**31, description="the simulation's seed")
    shift_minutes: int = Field(480, ge=15, le=1440, description="shift length, breaks included (minutes)")
    break_minutes: int = Field(60, ge=0, le=240, description="one break per shift (minutes; 0: none)")
    day_starts: int = Field(
        0,
        ge=0,
        lt=1440,
        description="minutes past midnight (UTC) the scheduling day starts (no shift crosses it)",
    )


def _rules(p: PlanParams) -> ShiftRules:
    return ShiftRules(p.shift_minutes, p.break_minutes, max_search_seconds=5, day_start_minutes=p.day_starts)


def _day(text: str) -> int:
    day = date.fromisoformat(text)
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def _share(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _label(t: int | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%MZ")


def _shifts(q: QueuePlan) -> list[dict[str, Any]]:
    """The queue's shifts, alike ones counted together."""
    counted: dict[tuple[int, int, int | None, int | None], int] = {}
    for s in q.shifts:
        key = (s.start, s.end, s.break_start, s.break_end)
        counted[key] = counted.get(key, 0) + 1
    return [
        {"start": _label(a), "end": _label(b), "break_start": _label(c), "break_end": _label(d), "agents": n}
        for (a, b, c, d), n in counted.items()
    ]


def _body(plan: Plan) -> dict[str, Any]:
    def label(t: int) -> str:
        return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%MZ")

    return {
        "start": label(plan.start),
        "interval_seconds": plan.interval_seconds,
        "queues": [
            {
                "queue": q.queue,
                "method": q.method,
                "accuracy": None
                if q.accuracy is None
                else {
                    "weeks": q.accuracy.weeks,
                    "wape": _share(q.accuracy.wape),
                    "daily_wape": _share(q.accuracy.daily_wape),
                    "aht_wape": _share(q.accuracy.aht_wape),
                },
                "roster": q.roster,
                "rows": [
                    {
                        "start": label(r.start),
                        "calls": round(r.calls, 2),
                        "aht": round(r.aht, 1),
                        "agents": r.agents,
                        "scheduled": r.scheduled,
                        "erlang_service_level": _share(r.erlang_service_level),
                        "simulated_offered": r.simulated_offered,
                        "simulated_service_level": _share(r.simulated_service_level),
                        "simulated_asa": None if r.simulated_asa is None else round(r.simulated_asa, 1),
                        "on_shift": r.on_shift,
                    }
                    for r in q.rows
                ],
                "shifts": _shifts(q),
            }
            for q in plan.queues
        ],
    }


@doc(
    "A plan per queue and interval: forecast contacts and AHT (with the backtest's WAPE), agents "
    "needed by Erlang C/A (and scheduled, with shrinkage), the shifts covering them, and the "
    "roster's simulated service level",
    query=PlanParams,
    errors=(400, 503),
    who="a user limited to business lines gets only the queues of those lines",
)
@allow("supervisor", "admin")
async def plan(request: web.Request) -> web.Response:
    params = read_query(request, PlanParams)
    principal: Principal = request[PRINCIPAL]
    try:
        start = _day(params.start)
    except ValueError:
        return error(400, f"start: {params.start!r} is not a day (YYYY-MM-DD)")
    settings = request.app[SETTINGS]
    try:
        rows = await request.app[REPORTS].queue_rows(start - params.history_days * DAY, start)
    except StorageError as err:
        log.warning("planning.database_error", extra={"error": str(err)})
        return error(503, "the report tables are not available")
    wanted = None if params.queue is None else set(params.queue.split(","))
    target = Target(params.sl, params.seconds, None, params.max_occupancy, params.shrinkage)
    running = list(request.app[DIRECTORY].agents.values())
    rules = _rules(params)  # checked in work

    def work() -> Plan:
        from callcenter.planning.roster import configured

        agents, queues, acd_config = configured(settings, running)

        def visible(name: str, line: str) -> bool:
            # The reports' scope: a row's line is its calls' (docs/security.md).
            return (wanted is None or name in wanted) and (principal.lines is None or principal.may_see(line))

        history = [
            Observed(
                r.queue, r.start, r.offered, r.answered, r.talk_seconds + r.hold_seconds + r.wrap_up_seconds
            )
            for r in rows
            if visible(r.queue, r.line)
        ]
        return make_plan(
            history,
            start,
            params.days,
            _INTERVALS[params.interval],
            target,
            agents,
            queues,
            patience=params.patience,
            acd_config=acd_config,
            seed=params.seed,
            rules=rules,
        )

    try:
        result = await asyncio.to_thread(work)
    except (PlanTooBig, StaffingError, ScheduleError) as err:
        return error(400, str(err))
    except ConfigError as err:
        log.warning("planning.config_error", extra={"error": str(err)})
        return error(503, "the queues or agents file cannot be read")
    except ValueError as err:  # no history before the start
        return json_response({**_body(Plan(start, _INTERVALS[params.interval], ())), "note": str(err)})
    return json_response(_body(result))


@doc(
    "The planning page: forecast, agents needed and the simulated service level side by side",
    content="text/html",
)
@allow("supervisor", "admin")
async def page(request: web.Request) -> web.Response:
    return render(request, "planning.html")


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/planning", page)
    app.router.add_get("/api/planning", plan)
    add_nav(app, "Planning", "/planning", "supervisor", "admin")

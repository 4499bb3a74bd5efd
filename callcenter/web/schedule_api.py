"""``GET /api/agent/schedule``: the signed-in agent's own shifts (docs/reports.md, "Schedules"),
shown read-only on the agent panel. Agents only, and only their own: the agent comes from the
principal, never from the request. Read from the stored schedule on any node."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from callcenter.accounts.principal import Principal
from callcenter.errors import StorageError
from callcenter.web.auth import PRINCIPAL, allow
from callcenter.web.http import error, json_response, read_query
from callcenter.web.openapi import doc
from callcenter.web.reports_api import SCHEDULE

log = logging.getLogger(__name__)
DAY = 86400


class ScheduleParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days: int = Field(7, ge=1, le=31, description="days from today (UTC) on")


def _iso(t: int | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%MZ")


@doc(
    "The signed-in agent's own shifts from today on (start, end, break; UTC)",
    query=ScheduleParams,
    errors=(400, 503),
    who="agents see their own shifts only",
)
@allow("agent")
async def my_schedule(request: web.Request) -> web.Response:
    params = read_query(request, ScheduleParams)
    principal: Principal = request[PRINCIPAL]
    if principal.agent_id is None:
        return error(400, "this account is not linked to an agent")
    today = int(time.time()) // DAY * DAY
    try:
        shifts = await request.app[SCHEDULE].shifts(today, today + params.days * DAY, [principal.agent_id])
    except StorageError as err:
        log.warning("schedule.database_error", extra={"error": str(err)})
        return error(503, "the schedule is not available")
    return json_response(
        {
            "agent": principal.agent_id,
            "shifts": [
                {
                    "start": _iso(s.start),
                    "end": _iso(s.end),
                    "break_start": _iso(s.break_start),
                    "break_end": _iso(s.break_end),
                }
                for s in shifts
            ],
        }
    )


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/agent/schedule", my_schedule)

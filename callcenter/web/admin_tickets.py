"""The tickets file on a page (``/admin/tickets``): types and fields, the workflow per type, teams
and their transfer paths, routing rules, SLAs and calendars, triggers and e-mail copies, edited as
the YAML it is (docs/tickets.md).

The same rules as the queues editor (web/admin_config.py): an edit is checked by the start-up loader
(``parse_workflow``), refused with ``file:line: key: problem`` lines and nothing changed; accepted,
it is audited first (no audit row, no edit), written atomically and applied on this node at once.
With several nodes the file is shared: the other nodes' watchers read it within
``tickets.reload_seconds``.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from aiohttp import web
from pydantic import BaseModel, Field

from callcenter.files import write_atomically
from callcenter.settings import ConfigError
from callcenter.tickets.workflow_file import parse_workflow
from callcenter.web.admin_config import edited_text, error_answer, file_text, json_answer
from callcenter.web.api import SETTINGS
from callcenter.web.audit import record
from callcenter.web.auth import allow
from callcenter.web.openapi import doc
from callcenter.web.pages import add_nav, render
from callcenter.web.tickets_api import TICKETS


class Watched(Protocol):
    last_error: str | None  # the file on disk refused at its last reload (the running one stays)


WORKFLOW_WATCHER: web.AppKey[Watched] = web.AppKey("tickets_workflow_watcher")
NOT_SET = "tickets.workflow_file is not set: tickets are off"


class TicketsText(BaseModel):
    yaml: str = Field(description="the whole tickets file")


@doc("The tickets file editor (HTML)", content="text/html")
@allow("admin")
async def page(request: web.Request) -> web.Response:
    path = request.app[SETTINGS].tickets.workflow_file
    return render(request, "admin_tickets.html", file_path=str(path or ""))


def _running(request: web.Request) -> dict[str, list[str]]:
    tickets = request.app.get(TICKETS)
    if tickets is None:
        return {"types": [], "teams": []}
    return {"types": sorted(tickets.workflow.types), "teams": sorted(tickets.workflow.teams)}


@doc(
    "The tickets file (tickets.workflow_file) as text, the running types and teams, the last reload error",
    errors=(409,),
)
@allow("admin")
async def get_file(request: web.Request) -> web.Response:
    path = request.app[SETTINGS].tickets.workflow_file
    if path is None:
        return error_answer(409, NOT_SET)
    text = await file_text(path)
    if isinstance(text, web.Response):
        return text
    watcher = request.app.get(WORKFLOW_WATCHER)
    last_error = watcher.last_error if watcher is not None else None
    return json_answer({"path": str(path), "yaml": text, **_running(request), "last_error": last_error})


@doc(
    "Replace the tickets file: validated by the start-up loader (422 with file:line problems, nothing"
    " changed), audited, written atomically, applied at once (other nodes: at their next reload)",
    body=TicketsText,
    errors=(400, 409, 413, 422, 503),
)
@allow("admin")
async def put_file(request: web.Request) -> web.Response:
    path = request.app[SETTINGS].tickets.workflow_file
    if path is None:
        return error_answer(409, NOT_SET)
    text = await edited_text(request)
    if isinstance(text, web.Response):
        return text
    try:
        workflow = parse_workflow(text, str(path))
    except ConfigError as err:
        return error_answer(422, "The tickets file was not saved.", str(err).splitlines())
    # Audited before the file is written: no row, no edit (AuditUnavailable: 503).
    await record(
        request,
        "tickets.edited",
        str(path.name),
        {"types": sorted(workflow.types), "teams": sorted(workflow.teams)},
    )
    await asyncio.to_thread(write_atomically, path, text)
    tickets = request.app.get(TICKETS)
    if tickets is not None:
        tickets.set_workflow(workflow)
    return json_answer({"saved": True, **_running(request)})


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/admin/tickets", page)
    app.router.add_get("/api/admin/tickets", get_file)
    app.router.add_put("/api/admin/tickets", put_file)
    add_nav(app, "Ticket workflow", "/admin/tickets", "admin")

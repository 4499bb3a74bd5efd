"""Temporary access to tickets, approvals of high-risk actions, attachments (docs/tickets.md).

- ``/api/ticket-grants``: supervisors and admins grant a user one ticket or one team's tickets, to
  view or to work, for a number of minutes, and revoke it; a supervisor limited to business lines
  only within them. Each request judges the grants with the database's clock.
- Deleting a ticket, and changing its priority, asked by an agent, become a pending request that a
  supervisor or admin approves (the action runs then, once) or refuses; asked by a supervisor or an
  admin they are done at once. Every step is in the chained audit trail.
- Attachments: the bytes as the body (``?name=``), judged by their content (415), bounded (413).
"""

from __future__ import annotations

import functools
import logging
from typing import Any, Literal
from urllib.parse import quote

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from callcenter import metrics
from callcenter.accounts.model import UnknownUser
from callcenter.core.tickets.access import LEVELS, Approval, Grant, Level, duration, needs_approval
from callcenter.core.tickets.access import check_target as check_grant
from callcenter.core.tickets.ticket import Ticket
from callcenter.errors import RecordingError
from callcenter.tickets.access import TicketAccess, UploadRefused
from callcenter.tickets.access_records import NewGrant
from callcenter.web.api import SETTINGS
from callcenter.web.auth import PRINCIPAL, allow
from callcenter.web.http import error, json_response, read_json, read_query, streams_body
from callcenter.web.openapi import doc
from callcenter.web.pages import ACCOUNTS, add_nav, render
from callcenter.web.tickets_api import (
    _ID,
    _NAME,
    TICKET_ACCESS,
    TICKETS,
    Handler,
    _actor,
    _visible,
    attachment_view,
    guarded,
    ticket_view,
)

log = logging.getLogger(__name__)
_USER = r"^[a-z0-9_.@-]{1,64}$"
_TICKET = {"ticket_id": "the ticket"}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GrantBody(_Body):
    user: str = Field(pattern=_USER, description="the user name (an account or an API token's name)")
    ticket_id: str | None = Field(None, pattern=_ID, description="one ticket, or...")
    team: str | None = Field(None, pattern=_NAME, description="...every ticket of one team")
    level: Level = Field("view", description="view, or work (change, comment, upload)")
    minutes: int = Field(ge=1, le=43200, description="how long; it ends by itself")


class GrantsQuery(_Body):
    ticket: str | None = Field(None, pattern=_ID)
    team: str | None = Field(None, pattern=_NAME)


class PriorityBody(_Body):
    priority: str = Field(pattern=_NAME)
    reason: str = Field("", max_length=500, description="for the approver (an agent's request)")


class DeleteQuery(_Body):
    reason: str = Field("", max_length=500, description="for the approver (an agent's request)")


class ApprovalsQuery(_Body):
    state: Literal["pending", "approved", "refused"] | None = "pending"
    limit: int = Field(100, ge=1, le=500)


class DecisionBody(_Body):
    note: str = Field("", max_length=500)


class UploadQuery(_Body):
    name: str = Field(min_length=1, max_length=200, pattern=r"^[^/\\\x00-\x1f]+$")
    field: str | None = Field(None, pattern=_NAME, description="an attachment field of the ticket's type")


def _guarded(handler: Handler) -> Handler:
    """The tickets' guard (off, database down: 503), and a ticket not found: 404."""

    @functools.wraps(handler)
    async def run(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except LookupError:
            return error(404, "no such ticket")

    return guarded(run, TICKET_ACCESS)


def grant_view(g: Grant) -> dict[str, Any]:
    return {
        "id": g.id, "user": g.user, "ticket_id": g.ticket_id, "team": g.team, "level": g.level,
        "granted_by": g.granted_by, "granted_at": g.granted_at, "expires_at": g.expires_at,
        "revoked_at": g.revoked_at, "revoked_by": g.revoked_by,
    }  # fmt: skip


def approval_view(a: Approval) -> dict[str, Any]:
    return {
        "id": a.id, "ticket_id": a.ticket_id, "action": a.action, "params": a.params, "team": a.team,
        "title": a.title, "reason": a.reason, "requested_by": a.requested_by,
        "requested_at": a.requested_at, "state": a.state, "decided_by": a.decided_by,
        "decided_at": a.decided_at, "note": a.note,
    }  # fmt: skip


# -- temporary access ------------------------------------------------------------------------
async def _known_user(request: web.Request, name: str) -> bool:
    """An account (enabled) or an API token of that name: a grant to nobody is a typing error."""
    if any(t.name == name for t in request.app[SETTINGS].security.api_tokens):
        return True
    accounts = request.app.get(ACCOUNTS)
    if accounts is None:
        return False
    try:
        user = await accounts.store.by_username(name)
    except UnknownUser:
        return False
    return not user.disabled


@doc(
    "Grant a user temporary access to one ticket or one team's tickets (view or work), audited",
    body=GrantBody,
    ok=201,
    errors=(400, 404, 503),
    who="a supervisor limited to business lines: tickets and teams of those lines",
)
@allow("supervisor", "admin")
async def add_grant(request: web.Request) -> web.Response:
    body = await read_json(request, GrantBody)
    access, principal = request.app[TICKET_ACCESS], request[PRINCIPAL]
    wf = access.tickets.workflow
    check_grant(wf, body.ticket_id, body.team)
    seconds = int(duration(body.minutes).total_seconds())
    line: str | None
    if body.ticket_id is not None:
        ticket = await access.tickets.store.get(body.ticket_id)
        if ticket is None or not principal.may_see(ticket.line):
            return error(404, "no such ticket")
        line = ticket.line
    else:
        line = wf.teams[body.team or ""].line
        if not principal.may_see(line):
            return error(404, f"no such team {body.team!r}")
    if not await _known_user(request, body.user):
        return error(400, f"user: no account or API token named {body.user!r}")
    grant = NewGrant(body.user, body.ticket_id, body.team, body.level, line, seconds)
    stored = await access.store.add_grant(grant, _actor(request))
    log.info("tickets.access_granted", extra={"grant": stored.id, "user": stored.user, "by": principal.name})
    return json_response(grant_view(stored), 201)


@doc(
    "Temporary grants in force: supervisors and admins every grant of their lines (filter by"
    " ticket or team); anyone else their own",
    query=GrantsQuery,
    errors=(400, 503),
)
@allow("agent", "supervisor", "admin")
async def list_grants(request: web.Request) -> web.Response:
    q = read_query(request, GrantsQuery)
    access, principal = request.app[TICKET_ACCESS], request[PRINCIPAL]
    if needs_approval(principal.role):
        _, mine = await access.store.grants_of(principal.name)
        return json_response({"grants": [grant_view(g) for g in mine]})
    found = await access.store.active_grants(q.ticket, q.team, principal.lines)
    return json_response({"grants": [grant_view(g) for g in found]})


@doc(
    "Revoke a grant before it ends (audited)",
    errors=(404, 503),
    params={"grant_id": "the grant"},
    who="a supervisor limited to business lines: grants of those lines",
)
@allow("supervisor", "admin")
async def revoke_grant(request: web.Request) -> web.Response:
    access, principal = request.app[TICKET_ACCESS], request[PRINCIPAL]
    try:
        grant_id = int(request.match_info["grant_id"])
    except ValueError:
        return error(404, "no such grant")
    visible = {g.id for g in await access.store.active_grants(None, None, principal.lines)}
    if grant_id not in visible:
        return error(404, "no such grant in force")
    revoked = await access.store.revoke_grant(grant_id, _actor(request))
    if revoked is None:
        return error(404, "no such grant in force")
    return json_response(grant_view(revoked))


# -- approvals -------------------------------------------------------------------------------
async def _request(
    request: web.Request,
    access: TicketAccess,
    ticket: Ticket,
    action: str,
    params: dict[str, str],
    reason: str,
) -> web.Response:
    pending = await access.store.request(access.approval(ticket, action, params, reason), _actor(request))
    log.info("tickets.approval_requested", extra={"approval": pending.id, "action": action})
    metrics.TICKET_APPROVALS.labels(action=action, step="requested").inc()
    return json_response({"approval": approval_view(pending)}, 202)


@doc(
    "Change a ticket's priority: supervisors and admins at once; an agent's change becomes a"
    " request a supervisor approves (202)",
    body=PriorityBody,
    errors=(400, 404, 409, 503),
    responses={202: "Accepted: waiting for a supervisor's approval"},
    params=_TICKET,
    who="agents: their teams' tickets (or granted to work), as a request",
)
@allow("agent", "supervisor", "admin")
async def priority(request: web.Request) -> web.Response:
    body = await read_json(request, PriorityBody)
    found = await _visible(request)
    if isinstance(found, web.Response):
        return found
    tickets, ticket = found
    access = request.app[TICKET_ACCESS]
    if needs_approval(request[PRINCIPAL].role):
        params = {"priority": body.priority, "before": ticket.priority}
        return await _request(request, access, ticket, "priority", params, body.reason)
    changed = await tickets.set_priority(ticket.id, body.priority, _actor(request))
    return json_response(ticket_view(tickets, changed))


@doc(
    "Delete a ticket (its comments, events and attachments; the audit keeps its last state):"
    " supervisors and admins at once; an agent's deletion becomes a request (202)",
    query=DeleteQuery,
    errors=(404, 503),
    responses={202: "Accepted: waiting for a supervisor's approval"},
    params=_TICKET,
    who="agents: their teams' tickets (or granted to work), as a request",
)
@allow("agent", "supervisor", "admin")
async def delete(request: web.Request) -> web.Response:
    q = read_query(request, DeleteQuery)
    found = await _visible(request)
    if isinstance(found, web.Response):
        return found
    _, ticket = found
    access = request.app[TICKET_ACCESS]
    if needs_approval(request[PRINCIPAL].role):
        return await _request(request, access, ticket, "delete", {}, q.reason)
    await access.delete(ticket, _actor(request))
    log.info("tickets.deleted", extra={"ticket": ticket.id, "by": request[PRINCIPAL].name})
    return json_response({"deleted": ticket.id})


@doc(
    "Requests for high-risk actions (pending by default), newest first",
    query=ApprovalsQuery,
    errors=(400, 503),
    who="a supervisor limited to business lines: requests on those lines' tickets",
)
@allow("supervisor", "admin")
async def approvals(request: web.Request) -> web.Response:
    q = read_query(request, ApprovalsQuery)
    access, principal = request.app[TICKET_ACCESS], request[PRINCIPAL]
    found = await access.store.approvals(q.state, principal.lines, q.limit)
    return json_response({"approvals": [approval_view(a) for a in found]})


def _decision(state: Literal["approved", "refused"], summary: str) -> Handler:
    @doc(
        summary,
        body=DecisionBody,
        errors=(404, 409, 503),
        params={"approval_id": "the request"},
        who="not the requester; a supervisor limited to business lines: those lines' requests",
    )
    @allow("supervisor", "admin")
    async def handler(request: web.Request) -> web.Response:
        body = await read_json(request, DecisionBody)
        access, principal = request.app[TICKET_ACCESS], request[PRINCIPAL]
        try:
            approval = await access.store.get_approval(int(request.match_info["approval_id"]))
        except ValueError:
            approval = None
        if approval is None or not principal.may_see(approval.line):
            return error(404, "no such request")
        decided, ticket = await access.decide(approval, state, _actor(request), body.note)
        log.info("tickets.approval_decided", extra={"approval": decided.id, "state": state})
        metrics.TICKET_APPROVALS.labels(action=decided.action, step=state).inc()
        tickets = request.app[TICKETS]
        out: dict[str, Any] = {"approval": approval_view(decided)}
        if ticket is not None and decided.action != "delete":
            out["ticket"] = ticket_view(tickets, ticket)
        return json_response(out)

    handler.__name__ = f"decide_{state}"
    return handler


approve = _decision("approved", "Approve a request: its action runs now, once (audited)")
refuse = _decision("refused", "Refuse a request: nothing is done (audited)")


# -- attachments -----------------------------------------------------------------------------
@doc(
    "Upload a file to a ticket (the bytes as the body; ?name=, ?field= for an attachment field):"
    " judged by its content, not its name",
    query=UploadQuery,
    ok=201,
    body_type="application/octet-stream",
    errors=(400, 404, 409, 413, 503),
    responses={415: "Not a kind of file taken (judged by the bytes), or its name says otherwise"},
    params=_TICKET,
    who="those who may work the ticket",
)
@allow("agent", "supervisor", "admin")
@streams_body
async def upload(request: web.Request) -> web.Response:
    q = read_query(request, UploadQuery)
    found = await _visible(request)
    if isinstance(found, web.Response):
        return found
    tickets, ticket = found
    access = request.app[TICKET_ACCESS]
    limit = access.max_bytes
    too_large = f"the file is larger than {limit} bytes"
    if request.content_length is not None and request.content_length > limit:
        metrics.TICKET_UPLOADS.labels(result="too_large").inc()
        return error(413, too_large)
    data = bytearray()
    async for chunk in request.content.iter_chunked(65536):
        data += chunk
        if len(data) > limit:
            metrics.TICKET_UPLOADS.labels(result="too_large").inc()
            return error(413, too_large)
    if not data:
        return error(400, "the file is empty")
    try:
        changed, added = await access.upload(ticket, q.name, bytes(data), q.field, _actor(request))
    except UploadRefused as err:
        metrics.TICKET_UPLOADS.labels(result="too_large" if err.status == 413 else "refused_kind").inc()
        return error(err.status, str(err))
    except RecordingError as err:
        log.error("tickets.attachment_store_failed", extra={"error": str(err)})
        return error(503, "the attachment could not be stored")
    metrics.TICKET_UPLOADS.labels(result="stored").inc()
    log.info("tickets.attached", extra={"ticket": ticket.id, "attachment": added.id, "bytes": added.size})
    return json_response({"ticket": ticket_view(tickets, changed), "attachment": attachment_view(added)}, 201)


@doc(
    "Download an attachment (checked against its checksum)",
    errors=(404, 503),
    content="application/octet-stream",
    params={**_TICKET, "attachment_id": "the attachment"},
    who="those who may read the ticket",
)
@allow("agent", "supervisor", "admin")
async def download(request: web.Request) -> web.StreamResponse:
    found = await _visible(request, work=False)
    if isinstance(found, web.Response):
        return found
    _, ticket = found
    access = request.app[TICKET_ACCESS]
    attachment = await access.store.attachment(request.match_info["attachment_id"])
    if attachment is None or attachment.ticket_id != ticket.id:
        return error(404, "no such attachment")
    try:
        data = await access.read(attachment)
    except RecordingError as err:
        log.error("tickets.attachment_read_failed", extra={"attachment": attachment.id, "error": str(err)})
        return error(503, "the attachment cannot be read")
    ascii_name = attachment.name.encode("ascii", "replace").decode().replace('"', "_").replace("\\", "_")
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(attachment.name)}"
    return web.Response(
        body=data,
        headers={
            "Content-Type": attachment.content_type,
            "Content-Disposition": disposition,
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "no-store",
        },
    )


@doc("The ticket access page: requests to approve, temporary access given and in force", content="text/html")
@allow("supervisor", "admin")
async def page(request: web.Request) -> web.Response:
    return render(request, "tickets_access.html")


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/tickets/access", page)
    if app[SETTINGS].tickets.workflow_file is not None:  # tickets on
        add_nav(app, "Ticket access", "/tickets/access", "supervisor", "admin")
    app.router.add_post("/api/ticket-grants", _guarded(add_grant))
    app.router.add_get("/api/ticket-grants", _guarded(list_grants))
    app.router.add_delete("/api/ticket-grants/{grant_id}", _guarded(revoke_grant))
    app.router.add_get("/api/ticket-approvals", _guarded(approvals))
    app.router.add_post("/api/ticket-approvals/{approval_id}/approve", _guarded(approve))
    app.router.add_post("/api/ticket-approvals/{approval_id}/refuse", _guarded(refuse))
    app.router.add_post("/api/tickets/{ticket_id}/priority", _guarded(priority))
    app.router.add_delete("/api/tickets/{ticket_id}", _guarded(delete))
    app.router.add_post("/api/tickets/{ticket_id}/attachments", _guarded(upload))
    app.router.add_get("/api/tickets/{ticket_id}/attachments/{attachment_id}", _guarded(download))


__all__ = ["LEVELS", "setup_routes"]

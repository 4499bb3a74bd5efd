"""``/api/tickets``: create (from an interaction, prefilled), read, list with filters, transition,
transfer, comment, priority (docs/tickets.md).

Roles: agents, supervisors and admins reach the routes; then each ticket is checked. An agent works
the tickets of its teams (the workflow file's ``members``) and sees those and the ones it created;
supervisors and admins every team's, a supervisor limited to business lines only the tickets of
those lines; only supervisors and admins change a priority. A ticket one may not see is a 404 (its
existence is not told), one one may see but not work a 403. Domain refusals are the core's
(``TicketRefused`` 409, ``TicketInvalid`` 400, by ``domain_errors``).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from callcenter.accounts.principal import Principal
from callcenter.core.business_lines import call_line
from callcenter.core.omni.customers import UnknownCustomer
from callcenter.core.qa.redaction import Redactor
from callcenter.core.tickets import routing
from callcenter.core.tickets import workflow as wfl
from callcenter.core.tickets.board import boards
from callcenter.core.tickets.model import Workflow
from callcenter.core.tickets.ticket import Ticket
from callcenter.errors import StorageError
from callcenter.tickets import codec
from callcenter.tickets.access import TicketAccess
from callcenter.tickets.access_records import Attachment
from callcenter.tickets.records import Actor, Comment, TicketFilter
from callcenter.tickets.service import Tickets
from callcenter.web.api import SERVICE
from callcenter.web.auth import PRINCIPAL, allow
from callcenter.web.http import error, json_response, read_json, read_query
from callcenter.web.openapi import doc
from callcenter.web.pages import add_nav, render
from callcenter.web.webhooks import MESSAGING

log = logging.getLogger(__name__)

TICKETS = web.AppKey("tickets", Tickets)
TICKET_ACCESS = web.AppKey("ticket_access", TicketAccess)  # grants, approvals, attachments
_NAME = r"^[a-z0-9][a-z0-9_-]{0,31}$"
_ID = r"^T-[0-9A-Z]{8}$"
_WHO = (
    "agents: their teams' tickets (and those they created, to read); supervisors and admins: every"
    " team's, a supervisor limited to business lines only those lines'"
)
MAX_CHAT = 8000
_REDACTOR = Redactor()


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateBody(_Body):
    type: str = Field(pattern=_NAME)
    title: str = Field(min_length=1, max_length=200)
    fields: dict[str, str | int | float | None] = Field(default_factory=dict, max_length=50)
    customer_id: str | None = Field(None, max_length=128)
    interaction_id: str | None = Field(
        None, max_length=128, description="prefill from this call or chat (the agent's own)"
    )
    ivr: dict[str, str] = Field(
        default_factory=dict, max_length=30, description="what the IVR collected, as the panel shows it"
    )


class TransitionBody(_Body):
    status: str = Field(pattern=_NAME)


class TransferBody(_Body):
    team: str = Field(pattern=_NAME)
    reason: str = Field("", max_length=500)


class CommentBody(_Body):
    body: str = Field(min_length=1, max_length=4096)
    internal: bool = Field(True, description="an internal note; false: a reply to the customer")


class PriorityBody(_Body):
    priority: str = Field(pattern=_NAME)


class ListQuery(_Body):
    team: str | None = Field(None, pattern=_NAME)
    status: str | None = Field(None, pattern=_NAME)
    type: str | None = Field(None, pattern=_NAME)
    priority: str | None = Field(None, pattern=_NAME)
    customer: str | None = Field(None, max_length=128)
    open: bool | None = None
    mine: bool = Field(False, description="only my teams' tickets (supervisors: ignored)")
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0, le=100_000)


class BoardQuery(_Body):
    team: str | None = Field(None, pattern=_NAME, description="only this team's board")
    type: str | None = Field(None, pattern=_NAME, description="only tickets of this type")
    priority: str | None = Field(None, pattern=_NAME, description="only tickets of this priority")


class ReadBody(_Body):
    ids: list[int] | None = Field(None, max_length=200, description="these (none given: all of mine)")


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def guarded(handler: Handler, needs: web.AppKey[Any] = TICKETS) -> Handler:
    """Tickets off (``needs`` not set on the app): 503; the database down: 503 (``wraps`` keeps
    roles and documentation)."""

    @functools.wraps(handler)
    async def run(request: web.Request) -> web.StreamResponse:
        if request.app.get(needs) is None:
            return error(503, "tickets are off: set tickets.workflow_file")
        try:
            return await handler(request)
        except StorageError as err:
            log.warning("tickets.database_error", extra={"error": str(err)})
            return error(503, "the tickets are not available")

    return run


def _actor(request: web.Request) -> Actor:
    p: Principal = request[PRINCIPAL]
    return Actor(p.name, p.role, request.remote)


def ticket_view(tickets: Tickets, t: Ticket) -> dict[str, Any]:
    return {**codec.ticket_json(t), "closed": tickets.closed(t), "sla": tickets.clocks(t)}


def comment_view(c: Comment) -> dict[str, Any]:
    return {
        "id": c.id,
        "at": c.at,
        "by": c.by,
        "internal": c.internal,
        "body": c.body,
        "delivery": c.delivery,
    }


def attachment_view(a: Attachment) -> dict[str, Any]:
    return {
        "id": a.id, "name": a.name, "field": a.field, "content_type": a.content_type, "size": a.size,
        "uploaded_by": a.uploaded_by, "uploaded_at": a.uploaded_at,
        "url": f"/api/tickets/{a.ticket_id}/attachments/{a.id}",
    }  # fmt: skip


async def level_of(request: web.Request, ticket: Ticket) -> str | None:
    """``work``, ``view`` or None for the caller on ``ticket``: teams, role, lines, then the
    temporary grants in force by the database's clock (tickets/access.py)."""
    tickets, principal = request.app[TICKETS], request[PRINCIPAL]
    access = request.app.get(TICKET_ACCESS)
    if access is not None:
        return await access.level(principal, ticket)
    if tickets.may_work(principal, ticket):
        return "work"
    return "view" if tickets.may_view(principal, ticket) else None


async def _visible(request: web.Request, work: bool = True) -> tuple[Tickets, Ticket] | web.Response:
    tickets = request.app[TICKETS]
    ticket = await tickets.store.get(request.match_info["ticket_id"])
    level = None if ticket is None else await level_of(request, ticket)
    if ticket is None or level is None:
        return error(404, "no such ticket")
    if work and level != "work":
        return error(403, f"ticket {ticket.id} belongs to team {ticket.team!r}, not yours")
    return tickets, ticket


def workflow_view(wf: Workflow) -> dict[str, Any]:
    return {
        "priorities": list(wf.priorities),
        "teams": {n: {"transfers": sorted(t.transfers), "line": t.line} for n, t in wf.teams.items()},
        "types": {
            n: {
                "label": t.label,
                "statuses": list(t.statuses),
                "initial": t.initial,
                "transitions": {s: sorted(d) for s, d in t.transitions.items()},
                "closed": sorted(t.closed),
                "fields": [
                    {
                        "name": f.name,
                        "kind": f.kind.value,
                        "required": f.required,
                        "label": f.label,
                        "choices": list(f.choices),
                        "min": f.minimum,
                        "max": f.maximum,
                    }
                    for f in t.fields
                ],
            }
            for n, t in wf.types.items()
        },
    }


@doc("The tickets' workflow in force: types with their fields and statuses, teams, priorities")
@allow("agent", "supervisor", "admin")
async def get_workflow(request: web.Request) -> web.Response:
    tickets = request.app[TICKETS]
    principal: Principal = request[PRINCIPAL]
    teams = tickets.teams_of(principal)
    return json_response(
        {**workflow_view(tickets.workflow), "my_teams": None if teams is None else sorted(teams)}
    )


async def _prefill(request: web.Request, body: CreateBody) -> wfl.Draft | web.Response:
    """The draft from the body and, with an interaction, what the server knows of it: the customer,
    the business line, the language, the channel and queue, the chat so far (card numbers masked)."""
    principal: Principal = request[PRINCIPAL]
    context = {f"ivr.{k}"[:64]: v[:500] for k, v in body.ivr.items()}
    draft = wfl.Draft(body.type, body.title, body.fields, customer_id=body.customer_id, context=context)
    if body.interaction_id is None:
        if principal.lines is not None:
            return error(403, "a user limited to business lines creates tickets from an interaction")
        return draft
    service = request.app[SERVICE]  # a follower forwards the request to the routing owner
    found = await service.interaction(body.interaction_id)
    if found is None:
        return error(404, "no such interaction")
    if principal.role == "agent" and found.agent_id != principal.agent_id:
        return error(403, "not your interaction")
    queue = service.engine.queues.get(found.queue) if found.queue else None
    line = call_line(found.queue, queue.line if queue is not None else None, found.skills)
    if not principal.may_see(line):
        return error(403, "this interaction belongs to another business line")
    customer_id, tier = found.customer_id or body.customer_id, None
    messaging = request.app.get(MESSAGING)
    if messaging is not None and customer_id is not None:
        try:
            customer = messaging.customers.current(customer_id)
        except UnknownCustomer:
            return error(404, "no such customer")
        customer_id = customer.id
        tier = routing.tier_of(customer.tags, customer.vip)
    context |= {
        "channel": found.channel.value,
        "queue": found.queue or "",
        "ivr.choice": found.ivr_choice or "",
    }
    if messaging is not None and found.conversation_id is not None:
        lines = [
            f"{'customer' if m.direction.value == 'in' else 'agent'}: {m.body}"
            for m in messaging.conversations.messages_of(found.conversation_id)
        ]
        context["chat"] = _REDACTOR.redact("\n".join(lines)[-MAX_CHAT:]).text
    return wfl.Draft(
        body.type, body.title, body.fields, customer_id=customer_id, interaction_id=found.id,
        line=line, language=found.language, tier=tier, context=context,
    )  # fmt: skip


@doc(
    "Create a ticket (routed to a team and priority by the workflow's rules); from an interaction,"
    " prefilled with its customer, line, language, IVR data and the chat so far",
    body=CreateBody,
    ok=201,
    errors=(400, 404, 503),
    who="an agent only from its own interaction; a user limited to lines only from an interaction",
)
@allow("agent", "supervisor", "admin")
async def create(request: web.Request) -> web.Response:
    body = await read_json(request, CreateBody)
    draft = await _prefill(request, body)
    if isinstance(draft, web.Response):
        return draft
    tickets = request.app[TICKETS]
    ticket = await tickets.create(draft, _actor(request))
    return json_response(ticket_view(tickets, ticket), 201)


@doc("Tickets, newest change first, with filters", query=ListQuery, errors=(400, 503), who=_WHO)
@allow("agent", "supervisor", "admin")
async def list_tickets(request: web.Request) -> web.Response:
    q = read_query(request, ListQuery)
    tickets = request.app[TICKETS]
    principal: Principal = request[PRINCIPAL]
    teams = tickets.teams_of(principal)
    access = request.app.get(TICKET_ACCESS)
    granted = frozenset() if teams is None or access is None else await access.granted_teams(principal)
    wanted = None if q.team is None else frozenset({q.team})
    if teams is not None:
        wanted = teams | granted if wanted is None else wanted & (teams | granted)
    query = TicketFilter(
        teams=wanted, status=q.status, type=q.type, priority=q.priority, customer_id=q.customer,
        open=q.open, lines=principal.lines, limit=q.limit, offset=q.offset,
    )  # fmt: skip
    found = [
        t for t in await tickets.store.find(query) if tickets.may_view(principal, t) or t.team in granted
    ]
    return json_response({"tickets": [ticket_view(tickets, t) for t in found]})


@doc("A ticket with its comments, events and SLA clocks", errors=(404, 503), who=_WHO)
@allow("agent", "supervisor", "admin")
async def get_ticket(request: web.Request) -> web.Response:
    found = await _visible(request, work=False)
    if isinstance(found, web.Response):
        return found
    tickets, ticket = found
    comments = await tickets.store.comments(ticket.id)
    events = await tickets.store.events(ticket.id)
    access = request.app.get(TICKET_ACCESS)
    attachments = [] if access is None else await access.store.attachments(ticket.id)
    return json_response(
        {
            **ticket_view(tickets, ticket),
            "may_work": await level_of(request, ticket) == "work",
            "attachments": [attachment_view(a) for a in attachments],
            "next": sorted(tickets.workflow.types[ticket.type].allowed(ticket.status))
            if ticket.type in tickets.workflow.types
            else [],
            "comments": [comment_view(c) for c in comments],
            "events": [{"at": e.at, "kind": e.kind, "by": e.by, **e.data} for e in events],
        }
    )


def _change(summary: str, model: type[BaseModel], who: str = _WHO) -> Callable[[Any], Handler]:
    def wrap(apply: Callable[[Tickets, str, Any, Actor], Awaitable[Ticket]]) -> Handler:
        @doc(summary, body=model, errors=(400, 404, 409, 503), who=who)
        async def handler(request: web.Request) -> web.Response:
            body = await read_json(request, model)
            found = await _visible(request)
            if isinstance(found, web.Response):
                return found
            tickets, ticket = found
            changed = await apply(tickets, ticket.id, body, _actor(request))
            return json_response(ticket_view(tickets, changed))

        handler.__name__ = apply.__name__
        return handler

    return wrap


@allow("agent", "supervisor", "admin")
@_change("Move a ticket to another status (the type's transition table only)", TransitionBody)
async def transition(tickets: Tickets, ticket_id: str, body: TransitionBody, actor: Actor) -> Ticket:
    return await tickets.transition(ticket_id, body.status, actor)


@allow("agent", "supervisor", "admin")
@_change("Transfer a ticket to another team (the allowed paths only)", TransferBody)
async def transfer(tickets: Tickets, ticket_id: str, body: TransferBody, actor: Actor) -> Ticket:
    return await tickets.transfer(ticket_id, body.team, body.reason, actor)


@doc(
    "Add an internal note, or a reply to the customer (sent through the customer's channel by the"
    " outbox, with the ticket id in front; the first reply is the first response)",
    body=CommentBody,
    ok=201,
    errors=(400, 404, 503),
    who=_WHO,
)
@allow("agent", "supervisor", "admin")
async def comment(request: web.Request) -> web.Response:
    body = await read_json(request, CommentBody)
    found = await _visible(request)
    if isinstance(found, web.Response):
        return found
    tickets, ticket = found
    changed, added = await tickets.comment(ticket.id, body.body, body.internal, _actor(request))
    return json_response({"ticket": ticket_view(tickets, changed), "comment": comment_view(added)}, 201)


@doc(
    "Team boards: per team, open tickets by priority, the overdue and the about-to-breach ones (ids,"
    " oldest first, and in `tickets` each one's title, type, priority, status and `due_at` or"
    " `late_seconds`), optionally only one team, type or priority",
    query=BoardQuery,
    errors=(400, 503),
    who="a supervisor limited to business lines: those lines' tickets",
)
@allow("supervisor", "admin")
async def board(request: web.Request) -> web.Response:
    q = read_query(request, BoardQuery)
    tickets = request.app[TICKETS]
    principal: Principal = request[PRINCIPAL]
    found = [t for t in await tickets.store.open_tickets(limit=5000) if principal.may_see(t.line)]
    teams = boards(
        tickets.workflow, found, tickets.clock(),
        teams=None if q.team is None else {q.team},
        types=None if q.type is None else {q.type},
        priorities=None if q.priority is None else {q.priority},
    )  # fmt: skip
    return json_response({"at": tickets.clock(), "teams": [dataclasses.asdict(b) for b in teams]})


@doc("The ticket boards page: per team workload, overdue and about-to-breach lists", content="text/html")
@allow("supervisor", "admin")
async def board_page(request: web.Request) -> web.Response:
    return render(request, "tickets_board.html")


def _recipients(principal: Principal) -> set[str]:
    """The names a person's notifications are addressed to: the workflow's members are written
    as user names or agent ids."""
    return {principal.name} | ({principal.agent_id} if principal.agent_id else set())


@doc(
    "My notifications, newest first: mentions in internal notes, tickets assigned to my team, SLA"
    " warnings and breaches (only those whose ticket I may read), and how many are unread",
    errors=(503,),
    who=_WHO,
)
@allow("agent", "supervisor", "admin")
async def notifications(request: web.Request) -> web.Response:
    tickets = request.app[TICKETS]
    principal: Principal = request[PRINCIPAL]
    out = []
    seen: dict[str, Ticket | None] = {}
    mine = _recipients(principal)
    shown: set[tuple[object, ...]] = set()
    for n in await tickets.store.notifications(mine):
        if n.by in mine:
            continue  # what I did myself (a team I am in, by my agent id)
        same = (n.kind, n.ticket_id, n.at, n.by, n.text)
        if same in shown:
            continue  # a team listing me by name and by agent id: told once
        shown.add(same)
        if n.ticket_id not in seen:
            seen[n.ticket_id] = await tickets.store.get(n.ticket_id)
        ticket = seen[n.ticket_id]
        if ticket is None or not tickets.may_view(principal, ticket):
            continue
        out.append({
            "id": n.id, "kind": n.kind, "ticket_id": n.ticket_id, "title": ticket.title, "at": n.at,
            "by": n.by, "text": n.text, "read": n.read,
        })  # fmt: skip
    return json_response({"notifications": out, "unread": sum(not n["read"] for n in out)})


@doc("Mark my notifications read (these ids, or all)", body=ReadBody, errors=(400, 503), who=_WHO)
@allow("agent", "supervisor", "admin")
async def read_notifications(request: web.Request) -> web.Response:
    body = await read_json(request, ReadBody)
    principal: Principal = request[PRINCIPAL]
    marked = await request.app[TICKETS].store.mark_read(_recipients(principal), body.ids)
    return json_response({"marked": marked})


async def tickets_of(request: web.Request, customer_ids: Collection[str]) -> list[dict[str, Any]]:
    """The customers' tickets as entries of their timeline (customers API), in the caller's lines."""
    tickets = request.app.get(TICKETS)
    if tickets is None:
        return []
    principal: Principal = request[PRINCIPAL]
    out = []
    for customer_id in sorted(customer_ids)[:20]:
        try:
            found = await tickets.store.find(TicketFilter(customer_id=customer_id, lines=principal.lines))
        except StorageError:
            continue  # the timeline still shows the rest
        out += [
            {
                "kind": "ticket",
                "id": t.id,
                "at": t.created_at.timestamp(),
                "title": t.title,
                "type": t.type,
                "status": t.status,
                "team": t.team,
                "priority": t.priority,
                "closed": tickets.closed(t),
            }
            for t in found
        ]
    return out


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/tickets/workflow", guarded(get_workflow))
    app.router.add_get("/api/tickets/board", guarded(board))
    app.router.add_get("/tickets/board", board_page)
    add_nav(app, "Ticket boards", "/tickets/board", "supervisor", "admin")
    app.router.add_get("/api/tickets/notifications", guarded(notifications))
    app.router.add_post("/api/tickets/notifications/read", guarded(read_notifications))
    app.router.add_get("/api/tickets", guarded(list_tickets))
    app.router.add_post("/api/tickets", guarded(create))
    app.router.add_get("/api/tickets/{ticket_id}", guarded(get_ticket))
    app.router.add_post("/api/tickets/{ticket_id}/transition", guarded(transition))
    app.router.add_post("/api/tickets/{ticket_id}/transfer", guarded(transfer))
    app.router.add_post("/api/tickets/{ticket_id}/comments", guarded(comment))

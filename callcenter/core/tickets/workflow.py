"""What can happen to a ticket, as pure functions: ``(workflow, ticket, request, at) -> (ticket,
events)``. The type's transition table is the only way a status changes, except the one rule the
table cannot express: a closed ticket reopens when the customer answers, with the reason. A refused
request raises (``TicketRefused``, ``TicketInvalid``) and changes nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from callcenter.core.errors import DomainError
from callcenter.core.tickets import fields as fv
from callcenter.core.tickets import routing
from callcenter.core.tickets.model import TicketType, Workflow
from callcenter.core.tickets.ticket import (
    CUSTOMER,
    Commented,
    CustomerWrote,
    PriorityChanged,
    Reopened,
    StatusChange,
    StatusChanged,
    Ticket,
    TicketCreated,
    TicketEvent,
    Transferred,
)

Result = tuple[Ticket, tuple[TicketEvent, ...]]
MAX_TITLE = 200
MAX_REASON = 500


class TicketRefused(DomainError):
    """The move does not fit the ticket's state (a transition not in the table, a transfer on no
    allowed path): nothing changed."""


@dataclass(frozen=True, slots=True)
class Draft:
    """A ticket to create, as the creator gave it (and what the interaction prefilled)."""

    type: str
    title: str
    fields: Mapping[str, object] = field(default_factory=dict)
    customer_id: str | None = None
    interaction_id: str | None = None
    line: str | None = None
    language: str | None = None
    tier: str | None = None
    context: Mapping[str, str] = field(default_factory=dict)
    # Set by a trigger rule (core/tickets/triggers.py): they replace what the routing rules say.
    team: str | None = None
    priority: str | None = None
    why: str = ""


def ticket_type(wf: Workflow, name: str) -> TicketType:
    tt = wf.types.get(name)
    if tt is None:
        raise fv.TicketInvalid({"type": f"unknown ticket type {name!r}"})
    return tt


def create(wf: Workflow, draft: Draft, ticket_id: str, at: datetime, by: str) -> Result:
    tt = ticket_type(wf, draft.type)
    title = draft.title.strip()
    problems: dict[str, str] = {}
    if not title:
        problems["title"] = "required"
    elif len(title) > MAX_TITLE:
        problems["title"] = f"at most {MAX_TITLE} characters"
    try:
        values = fv.validate(tt, draft.fields)
    except fv.TicketInvalid as err:
        problems.update(err.problems)
        values = {}
    if problems:
        raise fv.TicketInvalid(problems)
    known = routing.facts(tt.name, values, draft.tier, draft.language, draft.line)
    team, priority, why = routing.route(wf, known)
    if draft.team is not None and draft.team not in wf.teams:
        raise fv.TicketInvalid({"team": f"unknown team {draft.team!r}"})
    if draft.priority is not None and draft.priority not in wf.priorities:
        raise fv.TicketInvalid({"priority": f"unknown priority {draft.priority!r}"})
    team, priority = draft.team or team, draft.priority or priority
    why = draft.why or why
    ticket = Ticket(
        id=ticket_id,
        type=tt.name,
        title=title,
        status=tt.initial,
        team=team,
        priority=priority,
        fields=values,
        created_at=at,
        created_by=by,
        history=(StatusChange(at, tt.initial, by),),
        customer_id=draft.customer_id,
        interaction_id=draft.interaction_id,
        line=draft.line,
        language=draft.language,
        tier=draft.tier,
        context=dict(draft.context),
    )
    return ticket, (TicketCreated(ticket_id, at, by, tt.name, team, priority, why),)


def transition(wf: Workflow, ticket: Ticket, to: str, at: datetime, by: str) -> Result:
    tt = ticket_type(wf, ticket.type)
    if to not in tt.allowed(ticket.status):
        allowed = ", ".join(sorted(tt.allowed(ticket.status))) or "none"
        raise TicketRefused(
            f"ticket {ticket.id}: {ticket.status!r} -> {to!r} is not allowed (allowed: {allowed})"
        )
    changed = replace(ticket, status=to, history=(*ticket.history, StatusChange(at, to, by)))
    return changed, (StatusChanged(ticket.id, at, by, ticket.status, to),)


def transfer(wf: Workflow, ticket: Ticket, to_team: str, at: datetime, by: str, reason: str = "") -> Result:
    if to_team not in wf.teams:
        raise fv.TicketInvalid({"team": f"unknown team {to_team!r}"})
    here = wf.teams.get(ticket.team)
    if here is None or to_team not in here.transfers:
        raise TicketRefused(f"ticket {ticket.id}: no transfer path from {ticket.team!r} to {to_team!r}")
    if ticket.status in ticket_type(wf, ticket.type).closed:
        raise TicketRefused(f"ticket {ticket.id} is closed")
    reason = reason.strip()[:MAX_REASON]
    return replace(ticket, team=to_team), (Transferred(ticket.id, at, by, ticket.team, to_team, reason),)


def set_priority(wf: Workflow, ticket: Ticket, priority: str, at: datetime, by: str) -> Result:
    if priority not in wf.priorities:
        raise fv.TicketInvalid({"priority": f"unknown priority {priority!r}"})
    if priority == ticket.priority:
        return ticket, ()
    changed = replace(ticket, priority=priority, field_times={**ticket.field_times, "priority": at})
    return changed, (PriorityChanged(ticket.id, at, by, ticket.priority, priority),)


def comment(ticket: Ticket, at: datetime, by: str, *, internal: bool) -> Result:
    """A note (internal) or a reply to the customer; the first reply is the first response."""
    first = not internal and ticket.first_response_at is None
    changed = replace(ticket, first_response_at=at) if first else ticket
    return changed, (Commented(ticket.id, at, by, internal, first),)


def customer_replied(wf: Workflow, ticket: Ticket, at: datetime, reason: str) -> Result:
    """The customer answered: a closed ticket reopens (to the type's ``reopen_to``) with the reason;
    a ticket waiting for the customer moves on when its table allows it; else nothing changes."""
    tt = ticket_type(wf, ticket.type)
    reason = reason.strip()[:MAX_REASON] or "the customer replied"
    if ticket.status in tt.closed:
        step = StatusChange(at, tt.reopen_to, CUSTOMER, reason)
        changed = replace(
            ticket,
            status=tt.reopen_to,
            history=(*ticket.history, step),
            reopened=ticket.reopened + 1,
            reopen_reason=reason,
            sla_marks=frozenset(m for m in ticket.sla_marks if not m.startswith("resolution:")),
        )
        return changed, (Reopened(ticket.id, at, CUSTOMER, ticket.status, tt.reopen_to, reason),)
    if ticket.status in tt.paused and tt.reopen_to in tt.allowed(ticket.status):
        return transition(wf, ticket, tt.reopen_to, at, CUSTOMER)
    return ticket, ()


def customer_wrote(wf: Workflow, ticket: Ticket, at: datetime, text: str, channel: str) -> Result:
    """The customer's message on the ticket: recorded (``CustomerWrote``), and the ticket moves as
    :func:`customer_replied` says (a closed one reopens with the message as the reason)."""
    changed, events = customer_replied(wf, ticket, at, text)
    return changed, (CustomerWrote(ticket.id, at, CUSTOMER, channel), *events)


def is_legal_history(tt: TicketType, history: tuple[StatusChange, ...]) -> bool:
    """Every step of ``history`` is in the table, or a reopen of a closed ticket (with a reason)."""
    if not history or history[0].status != tt.initial:
        return False
    for before, after in itertools.pairwise(history):
        if after.status in tt.allowed(before.status):
            continue
        if before.status in tt.closed and after.status == tt.reopen_to and after.reason:
            continue
        return False
    return True

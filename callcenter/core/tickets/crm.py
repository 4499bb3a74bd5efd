"""A CRM's update of a ticket's fields under the conflict rule of ``core/webhooks/conflict.py``
(the last update wins by its own timestamp, per field; a tie loses; losers recorded).

Each field (``title``, ``priority``, ``fields.<name>``) remembers the time of the value in force in
``Ticket.field_times`` (a field never updated counts from the ticket's creation); the losing values
are in the event (``CrmUpdated.lost``). Our own priority changes count as updates at the time they
were made (``workflow.set_priority``). Pure: the update's timestamp and the time now are given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from callcenter.core.tickets import fields as fv
from callcenter.core.tickets.model import Workflow
from callcenter.core.tickets.ticket import CrmUpdated, Ticket, TicketEvent
from callcenter.core.webhooks import conflict

Result = tuple[Ticket, tuple[TicketEvent, ...]]
MAX_TITLE = 200
FIELD_PREFIX = "fields."


def in_force_since(ticket: Ticket, name: str) -> datetime:
    return ticket.field_times.get(name, ticket.created_at)


def _check(wf: Workflow, ticket: Ticket, changes: Mapping[str, object]) -> dict[str, object]:
    """Every value checked (TicketInvalid with every problem), before anything is judged."""
    problems: dict[str, str] = {}
    tt = wf.types.get(ticket.type)
    for name, value in changes.items():
        if name == "title":
            if not isinstance(value, str) or not value.strip() or len(value.strip()) > MAX_TITLE:
                problems[name] = f"must be text of 1 to {MAX_TITLE} characters"
        elif name == "priority":
            if value not in wf.priorities:
                problems[name] = f"unknown priority {value!r}"
        elif name.startswith(FIELD_PREFIX):
            if tt is None or tt.field(name[len(FIELD_PREFIX) :]) is None:
                problems[name] = f"not a field of {ticket.type!r}"
        else:
            problems[name] = "not a field a CRM may update"
    if problems:
        raise fv.TicketInvalid(problems)
    return {k: v.strip() if k == "title" and isinstance(v, str) else v for k, v in changes.items()}


def update(
    wf: Workflow, ticket: Ticket, changes: Mapping[str, object], source_at: datetime, at: datetime, by: str
) -> Result:
    """Apply the fields whose value in force is older than ``source_at``; record the others as lost.
    The ticket's fields are validated as a whole (its type's template) after the change."""
    checked = _check(wf, ticket, changes)
    won, lost = conflict.judge(ticket.field_times, ticket.created_at, checked, source_at)
    fields: dict[str, fv.FieldValue] = dict(ticket.fields)
    field_changes = {k[len(FIELD_PREFIX) :]: v for k, v in won.items() if k.startswith(FIELD_PREFIX)}
    tt = wf.types.get(ticket.type)
    if tt is not None and field_changes:  # refused whole (TicketInvalid): nothing changes
        fields = fv.validate(tt, {**ticket.fields, **field_changes})
    before = {"title": ticket.title, "priority": ticket.priority,
              **{FIELD_PREFIX + k: v for k, v in ticket.fields.items()}}  # fmt: skip
    after = {"title": won.get("title", ticket.title), "priority": won.get("priority", ticket.priority),
             **{FIELD_PREFIX + k: v for k, v in fields.items()}}  # fmt: skip
    applied = {k: {"before": before.get(k), "after": after.get(k)} for k in won}
    changed = replace(
        ticket,
        title=str(after["title"]),
        priority=str(after["priority"]),
        fields=fields,
        field_times={**ticket.field_times, **dict.fromkeys(won, source_at)},
    )
    return changed, (CrmUpdated(ticket.id, at, by, source_at, applied, lost),)

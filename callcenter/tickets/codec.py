"""Tickets and their events <-> JSON documents (the ``data`` columns). A storage format: a field
added to :class:`~callcenter.core.tickets.ticket.Ticket` gets a default here, so old rows still read."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from callcenter.core.tickets.ticket import StatusChange, Ticket, TicketEvent


def _time(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def _parse(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def ticket_json(t: Ticket) -> dict[str, Any]:
    return {
        "id": t.id,
        "type": t.type,
        "title": t.title,
        "status": t.status,
        "team": t.team,
        "priority": t.priority,
        "fields": dict(t.fields),
        "created_at": _time(t.created_at),
        "created_by": t.created_by,
        "history": [
            {"at": _time(c.at), "status": c.status, "by": c.by, "reason": c.reason} for c in t.history
        ],
        "customer_id": t.customer_id,
        "interaction_id": t.interaction_id,
        "line": t.line,
        "language": t.language,
        "tier": t.tier,
        "first_response_at": _time(t.first_response_at),
        "reopened": t.reopened,
        "reopen_reason": t.reopen_reason,
        "sla_marks": sorted(t.sla_marks),
        "context": dict(t.context),
        "field_times": {k: _time(v) for k, v in sorted(t.field_times.items())},
    }


def ticket_from_json(d: dict[str, Any]) -> Ticket:
    created = _parse(d["created_at"])
    assert created is not None
    return Ticket(
        id=d["id"],
        type=d["type"],
        title=d["title"],
        status=d["status"],
        team=d["team"],
        priority=d["priority"],
        fields=dict(d.get("fields", {})),
        created_at=created,
        created_by=d["created_by"],
        history=tuple(
            StatusChange(_parse(c["at"]) or created, c["status"], c["by"], c.get("reason", ""))
            for c in d["history"]
        ),
        customer_id=d.get("customer_id"),
        interaction_id=d.get("interaction_id"),
        line=d.get("line"),
        language=d.get("language"),
        tier=d.get("tier"),
        first_response_at=_parse(d.get("first_response_at")),
        reopened=int(d.get("reopened", 0)),
        reopen_reason=d.get("reopen_reason", ""),
        sla_marks=frozenset(d.get("sla_marks", ())),
        context=dict(d.get("context", {})),
        field_times={k: t for k, v in d.get("field_times", {}).items() if (t := _parse(v)) is not None},
    )


def event_json(e: TicketEvent) -> dict[str, Any]:
    """The event's own fields (not its ticket, time or author, which have columns)."""
    out = {}
    for f in dataclasses.fields(e):
        if f.name in ("ticket_id", "at", "by"):
            continue
        value = getattr(e, f.name)
        if isinstance(value, Mapping):  # CrmUpdated's applied / lost: plain JSON
            value = {k: dict(v) if isinstance(v, Mapping) else v for k, v in value.items()}
        out[f.name] = value.isoformat() if isinstance(value, datetime) else value
    return out

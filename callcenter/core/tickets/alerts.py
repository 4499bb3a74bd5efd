"""Who is told of a ticket's event in the agent panel (and by e-mail when they opted in): pure,
from the workflow, the ticket after the event, the event and a note's text.

- ``assigned``: a new ticket, one transferred to a team, one an escalation reassigned: the team's
  members;
- ``sla_warning``, ``sla_breached``: the ticket's team's members;
- ``mention``: every ``@name`` in an internal note (a user name or an agent id), at most
  ``MAX_MENTIONS``; who may see the ticket is checked when the list is read, not here.

Recipients are the names the workflow's ``members`` use (user names or agent ids); whoever caused
the event is not told of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from callcenter.core.tickets.model import Workflow
from callcenter.core.tickets.ticket import (
    Commented,
    Escalated,
    SlaBreached,
    SlaWarning,
    Ticket,
    TicketCreated,
    TicketEvent,
    Transferred,
)

MAX_MENTIONS = 10
MAX_TEXT = 200  # of the note, kept with a mention
_MENTION = re.compile(r"(?<![\w@.])@([A-Za-z0-9][A-Za-z0-9._-]{0,63})")
KINDS = ("assigned", "mention", "sla_warning", "sla_breached")


@dataclass(frozen=True, slots=True)
class Alert:
    recipient: str
    kind: str  # one of KINDS
    ticket_id: str
    at: datetime
    by: str
    text: str = ""  # a mention: the note's beginning; an SLA alert: its target


def mentions(text: str) -> tuple[str, ...]:
    """The names ``@name`` in a text, once each, in order (not e-mail addresses: ``a@b.c``)."""
    found = dict.fromkeys(m.rstrip(".") for m in _MENTION.findall(text))
    return tuple(found)[:MAX_MENTIONS]


def _team(wf: Workflow, team: str, kind: str, event: TicketEvent, text: str = "") -> tuple[Alert, ...]:
    found = wf.teams.get(team)
    members = sorted(found.members) if found is not None else []
    return tuple(Alert(m, kind, event.ticket_id, event.at, event.by, text) for m in members if m != event.by)


def alerts_of(wf: Workflow, ticket: Ticket, event: TicketEvent, note: str | None = None) -> tuple[Alert, ...]:
    match event:
        case TicketCreated():
            return _team(wf, ticket.team, "assigned", event)
        case Transferred(to_team=to_team):
            return _team(wf, to_team, "assigned", event)
        case Escalated(action="reassign", after=team):
            return _team(wf, team, "assigned", event)
        case SlaWarning(target=target):
            return _team(wf, ticket.team, "sla_warning", event, target)
        case SlaBreached(target=target):
            return _team(wf, ticket.team, "sla_breached", event, target)
        case Commented(internal=True) if note:
            text = note.strip()[:MAX_TEXT]
            return tuple(
                Alert(name, "mention", event.ticket_id, event.at, event.by, text)
                for name in mentions(note)
                if name != event.by
            )
    return ()

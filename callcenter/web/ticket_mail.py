"""The e-mails a team gets about its tickets' events (docs/tickets.md, "E-mail notifications"):
the subject and text in the team's language, from the message catalogue (docs/i18n.md).

Only the events a team must act on are mailed: a new ticket, one transferred to the team, one the
customer reopened, an SLA warning or breach, an escalation. Status, priority and comment changes
are the team's own doing, and stay on the board.
"""

from __future__ import annotations

from callcenter.core.tickets.alerts import Alert
from callcenter.core.tickets.ticket import Ticket, TicketEvent
from callcenter.web.i18n import N_, gettext

SUBJECTS = {
    "created": N_("New ticket for %(team)s: %(title)s"),
    "transferred": N_("Ticket transferred to %(team)s: %(title)s"),
    "reopened": N_("Ticket reopened by the customer: %(title)s"),
    "sla_warning": N_("SLA about to be missed: %(title)s"),
    "sla_breached": N_("SLA missed: %(title)s"),
    "escalated": N_("Ticket escalated: %(title)s"),
}
TARGETS = {"first_response": N_("first response"), "resolution": N_("resolution")}
LINES = (
    (N_("Ticket"), "id"),
    (N_("Title"), "title"),
    (N_("Type"), "type"),
    (N_("Team"), "team"),
    (N_("Priority"), "priority"),
    (N_("Status"), "status"),
)
WHY = {
    "reopened": N_("The customer wrote: %(reason)s"),
    "sla_warning": N_("Target: %(target)s, due at %(due_at)s (UTC)."),
    "sla_breached": N_("Target: %(target)s, was due at %(due_at)s (UTC)."),
    "escalated": N_("Target: %(target)s; action: %(action)s (%(before)s → %(after)s)."),
    "transferred": N_("From %(from_team)s: %(reason)s"),
}
MENTIONED = N_("%(by)s mentioned you: %(title)s")
COPY_FOOTER = N_(
    "You get this copy of a notification of your agent panel because you asked for them by e-mail."
)
FOOTER = N_("This message was sent by the contact center about a ticket of your team; do not reply to it.")


def team_of(ticket: Ticket, event: TicketEvent) -> str | None:
    """The team to tell about ``event`` (None: not mailed)."""
    if event.kind not in SUBJECTS:
        return None
    return str(getattr(event, "to_team", ticket.team))


def compose(language: str, ticket: Ticket, event: TicketEvent) -> tuple[str, str]:
    """(subject, text) of the e-mail about ``event``, ``ticket`` as it is after it."""

    def tr(message: str, **values: object) -> str:
        return gettext(language, message) % values if values else gettext(language, message)

    team = team_of(ticket, event) or ticket.team
    subject = f"[{ticket.id}] " + tr(SUBJECTS[event.kind], team=team, title=ticket.title)
    body = [f"{tr(label)}: {getattr(ticket, name)}" for label, name in LINES]
    if event.kind in WHY:
        values = {
            name: getattr(event, name, "") for name in ("reason", "action", "before", "after", "from_team")
        }
        target = str(getattr(event, "target", ""))
        due = getattr(event, "due_at", None)
        values |= {"target": tr(TARGETS[target]) if target in TARGETS else target,
                   "due_at": due.strftime("%Y-%m-%d %H:%M") if due is not None else ""}  # fmt: skip
        body += ["", tr(WHY[event.kind], **values)]
    body += ["", "-- ", tr(FOOTER)]
    return subject, "\n".join(body) + "\n"


def compose_alert(language: str, ticket: Ticket, event: TicketEvent, alert: Alert) -> tuple[str, str]:
    """(subject, text) of a person's e-mail copy of a panel notification (core/tickets/alerts.py)."""
    if alert.kind != "mention":
        subject, text = compose(language, ticket, event)
        return subject, text + gettext(language, COPY_FOOTER) + "\n"
    subject = f"[{ticket.id}] " + gettext(language, MENTIONED) % {"by": alert.by, "title": ticket.title}
    body = [f"{gettext(language, label)}: {getattr(ticket, name)}" for label, name in LINES]
    body += ["", alert.text, "", "-- ", gettext(language, COPY_FOOTER)]
    return subject, "\n".join(body) + "\n"

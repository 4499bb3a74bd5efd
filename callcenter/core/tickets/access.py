"""Who may reach a ticket beyond their teams, and which actions wait for a supervisor: pure rules.

- **Temporary access**: a grant gives one user one ticket (``ticket_id``) or one team's tickets
  (``team``), to ``view`` or to ``work``, from ``granted_at`` until ``expires_at`` or its
  revocation. Whether a grant is in force is decided with the time the caller passes in — the
  shared database's clock, read at each request (storage/ticket_access_store.py) — never by a timer
  on one node, so an expiry holds on every node at the same moment.
- **Approvals**: deleting a ticket and changing its priority are high-risk; asked by anyone but a
  supervisor or an admin they become a pending request. Its states are the table below: a pending
  request is approved or refused once; any other move raises and changes nothing. The requester
  never decides their own request.
- **Attachments**: a file uploaded to a ticket is an ``attached`` event; uploaded to one of its
  type's attachment fields, the field then holds the file's id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from callcenter.core.errors import InvalidRequest
from callcenter.core.tickets import fields as fv
from callcenter.core.tickets.model import FieldKind, Workflow
from callcenter.core.tickets.ticket import Attached, Ticket, TicketEvent
from callcenter.core.tickets.workflow import TicketRefused

Level = Literal["view", "work"]
LEVELS: tuple[Level, ...] = ("view", "work")
MIN_GRANT = timedelta(minutes=1)
MAX_GRANT = timedelta(days=30)
APPROVERS = frozenset({"supervisor", "admin"})
HIGH_RISK = ("delete", "priority")
State = Literal["pending", "approved", "refused"]
# The approvals' whole state table: a move not listed is refused.
TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"approved", "refused"}),
    "approved": frozenset(),
    "refused": frozenset(),
}


@dataclass(frozen=True, slots=True)
class Grant:
    id: int
    user: str
    ticket_id: str | None
    team: str | None
    level: Level
    granted_by: str
    granted_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    revoked_by: str | None = None

    def in_force(self, now: datetime) -> bool:
        return self.revoked_at is None and self.granted_at <= now < self.expires_at

    def covers(self, ticket: Ticket) -> bool:
        return self.ticket_id == ticket.id or (self.ticket_id is None and self.team == ticket.team)


def duration(minutes: int) -> timedelta:
    """A grant's length, within bounds (a forgotten grant must still end)."""
    length = timedelta(minutes=minutes)
    if not MIN_GRANT <= length <= MAX_GRANT:
        raise InvalidRequest(f"minutes: a grant lasts from 1 minute to {MAX_GRANT.days} days")
    return length


def check_target(wf: Workflow, ticket_id: str | None, team: str | None) -> None:
    """A grant names one ticket or one team of the workflow, not both, not neither."""
    if (ticket_id is None) == (team is None):
        raise InvalidRequest("name either ticket_id or team")
    if team is not None and team not in wf.teams:
        raise InvalidRequest(f"team: unknown team {team!r}")


def level_of(grants: Iterable[Grant], ticket: Ticket, now: datetime) -> Level | None:
    """The best level the grants in force at ``now`` give on ``ticket`` (None: none)."""
    levels = {g.level for g in grants if g.in_force(now) and g.covers(ticket)}
    return "work" if "work" in levels else "view" if "view" in levels else None


def granted_teams(grants: Iterable[Grant], now: datetime) -> frozenset[str]:
    """The teams whose tickets team-wide grants in force at ``now`` let the user see."""
    return frozenset(g.team for g in grants if g.team is not None and g.in_force(now))


def needs_approval(role: str | None) -> bool:
    return role not in APPROVERS


@dataclass(frozen=True, slots=True)
class Approval:
    id: int
    ticket_id: str
    action: str  # delete | priority
    params: dict[str, str]
    line: str | None
    team: str
    title: str
    reason: str
    requested_by: str
    requested_at: datetime
    state: State = "pending"
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str = ""


def decide(approval: Approval, state: State, by: str, at: datetime, note: str = "") -> Approval:
    """The supervisor's decision; raises TicketRefused (409) for a decided request or one's own."""
    if state not in TRANSITIONS[approval.state]:
        raise TicketRefused(f"request {approval.id} is already {approval.state}")
    if by == approval.requested_by:
        raise TicketRefused("a request is decided by another supervisor than its requester")
    return replace(approval, state=state, decided_by=by, decided_at=at, note=note)


def attach(
    wf: Workflow, ticket: Ticket, attachment_id: str, name: str, field: str | None, at: datetime, by: str
) -> tuple[Ticket, tuple[TicketEvent, ...]]:
    """A file uploaded to ``ticket``; to ``field`` (an attachment field of its type), which then
    holds the file's id."""
    event = Attached(ticket.id, at, by, attachment_id, name, field)
    if field is None:
        return ticket, (event,)
    tt = wf.types.get(ticket.type)
    spec = None if tt is None else tt.field(field)
    if spec is None or spec.kind is not FieldKind.ATTACHMENT:
        raise fv.TicketInvalid({field: f"not an attachment field of type {ticket.type!r}"})
    changed = replace(
        ticket,
        fields={**ticket.fields, field: attachment_id},
        field_times={**ticket.field_times, f"fields.{field}": at},
    )
    return changed, (event,)

"""A ticket as the core keeps it (a frozen snapshot) and the events its changes emit.

``history`` is every status the ticket has been in, with when and why; the SLA clocks are computed
from it (``sla.py``), so it is the one record of time spent per status.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from callcenter.core.tickets.fields import FieldValue


@dataclass(frozen=True, slots=True)
class StatusChange:
    at: datetime
    status: str
    by: str
    reason: str = ""  # a reopen's reason


@dataclass(frozen=True, slots=True)
class Ticket:
    id: str
    type: str
    title: str
    status: str
    team: str
    priority: str
    fields: Mapping[str, FieldValue]
    created_at: datetime
    created_by: str
    history: tuple[StatusChange, ...]
    customer_id: str | None = None
    interaction_id: str | None = None
    line: str | None = None
    language: str | None = None
    tier: str | None = None
    first_response_at: datetime | None = None
    reopened: int = 0
    reopen_reason: str = ""
    #: SLA marks already given: "<target>:warned", "<target>:breached" (each event fires once)
    sla_marks: frozenset[str] = frozenset()
    #: the context the ticket was created with (IVR data, the transcript or chat so far)
    context: Mapping[str, str] = field(default_factory=dict)
    #: per field ("title", "priority", "fields.<name>"), the time of the update in force: its own
    #: timestamp for a CRM's update, the change's time for ours (core/tickets/crm.py)
    field_times: Mapping[str, datetime] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TicketEvent:
    ticket_id: str
    at: datetime
    by: str

    @property
    def kind(self) -> str:
        return _KINDS[type(self)]


@dataclass(frozen=True, slots=True)
class TicketCreated(TicketEvent):
    type: str
    team: str
    priority: str
    rule: str  # which routing rule placed it, in words


@dataclass(frozen=True, slots=True)
class StatusChanged(TicketEvent):
    before: str
    after: str


@dataclass(frozen=True, slots=True)
class Reopened(TicketEvent):
    before: str
    after: str
    reason: str


@dataclass(frozen=True, slots=True)
class Transferred(TicketEvent):
    from_team: str
    to_team: str
    reason: str


@dataclass(frozen=True, slots=True)
class PriorityChanged(TicketEvent):
    before: str
    after: str


@dataclass(frozen=True, slots=True)
class Commented(TicketEvent):
    internal: bool
    first_response: bool


@dataclass(frozen=True, slots=True)
class CustomerWrote(TicketEvent):
    """The customer's own message on the ticket (an e-mail answering it, a message quoting its id,
    the e-mail that opened it), stored as a comment ``by`` the customer."""

    channel: str


@dataclass(frozen=True, slots=True)
class SlaWarning(TicketEvent):
    target: str  # "first_response" | "resolution"
    due_at: datetime
    remaining_seconds: float


@dataclass(frozen=True, slots=True)
class SlaBreached(TicketEvent):
    target: str
    due_at: datetime


@dataclass(frozen=True, slots=True)
class Escalated(TicketEvent):
    target: str
    action: str  # notify | reassign | raise_priority
    before: str
    after: str


@dataclass(frozen=True, slots=True)
class CrmUpdated(TicketEvent):
    """A CRM's update (core/tickets/crm.py): ``source_at`` is its own timestamp; ``applied`` maps
    each field it changed to ``{"before", "after"}``, ``lost`` each field a newer update holds to
    ``{"value", "newer_at"}`` (the losing value, recorded, not applied)."""

    source_at: datetime
    applied: Mapping[str, Mapping[str, object]]
    lost: Mapping[str, Mapping[str, object]]


@dataclass(frozen=True, slots=True)
class Attached(TicketEvent):
    """A file was uploaded to the ticket (to one of its type's attachment fields when ``field``)."""

    attachment_id: str
    name: str
    field: str | None


_KINDS: dict[type, str] = {
    Attached: "attached",
    TicketCreated: "created",
    StatusChanged: "status",
    Reopened: "reopened",
    Transferred: "transferred",
    PriorityChanged: "priority",
    Commented: "commented",
    CustomerWrote: "customer_message",
    SlaWarning: "sla_warning",
    SlaBreached: "sla_breached",
    Escalated: "escalated",
    CrmUpdated: "crm_updated",
}
SYSTEM = "system"  # who acts for SLA escalations
CUSTOMER = "customer"  # who acts for a customer's reply

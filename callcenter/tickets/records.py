"""What the tickets' API and jobs read and write, as they see it: records (frozen dataclasses) and
the port (a Protocol) the tickets store implements. The web layer depends on these, never on the
store (tests/unit/test_architecture.py)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from callcenter.core.tickets.ticket import Ticket, TicketEvent
from callcenter.core.tickets.triggers import Flagged

# A customer's own message (``by`` the customer) is "received"; its ``message_id`` is the
# messaging message it came in (so an answer threaded to it finds the ticket again).
Delivery = Literal["none", "pending", "queued", "no_channel", "received"]
Change = Callable[[Ticket], tuple[Ticket, tuple[TicketEvent, ...]]]


class Claimed(Exception):
    """The event's key was claimed already: its ticket exists (or no rule wanted one)."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who changes a ticket, as the audit names them."""

    name: str
    role: str | None = None
    client: str | None = None


@dataclass(frozen=True, slots=True)
class TicketFilter:
    """``GET /api/tickets``: None means any; ``lines`` None: every line (an unscoped principal)."""

    teams: frozenset[str] | None = None
    status: str | None = None
    type: str | None = None
    priority: str | None = None
    customer_id: str | None = None
    open: bool | None = None
    lines: frozenset[str] | None = None
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True, slots=True)
class Comment:
    id: int
    ticket_id: str
    at: datetime
    by: str
    internal: bool
    body: str
    delivery: Delivery
    message_id: str | None


@dataclass(frozen=True, slots=True)
class StoredEvent:
    ticket_id: str
    at: datetime
    kind: str
    by: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StoredAlert:
    """A notification as stored (core/tickets/alerts.py's ``Alert`` with its id and read mark)."""

    id: int
    recipient: str
    kind: str
    ticket_id: str
    at: datetime
    by: str
    text: str
    read: bool


class TicketsPort(Protocol):
    async def create(
        self,
        ticket: Ticket,
        events: Sequence[TicketEvent],
        actor: Actor,
        received: tuple[str, str] | None = None,
        claim: str | None = None,
    ) -> None:
        """``received``: the customer's message that opened it, (body, messaging message id),
        stored as its first comment in the same transaction. ``claim``: the key of the event that
        opened it (a trigger rule's), claimed in the same transaction; ``Claimed`` when it was
        claimed already (nothing written)."""
        ...

    async def claim_nothing(self, key: str, at: datetime) -> bool:
        """Claim an event's key with no ticket (no rule matched it); False: claimed already."""
        ...

    async def flagged(self, flags: Collection[str], since: datetime, limit: int = 100) -> list[Flagged]:
        """QA flags among ``flags`` on contacts since ``since`` whose key no one has claimed,
        oldest first."""
        ...

    async def get(self, ticket_id: str) -> Ticket | None: ...

    async def find(self, query: TicketFilter) -> list[Ticket]: ...

    async def change(
        self, ticket_id: str, change: Change, actor: Actor
    ) -> tuple[Ticket, tuple[TicketEvent, ...]]:
        """Read, apply ``change`` (a core function), write with its events and audit rows, in one
        transaction that holds the row; LookupError when there is no such ticket. A DomainError
        from ``change`` leaves everything as it was."""
        ...

    async def add_comment(
        self,
        ticket_id: str,
        change: Change,
        body: str,
        internal: bool,
        actor: Actor,
        received: str | None = None,
    ) -> tuple[Ticket, Comment]:
        """``received``: the comment is the customer's message with this messaging message id."""
        ...

    async def ticket_of_messages(self, message_ids: Sequence[str]) -> str | None:
        """The ticket a messaging message belongs to (a reply it sent, a customer's message it
        took), the newest first; None when none does."""
        ...

    async def comments(self, ticket_id: str) -> list[Comment]: ...

    async def events(self, ticket_id: str) -> list[StoredEvent]: ...

    async def pending_replies(self, limit: int = 50) -> list[Comment]: ...

    async def set_delivery(self, comment_id: int, delivery: Delivery, message_id: str | None) -> None: ...

    async def open_tickets(self, limit: int = 500) -> list[Ticket]: ...

    async def notifications(self, recipients: Collection[str], limit: int = 50) -> list[StoredAlert]:
        """The newest notifications of these recipients (a user's name and agent id)."""
        ...

    async def mark_read(self, recipients: Collection[str], ids: Collection[int] | None = None) -> int:
        """Mark theirs read (``ids`` None: all); how many were unread."""
        ...

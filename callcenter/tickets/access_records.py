"""What the temporary access, the approvals and the attachments read and write, as the service sees
them: records and the port (a Protocol) ``storage/ticket_access_store.py`` implements."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from callcenter.core.tickets.access import Approval, Grant, Level, State
from callcenter.core.tickets.ticket import Ticket
from callcenter.tickets.records import Actor, Change


@dataclass(frozen=True, slots=True)
class Attachment:
    id: str
    ticket_id: str
    field: str | None
    name: str
    content_type: str
    size: int
    sha256: str
    encrypted: bool
    uploaded_by: str
    uploaded_at: datetime


@dataclass(frozen=True, slots=True)
class NewGrant:
    user: str
    ticket_id: str | None
    team: str | None
    level: Level
    line: str | None
    seconds: int


class AccessPort(Protocol):
    async def now(self) -> datetime:
        """The shared database's clock (every node compares expiries with the same time)."""
        ...

    async def grants_of(self, user: str) -> tuple[datetime, list[Grant]]:
        """The database's time and the user's grants in force at it, in one transaction."""
        ...

    async def add_grant(self, grant: NewGrant, actor: Actor) -> Grant:
        """Stored with its audit row (``ticket.access_granted``) in one transaction."""
        ...

    async def revoke_grant(self, grant_id: int, actor: Actor) -> Grant | None:
        """None: no such grant in force; else revoked, audited (``ticket.access_revoked``)."""
        ...

    async def active_grants(
        self, ticket_id: str | None, team: str | None, lines: frozenset[str] | None
    ) -> list[Grant]: ...

    async def request(self, approval: Approval, actor: Actor) -> Approval:
        """A pending request, audited; the same action pending on the ticket is returned instead."""
        ...

    async def approvals(
        self, state: State | None, lines: frozenset[str] | None, limit: int = 100
    ) -> list[Approval]: ...

    async def get_approval(self, approval_id: int) -> Approval | None: ...

    async def decide(
        self, approval_id: int, state: State, actor: Actor, note: str, change: Change | None
    ) -> tuple[Approval, Ticket | None, bool]:
        """Pending → ``state`` in one transaction that holds the request's row; approved, the action
        runs in it (``change`` on the ticket, or with None its deletion), exactly once whichever
        node approves; LookupError: no such request or no such ticket any more. The request as it
        is now, the ticket the action left (a deleted one: its last state), and whether this call
        decided (False: it had been decided already, nothing was done)."""
        ...

    async def delete_ticket(self, ticket_id: str, actor: Actor, approval_id: int | None) -> Ticket:
        """The ticket, its comments, events and attachments' rows gone; the audit row
        (``ticket.deleted``) keeps its last snapshot. LookupError: no such ticket."""
        ...

    async def attach(self, attachment: Attachment, change: Change, actor: Actor) -> Ticket:
        """The attachment's row and the ticket's change (its ``attached`` event, audited) together."""
        ...

    async def attachments(self, ticket_id: str) -> list[Attachment]: ...

    async def attachment(self, attachment_id: str) -> Attachment | None: ...

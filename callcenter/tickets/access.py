"""Temporary access, approvals and attachments as the server runs them (docs/tickets.md,
"Temporary access", "Approvals", "Attachments"): each request reads the grants with the database's
clock; an approved action runs inside the approval's transaction; an upload is judged by its bytes,
stored on the shared attachments directory, then its row and the ticket's event written together.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from typing import Protocol

from callcenter.accounts.principal import Principal
from callcenter.core.tickets import access as rules
from callcenter.core.tickets import fields as fv
from callcenter.core.tickets import workflow as wfl
from callcenter.core.tickets.filetypes import KINDS, FileKind, extension, sniff
from callcenter.core.tickets.ticket import Ticket
from callcenter.core.tickets.workflow import TicketRefused
from callcenter.tickets.access_records import AccessPort, Attachment
from callcenter.tickets.records import Actor, Change
from callcenter.tickets.service import Tickets

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class FilesPort(Protocol):
    def write(self, attachment_id: str, data: bytes) -> tuple[str, bool]: ...

    def read(self, attachment_id: str, sha256: str, encrypted: bool) -> bytes: ...

    def delete(self, attachment_id: str) -> None: ...


class UploadRefused(Exception):
    """An upload that is too large (413) or of a kind not taken (415): nothing stored."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def new_attachment_id() -> str:
    return "A-" + "".join(secrets.choice(_ALPHABET) for _ in range(16))


@dataclass
class TicketAccess:
    tickets: Tickets
    store: AccessPort
    files: FilesPort
    max_bytes: int = 10 * 1024 * 1024
    types: frozenset[str] = frozenset(KINDS)

    # -- who may do what, grants included -----------------------------------------------------
    async def level(self, principal: Principal, ticket: Ticket) -> rules.Level | None:
        """What ``principal`` may do on ``ticket``: its role and teams, else its grants in force now
        (the database's clock). A grant never reaches past the principal's business lines."""
        if self.tickets.may_work(principal, ticket):
            return "work"
        if not principal.may_see(ticket.line):
            return None
        now, grants = await self.store.grants_of(principal.name)
        granted = rules.level_of(grants, ticket, now)
        if granted is None and self.tickets.may_view(principal, ticket):
            return "view"
        return granted

    async def granted_teams(self, principal: Principal) -> frozenset[str]:
        now, grants = await self.store.grants_of(principal.name)
        return rules.granted_teams(grants, now)

    # -- approvals -----------------------------------------------------------------------------
    def approval(self, ticket: Ticket, action: str, params: dict[str, str], reason: str) -> rules.Approval:
        """A request to check and store (its id, requester and time are the store's)."""
        if action == "priority" and params["priority"] not in self.tickets.workflow.priorities:
            raise fv.TicketInvalid({"priority": f"unknown priority {params['priority']!r}"})
        return rules.Approval(
            id=0, ticket_id=ticket.id, action=action, params=params, line=ticket.line, team=ticket.team,
            title=ticket.title, reason=reason, requested_by="", requested_at=ticket.created_at,
        )  # fmt: skip

    async def decide(
        self, approval: rules.Approval, state: rules.State, actor: Actor, note: str
    ) -> tuple[rules.Approval, Ticket | None]:
        rules.decide(approval, state, actor.name, approval.requested_at, note)  # refuses early: 409
        wf, at = self.tickets.workflow, self.tickets.clock()
        change: Change | None = None
        if approval.action == "priority":
            priority = approval.params["priority"]

            def change(t: Ticket) -> wfl.Result:
                return wfl.set_priority(wf, t, priority, at, actor.name)

        files = await self.store.attachments(approval.ticket_id) if approval.action == "delete" else []
        decided, ticket, acted = await self.store.decide(approval.id, state, actor, note, change)
        if not acted:
            raise TicketRefused(f"request {decided.id} was already {decided.state} by {decided.decided_by}")
        if ticket is not None and decided.action == "delete":
            for f in files:  # the rows went with the ticket (their ids are in the audit row)
                self.files.delete(f.id)
        return decided, ticket

    async def delete(self, ticket: Ticket, actor: Actor) -> None:
        files = await self.store.attachments(ticket.id)
        await self.store.delete_ticket(ticket.id, actor, None)
        for f in files:
            self.files.delete(f.id)

    # -- attachments ---------------------------------------------------------------------------
    def judge(self, name: str, data: bytes) -> FileKind:
        if len(data) > self.max_bytes:
            raise UploadRefused(413, f"the file is larger than {self.max_bytes} bytes")
        kind = sniff(data)  # signatures look at the head; text is checked whole
        if kind is None or kind.name not in self.types:
            taken = ", ".join(sorted(self.types))
            raise UploadRefused(415, f"this kind of file is not taken (allowed: {taken})")
        if extension(name) not in kind.extensions:
            raise UploadRefused(
                415,
                f"the file's content is {kind.name}, its name should end with {' or '.join(kind.extensions)}",
            )
        return kind

    async def upload(
        self, ticket: Ticket, name: str, data: bytes, field: str | None, actor: Actor
    ) -> tuple[Ticket, Attachment]:
        kind = self.judge(name, data)
        attachment_id, at, wf = new_attachment_id(), self.tickets.clock(), self.tickets.workflow
        if field is not None:  # refused before anything is written (400)
            rules.attach(wf, ticket, attachment_id, name, field, at, actor.name)
        sha256, encrypted = await asyncio.to_thread(self.files.write, attachment_id, data)  # fsync
        record = Attachment(
            id=attachment_id, ticket_id=ticket.id, field=field, name=name, content_type=kind.content_type,
            size=len(data), sha256=sha256, encrypted=encrypted, uploaded_by=actor.name, uploaded_at=at,
        )  # fmt: skip
        try:
            changed = await self.store.attach(
                record, lambda t: rules.attach(wf, t, attachment_id, name, field, at, actor.name), actor
            )
        except BaseException:
            self.files.delete(attachment_id)  # no row: the file must not stay
            raise
        return changed, record

    async def read(self, attachment: Attachment) -> bytes:
        a = attachment
        return await asyncio.to_thread(self.files.read, a.id, a.sha256, a.encrypted)

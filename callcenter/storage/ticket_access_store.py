"""Temporary access, approvals and attachments' rows (migration 0024).

Invariants:

- Expiry is judged with the database's clock (``now()`` on PostgreSQL, SQLite's own), read in the
  transaction that reads the grants: every node sees a grant end at the same moment, and no timer
  has to fire anywhere.
- A grant, a revocation, a request and a decision are each written with their chained ``audit``
  row in one transaction: no row, no change.
- A decision is a conditional update (``state = 'pending'``) in the transaction that carries out
  the approved action on the ticket (which holds the ticket's row, tickets_store.py): whichever
  nodes approve at once, one finds the request pending and acts, the others find it decided.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from callcenter.aio import cancel_safe
from callcenter.core.tickets.access import Approval, Grant, State
from callcenter.core.tickets.ticket import Ticket
from callcenter.storage import audit_chain, webhooks_store
from callcenter.storage.db import ConnectionStore
from callcenter.storage.db_models import (
    AuditRow,
    TicketApprovalRow,
    TicketAttachmentRow,
    TicketGrantRow,
)
from callcenter.storage.tickets_store import TicketsStore, comments_t, events_t, tickets
from callcenter.tickets import codec
from callcenter.tickets.access_records import Attachment, NewGrant
from callcenter.tickets.records import Actor, Change

grants_t = cast(sa.Table, TicketGrantRow.__table__)
approvals_t = cast(sa.Table, TicketApprovalRow.__table__)
attachments_t = cast(sa.Table, TicketAttachmentRow.__table__)


def _aware(value: object) -> datetime:
    if isinstance(value, str):  # SQLite's strftime
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


async def _now(c: AsyncConnection) -> datetime:
    if c.dialect.name == "sqlite":
        return _aware(await c.scalar(sa.text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")))
    return _aware(await c.scalar(sa.text("SELECT now()")))


def _grant(r: Any) -> Grant:
    return Grant(
        id=int(r["id"]), user=r["user"], ticket_id=r["ticket_id"], team=r["team"], level=r["level"],
        granted_by=r["granted_by"], granted_at=r["granted_at"], expires_at=r["expires_at"],
        revoked_at=r["revoked_at"], revoked_by=r["revoked_by"],
    )  # fmt: skip


def _approval(r: Any) -> Approval:
    return Approval(
        id=int(r["id"]), ticket_id=r["ticket_id"], action=r["action"], params=dict(r["params"]),
        line=r["line"], team=r["team"], title=r["title"], reason=r["reason"],
        requested_by=r["requested_by"], requested_at=r["requested_at"], state=r["state"],
        decided_by=r["decided_by"], decided_at=r["decided_at"], note=r["note"],
    )  # fmt: skip


def _attachment(r: Any) -> Attachment:
    return Attachment(
        id=r["id"], ticket_id=r["ticket_id"], field=r["field"], name=r["name"],
        content_type=r["content_type"], size=int(r["size"]), sha256=r["sha256"],
        encrypted=bool(r["encrypted"]), uploaded_by=r["uploaded_by"], uploaded_at=r["uploaded_at"],
    )  # fmt: skip


async def _audit(
    c: AsyncConnection, at: datetime, actor: Actor, action: str, target: str, detail: dict[str, Any]
) -> None:
    row = {"at": at, "who": actor.name, "role": actor.role, "action": action, "target": target,
           "detail": detail, "client": actor.client}  # fmt: skip
    await audit_chain.append(c, AuditRow, row)


def _grant_detail(g: Grant) -> dict[str, Any]:
    return {"user": g.user, "ticket_id": g.ticket_id, "team": g.team, "level": g.level,
            "expires_at": g.expires_at.isoformat()}  # fmt: skip


@cancel_safe
class TicketAccessStore(ConnectionStore):
    _name = "ticket access store"

    def __init__(self, url: str, engine: Any, tickets_store: TicketsStore) -> None:
        super().__init__(url, engine)
        self._tickets = tickets_store

    async def start(self) -> None:
        await self._open()

    async def now(self) -> datetime:
        async with self._begin("read the database's clock") as c:
            return await _now(c)

    # -- temporary access ----------------------------------------------------------------------
    async def grants_of(self, user: str) -> tuple[datetime, list[Grant]]:
        async with self._begin(f"read the grants of {user}") as c:
            now = await _now(c)
            q = (
                sa.select(grants_t)
                .where(grants_t.c.user == user, grants_t.c.expires_at > now, grants_t.c.revoked_at.is_(None))
                .order_by(grants_t.c.id)
            )
            return now, [_grant(r) for r in (await c.execute(q)).mappings()]

    async def add_grant(self, grant: NewGrant, actor: Actor) -> Grant:
        async with self._begin(f"grant access to {grant.user}", write=True) as c:
            now = await _now(c)
            values = {
                "user": grant.user, "ticket_id": grant.ticket_id, "team": grant.team,
                "level": grant.level, "line": grant.line, "granted_by": actor.name, "granted_at": now,
                "expires_at": now + timedelta(seconds=grant.seconds),
            }  # fmt: skip
            key = (await c.execute(grants_t.insert().values(**values))).inserted_primary_key
            assert key is not None
            stored = _grant({**values, "id": key[0], "revoked_at": None, "revoked_by": None})
            target = grant.ticket_id or f"team:{grant.team}"
            await _audit(c, now, actor, "ticket.access_granted", target, _grant_detail(stored))
            return stored

    async def revoke_grant(self, grant_id: int, actor: Actor) -> Grant | None:
        async with self._begin(f"revoke grant {grant_id}", write=True) as c:
            now = await _now(c)
            live = (grants_t.c.id == grant_id, grants_t.c.revoked_at.is_(None), grants_t.c.expires_at > now)
            row = (await c.execute(sa.select(grants_t).where(*live))).mappings().first()
            if row is None:
                return None
            done = await c.execute(
                grants_t.update().where(*live).values(revoked_at=now, revoked_by=actor.name)
            )
            if done.rowcount != 1:
                return None
            g = _grant({**row, "revoked_at": now, "revoked_by": actor.name})
            target = g.ticket_id or f"team:{g.team}"
            await _audit(c, now, actor, "ticket.access_revoked", target, {**_grant_detail(g), "id": g.id})
            return g

    async def active_grants(
        self, ticket_id: str | None, team: str | None, lines: frozenset[str] | None
    ) -> list[Grant]:
        async with self._begin("read grants") as c:
            now = await _now(c)
            q = sa.select(grants_t).where(grants_t.c.expires_at > now, grants_t.c.revoked_at.is_(None))
            if ticket_id is not None:
                q = q.where(grants_t.c.ticket_id == ticket_id)
            if team is not None:
                q = q.where(grants_t.c.team == team)
            if lines is not None:
                q = q.where(grants_t.c.line.in_(sorted(lines)))
            return [_grant(r) for r in (await c.execute(q.order_by(grants_t.c.id).limit(500))).mappings()]

    # -- approvals -----------------------------------------------------------------------------
    async def request(self, approval: Approval, actor: Actor) -> Approval:
        async with self._begin(f"request {approval.action} of {approval.ticket_id}", write=True) as c:
            if await self._tickets.read_in(c, approval.ticket_id) is None:  # holds the ticket's row
                raise LookupError(approval.ticket_id)
            same = sa.select(approvals_t).where(
                approvals_t.c.ticket_id == approval.ticket_id,
                approvals_t.c.action == approval.action,
                approvals_t.c.state == "pending",
            )
            pending = (await c.execute(same)).mappings().first()
            if pending is not None:
                return _approval(pending)
            now = await _now(c)
            values = {
                "ticket_id": approval.ticket_id, "action": approval.action, "params": approval.params,
                "line": approval.line, "team": approval.team, "title": approval.title,
                "reason": approval.reason, "requested_by": actor.name, "requested_at": now,
                "state": "pending", "decided_by": None, "decided_at": None, "note": "",
            }  # fmt: skip
            key = (await c.execute(approvals_t.insert().values(**values))).inserted_primary_key
            assert key is not None
            stored = _approval({**values, "id": key[0]})
            detail = {
                "id": stored.id,
                "action": stored.action,
                "params": stored.params,
                "reason": stored.reason,
            }
            await _audit(c, now, actor, "ticket.approval_requested", stored.ticket_id, detail)
            return stored

    async def approvals(
        self, state: State | None, lines: frozenset[str] | None, limit: int = 100
    ) -> list[Approval]:
        q = sa.select(approvals_t).order_by(approvals_t.c.id.desc()).limit(limit)
        if state is not None:
            q = q.where(approvals_t.c.state == state)
        if lines is not None:
            q = q.where(approvals_t.c.line.in_(sorted(lines)))
        async with self._begin("read approvals") as c:
            return [_approval(r) for r in (await c.execute(q)).mappings()]

    async def get_approval(self, approval_id: int) -> Approval | None:
        async with self._begin(f"read approval {approval_id}") as c:
            row = (await c.execute(sa.select(approvals_t).where(approvals_t.c.id == approval_id))).mappings()
            found = row.first()
            return None if found is None else _approval(found)

    async def decide(
        self, approval_id: int, state: State, actor: Actor, note: str, change: Change | None
    ) -> tuple[Approval, Ticket | None, bool]:
        async with self._begin(f"decide approval {approval_id}", write=True) as c:
            now = await _now(c)
            this = approvals_t.c.id == approval_id
            done = await c.execute(
                approvals_t.update()
                .where(this, approvals_t.c.state == "pending")
                .values(state=state, decided_by=actor.name, decided_at=now, note=note)
            )
            row = (await c.execute(sa.select(approvals_t).where(this))).mappings().first()
            if row is None:
                raise LookupError(approval_id)
            decided = _approval(row)
            if done.rowcount != 1:
                return decided, None, False  # decided before (here or on another node): nothing done
            detail = {"id": approval_id, "action": decided.action, "params": decided.params,
                      "requested_by": decided.requested_by, "note": note}  # fmt: skip
            await _audit(c, now, actor, f"ticket.approval_{state}", decided.ticket_id, detail)
            if state != "approved":
                return decided, None, True
            if change is None:
                ticket = await self._delete_in(c, decided.ticket_id, actor, approval_id, now)
            else:
                ticket, _ = await self._tickets.apply_in(c, decided.ticket_id, change, actor)
            return decided, ticket, True

    async def delete_ticket(self, ticket_id: str, actor: Actor, approval_id: int | None) -> Ticket:
        async with self._begin(f"delete ticket {ticket_id}", write=True) as c:
            return await self._delete_in(c, ticket_id, actor, approval_id, await _now(c))

    async def _delete_in(
        self, c: AsyncConnection, ticket_id: str, actor: Actor, approval_id: int | None, now: datetime
    ) -> Ticket:
        before = await self._tickets.read_in(c, ticket_id)
        if before is None:
            raise LookupError(ticket_id)
        files = await c.scalars(sa.select(attachments_t.c.id).where(attachments_t.c.ticket_id == ticket_id))
        detail = {"before": codec.ticket_json(before), "after": None, "approval": approval_id,
                  "attachments": list(files)}  # fmt: skip
        await _audit(c, now, actor, "ticket.deleted", ticket_id, detail)
        hook = {"ticket": codec.ticket_json(before), "event": {"kind": "deleted", "approval": approval_id}}
        key = f"ticket-deleted-{ticket_id}"
        await webhooks_store.enqueue(c, self._tickets.subscriptions, "ticket.deleted", key, now, hook)
        await c.execute(  # what was still asked of it cannot be done any more
            approvals_t.update()
            .where(approvals_t.c.ticket_id == ticket_id, approvals_t.c.state == "pending")
            .values(state="refused", decided_by=actor.name, decided_at=now, note="the ticket was deleted")
        )
        for table in (comments_t, events_t, attachments_t):
            await c.execute(table.delete().where(table.c.ticket_id == ticket_id))
        await c.execute(tickets.delete().where(tickets.c.id == ticket_id))
        return before

    # -- attachments ---------------------------------------------------------------------------
    async def attach(self, attachment: Attachment, change: Change, actor: Actor) -> Ticket:
        async with self._begin(f"attach a file to {attachment.ticket_id}", write=True) as c:
            ticket, _ = await self._tickets.apply_in(c, attachment.ticket_id, change, actor)
            values = {
                "id": attachment.id, "ticket_id": attachment.ticket_id, "field": attachment.field,
                "name": attachment.name, "content_type": attachment.content_type,
                "size": attachment.size, "sha256": attachment.sha256,
                "encrypted": attachment.encrypted, "uploaded_by": attachment.uploaded_by,
                "uploaded_at": attachment.uploaded_at,
            }  # fmt: skip
            await c.execute(attachments_t.insert().values(**values))
            return ticket

    async def attachments(self, ticket_id: str) -> list[Attachment]:
        q = (
            sa.select(attachments_t)
            .where(attachments_t.c.ticket_id == ticket_id)
            .order_by(attachments_t.c.uploaded_at, attachments_t.c.id)
        )
        async with self._begin(f"read the attachments of {ticket_id}") as c:
            return [_attachment(r) for r in (await c.execute(q)).mappings()]

    async def attachment(self, attachment_id: str) -> Attachment | None:
        q = sa.select(attachments_t).where(attachments_t.c.id == attachment_id)
        async with self._begin(f"read attachment {attachment_id}") as c:
            row = (await c.execute(q)).mappings().first()
            return None if row is None else _attachment(row)

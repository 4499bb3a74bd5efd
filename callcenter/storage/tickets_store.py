"""The tickets' storage (migration 0016): tickets, comments, events, and their audit rows.

Invariant: a ticket's change, its events and its audit rows (the chained ``audit`` table, one row
per event: who, when, before/after) are written in one transaction, which holds the ticket's row
from its read (``FOR UPDATE`` on PostgreSQL, SQLite's write lock taken at BEGIN), so changes made
on several nodes at once are applied one after the other, each to the state the other left.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from callcenter.aio import cancel_safe
from callcenter.core.tickets.alerts import Alert
from callcenter.core.tickets.ticket import Ticket, TicketEvent
from callcenter.core.tickets.triggers import Flagged
from callcenter.settings.webhooks import Subscription
from callcenter.storage import audit_chain, webhooks_store
from callcenter.storage.db import ConnectionStore
from callcenter.storage.db_models import (
    AuditRow,
    InteractionRow,
    QaFlagRow,
    QaTranscriptRow,
    TicketCommentRow,
    TicketEventRow,
    TicketNotificationRow,
    TicketRow,
    TicketTriggerRow,
)
from callcenter.tickets import codec
from callcenter.tickets.records import (
    Actor,
    Change,
    Claimed,
    Comment,
    Delivery,
    StoredAlert,
    StoredEvent,
    TicketFilter,
)

# (after, event) -> (team, {"to", "subject", "text"}) when the event is mailed to a team.
Notify = Callable[[Ticket, TicketEvent], tuple[str, Mapping[str, str]] | None]
tickets = cast(sa.Table, TicketRow.__table__)
comments_t = cast(sa.Table, TicketCommentRow.__table__)
events_t = cast(sa.Table, TicketEventRow.__table__)
triggers_t = cast(sa.Table, TicketTriggerRow.__table__)
notifications_t = cast(sa.Table, TicketNotificationRow.__table__)
# (after, event, a note's text) -> the notifications it gives (core/tickets/alerts.py).
Alerts = Callable[[Ticket, TicketEvent, str | None], Sequence[Alert]]
# (after, event, alert) -> {"to", "subject", "text"} when its recipient opted in to e-mail copies.
AlertMail = Callable[[Ticket, TicketEvent, Alert], Mapping[str, str] | None]
log = logging.getLogger(__name__)


_ALERT_FIELDS = ("id", "recipient", "kind", "ticket_id", "at", "by", "text", "read")


def _alert_row(a: Alert) -> dict[str, Any]:
    return {"recipient": a.recipient[:128], "kind": a.kind, "ticket_id": a.ticket_id, "at": a.at,
            "by": a.by, "text": a.text, "read": False}  # fmt: skip


def _now() -> datetime:
    return datetime.now(UTC)


def _columns(t: Ticket, closed: bool, at: datetime) -> dict[str, Any]:
    return {
        "type": t.type,
        "status": t.status,
        "team": t.team,
        "priority": t.priority,
        "line": t.line,
        "customer_id": t.customer_id,
        "interaction_id": t.interaction_id,
        "title": t.title,
        "open": not closed,
        "updated_at": at,
        "data": codec.ticket_json(t),
    }


@cancel_safe
class TicketsStore(ConnectionStore):
    _name = "tickets store"

    def __init__(
        self,
        url: str,
        engine: Any = None,
        closed: Any = None,
        subscriptions: Sequence[Subscription] = (),
        notify: Notify | None = None,
        alerts: Alerts | None = None,
        alert_mail: AlertMail | None = None,
    ) -> None:
        """``closed(ticket) -> bool``: whether the ticket is in a closed status (the workflow's);
        ``subscriptions``: the CRM webhooks, whose deliveries each change writes with its events;
        ``notify``: the teams' e-mails about events, written the same way (tickets/wiring.py)."""
        super().__init__(url, engine)
        self._closed = closed or (lambda t: False)
        self._subscriptions = tuple(subscriptions)
        self._notify = notify
        self._alerts = alerts
        self._alert_mail = alert_mail
        # Told of the notifications a change wrote, once it is committed (the panel's push).
        self.alerted: list[Callable[[Sequence[Alert]], None]] = []

    async def start(self) -> None:
        await self._open()

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        return self._subscriptions

    async def _write_events(
        self,
        c: AsyncConnection,
        before: Ticket | None,
        after: Ticket,
        events: Sequence[TicketEvent],
        actor: Actor,
        comment: Mapping[str, Any] | None = None,
        alerted: list[Alert] | None = None,
    ) -> None:
        for e in events:
            data = codec.event_json(e)
            result = await c.execute(
                events_t.insert().values(ticket_id=e.ticket_id, at=e.at, kind=e.kind, by=e.by, data=data)
            )
            if self._alerts is not None:  # the panel's notifications: in this transaction too
                note = comment.get("body") if comment is not None and e.kind == "commented" else None
                row_key = result.inserted_primary_key
                assert row_key is not None
                found = await self._write_alerts(c, after, e, note, int(row_key[0]))
                if alerted is not None:
                    alerted.extend(found)
            if self._subscriptions:  # the CRM's deliveries: in this transaction, keyed by the event row
                key = result.inserted_primary_key
                assert key is not None
                hook = {"ticket": codec.ticket_json(after), "event": {"kind": e.kind, **data}}
                if comment is not None and e.kind in ("commented", "customer_message"):
                    hook["comment"] = dict(comment)
                await webhooks_store.enqueue(
                    c, self._subscriptions, f"ticket.{e.kind}", f"ticket-event-{key[0]}", e.at, hook
                )
            mail = self._notify(after, e) if self._notify is not None else None
            if mail is not None:  # the team's e-mail: in this transaction too
                key = result.inserted_primary_key
                assert key is not None
                team, message = mail
                await webhooks_store.enqueue_mail(
                    c, team, f"ticket.{e.kind}", f"ticket-event-{key[0]}", e.at, message
                )
            detail = {"kind": e.kind, **data}
            if before is not None:
                detail["before"] = {"status": before.status, "team": before.team, "priority": before.priority}
            row = {
                "at": e.at,
                "who": actor.name if e.by != "system" else "system",
                "role": actor.role,
                "action": f"ticket.{e.kind}",
                "target": e.ticket_id,
                "detail": detail,
                "client": actor.client,
            }
            await audit_chain.append(c, AuditRow, row)

    async def create(
        self,
        ticket: Ticket,
        events: Sequence[TicketEvent],
        actor: Actor,
        received: tuple[str, str] | None = None,
        claim: str | None = None,
    ) -> None:
        values = _columns(ticket, self._closed(ticket), ticket.created_at)
        values |= {
            "id": ticket.id,
            "created_by": ticket.created_by,
            "created_at": ticket.created_at,
            "version": 1,
        }
        alerted: list[Alert] = []
        async with self._begin(f"create ticket {ticket.id}", write=True) as c:
            if claim is not None and not await self._claim(c, claim, ticket.id, ticket.created_at):
                raise Claimed(claim)
            await c.execute(tickets.insert().values(**values))
            comment = None
            if received is not None:
                comment = {"body": received[0], "internal": False, "by": actor.name}
            await self._write_events(c, None, ticket, events, actor, comment, alerted)
            if received is not None:
                await c.execute(
                    comments_t.insert().values(
                        ticket_id=ticket.id, at=ticket.created_at, by=actor.name, internal=False,
                        body=received[0], delivery="received", message_id=received[1],
                    )
                )  # fmt: skip
        self._announce(alerted)

    async def _write_alerts(
        self, c: AsyncConnection, after: Ticket, e: TicketEvent, note: str | None, event_row: int
    ) -> Sequence[Alert]:
        """The event's notifications, and the e-mail copies of those whose recipient opted in."""
        assert self._alerts is not None
        found = self._alerts(after, e, note)
        if not found:
            return found
        await c.execute(notifications_t.insert(), [_alert_row(a) for a in found])
        for a in found:
            mail = self._alert_mail(after, e, a) if self._alert_mail is not None else None
            if mail is not None:  # as a delivery of mail:@<recipient>, keyed by the event row
                await webhooks_store.enqueue_mail(
                    c, "@" + a.recipient, f"ticket.{a.kind}", f"ticket-event-{event_row}", e.at, mail
                )
        return found

    def _announce(self, alerted: Sequence[Alert]) -> None:
        if not alerted:
            return
        for listener in self.alerted:
            try:
                listener(alerted)
            except Exception:  # a listener's bug must not undo a committed change
                log.exception("tickets.alert_listener_failed")

    async def notifications(self, recipients: Collection[str], limit: int = 50) -> list[StoredAlert]:
        q = (
            sa.select(notifications_t)
            .where(notifications_t.c.recipient.in_(sorted(recipients)))
            .order_by(notifications_t.c.id.desc())
            .limit(limit)
        )
        async with self._begin("read notifications") as c:
            return [
                StoredAlert(
                    r["id"], r["recipient"], r["kind"], r["ticket_id"], r["at"], r["by"], r["text"], r["read"]
                )
                for r in (await c.execute(q)).mappings()
            ]

    async def mark_read(self, recipients: Collection[str], ids: Collection[int] | None = None) -> int:
        q = notifications_t.update().where(
            notifications_t.c.recipient.in_(sorted(recipients)), notifications_t.c.read.is_(False)
        )
        if ids is not None:
            q = q.where(notifications_t.c.id.in_(sorted(ids)))
        async with self._begin("mark notifications read", write=True) as c:
            return int((await c.execute(q.values(read=True))).rowcount)

    async def _claim(self, c: AsyncConnection, key: str, ticket_id: str | None, at: datetime) -> bool:
        """Claim an event's key in this transaction; False: claimed already. Two nodes claiming at
        once: PostgreSQL makes the second insert wait for the first's commit, then skip it."""
        dialect = postgresql if c.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(triggers_t).values(key=key, ticket_id=ticket_id, at=at)
        result = await c.execute(insert.on_conflict_do_nothing(index_elements=["key"]))
        return bool(result.rowcount == 1)

    async def claim_nothing(self, key: str, at: datetime) -> bool:
        async with self._begin(f"claim {key}", write=True) as c:
            return await self._claim(c, key, None, at)

    async def flagged(self, flags: Collection[str], since: datetime, limit: int = 100) -> list[Flagged]:
        if not flags:
            return []
        f, t, i = QaFlagRow, QaTranscriptRow, InteractionRow
        key = sa.literal("qa:") + f.interaction_id + sa.literal(":") + f.flag
        claimed = sa.select(triggers_t.c.key).where(triggers_t.c.key == key)
        q = (
            sa.select(f.interaction_id, f.flag, t.business_line, t.queue, t.agent_id, i.customer_id)
            .join(t, t.interaction_id == f.interaction_id)
            .outerjoin(i, i.id == f.interaction_id)
            .where(f.flag.in_(sorted(flags)), t.call_at >= since, ~sa.exists(claimed))
            .order_by(t.call_at, f.interaction_id, f.flag)
            .limit(limit)
        )
        async with self._begin("read unclaimed QA flags") as c:
            return [Flagged(*row) for row in await c.execute(q)]

    async def _read(self, c: AsyncConnection, ticket_id: str, lock: bool = False) -> Ticket | None:
        query = sa.select(tickets.c.data).where(tickets.c.id == ticket_id)
        if lock:
            query = query.with_for_update()
        data = await c.scalar(query)
        return None if data is None else codec.ticket_from_json(data)

    async def get(self, ticket_id: str) -> Ticket | None:
        async with self._begin(f"read ticket {ticket_id}") as c:
            return await self._read(c, ticket_id)

    async def find(self, query: TicketFilter) -> list[Ticket]:
        q = sa.select(tickets.c.data).order_by(tickets.c.updated_at.desc(), tickets.c.id)
        if query.teams is not None:
            q = q.where(tickets.c.team.in_(sorted(query.teams)))
        for column, value in (
            (tickets.c.status, query.status),
            (tickets.c.type, query.type),
            (tickets.c.priority, query.priority),
            (tickets.c.customer_id, query.customer_id),
            (tickets.c.open, query.open),
        ):
            if value is not None:
                q = q.where(column == value)
        if query.lines is not None:
            q = q.where(tickets.c.line.in_(sorted(query.lines)))  # no line: unscoped users' only
        q = q.limit(query.limit).offset(query.offset)
        async with self._begin("list tickets") as c:
            return [codec.ticket_from_json(d) for d in await c.scalars(q)]

    async def _apply(
        self,
        c: AsyncConnection,
        ticket_id: str,
        change: Change,
        actor: Actor,
        comment: Mapping[str, Any] | None = None,
        alerted: list[Alert] | None = None,
    ) -> tuple[Ticket, tuple[TicketEvent, ...]]:
        before = await self._read(c, ticket_id, lock=True)
        if before is None:
            raise LookupError(ticket_id)
        after, events = change(before)
        if after != before:
            values = _columns(after, self._closed(after), events[-1].at if events else _now())
            await c.execute(
                tickets.update()
                .where(tickets.c.id == ticket_id)
                .values(**values, version=tickets.c.version + 1)
            )
        await self._write_events(c, before, after, events, actor, comment, alerted)
        return after, events

    async def apply_in(
        self, c: AsyncConnection, ticket_id: str, change: Change, actor: Actor
    ) -> tuple[Ticket, tuple[TicketEvent, ...]]:
        """``change`` inside another store's transaction (an approval, an attachment's row)."""
        return await self._apply(c, ticket_id, change, actor)

    async def read_in(self, c: AsyncConnection, ticket_id: str) -> Ticket | None:
        """The ticket, its row held until ``c`` ends (another store's transaction)."""
        return await self._read(c, ticket_id, lock=True)

    async def change(
        self, ticket_id: str, change: Change, actor: Actor
    ) -> tuple[Ticket, tuple[TicketEvent, ...]]:
        alerted: list[Alert] = []
        async with self._begin(f"change ticket {ticket_id}", write=True) as c:
            result = await self._apply(c, ticket_id, change, actor, alerted=alerted)
        self._announce(alerted)
        return result

    async def add_comment(
        self,
        ticket_id: str,
        change: Change,
        body: str,
        internal: bool,
        actor: Actor,
        received: str | None = None,
    ) -> tuple[Ticket, Comment]:
        alerted: list[Alert] = []
        async with self._begin(f"comment on ticket {ticket_id}", write=True) as c:
            comment = {"body": body, "internal": internal, "by": actor.name}
            after, events = await self._apply(c, ticket_id, change, actor, comment, alerted)
            at = events[0].at if events else _now()
            delivery: Delivery = "none" if internal else "pending" if received is None else "received"
            values = {"ticket_id": ticket_id, "at": at, "by": actor.name, "internal": internal,
                      "body": body, "delivery": delivery, "message_id": received}  # fmt: skip
            result = await c.execute(comments_t.insert().values(**values))
            key = result.inserted_primary_key
            assert key is not None
            comment_ = Comment(int(key[0]), ticket_id, at, actor.name, internal, body, delivery, received)
        self._announce(alerted)
        return after, comment_

    async def ticket_of_messages(self, message_ids: Sequence[str]) -> str | None:
        if not message_ids:
            return None
        q = (
            sa.select(comments_t.c.ticket_id)
            .where(comments_t.c.message_id.in_(list(message_ids)))
            .order_by(comments_t.c.id.desc())
            .limit(1)
        )
        async with self._begin("find the ticket of a message") as c:
            found = await c.scalar(q)
            return None if found is None else str(found)

    async def comments(self, ticket_id: str) -> list[Comment]:
        q = sa.select(comments_t).where(comments_t.c.ticket_id == ticket_id).order_by(comments_t.c.id)
        async with self._begin(f"read the comments of {ticket_id}") as c:
            return [_comment(r) for r in (await c.execute(q)).mappings()]

    async def events(self, ticket_id: str) -> list[StoredEvent]:
        q = sa.select(events_t).where(events_t.c.ticket_id == ticket_id).order_by(events_t.c.id)
        async with self._begin(f"read the events of {ticket_id}") as c:
            return [
                StoredEvent(r["ticket_id"], r["at"], r["kind"], r["by"], dict(r["data"]))
                for r in (await c.execute(q)).mappings()
            ]

    async def pending_replies(self, limit: int = 50) -> list[Comment]:
        q = (
            sa.select(comments_t)
            .where(comments_t.c.delivery == "pending")
            .order_by(comments_t.c.id)
            .limit(limit)
        )
        async with self._begin("read pending ticket replies") as c:
            return [_comment(r) for r in (await c.execute(q)).mappings()]

    async def set_delivery(self, comment_id: int, delivery: Delivery, message_id: str | None) -> None:
        q = (
            comments_t.update()
            .where(comments_t.c.id == comment_id)
            .values(delivery=delivery, message_id=message_id)
        )
        async with self._begin(f"mark ticket reply {comment_id}", write=True) as c:
            await c.execute(q)

    async def open_tickets(self, limit: int = 500) -> list[Ticket]:
        q = (
            sa.select(tickets.c.data)
            .where(tickets.c.open.is_(True))
            .order_by(tickets.c.updated_at)
            .limit(limit)
        )
        async with self._begin("read open tickets") as c:
            return [codec.ticket_from_json(d) for d in await c.scalars(q)]


def _comment(r: Any) -> Comment:
    return Comment(
        int(r["id"]),
        r["ticket_id"],
        r["at"],
        r["by"],
        bool(r["internal"]),
        r["body"],
        r["delivery"],
        r["message_id"],
    )

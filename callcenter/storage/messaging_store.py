"""Storage of messages and of the outbox (same database as the interactions, its own engine).

The database enforces deduplication: (channel, provider_id) is unique in ``messages``, so a
provider's re-delivery is recognised even after a restart (:class:`DuplicateMessage`). Every
SQLAlchemy or driver failure leaves as :class:`~callcenter.storage.db.DatabaseError`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.aio import cancel_safe
from callcenter.core.omni.conversations import Conversation, Delivery, Direction, Message, MessagingChannel
from callcenter.core.omni.customers import AuditEntry, Customer, Identity, IdentityKind, MergeRecord
from callcenter.messaging.channels.base import Reply
from callcenter.storage import audit_chain, sqlite_write
from callcenter.storage.db import DatabaseError, SessionStore, fence_write
from callcenter.storage.db_models import (
    BotSessionRow,
    ChatHoldRow,
    ConversationRow,
    CustomerAuditRow,
    CustomerMergeRow,
    CustomerRow,
    MessageRow,
    OutboxRow,
)
from callcenter.storage.leadership import Deposed
from callcenter.storage.pg_write import PgLane

_DUE_STATES = ("pending", "sending")  # sending: claimed by a node (due again once its lease lapses)
_DELETE_BATCH = 500  # conversations per statement: well under every driver's bound-parameter limit


class DuplicateMessage(Exception):
    """A message with this provider id is already stored."""


@dataclass(frozen=True, slots=True)
class OutboxItem:
    reply: Reply
    attempts: int
    next_attempt_at: float
    state: str
    last_error: str = ""
    provider_id: str | None = None
    claim: str | None = None  # the token of this node's claim (``claim``)
    reclaimed: bool = False  # its earlier claim lapsed mid-send: the provider may have it already


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def _message(row: MessageRow) -> Message:
    return Message(
        row.id,
        row.conversation_id,
        MessagingChannel(row.channel),
        Direction(row.direction),
        row.body,
        row.at.timestamp(),
        Delivery(row.status),
        row.provider_id,
        (),
        row.email_message_id,
        row.status_detail,
        row.author or "",
    )


_MESSAGES = cast(sa.Table, MessageRow.__table__)
_CONVERSATIONS = cast(sa.Table, ConversationRow.__table__)
_CUSTOMERS = cast(sa.Table, CustomerRow.__table__)
_MERGES = cast(sa.Table, CustomerMergeRow.__table__)
_HOLDS = cast(sa.Table, ChatHoldRow.__table__)
_Lane = sqlite_write.Lane | PgLane  # where received messages are written (start)


@dataclass(frozen=True, slots=True)
class CustomerChanges:
    """Customers as they are now, merges, and audit entries not written yet."""

    customers: list[Customer]
    merges: list[MergeRecord]
    audit: list[AuditEntry]

    def __bool__(self) -> bool:
        return bool(self.customers or self.merges or self.audit)


@cancel_safe
class MessagingStore(SessionStore):
    _name = "messaging store"
    # Immediate: concurrent deliveries (web chat, webhooks) each read then write, beside the
    # interactions' writer: SQLite transactions take the write lock when they begin.
    _immediate = True

    def __init__(
        self,
        url: str,
        engine: AsyncEngine | None = None,
        fencing: Callable[[], int | None] | None = None,
    ) -> None:
        super().__init__(url, engine)
        self._upserts: dict[tuple[str, tuple[str, ...], tuple[str, ...]], Any] = {}
        # With an election (docs/cluster.md): the routing owner's fencing token now (None: this
        # node is not the owner). Every write is fenced by it, as the interactions' are.
        self._fencing = fencing
        # Received messages and their conversations written on a lane, built at start: on SQLite in
        # one trip to the driver's thread (``sqlite_write``), on PostgreSQL through asyncpg's own
        # transaction (``pg_write``, fenced).
        self._received: tuple[_Lane, sqlite_write.Prepared, sqlite_write.Prepared] | None = None

    async def start(self) -> None:
        await super().start()
        engine = self._engine
        lane: _Lane | None = None
        if engine is not None and engine.dialect.name == "sqlite" and self._fencing is None:
            lane = sqlite_write.Lane(engine)
        elif engine is not None and (engine.dialect.name, engine.dialect.driver) == ("postgresql", "asyncpg"):
            lane = PgLane(engine, self._fencing)
        if engine is not None and lane is not None:
            messages, conversations = tuple(_MESSAGES.c.keys()), tuple(_CONVERSATIONS.c.keys())
            insert = sqlite_write.prepare(sa.insert(_MESSAGES), engine, messages)
            upsert = self._upsert_statement(_CONVERSATIONS, conversations, ())
            self._received = (lane, insert, sqlite_write.prepare(upsert, engine, conversations))

    async def stop(self) -> None:
        received, self._received = self._received, None
        if received is not None:
            await received[0].close()
        await super().stop()

    @asynccontextmanager
    async def _write(self, action: str) -> AsyncIterator[AsyncSession]:
        """A writing transaction. Fenced when nodes elect an owner: the messaging books are the
        owner's, so a deposed owner's write is refused (DatabaseError, like a database that
        failed: the message is not acknowledged and its sender retries on the new owner)."""
        async with self._transaction(action) as session:
            if self._fencing is not None:
                try:
                    await fence_write(await session.connection(), self._fencing())
                except Deposed as err:
                    raise DatabaseError(f"cannot {action}: {err}") from err
            yield session

    # --- web chats agents hold (docs/cluster.md) ----------------------------------------------
    async def save_holds(
        self, held: Mapping[str, str], released: Collection[str], *, every: bool = False
    ) -> None:
        """The web chats agents hold now (conversation -> agent) and those they no longer hold, in
        one fenced transaction; ``every``: ``held`` is the whole desk (a new owner's), any other
        row goes."""
        rows = [{"conversation_id": c, "agent_id": a} for c, a in held.items()]
        gone = sorted({*released, *held})
        async with self._write("save chat holds") as session:
            if every:
                await session.execute(sa.delete(_HOLDS))
            else:
                for start in range(0, len(gone), _DELETE_BATCH):
                    batch = gone[start : start + _DELETE_BATCH]
                    await session.execute(sa.delete(_HOLDS).where(_HOLDS.c.conversation_id.in_(batch)))
            if rows:
                await session.execute(sa.insert(_HOLDS), rows)

    # --- messages -------------------------------------------------------------------------------
    async def save_message(self, message: Message, customer_id: str, *, new: bool) -> None:
        """Insert (``new``) or update a message; a stored provider id raises DuplicateMessage."""
        values = _message_values(message, customer_id)
        try:
            async with self._write("save message") as session:
                if new:
                    await session.execute(sa.insert(MessageRow).values(values))
                else:
                    await session.execute(
                        sa.update(MessageRow).where(MessageRow.id == message.id).values(values)
                    )
        except DatabaseError as err:
            if isinstance(err.__cause__, IntegrityError):
                raise DuplicateMessage(message.provider_id or message.id) from err
            raise

    async def save_received(
        self, message: Message, customer_id: str, conversation: Conversation, address: str
    ) -> None:
        """A new inbound message and its conversation as it is now, in one transaction (one commit
        per message instead of two); a stored provider id raises DuplicateMessage, saving nothing."""
        try:
            async with self._write("save a received message") as session:
                await session.execute(sa.insert(MessageRow).values(_message_values(message, customer_id)))
                await session.merge(ConversationRow(**_conversation_values(conversation, address)))
        except DatabaseError as err:
            if isinstance(err.__cause__, IntegrityError):
                raise DuplicateMessage(message.provider_id or message.id) from err
            raise

    async def save_received_batch(
        self,
        messages: list[tuple[Message, str]],
        conversations: list[tuple[Conversation, str]],
        customers: CustomerChanges | None = None,
    ) -> None:
        """New inbound messages (with their customer ids) and their conversations (with their
        addresses), and the customers they created or changed, all in one transaction: group
        commit under load. Any stored provider id fails the whole batch (DatabaseError caused by
        IntegrityError): save them one by one then."""
        message_rows = [_message_values(m, c) for m, c in messages]
        conversation_rows = [_conversation_values(c, a) for c, a in conversations]
        if self._received is not None and customers is None:
            # The steady state of a chat (no customer changed): on the lane.
            lane, insert, upsert = self._received
            await lane.write("save received messages", ((insert, message_rows), (upsert, conversation_rows)))
            return
        async with self._write("save received messages") as session:
            # On the Core tables: the ORM's bulk machinery costs more than the statements.
            await session.execute(sa.insert(_MESSAGES), message_rows)
            await self._upsert(session, _CONVERSATIONS, conversation_rows)
            if customers is not None:
                await self._write_customers(session, customers)

    async def _upsert(
        self, session: AsyncSession, table: sa.Table, rows: list[dict[str, Any]], touch: tuple[str, ...] = ()
    ) -> None:
        """Insert rows or update them by id, in one statement; ``touch``: columns set to now()."""
        if not rows:
            return
        await session.execute(self._upsert_statement(table, tuple(rows[0]), touch), rows)

    def _upsert_statement(self, table: sa.Table, columns: tuple[str, ...], touch: tuple[str, ...]) -> Any:
        # Built once per shape: building ``excluded`` costs more than running the statement.
        key = (table.name, columns, touch)
        statement = self._upserts.get(key)
        if statement is None:
            dialect = self._engine.dialect.name if self._engine is not None else ""
            insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
            updates: dict[str, Any] = {name: insert.excluded[name] for name in columns if name != "id"}
            updates.update({name: sa.func.now() for name in touch})
            statement = self._upserts[key] = insert.on_conflict_do_update(
                index_elements=[table.c.id], set_=updates
            )
        return statement

    async def held_messages(self, since: float, until: float) -> list[tuple[Message, str, str]]:
        """Visitors' messages stored at ``since`` <= at < ``until`` in the open web chats agents
        hold now, oldest first, each with its customer and the chat's address (the routing owner's
        read-back of what a visitor's node stored, docs/cluster.md)."""
        query = (
            sa.select(MessageRow, ConversationRow.address)
            .join(ChatHoldRow, ChatHoldRow.conversation_id == MessageRow.conversation_id)
            .join(ConversationRow, ConversationRow.id == MessageRow.conversation_id)
            .where(
                MessageRow.direction == Direction.IN.value,
                MessageRow.at >= _dt(since),
                MessageRow.at < _dt(until),
                ConversationRow.closed.is_(False),
            )
            .order_by(MessageRow.at, MessageRow.id)
        )
        async with self._transaction("read held chats' messages") as session:
            rows = (await session.execute(query)).all()
        return [(_message(row), row.customer_id, address) for row, address in rows]

    async def messages(self) -> list[tuple[Message, str]]:
        """Every stored message with its customer id, oldest first (for restoring the books)."""
        query = sa.select(MessageRow).order_by(MessageRow.at, MessageRow.id)
        async with self._transaction("read messages") as session:
            return [(_message(row), row.customer_id) for row in await session.scalars(query)]

    # --- conversations ----------------------------------------------------------------------------
    async def save_conversation(self, c: Conversation, address: str) -> None:
        async with self._write("save a conversation") as session:
            await session.merge(ConversationRow(**_conversation_values(c, address)))

    # --- the virtual agent's flows ----------------------------------------------------------------
    async def save_bot_session(
        self, conversation_id: str, flow: str, state: str, outcome: str, started_at: float, at: float
    ) -> None:
        """The chat runner's state after a turn (``outcome`` set: the flow is over). Fenced."""
        async with self._write("save a bot session") as session:
            await session.merge(
                BotSessionRow(
                    conversation_id=conversation_id,
                    flow=flow,
                    state=state,
                    done=bool(outcome),
                    outcome=outcome,
                    started_at=_dt(started_at),
                    updated_at=_dt(at),
                )
            )

    async def bot_sessions(self) -> list[tuple[str, str, str, float]]:
        """The flows still running: (conversation, flow, state JSON, started at), oldest first."""
        async with self._transaction("read bot sessions") as session:
            rows = await session.execute(
                sa.select(BotSessionRow)
                .where(BotSessionRow.done.is_(False))
                .order_by(BotSessionRow.started_at)
            )
            return [(r.conversation_id, r.flow, r.state, r.started_at.timestamp()) for r in rows.scalars()]

    async def bot_outcomes(self) -> dict[str, int]:
        """How the finished flows ended, counted (containment in production)."""
        async with self._transaction("count bot outcomes") as session:
            rows = await session.execute(
                sa.select(BotSessionRow.outcome, sa.func.count())
                .where(BotSessionRow.done.is_(True))
                .group_by(BotSessionRow.outcome)
            )
            return {str(outcome): int(n) for outcome, n in rows.all()}

    async def conversations(self) -> list[tuple[Conversation, str]]:
        async with self._transaction("read conversations") as session:
            return [
                (
                    Conversation(
                        row.id,
                        row.customer_id,
                        MessagingChannel(row.channel),
                        row.started_at.timestamp(),
                        row.last_at.timestamp(),
                        row.subject,
                        row.closed,
                    ),
                    row.address,
                )
                for row in await session.scalars(sa.select(ConversationRow))
            ]

    async def delete_conversations(self, conversation_ids: list[str]) -> int:
        """Retention: these conversations, their messages and their finished outbox rows go, in
        one transaction per batch; how many messages were deleted. A reply still pending in the
        outbox is kept (its sender would not find it): the caller leaves out such conversations."""
        deleted = 0
        for start in range(0, len(conversation_ids), _DELETE_BATCH):
            batch = conversation_ids[start : start + _DELETE_BATCH]
            async with self._write("delete expired conversations") as session:
                of_batch = sa.select(MessageRow.id).where(MessageRow.conversation_id.in_(batch))
                finished = OutboxRow.state.not_in(_DUE_STATES)
                await session.execute(sa.delete(OutboxRow).where(OutboxRow.id.in_(of_batch), finished))
                of_conversations = MessageRow.conversation_id.in_(batch)
                result = await session.execute(sa.delete(MessageRow).where(of_conversations))
                await session.execute(sa.delete(ConversationRow).where(ConversationRow.id.in_(batch)))
                deleted += cast(sa.CursorResult[object], result).rowcount or 0
        return deleted

    # --- customers --------------------------------------------------------------------------------
    async def save_customers(self, changes: CustomerChanges) -> None:
        """Upsert records and merges, append audit entries: one transaction."""
        async with self._write("save customers") as session:
            await self._write_customers(session, changes)

    async def _write_customers(self, session: AsyncSession, changes: CustomerChanges) -> None:
        records = [
            {"id": c.id, "record": customer_json(c), "merged_into": c.merged_into} for c in changes.customers
        ]
        await self._upsert(session, _CUSTOMERS, records, touch=("updated_at",))
        done = [{"id": m.id, "record": merge_json(m), "undone": m.undone} for m in changes.merges]
        await self._upsert(session, _MERGES, done)
        rows = [
            {"at": _dt(e.at), "kind": e.kind, "customer_id": e.customer_id, "by": e.by}
            | {"detail": dict(e.detail)}
            for e in changes.audit
        ]
        if rows:
            await audit_chain.append_many(await session.connection(), CustomerAuditRow, rows)

    async def customers(self) -> tuple[list[Customer], list[MergeRecord], list[AuditEntry]]:
        async with self._transaction("read customers") as session:
            customers = [customer_from(r.record) for r in await session.scalars(sa.select(CustomerRow))]
            merges = [merge_from(r.record) for r in await session.scalars(sa.select(CustomerMergeRow))]
            audit = [
                AuditEntry(r.at.timestamp(), r.kind, r.customer_id, r.by, dict(r.detail))
                for r in await session.scalars(sa.select(CustomerAuditRow).order_by(CustomerAuditRow.id))
            ]
        return customers, merges, audit

    async def message_count(self) -> int:
        async with self._transaction("count messages") as session:
            return int(await session.scalar(sa.select(sa.func.count()).select_from(MessageRow)) or 0)

    # --- outbox ---------------------------------------------------------------------------------
    async def add(self, reply: Reply, now: float) -> None:
        row = OutboxRow(
            id=reply.message_id,
            channel=reply.channel.value,
            payload=reply.to_json(),
            state="pending",
            attempts=0,
            next_attempt_at=_dt(now),
            last_error="",
            provider_id=None,
        )
        async with self._write("queue a reply") as session:
            session.add(row)

    async def claim(self, now: float, limit: int, lease: float) -> list[OutboxItem]:
        """Claim due replies for ``lease`` seconds, so that one node sends each: pending ones whose
        time has come, and ones being sent whose claim has lapsed (their node died while sending:
        ``reclaimed``, the provider may have them already). PostgreSQL: rows another node is
        claiming are skipped (``FOR UPDATE SKIP LOCKED``); SQLite: one writer at a time (the
        store's transactions begin IMMEDIATE) makes the claim atomic. Each claim has its token."""
        token = uuid.uuid4().hex
        query = (
            sa.select(OutboxRow)
            .where(OutboxRow.state.in_(_DUE_STATES), OutboxRow.next_attempt_at <= _dt(now))
            .order_by(OutboxRow.next_attempt_at, OutboxRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        async with self._write("claim due replies") as session:
            rows = list(await session.scalars(query))
            items = [replace(_item(row), claim=token, reclaimed=row.state == "sending") for row in rows]
            if rows:
                await session.execute(
                    sa.update(OutboxRow)
                    .where(OutboxRow.id.in_([row.id for row in rows]))
                    .values(state="sending", claim=token, next_attempt_at=_dt(now + lease))
                )
        return items

    async def release(self, claim: str, now: float) -> None:
        """Give back what is left of a claim (the node is stopping): due again at once."""
        async with self._write("release claimed replies") as session:
            await session.execute(
                sa.update(OutboxRow)
                .where(OutboxRow.claim == claim, OutboxRow.state == "sending")
                .values(state="pending", claim=None, next_attempt_at=_dt(now))
            )

    async def next_due(self) -> float | None:
        query = sa.select(sa.func.min(OutboxRow.next_attempt_at)).where(OutboxRow.state.in_(_DUE_STATES))
        async with self._transaction("read the outbox") as session:
            found = await session.scalar(query)
        if found is None:
            return None
        if isinstance(found, str):  # SQLite's min() of the text form
            found = datetime.fromisoformat(found)
        return (found if found.tzinfo else found.replace(tzinfo=UTC)).timestamp()

    async def get(self, message_id: str) -> OutboxItem | None:
        async with self._transaction("read the outbox") as session:
            row = await session.get(OutboxRow, message_id)
            return None if row is None else _item(row)

    async def update(
        self,
        message_id: str,
        *,
        state: str,
        attempts: int,
        next_attempt_at: float,
        error: str = "",
        provider_id: str | None = None,
        claim: str | None = None,
    ) -> bool:
        """Write an attempt's outcome; with ``claim``, only while that claim holds the row (False:
        another node took it over after the lease lapsed, and its outcome is the one kept)."""
        query = sa.update(OutboxRow).where(OutboxRow.id == message_id)
        if claim is not None:
            query = query.where(OutboxRow.claim == claim, OutboxRow.state == "sending")
        async with self._write("update the outbox") as session:
            result = await session.execute(
                query.values(
                    state=state,
                    attempts=attempts,
                    next_attempt_at=_dt(next_attempt_at),
                    last_error=error[:1000],
                    provider_id=provider_id,
                    claim=None,
                    updated_at=sa.func.now(),
                )
            )
        return (cast(sa.CursorResult[object], result).rowcount or 0) > 0


def _message_values(message: Message, customer_id: str) -> dict[str, object]:
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "customer_id": customer_id,
        "channel": message.channel.value,
        "direction": message.direction.value,
        "body": message.body,
        "at": _dt(message.at),
        "status": message.status.value,
        "provider_id": message.provider_id,
        "email_message_id": message.message_id,
        "status_detail": message.status_detail,
        "author": message.author or None,
    }


def _conversation_values(c: Conversation, address: str) -> dict[str, object]:
    return {
        "id": c.id,
        "customer_id": c.customer_id,
        "channel": c.channel.value,
        "started_at": _dt(c.started_at),
        "last_at": _dt(c.last_at),
        "subject": c.subject,
        "closed": c.closed,
        "address": address,
    }


def customer_json(c: Customer) -> dict[str, object]:
    return {
        "id": c.id,
        "created_at": c.created_at,
        "identities": sorted([i.kind.value, i.value] for i in c.identities),
        "name": c.name,
        "vip": c.vip,
        "language": c.language,
        "business_line": c.business_line,
        "tags": sorted(c.tags),
        "merged_into": c.merged_into,
    }


def customer_from(d: dict[str, object]) -> Customer:
    identities = d["identities"]
    tags = d["tags"]
    assert isinstance(identities, list) and isinstance(tags, list)
    created = d["created_at"]
    assert isinstance(created, (int, float))
    language, line, merged = d.get("language"), d.get("business_line"), d.get("merged_into")
    return Customer(
        id=str(d["id"]),
        created_at=float(created),
        identities=frozenset(Identity(IdentityKind(k), str(v)) for k, v in identities),
        name=str(d.get("name", "")),
        vip=bool(d.get("vip", False)),
        language=None if language is None else str(language),
        business_line=None if line is None else str(line),
        tags=frozenset(str(t) for t in tags),
        merged_into=None if merged is None else str(merged),
    )


def merge_json(m: MergeRecord) -> dict[str, object]:
    return {
        "id": m.id,
        "source": customer_json(m.source),
        "target_id": m.target_id,
        "at": m.at,
        "by": m.by,
        "reason": m.reason,
        "undone": m.undone,
    }


def merge_from(d: dict[str, object]) -> MergeRecord:
    source, at = d["source"], d["at"]
    assert isinstance(source, dict) and isinstance(at, (int, float))
    return MergeRecord(
        str(d["id"]),
        customer_from(source),
        str(d["target_id"]),
        float(at),
        str(d["by"]),
        str(d["reason"]),
        bool(d.get("undone", False)),
    )


def _item(row: OutboxRow) -> OutboxItem:
    return OutboxItem(
        Reply.from_json(row.payload),
        row.attempts,
        row.next_attempt_at.timestamp(),
        row.state,
        row.last_error,
        row.provider_id,
    )

"""Storage of messages and of the outbox (same database as the interactions, its own engine).

The database enforces deduplication: (channel, provider_id) is unique in ``messages``, so a
provider's re-delivery is recognised even after a restart (:class:`DuplicateMessage`). Every
SQLAlchemy or driver failure leaves as :class:`~callcenter.adapters.db.DatabaseError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from callcenter.adapters.db import DatabaseError, create_engine, parse_url
from callcenter.adapters.db_models import MessageRow, OutboxRow
from callcenter.channels.base import Reply
from callcenter.core.conversations import Message


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


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


class MessagingStore:
    def __init__(self, url: str) -> None:
        self._url = url
        self._safe_url = parse_url(url).render_as_string(hide_password=True)
        self._engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None

    async def start(self) -> None:
        """Open the engine; the schema is migrated by :class:`~callcenter.adapters.db.Database`."""
        self._engine = create_engine(self._url)
        self._sessions = async_sessionmaker(self._engine, expire_on_commit=False)

    async def stop(self) -> None:
        engine, self._engine, self._sessions = self._engine, None, None
        if engine is not None:
            await engine.dispose()

    # --- messages -------------------------------------------------------------------------------
    async def save_message(self, message: Message, customer_id: str, *, new: bool) -> None:
        """Insert (``new``) or update a message; a stored provider id raises DuplicateMessage."""
        values = {
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
        }
        try:
            async with self._transaction("save message") as session:
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
        async with self._transaction("queue a reply") as session:
            session.add(row)

    async def due(self, now: float, limit: int) -> list[OutboxItem]:
        query = (
            sa.select(OutboxRow)
            .where(OutboxRow.state == "pending", OutboxRow.next_attempt_at <= _dt(now))
            .order_by(OutboxRow.next_attempt_at, OutboxRow.id)
            .limit(limit)
        )
        async with self._transaction("read the outbox") as session:
            return [_item(row) for row in await session.scalars(query)]

    async def next_due(self) -> float | None:
        query = sa.select(sa.func.min(OutboxRow.next_attempt_at)).where(OutboxRow.state == "pending")
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
    ) -> None:
        async with self._transaction("update the outbox") as session:
            await session.execute(
                sa.update(OutboxRow)
                .where(OutboxRow.id == message_id)
                .values(
                    state=state,
                    attempts=attempts,
                    next_attempt_at=_dt(next_attempt_at),
                    last_error=error[:1000],
                    provider_id=provider_id,
                    updated_at=sa.func.now(),
                )
            )

    @asynccontextmanager
    async def _transaction(self, action: str) -> AsyncIterator[AsyncSession]:
        if self._sessions is None:
            raise DatabaseError(f"cannot {action}: the messaging store is not started")
        try:
            async with self._sessions.begin() as session:
                yield session
        except (SQLAlchemyError, OSError) as err:
            raise DatabaseError(f"cannot {action} in {self._safe_url}: {type(err).__name__}") from err


def _item(row: OutboxRow) -> OutboxItem:
    return OutboxItem(
        Reply.from_json(row.payload),
        row.attempts,
        row.next_attempt_at.timestamp(),
        row.state,
        row.last_error,
        row.provider_id,
    )

"""A visitor's message stored by the node its socket is on, in a web chat an agent holds
(docs/cluster.md, "Web chats an agent holds").

One statement, its own transaction: the visitor's current web chat (open, active within the idle
window, replies going to this visitor's address) is looked up with its ``chat_holds`` row, read
``FOR SHARE`` (the routing owner's delete of that row, at a close or a transfer, waits for this
statement, or this statement sees it gone); the message is inserted only if that row is there,
once per provider id (the ``messages`` unique index: a resend after a reconnect stores nothing),
and the conversation's ``last_at`` moves forward with it. No row: nothing is stored, and the
visitor's message goes to the routing owner as before (a new conversation, routed).

PostgreSQL with asyncpg only: with one node (SQLite, the embedded default) the owner is the
visitor's node and stores every message itself.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.storage.db import DatabaseError
from callcenter.storage.sqlite_write import KeptConnection

_BROKEN = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, ValueError)

_INSERT = """
WITH held AS (
    SELECT c.id, c.customer_id, h.agent_id
    FROM conversations c JOIN chat_holds h ON h.conversation_id = c.id
    WHERE c.address = $1 AND c.channel = 'webchat' AND NOT c.closed AND c.last_at >= $2
    ORDER BY c.last_at DESC
    LIMIT 1
    FOR SHARE OF h
), stored AS (
    INSERT INTO messages (id, conversation_id, customer_id, channel, direction, body, at, status,
                          provider_id, email_message_id, status_detail, author)
    SELECT $3, held.id, held.customer_id, 'webchat', 'in', $4, $5, 'received', $6, NULL, '', NULL
    FROM held
    ON CONFLICT (channel, provider_id) DO NOTHING
    RETURNING conversation_id
), moved AS (
    UPDATE conversations SET last_at = GREATEST(last_at, $5)
    WHERE id IN (SELECT conversation_id FROM stored)
)
SELECT held.id, held.customer_id, held.agent_id, EXISTS (SELECT 1 FROM stored) AS stored FROM held
"""


@dataclass(frozen=True, slots=True)
class Held:
    """The held chat a message went to; ``stored`` False: its provider id was stored before."""

    conversation_id: str
    customer_id: str
    agent_id: str
    stored: bool


class HeldChats(KeptConnection):
    """The visitor's node's statement, on a connection of its own (one at a time on it)."""

    def __init__(self, engine: AsyncEngine) -> None:
        if (engine.dialect.name, engine.dialect.driver) != ("postgresql", "asyncpg"):
            raise ValueError(f"held chats are stored through asyncpg, not {engine.dialect.name}")
        super().__init__(engine)
        self._turn = asyncio.Lock()

    async def close(self) -> None:
        async with self._turn:
            await super().close()

    async def insert(
        self, message_id: str, address: str, body: str, at: float, provider_id: str, idle_seconds: float
    ) -> Held | None:
        """Store the visitor's message in its held chat; None: no chat of this address is held
        (nothing stored). DatabaseError: not stored (the caller sends it the owner's way)."""
        when = datetime.fromtimestamp(at, UTC)
        since = datetime.fromtimestamp(at - idle_seconds, UTC)
        async with self._turn:
            try:
                driver = await self._open()
                row = await driver.fetchrow(_INSERT, address, since, message_id, body, when, provider_id)
            except _BROKEN as err:
                await self._drop()
                raise DatabaseError(f"cannot store a held chat's message: {type(err).__name__}") from err
        if row is None:
            return None
        return Held(row[0], row[1], row[2], bool(row[3]))

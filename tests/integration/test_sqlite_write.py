"""Received messages written in one trip to SQLite's thread (``storage/sqlite_write.py``): the rows
are the ones the ORM path writes, a batch with a stored provider id rolls back whole, and the lane
takes a new connection when its own is gone."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from callcenter.core.omni.conversations import Conversation, Delivery, Direction, Message, MessagingChannel
from callcenter.storage.db import Database, DatabaseError
from callcenter.storage.messaging_store import MessagingStore

T0 = time.time()


def message(n: int, conversation: str, provider_id: str) -> Message:
    at = T0 + n
    return Message(f"m{n}", conversation, MessagingChannel.WEBCHAT, Direction.IN, f"body {n}", at,
                   Delivery.RECEIVED, provider_id)  # fmt: skip


async def rows(database: Database, table: str) -> list[tuple[object, ...]]:
    async with database.engine.connect() as connection:
        result = await connection.exec_driver_sql(f"SELECT * FROM {table} ORDER BY id")
        return [tuple(r) for r in result]


@contextlib.asynccontextmanager
async def pair(
    fast_url: str, orm_url: str
) -> AsyncIterator[tuple[Database, MessagingStore, Database, MessagingStore]]:
    """Two stores on two databases: the first writes received messages on its lane, the second
    through SQLAlchemy's session (the path batches that change customers take)."""
    fast_db, orm_db = Database(fast_url), Database(orm_url)
    await fast_db.start()
    await orm_db.start()
    fast, orm = MessagingStore(fast_url, fast_db.engine), MessagingStore(orm_url, orm_db.engine)
    await fast.start()
    await orm.start()
    orm._received = None  # the SQLAlchemy session path
    try:
        assert fast._received is not None
        yield fast_db, fast, orm_db, orm
    finally:
        for store in (fast, orm):
            await store.stop()
        await fast_db.stop()
        await orm_db.stop()


async def test_one_trip_writes_what_the_orm_writes_and_rolls_back_whole(tmp_path: Path) -> None:
    fast_url, orm_url = f"sqlite+aiosqlite:///{tmp_path}/fast.db", f"sqlite+aiosqlite:///{tmp_path}/orm.db"
    async with pair(fast_url, orm_url) as (fast_db, fast, orm_db, orm):
        now = T0
        open_one = Conversation("c1", "k1", MessagingChannel.WEBCHAT, now, now + 1, "subject", False)
        closed = Conversation("c2", "k2", MessagingChannel.WEBCHAT, now, now + 2, "", True)
        batch = [(message(1, "c1", "p1"), "k1"), (message(2, "c2", "p2"), "k2")]
        for store in (fast, orm):
            await store.save_received_batch(batch, [(open_one, "visitor:a"), (closed, "visitor:b")])
            # The conversation again (an upsert): its new state replaces the stored one.
            later = Conversation("c1", "k1", MessagingChannel.WEBCHAT, now, now + 3, "subject", True)
            await store.save_received_batch([(message(3, "c1", "p3"), "k1")], [(later, "visitor:a")])
        for table in ("messages", "conversations"):
            assert await rows(fast_db, table) == await rows(orm_db, table)
        assert [m.id for m, _ in await fast.messages()] == ["m1", "m2", "m3"]
        assert [(c.id, c.closed) for c, _ in await fast.conversations()] == [("c1", True), ("c2", True)]

        # p2 is stored: the whole batch fails, m4 is not kept, and the connections still work.
        again = [(message(4, "c1", "p4"), "k1"), (message(5, "c2", "p2"), "k2")]
        with pytest.raises(DatabaseError) as failed:
            await fast.save_received_batch(again, [(open_one, "visitor:a")])
        assert isinstance(failed.value.__cause__, sqlite3.IntegrityError)
        assert "p2" not in str(failed.value)  # the constraint is named, not the values
        assert [m.id for m, _ in await fast.messages()] == ["m1", "m2", "m3"]
        await fast.save_received_batch([(message(4, "c1", "p4"), "k1")], [(open_one, "visitor:a")])
        assert len(await fast.messages()) == 4
        async with fast_db.engine.connect() as connection:  # nothing left open on the pool
            assert (await connection.scalar(sa.text("SELECT count(*) FROM messages"))) == 4

        # The lane's connection is closed under it: that write fails, the next takes a new one.
        assert fast._received is not None
        await fast._received[0]._driver.close()
        with pytest.raises(DatabaseError):
            await fast.save_received_batch([(message(5, "c1", "p5"), "k1")], [(open_one, "visitor:a")])
        await fast.save_received_batch([(message(5, "c1", "p5"), "k1")], [(open_one, "visitor:a")])
        assert [m.id for m, _ in await fast.messages()] == ["m1", "m2", "m3", "m4", "m5"]


@pytest.mark.postgres
async def test_the_postgresql_lane_writes_what_the_session_writes_in_one_statement(postgres_url: str) -> None:
    """``storage/pg_write.py``: a batch is one statement (arrays per column, ``unnest``, the
    conversations' upsert): the rows are the session path's, every kind of value included (None,
    quotes, text beyond ASCII, times, booleans), and a stored provider id fails the whole batch."""
    from tests.pg import new_database

    fast_url, orm_url = await new_database(postgres_url), await new_database(postgres_url)
    async with pair(fast_url, orm_url) as (fast_db, fast, orm_db, orm):
        now = T0
        open_one = Conversation("c1", "k1", MessagingChannel.WEBCHAT, now, now + 1, "l'objet «été»", False)
        closed = Conversation("c2", "k2", MessagingChannel.EMAIL, now, now + 2, "", True)
        odd = Message("m2", "c2", MessagingChannel.EMAIL, Direction.IN, 'quote " and \\ and 你好', now + 2,
                      Delivery.RECEIVED, "p2", message_id="<x@y>", author="bot")  # fmt: skip
        batch = [(message(1, "c1", "p1"), "k1"), (odd, "k2")]
        for store in (fast, orm):
            await store.save_received_batch(batch, [(open_one, "visitor:a"), (closed, "a@example.com")])
            later = Conversation("c1", "k1", MessagingChannel.WEBCHAT, now, now + 3, "subject", True)
            await store.save_received_batch([(message(3, "c1", "p3"), "k1")], [(later, "visitor:a")])
        for table in ("messages", "conversations"):
            assert await rows(fast_db, table) == await rows(orm_db, table)
        stored = {c.id: (c.closed, c.subject) for c, _ in await fast.conversations()}
        assert stored == {"c1": (True, "subject"), "c2": (True, "")}
        again = [(message(4, "c1", "p4"), "k1"), (message(5, "c1", "p1"), "k1")]  # p1: stored
        with pytest.raises(DatabaseError, match="UniqueViolation"):
            await fast.save_received_batch(again, [(open_one, "visitor:a")])
        assert [m.id for m, _ in await fast.messages()] == ["m1", "m2", "m3"]  # m4 went with it
        stored = {c.id: (c.closed, c.subject) for c, _ in await fast.conversations()}
        assert stored["c1"] == (True, "subject")  # nor its upsert of c1 (open, the old subject)

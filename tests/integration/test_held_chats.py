"""A visitor's message stored by the visitor's node in a web chat an agent holds
(``storage/held_chats.py``, docs/cluster.md), on a real PostgreSQL: stored only while the chat's
``chat_holds`` row is there (written by the owner's ``save_holds``), once per provider id, the row
the owner's own path writes; and an owner's delete of the row under way is waited for, never passed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from callcenter.core.omni.conversations import Conversation, Delivery, Direction, Message, MessagingChannel
from callcenter.storage.db import Database
from callcenter.storage.held_chats import Held, HeldChats
from callcenter.storage.messaging_store import MessagingStore
from callcenter.web.chat_holds import HeldSweep
from tests.pg import new_database

T0 = time.time() - 60
IDLE = 3600.0
ADDRESS = "visitor-hash-1"


@pytest.fixture
async def stores(postgres_url: str) -> AsyncIterator[tuple[Database, MessagingStore, HeldChats]]:
    url = await new_database(postgres_url)
    database = Database(url)
    await database.start()
    store = MessagingStore(url, database.engine)
    await store.start()
    held = HeldChats(database.engine)
    try:
        yield database, store, held
    finally:
        await held.close()
        await store.stop()
        await database.stop()


def first(conversation: str) -> Message:
    return Message(f"{conversation}-m1", conversation, MessagingChannel.WEBCHAT, Direction.IN, "hello",
                   T0 + 1, Delivery.RECEIVED, f"{ADDRESS}:{conversation}")  # fmt: skip


async def chat(
    store: MessagingStore, conversation: str, *, closed: bool = False, last_at: float = T0 + 1
) -> None:
    """A web chat the owner stored, with its first message."""
    c = Conversation(conversation, "k1", MessagingChannel.WEBCHAT, T0, last_at, "", closed)
    await store.save_received_batch([(first(conversation), "k1")], [(c, ADDRESS)])


Stores = tuple[Database, MessagingStore, HeldChats]


async def test_stored_while_held_once_per_provider_id_as_the_owner_writes_it(stores: Stores) -> None:
    _database, store, held = stores
    await chat(store, "c1")
    at = T0 + 30
    # Not held yet (the agent has not accepted): nothing stored, the owner's way.
    assert await held.insert("m2", ADDRESS, "Still there?", at, f"{ADDRESS}:p2", IDLE) is None
    await store.save_holds({"c1": "1001"}, ())
    assert await held.insert("m2", ADDRESS, "Still there?", at, f"{ADDRESS}:p2", IDLE) == Held(
        "c1", "k1", "1001", True
    )
    # A resend (same provider id, a new message id): stored once.
    assert await held.insert("m3", ADDRESS, "Still there?", at + 1, f"{ADDRESS}:p2", IDLE) == Held(
        "c1", "k1", "1001", False
    )
    stored = [m for m, _ in await store.messages()]
    # (The database keeps microseconds: the time read back is the nearest float to them.)
    expected = Message("m2", "c1", MessagingChannel.WEBCHAT, Direction.IN, "Still there?",
                       pytest.approx(at, abs=1e-6), Delivery.RECEIVED, f"{ADDRESS}:p2")  # fmt: skip
    assert [m.id for m in stored] == ["c1-m1", "m2"] and stored[1] == expected
    conversations = {c.id: c for c, _ in await store.conversations()}
    assert conversations["c1"].last_at == pytest.approx(at)  # moved forward with the message
    # Another visitor's address takes nothing from this chat.
    assert await held.insert("m4", "someone-else", "Hi", at, "someone-else:p1", IDLE) is None


async def test_not_stored_once_released_closed_or_idle(stores: Stores) -> None:
    database, store, held = stores
    await chat(store, "c1")
    await store.save_holds({"c1": "1001"}, ())
    await store.save_holds({}, ["c1"])  # the agent closed it
    assert await held.insert("m2", ADDRESS, "x", T0 + 30, f"{ADDRESS}:p2", IDLE) is None
    await chat(store, "c2", closed=True, last_at=T0 + 2)
    await store.save_holds({"c2": "1001"}, ())  # a row left over, but the chat is closed
    assert await held.insert("m3", ADDRESS, "x", T0 + 30, f"{ADDRESS}:p3", IDLE) is None
    await chat(store, "c3", last_at=T0 + 3)
    await store.save_holds({"c3": "1002"}, ())
    late = T0 + 3 + IDLE + 10  # silent for longer than the idle window: a new chat, the owner's
    assert await held.insert("m4", ADDRESS, "x", late, f"{ADDRESS}:p4", IDLE) is None
    # A new owner writes its whole desk: rows of chats it does not hold go.
    await store.save_holds({"c3": "1003"}, (), every=True)
    async with database.engine.connect() as connection:
        rows = (await connection.execute(sa.text("SELECT conversation_id, agent_id FROM chat_holds"))).all()
    assert [tuple(r) for r in rows] == [("c3", "1003")]
    stored = await held.insert("m5", ADDRESS, "x", T0 + 30, f"{ADDRESS}:p5", IDLE)
    assert stored == Held("c3", "k1", "1003", True)


async def test_an_owners_release_under_way_is_waited_for(stores: Stores) -> None:
    """The owner deletes the row (a close) in a transaction not committed yet: the visitor's
    node's insert waits for it, then finds the chat released and stores nothing."""
    database, store, held = stores
    await chat(store, "c1")
    await store.save_holds({"c1": "1001"}, ())
    async with database.engine.connect() as owner:
        await owner.execute(sa.text("DELETE FROM chat_holds WHERE conversation_id = 'c1'"))
        inserting = asyncio.create_task(held.insert("m2", ADDRESS, "x", T0 + 30, f"{ADDRESS}:p2", IDLE))
        await asyncio.sleep(0.5)
        assert not inserting.done(), "the insert passed the owner's delete under way"
        await owner.commit()
    assert await asyncio.wait_for(inserting, 10) is None
    assert [m.id for m, _ in await store.messages()] == ["c1-m1"]


async def test_the_owners_sweep_files_what_was_stored_and_never_told(stores: Stores) -> None:
    """A visitor's node stored a message and died before its ``cc:held`` entry: the owner's next
    sweep reads it back (held chats only, open, within the window) and files it once."""
    _database, store, held = stores
    now = time.time()
    await chat(store, "c1", last_at=now - 60)
    await store.save_holds({"c1": "1001"}, ())
    await held.insert("told", ADDRESS, "told", now - 12, f"{ADDRESS}:p1", IDLE)  # its entry arrived
    await held.insert("lost", ADDRESS, "never told", now - 11, f"{ADDRESS}:p2", IDLE)
    await held.insert("recent", ADDRESS, "just now", now - 1, f"{ADDRESS}:p3", IDLE)  # the stream's
    # A chat no agent holds, with a message of the same moments: the owner stored it itself.
    c2 = Conversation("c2", "k2", MessagingChannel.WEBCHAT, now - 20, now - 10, "", False)
    own = Message("own", "c2", MessagingChannel.WEBCHAT, Direction.IN, "x", now - 10, Delivery.RECEIVED, "p9")
    await store.save_received_batch([(own, "k2")], [(c2, "other-visitor")])
    window = await store.held_messages(now - 30, now - 5)
    expected = [("told", "c1", "k1", ADDRESS), ("lost", "c1", "k1", ADDRESS)]
    assert [(m.id, m.conversation_id, c, a) for m, c, a in window] == expected
    assert window[1][0].body == "never told" and window[1][0].at == pytest.approx(now - 11, abs=1e-6)
    books = {"c1-m1", "told"}
    filed: list[str] = []

    async def file(message: Message, customer_id: str, address: str) -> None:
        filed.append(message.id)
        books.add(message.id)

    sweep = HeldSweep(store.held_messages, books.__contains__, file, lambda: now)
    assert await sweep.once() == 1 and filed == ["lost"]
    assert await sweep.once() == 0 and filed == ["lost"]  # the next sweep: known now
    await store.save_holds({}, ["c1"])  # released: nothing of it is read back any more
    assert await store.held_messages(now - 30, now) == []

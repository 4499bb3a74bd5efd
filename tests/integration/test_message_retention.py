"""Retention of messages (issue 13): closed conversations past their customer's business line's
retention go with their messages and outbox rows, from the database and the books, and nothing
else does (real SQLite and PostgreSQL; the real app's own sweep)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callcenter.app import create_app
from callcenter.core.omni.conversations import MessagingChannel
from callcenter.core.omni.customers import Identity, IdentityKind
from callcenter.messaging.channels.base import InboundMessage
from callcenter.messaging.service import Messaging
from callcenter.settings import MessagingSettings
from callcenter.storage.db import Database
from callcenter.storage.messaging_store import MessagingStore
from callcenter.web.webhooks import MESSAGING
from tests.conftest import config_with, settings_from
from tests.integration.test_api import free_port
from tests.integration.test_db import empty_database_url  # noqa: F401 - a fixture (SQLite, PostgreSQL)

DAY = 86400.0
WEBCHAT = MessagingChannel.WEBCHAT
SETTINGS = MessagingSettings(retention_days={"sales": 30}, default_retention_days=365)


@pytest.fixture
async def store(empty_database_url: str) -> AsyncIterator[MessagingStore]:  # noqa: F811 - the fixture
    database = Database(empty_database_url)  # runs the migrations
    await database.start()
    store = MessagingStore(empty_database_url)
    await store.start()
    try:
        yield store
    finally:
        await store.stop()
        await database.stop()


async def conversation(
    messaging: Messaging, who: str, age_days: float, *, line: str | None, closed: bool, messages: int = 2
) -> str:
    """A web-chat conversation of ``messages`` messages, the last ``age_days`` old."""
    at = time.time() - age_days * DAY
    sender = Identity(IdentityKind.VISITOR, who)
    received = None
    for n in range(messages):
        inbound = InboundMessage(WEBCHAT, f"{who}-{n}", sender, "w", f"{who} {n}", at - 60 + n)
        received = await messaging.receive(inbound)
    assert received is not None and received.conversation is not None
    customer_id = received.conversation.customer_id
    if line is not None:
        messaging.customers.update(customer_id, at, by="test", business_line=line)
        await messaging.save_customers({customer_id})
    if closed:
        assert await messaging.close(received.conversation.id)
    return received.conversation.id


async def test_closed_conversations_past_their_lines_retention_go_and_nothing_else(
    store: MessagingStore,
) -> None:
    messaging = Messaging(store, SETTINGS, clock=time.time)
    old_sales = await conversation(messaging, "old-sales", 40, line="sales", closed=True, messages=3)
    young_sales = await conversation(messaging, "young-sales", 10, line="sales", closed=True)
    open_sales = await conversation(messaging, "open-sales", 40, line="sales", closed=False)
    old_default = await conversation(messaging, "old-default", 40, line=None, closed=True)
    ancient_default = await conversation(messaging, "ancient", 400, line=None, closed=True)
    kept = {young_sales, open_sales, old_default}

    deleted = await messaging.purge(datetime.now(UTC))

    assert deleted == 3 + 2  # old-sales' three messages and the 400-day-old default's two
    stored = {c.id for c, _ in await store.conversations()}
    assert stored == kept
    assert {m.conversation_id for m, _ in await store.messages()} == kept
    assert await store.message_count() == 6
    books = messaging.conversations
    assert set(books.conversations) == kept
    assert {m.conversation_id for m in books.messages.values()} == kept
    assert old_sales not in messaging.addresses and ancient_default not in messaging.addresses
    # Customers stay (their identity and audit are not messages); their timeline has no gap left
    # open: the deleted messages are simply not there.
    assert books.by_provider_id(WEBCHAT, "old-sales-0") is None
    assert await messaging.purge(datetime.now(UTC)) == 0  # a second sweep finds nothing

    # A restart reads back what is left, nothing of what went.
    again = Messaging(store, SETTINGS, clock=time.time)
    await again.restore()
    assert set(again.conversations.conversations) == kept


async def test_a_conversation_whose_line_changes_follows_the_new_retention(store: MessagingStore) -> None:
    messaging = Messaging(store, SETTINGS, clock=time.time)
    moved = await conversation(messaging, "moved", 40, line=None, closed=True)
    assert await messaging.purge(datetime.now(UTC)) == 0  # default: 365 days
    customer_id = messaging.conversations.conversations[moved].customer_id
    messaging.customers.update(customer_id, time.time(), by="test", business_line="sales")
    assert await messaging.purge(datetime.now(UTC)) == 2
    assert await store.conversations() == []


async def test_the_running_server_sweeps_messages(
    tmp_path: Path,
    empty_database_url: str,  # noqa: F811 - the fixture
) -> None:
    settings = settings_from(
        config_with(
            asterisk={"ami_port": free_port(), "reconnect_min_delay": 5.0},
            agi={"port": free_port()},
            database={"url": empty_database_url},
            recordings={"directory": str(tmp_path / "recordings"), "retention_sweep_seconds": 0.2},
            messaging={"retention_days": {"sales": 30}},
        )
    )
    client: TestClient[Any, Any]
    async with TestClient(TestServer(create_app(settings))) as client:
        async with asyncio.timeout(15):  # on PostgreSQL, once the node is elected routing owner
            while MESSAGING not in client.app:  # noqa: ASYNC110 - the election's start-up
                await asyncio.sleep(0.1)
        messaging: Messaging = client.app[MESSAGING]
        before = await deleted_messages(client)
        old = await conversation(messaging, "old", 40, line="sales", closed=True)
        young = await conversation(messaging, "young", 5, line="sales", closed=True)
        async with asyncio.timeout(15):
            while old in messaging.conversations.conversations:  # noqa: ASYNC110 - the server's sweep
                await asyncio.sleep(0.1)
        assert {c.id for c, _ in await messaging.store.conversations()} == {young}
        assert await deleted_messages(client) == before + 2


async def deleted_messages(client: TestClient[Any, Any]) -> float:
    """The server's count of messages deleted by retention (process-wide: read it before and after)."""
    text = await (await client.get("/metrics")).text()
    found = re.search(r'^callcenter_retention_deleted_total\{kind="message"\} (\S+)$', text, re.MULTILINE)
    return 0.0 if found is None else float(found[1])


async def test_a_sweep_between_closing_and_saving_the_close(store: MessagingStore) -> None:
    """``close`` marks the conversation closed, then waits for the save lock; a sweep holding that
    lock may delete the conversation first. The late save finds nothing to save (it used to raise
    KeyError), and nothing of the conversation is left."""
    messaging = Messaging(store, SETTINGS, clock=time.time)
    old = await conversation(messaging, "late", 40, line="sales", closed=False)
    async with messaging._save_lock:  # the sweep's hold on it, made visible
        closing = asyncio.create_task(messaging.close(old))
        await asyncio.sleep(0)
        assert messaging.conversations.conversations[old].closed
        # The sweep's body, under the lock it already holds:
        expired = messaging.conversations.expired(messaging._kept_seconds, time.time())
        assert [c.id for c in expired] == [old]
        await store.delete_conversations([old])
        messaging.conversations.drop(old)
    assert await closing is True
    assert await store.conversations() == []

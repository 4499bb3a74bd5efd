"""The outbox on several nodes (issue 14): every reply is sent by exactly one node, a node that dies
while sending has its replies taken over when its claim lapses, and a deposed claim cannot write
over the new one. Real SQLite (one file, two engines) and PostgreSQL; each "node" is its own
store and outbox, as in two server processes."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callcenter.core.omni.conversations import Delivery, MessagingChannel
from callcenter.messaging.channels.base import Reply
from callcenter.messaging.outbox import Outbox
from callcenter.settings import OutboxSettings
from callcenter.storage.db import Database
from callcenter.storage.messaging_store import MessagingStore
from tests.pg import new_database

REPLIES = 60
SMS = MessagingChannel.SMS


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "postgresql":
        url = await new_database(request.getfixturevalue("postgres_url"))
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'outbox.db'}"
    database = Database(url)  # runs the migrations
    await database.start()
    try:
        yield url
    finally:
        await database.stop()


class Provider:
    """One provider both nodes send to: counts every message it is handed, by message id."""

    def __init__(self) -> None:
        self.received: Counter[str] = Counter()
        self.by_node: Counter[str] = Counter()

    def sender(self, node: str) -> Sender:
        return Sender(self, node)


class Sender:
    def __init__(self, provider: Provider, node: str) -> None:
        self.provider, self.node = provider, node

    async def send(self, reply: Reply) -> str:
        await asyncio.sleep(0.002)  # a request: the other node runs meanwhile
        self.provider.received[reply.message_id] += 1
        self.provider.by_node[self.node] += 1
        return f"{self.node}-{reply.message_id}"


def reply(n: int) -> Reply:
    return Reply(f"m{n:03d}", MessagingChannel.SMS, "+14155550100", f"reply {n}")


async def started(url: str) -> MessagingStore:
    store = MessagingStore(url)  # its own engine: another process's connection pool
    await store.start()
    return store


async def test_two_nodes_send_every_reply_exactly_once(database_url: str) -> None:
    stores = [await started(database_url), await started(database_url)]
    provider = Provider()
    statuses: list[tuple[str, Delivery, str | None]] = []

    async def on_status(message_id: str, status: Delivery, provider_id: str | None, _detail: str) -> None:
        statuses.append((message_id, status, provider_id))

    settings = OutboxSettings(batch=7)
    nodes = [
        Outbox(store, {MessagingChannel.SMS: provider.sender(name)}, settings, time.time, on_status)
        for store, name in zip(stores, ("a", "b"), strict=True)
    ]
    try:
        for n in range(REPLIES):
            await nodes[n % 2].enqueue(reply(n))
        for _ in range(40):
            await asyncio.gather(*(node.run_once() for node in nodes))
            if len(provider.received) == REPLIES:
                break
        assert sorted(provider.received) == [f"m{n:03d}" for n in range(REPLIES)]
        assert set(provider.received.values()) == {1}, "a reply sent twice"
        assert len(statuses) == REPLIES and {s for _, s, _ in statuses} == {Delivery.SENT}
        for n in range(REPLIES):
            item = await stores[0].get(f"m{n:03d}")
            assert item is not None and item.state == "sent" and item.attempts == 1
            assert item.provider_id is not None and item.provider_id.endswith(f"m{n:03d}")
    finally:
        for store in stores:
            await store.stop()


async def test_a_dead_nodes_claim_lapses_and_another_node_sends_it(database_url: str) -> None:
    dead, alive = await started(database_url), await started(database_url)
    provider = Provider()
    sent: list[str] = []

    async def on_status(message_id: str, status: Delivery, _provider_id: str | None, _detail: str) -> None:
        sent.append(message_id)

    outbox = Outbox(alive, {SMS: provider.sender("alive")}, OutboxSettings(), time.time, on_status)
    try:
        await alive.add(reply(1), time.time())
        # The dead node claimed it and died before sending: nobody sends it while the lease runs.
        [claimed] = await dead.claim(time.time(), 10, lease=0.5)
        assert claimed.claim is not None and not claimed.reclaimed
        await outbox.run_once()
        assert provider.received == Counter()
        await asyncio.sleep(0.6)  # the lease lapses
        await outbox.run_once()
        assert provider.received == Counter({"m001": 1}) and sent == ["m001"]
        # The deposed claim wakes up: its outcome is refused, the live one stays.
        written = await dead.update(
            "m001", state="failed", attempts=1, next_attempt_at=time.time(), error="late", claim=claimed.claim
        )
        assert written is False
        item = await alive.get("m001")
        assert item is not None and item.state == "sent" and item.provider_id == "alive-m001"
    finally:
        await dead.stop()
        await alive.stop()


async def test_a_stopping_node_gives_its_claim_back(database_url: str) -> None:
    """A node stopping mid-batch releases what it has not sent: the next node sends it at once,
    not after the lease."""
    first, second = await started(database_url), await started(database_url)
    provider = Provider()
    gate = asyncio.Event()

    class Stuck:
        async def send(self, reply: Reply) -> str:
            gate.set()
            await asyncio.sleep(3600)  # the provider hangs; the node is stopped meanwhile
            return "never"

    async def on_status(*_args: object) -> None:
        return None

    stopping = Outbox(first, {MessagingChannel.SMS: Stuck()}, OutboxSettings(), time.time, on_status)
    taking_over = Outbox(second, {SMS: provider.sender("b")}, OutboxSettings(), time.time, on_status)
    try:
        for n in range(3):
            await first.add(reply(n), time.time())
        await stopping.start()
        await asyncio.wait_for(gate.wait(), 10)
        await stopping.stop()
        await taking_over.run_once()
        assert sorted(provider.received) == ["m000", "m001", "m002"]
    finally:
        await first.stop()
        await second.stop()

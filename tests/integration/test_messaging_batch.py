"""Group commit of inbound messages (``Messaging._store_received``) on real SQLite and PostgreSQL:
concurrent messages share transactions, and a re-delivered one (stored by an earlier run) in a
batch fails only itself."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.core.omni.conversations import Conversation, Message, MessagingChannel
from callcenter.core.omni.customers import Identity, IdentityKind
from callcenter.messaging.channels.base import InboundMessage
from callcenter.messaging.service import Messaging, company_wait
from callcenter.settings import MessagingSettings
from callcenter.storage.db import Database
from callcenter.storage.messaging_store import CustomerChanges, MessagingStore
from tests.pg import new_database


def inbound(provider_id: str, who: str) -> InboundMessage:
    return InboundMessage(
        MessagingChannel.WEBCHAT,
        provider_id,
        Identity(IdentityKind.VISITOR, who),
        "w",
        provider_id,
        time.time(),
    )


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def test_concurrent_messages_and_a_redelivery_in_one_batch(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    if backend == "postgresql":
        url = await new_database(request.getfixturevalue("postgres_url"))
    else:
        url = f"sqlite+aiosqlite:///{tmp_path}/m.db"
    database = Database(url)  # runs the migrations
    await database.start()
    store = MessagingStore(url)
    await store.start()
    try:
        first = Messaging(store, MessagingSettings(), clock=time.time)
        results = await asyncio.gather(*(first.receive(inbound(f"p{i}", f"v{i % 7}")) for i in range(60)))
        assert all(r.message is not None for r in results)
        assert len(await store.messages()) == 60
        conversations = await store.conversations()
        assert len(conversations) == 7 and all(address for _, address in conversations)

        # A second process that did not read the books back: p3 comes again among new messages.
        second = Messaging(store, MessagingSettings(), clock=time.time)
        again = await asyncio.gather(*(second.receive(inbound(p, "v9")) for p in ("n1", "p3", "n2")))
        assert [r.duplicate for r in again] == [False, True, False]
        bodies = sorted(m.body for m, _ in await store.messages())
        assert len(bodies) == 62 and bodies.count("p3") == 1 and {"n1", "n2"} <= set(bodies)
    finally:
        await store.stop()
        await database.stop()


class CountingStore(MessagingStore):
    """The real store, counting the transactions that write customers; the next ``fail`` of
    them fail."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.customer_writes = 0
        self.fail = 0

    async def _write_customers(self, session: AsyncSession, changes: CustomerChanges) -> None:
        self.customer_writes += 1
        if self.fail:
            self.fail -= 1
            raise RuntimeError("the database went away")
        await super()._write_customers(session, changes)


async def test_new_customers_saved_together_and_a_failed_save_retried(tmp_path: Path) -> None:
    """A burst of new chats writes its customers with the messages, in a few transactions; when
    that fails the messages are stored one by one and the customers by a save of their own; a
    customer whose save fails is written by the next save, whoever's."""
    url = f"sqlite+aiosqlite:///{tmp_path}/m.db"
    database = Database(url)
    await database.start()
    store = CountingStore(url)
    await store.start()
    try:
        messaging = Messaging(store, MessagingSettings(), clock=time.time)
        results = await asyncio.gather(*(messaging.receive(inbound(f"p{i}", f"v{i}")) for i in range(40)))
        customers, _, audit = await store.customers()
        assert len(customers) == 40 and len(audit) == len(messaging.customers.audit) >= 40
        assert {c.id for c in customers} == {r.conversation.customer_id for r in results if r.conversation}
        assert 0 < store.customer_writes < 40

        store.fail = 1  # the batch's customer write: messages one by one, customers on their own
        more = await asyncio.gather(*(messaging.receive(inbound(f"q{i}", f"w{i}")) for i in range(5)))
        assert all(r.message is not None for r in more)
        customers, _, audit = await store.customers()
        assert len(customers) == 45 and len(audit) == len(messaging.customers.audit)
        assert len(await store.messages()) == 45

        store.fail = 1_000  # every customer write fails: the messages are stored, the receivers told
        outcomes = await asyncio.gather(
            *(messaging.receive(inbound(f"r{i}", f"x{i}")) for i in range(5)), return_exceptions=True
        )
        assert any(isinstance(o, Exception) for o in outcomes)
        assert len((await store.customers())[0]) == 45
        store.fail = 0
        await messaging.save_customers(set())  # the next save, whoever's: writes what failed
        customers, _, audit = await store.customers()
        assert len(customers) == 50 and len(audit) == len(messaging.customers.audit)
    finally:
        await store.stop()
        await database.stop()


class BatchSizes(MessagingStore):
    """The real store, noting how many messages each of its batch writes carried."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.batches: list[int] = []

    async def save_received_batch(
        self,
        messages: list[tuple[Message, str]],
        conversations: list[tuple[Conversation, str]],
        customers: CustomerChanges | None = None,
    ) -> None:
        self.batches.append(len(messages))
        await super().save_received_batch(messages, conversations, customers)


async def test_while_messages_keep_coming_the_first_of_a_write_waits_for_company(tmp_path: Path) -> None:
    """``group_commit_ms``: a message after a quiet spell is written at once, alone; one that
    follows closely waits, and the message arriving meanwhile shares its commit."""
    url = f"sqlite+aiosqlite:///{tmp_path}/m.db"
    database = Database(url)
    await database.start()
    store = BatchSizes(url)
    await store.start()
    try:
        messaging = Messaging(store, MessagingSettings(group_commit_ms=100), clock=time.time)
        alone = await messaging.receive(inbound("a", "v1"))
        assert alone.message is not None and store.batches == [1]
        waiting = asyncio.ensure_future(messaging.receive(inbound("b", "v2")))  # right after: waits
        for _ in range(5):
            await asyncio.sleep(0)
        assert not waiting.done() and store.batches == [1]
        joined = await asyncio.gather(waiting, messaging.receive(inbound("c", "v3")))
        assert all(r.message is not None for r in joined)
        assert store.batches == [1, 2]
        assert sorted(m.body for m, _ in await store.messages()) == ["a", "b", "c"]
    finally:
        await store.stop()
        await database.stop()


def test_company_is_waited_for_only_while_messages_keep_coming() -> None:
    assert company_wait(float("inf"), 0.005) == 0.0  # the first message of a run
    assert company_wait(0.2, 0.005) == 0.0  # after a quiet spell
    assert company_wait(0.011, 0.005) == 0.0  # 90 a second: little company within a window
    assert company_wait(0.004, 0.005) == 0.005  # 200 messages a second
    assert company_wait(0.0, 0.0) == 0.0  # turned off

"""Group commit of inbound messages (``Messaging._store_received``) on real SQLite and PostgreSQL:
concurrent messages share transactions, and a re-delivered one (stored by an earlier run) in a
batch fails only itself."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from callcenter.core.omni.conversations import MessagingChannel
from callcenter.core.omni.customers import Identity, IdentityKind
from callcenter.messaging.channels.base import InboundMessage
from callcenter.messaging.service import Messaging
from callcenter.settings import MessagingSettings
from callcenter.storage.db import Database
from callcenter.storage.messaging_store import MessagingStore
from tests.integration.test_db import _create_postgres_database


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
        url = await _create_postgres_database(request.getfixturevalue("postgres_url"))
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
    """The real store, counting its customer transactions; ``fail`` makes the next one fail."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.customer_saves = 0
        self.fail = False

    async def save_customers(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        self.customer_saves += 1
        if self.fail:
            self.fail = False
            raise RuntimeError("the database went away")
        await super().save_customers(*args, **kwargs)


async def test_new_customers_saved_together_and_a_failed_save_retried(tmp_path: Path) -> None:
    """A burst of new chats writes its customers in a few transactions, each caller returning once
    its customer is written; a failed transaction fails every caller in it, and the next save
    writes what it held."""
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
        assert store.customer_saves < 40

        store.fail = True
        saves = store.customer_saves
        more = [messaging.receive(inbound(f"q{i}", f"w{i}")) for i in range(5)]
        outcomes = await asyncio.gather(*more, return_exceptions=True)
        assert any(isinstance(o, Exception) for o in outcomes)
        assert store.customer_saves > saves
        await messaging.save_customers(set())  # the next save, whoever's: writes what failed
        customers, _, audit = await store.customers()
        assert len(customers) == 45 and len(audit) == len(messaging.customers.audit)
    finally:
        await store.stop()
        await database.stop()

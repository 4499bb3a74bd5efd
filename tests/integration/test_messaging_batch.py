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

"""A provider's retry after our 503 is stored, not taken for a duplicate (issue 13, "Data loss" 2).

The message used to be remembered as seen before its write committed: when the write failed (the
database away), the webhook answered 503, and the provider's retry was answered 200 as a duplicate
and never stored. Deduplication now follows the commit. The database really goes away (the
messaging store's engine is closed, as tests/integration/test_service_writer.py does for the
interactions' writer), then comes back.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp.test_utils import TestClient

from callcenter.messaging.channels import whatsapp
from callcenter.messaging.service import Messaging
from callcenter.storage.db import DatabaseError
from tests.channel_data import http
from tests.integration.test_messaging import WA_SECRET, client, providers, service

__all__ = ["client", "providers"]  # the fixtures: the app with its fake providers


@asynccontextmanager
async def database_away(messaging: Messaging) -> AsyncIterator[None]:
    """The messaging store's engine closed, then opened again. The outbox loop (which reads the
    store every 0.2 s here) is paused first: a connection it held would be torn down unclosed."""
    assert messaging.outbox is not None
    await messaging.outbox.stop()
    await messaging.store.stop()
    try:
        yield
    finally:
        await messaging.store.start()
        await messaging.outbox.start()


async def stored_ids(messaging: Messaging) -> list[str | None]:
    return [m.provider_id for m, _ in await messaging.store.messages()]


async def test_a_retry_after_a_503_is_stored(client: TestClient[Any, Any]) -> None:
    messaging = service(client)
    doc = http("twilio/inbound_sms.http")
    headers = {k: v for k, v in doc.headers.items() if k != "Host"}
    async with database_away(messaging):
        resp = await client.post(doc.path, data=doc.body, headers=headers)
        assert resp.status == 503, await resp.text()
        assert messaging.opened == []
    # The database is back: Twilio retries the same request.
    resp = await client.post(doc.path, data=doc.body, headers=headers)
    assert resp.status == 200, await resp.text()
    assert await stored_ids(messaging) == [dict(doc.form)["MessageSid"]]
    [(opened, _)] = messaging.opened  # the conversation is opened (and routed) once, now
    stored, _merges, _audit = await messaging.store.customers()
    assert opened.customer_id in {c.id for c in stored}
    # A further retry is a duplicate: still one copy.
    assert (await client.post(doc.path, data=doc.body, headers=headers)).status == 200
    assert len(await stored_ids(messaging)) == 1


async def test_a_delivery_while_the_first_is_being_written_shares_its_outcome(
    client: TestClient[Any, Any],
) -> None:
    """Two deliveries of one message at once (a provider's quick retry): the second waits for the
    first's write; when that fails, both fail (503), and the next retry is stored."""
    messaging = service(client)
    doc = http("whatsapp/signed_post_example.http")
    [item] = whatsapp.parse(doc.body)
    assert not isinstance(item, whatsapp.StatusUpdate)
    async with database_away(messaging):
        first, second = await asyncio.gather(
            messaging.receive(item), messaging.receive(item), return_exceptions=True
        )
    assert isinstance(first, DatabaseError) and isinstance(second, DatabaseError), (first, second)
    signed = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": whatsapp.signature(doc.body, WA_SECRET),
    }
    results = await asyncio.gather(
        *(client.post("/webhooks/whatsapp", data=doc.body, headers=signed) for _ in range(2))
    )
    assert [r.status for r in results] == [200, 200]
    wamid = json.loads(doc.body)["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    assert await stored_ids(messaging) == [wamid]

"""Failed replies are recorded as failed, everywhere, and one failure does not stop the others
(issue 13, "Data loss" 3).

The outbox logged a failure with ``extra={"message": ...}``, which the logging module refuses
(KeyError: "message" is a LogRecord attribute): the row said failed, but the message's status
was never set (the API showed "queued" for ever), and the pass stopped at that reply.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from callcenter.app import create_app
from callcenter.core.omni.conversations import Delivery, MessagingChannel
from callcenter.messaging.channels.base import Reply
from callcenter.messaging.outbox import Outbox
from callcenter.settings import OutboxSettings
from callcenter.storage.db import Database
from callcenter.storage.messaging_store import MessagingStore
from tests.channel_data import http
from tests.integration.test_api import auth
from tests.integration.test_messaging import messaging_settings, service


class RefusingTwilio:
    """Twilio's send API that refuses for good (400, as for a bad number) any body with FAIL."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = dict(parse_qsl((await request.read()).decode()))["Body"]
        if "FAIL" in body:
            return web.json_response({"code": 21211, "message": "Invalid 'To' Phone Number"}, status=400)
        self.sent.append(body)
        return web.json_response({"sid": f"SM{len(self.sent):032d}", "status": "queued"}, status=201)


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[tuple[TestClient[Any, Any], RefusingTwilio]]:
    fake = RefusingTwilio()
    app = web.Application()
    app.router.add_post("/{tail:.*}", fake.handle)
    provider = TestServer(app, host="127.0.0.1", port=0)
    await provider.start_server()
    base_url = str(provider.make_url("")).rstrip("/")
    async with TestClient(TestServer(create_app(messaging_settings(tmp_path, base_url)))) as c:
        yield c, fake
    await provider.close()


async def test_every_failed_reply_is_failed_in_the_api_and_the_pass_goes_on(
    client: tuple[TestClient[Any, Any], RefusingTwilio], caplog: pytest.LogCaptureFixture
) -> None:
    http_client, fake = client
    messaging = service(http_client)
    doc = http("twilio/inbound_sms.http")
    headers = {k: v for k, v in doc.headers.items() if k != "Host"}
    assert (await http_client.post(doc.path, data=doc.body, headers=headers)).status == 200
    [(opened, _)] = messaging.opened
    outbox = messaging.outbox
    assert outbox is not None
    await outbox.stop()  # the replies wait, to be sent in one pass
    replies = [
        await messaging.reply(opened.conversation_id, text) for text in ("FAIL one", "FAIL two", "fine three")
    ]
    await outbox.run_once()
    await outbox.start()

    rows = [await messaging.store.get(r.id) for r in replies]
    assert [row.state if row else None for row in rows] == ["failed", "failed", "sent"]
    assert fake.sent == ["fine three"]
    resp = await http_client.get(f"/api/customers/{opened.customer_id}", headers=auth("admin"))
    assert resp.status == 200
    status = {e["id"]: e["status"] for e in (await resp.json())["timeline"] if e["kind"] == "message"}
    failed_, sent_ = Delivery.FAILED.value, Delivery.SENT.value
    assert [status[r.id] for r in replies] == [failed_, failed_, sent_]
    assert "21211" in messaging.conversations.messages[replies[0].id].status_detail
    failed = [r for r in caplog.records if r.getMessage() == "outbox.failed"]
    assert sorted(getattr(r, "reply", None) for r in failed) == sorted(r.id for r in replies[:2])
    assert not [r for r in caplog.records if r.getMessage() == "outbox.error"]


class FlakySender:
    """Our Sender interface: a bug of the sender (not a SendFailed) for replies saying BUG."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, reply: Reply) -> str:
        if "BUG" in reply.body:
            raise RuntimeError("a sender's bug")
        self.sent.append(reply.body)
        return f"id-{len(self.sent)}"


async def test_a_reply_that_breaks_the_sender_is_retried_and_does_not_stop_the_pass(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}"
    database = Database(url)
    await database.start()  # the schema
    store = MessagingStore(url)
    await store.start()
    statuses: list[tuple[str, Delivery]] = []

    async def on_status(message_id: str, status: Delivery, provider_id: str | None, detail: str) -> None:
        statuses.append((message_id, status))

    sender = FlakySender()
    outbox = Outbox(store, {MessagingChannel.SMS: sender}, OutboxSettings(), time.time, on_status)
    try:
        for n, body in enumerate(("BUG first", "second", "third")):
            await outbox.enqueue(Reply(f"r{n}", MessagingChannel.SMS, "+14155550111", body))
        await outbox.run_once()
        assert sender.sent == ["second", "third"]
        assert statuses == [("r1", Delivery.SENT), ("r2", Delivery.SENT)]
        logged = [r.getMessage() for r in caplog.records if getattr(r, "reply", None) == "r0"]
        assert logged[:1] == ["outbox.sender_error"]
        pending = await store.get("r0")  # kept, counted, tried again after the backoff
        assert pending is not None and pending.state == "pending" and pending.attempts == 1
        assert "RuntimeError" in pending.last_error
    finally:
        await store.stop()
        await database.stop()

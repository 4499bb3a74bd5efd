"""Messaging end to end in-process: signed webhooks in, replies out to local fake providers.

The fake providers are aiohttp servers on 127.0.0.1, ephemeral ports; the server's provider base
URLs point at them. They record every request so the tests check the documented outbound format.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from callcenter.app import create_app
from callcenter.core.omni.conversations import Delivery, Direction, MessagingChannel
from callcenter.core.omni.customers import IdentityKind
from callcenter.messaging.channels import twilio, wechat, whatsapp
from callcenter.messaging.service import Messaging
from callcenter.web.webhooks import MESSAGING
from tests.channel_data import http
from tests.integration.test_api import auth, make_settings

PUBLIC_URL = "https://cc.example.com"
TWILIO_SID = "AC0123456789abcdef0123456789abcdef"
TWILIO_TOKEN = "cc_test_auth_token_0123456789abcd"
WA_SECRET = "cc_test_app_secret_4f1d9a"
WA_VERIFY = "cc-verify-token-123"
WECHAT_TOKEN = "cc_wechat_token_2024"


@dataclass
class FakeProviders:
    """Twilio, Graph API and WeChat, as far as sending goes. ``failures``: answer 503 this many times."""

    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    failures: int = 0
    sent: int = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append((request.method, request.path_qs, dict(request.headers), body))
        if self.failures > 0:
            self.failures -= 1
            return web.json_response({"error": "down"}, status=503)
        self.sent += 1
        if request.path.endswith("/Messages.json"):
            return web.json_response({"sid": f"SM{self.sent:032d}", "status": "queued"}, status=201)
        if request.path.endswith("/messages"):
            return web.json_response(
                {"messaging_product": "whatsapp", "messages": [{"id": f"wamid.{self.sent}"}]}
            )
        if request.path == "/cgi-bin/token":
            return web.json_response({"access_token": "TOKEN-1", "expires_in": 7200})
        if request.path == "/cgi-bin/message/custom/send":
            return web.json_response({"errcode": 0, "errmsg": "ok", "msgid": 1000 + self.sent})
        return web.json_response({}, status=404)

    def sends(self) -> list[tuple[str, str, dict[str, str], bytes]]:
        return [
            r for r in self.requests if r[1] != "/cgi-bin/token" and not r[1].startswith("/cgi-bin/token?")
        ]


def messaging_settings(tmp_path: Path, base_url: str, **sections: Any) -> Any:
    """Settings with every provider configured against the fake providers at ``base_url``."""
    return make_settings(
        tmp_path,
        messaging={
            "public_url": PUBLIC_URL,
            "outbox": {"retry_min_delay": 0.05, "retry_max_delay": 0.2},
            "twilio": {
                "account_sid": TWILIO_SID,
                "auth_token": TWILIO_TOKEN,
                "from_number": "+14155550199",
                "base_url": base_url,
            },
            "whatsapp": {
                "verify_token": WA_VERIFY,
                "app_secret": WA_SECRET,
                "access_token": "WA-ACCESS",
                "phone_number_id": "106540352242922",
                "base_url": base_url,
            },
            "wechat": {
                "token": WECHAT_TOKEN,
                "app_id": "wxAPP",
                "app_secret": "wx-secret",
                "base_url": base_url,
            },
        },
        **sections,
    )


@pytest.fixture
async def providers() -> AsyncIterator[tuple[FakeProviders, str]]:
    fake = FakeProviders()
    server = TestServer(fake.app(), host="127.0.0.1", port=0)
    await server.start_server()
    yield fake, str(server.make_url("")).rstrip("/")
    await server.close()


@pytest.fixture
async def client(tmp_path: Path, providers: tuple[FakeProviders, str]) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(create_app(messaging_settings(tmp_path, providers[1])))) as c:
        yield c


def service(client: TestClient[Any, Any]) -> Messaging:
    return client.app[MESSAGING]  # type: ignore[index]


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        # Polls state another task changes (the outbox loop): there is no event to wait on.
        while not check():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


def twilio_post(
    client: TestClient[Any, Any], path: str, params: list[tuple[str, str]], sign: bool = True
) -> Any:
    body = urlencode(params)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if sign:
        headers["X-Twilio-Signature"] = twilio.signature(PUBLIC_URL + path, params, TWILIO_TOKEN)
    return client.post(path, data=body, headers=headers)


# --- Twilio --------------------------------------------------------------------------------------
async def test_sms_in_reply_out_and_delivery_report(
    client: TestClient[Any, Any], providers: tuple[FakeProviders, str]
) -> None:
    fake, _ = providers
    doc = http("twilio/inbound_sms.http")
    resp = await client.post(
        doc.path, data=doc.body, headers={k: v for k, v in doc.headers.items() if k != "Host"}
    )
    assert resp.status == 200 and "<Response>" in await resp.text()
    messaging = service(client)
    [(opened, routing)] = messaging.opened
    assert opened.channel == MessagingChannel.SMS and routing.priority == 0
    customer = messaging.customers.get(opened.customer_id)
    assert {(i.kind, i.value) for i in customer.identities} == {(IdentityKind.PHONE, "+14155550111")}
    # Twilio retries the same message: acknowledged, stored once.
    again = await client.post(
        doc.path, data=doc.body, headers={k: v for k, v in doc.headers.items() if k != "Host"}
    )
    assert again.status == 200 and await messaging.store.message_count() == 1

    reply = await messaging.reply(opened.conversation_id, "Your order #4521 ships today.")
    await eventually(lambda: messaging.conversations.messages[reply.id].status == Delivery.SENT)
    [(method, path, headers, body)] = fake.sends()
    assert (method, path) == ("POST", f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json")
    assert (
        headers["Authorization"]
        == "Basic " + base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
    )
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert dict(parse_qsl(body.decode())) == {
        "To": "+14155550111",
        "From": "+14155550199",
        "Body": "Your order #4521 ships today.",
        "StatusCallback": f"{PUBLIC_URL}/webhooks/twilio/sms",
    }
    sid = messaging.conversations.messages[reply.id].provider_id
    assert sid is not None
    status = [("MessageSid", sid), ("MessageStatus", "delivered"), ("AccountSid", TWILIO_SID)]
    assert (await twilio_post(client, "/webhooks/twilio/sms", status)).status == 200
    assert messaging.conversations.messages[reply.id].status == Delivery.DELIVERED


async def test_twilio_refuses_unsigned_forged_and_malformed(client: TestClient[Any, Any]) -> None:
    doc = http("twilio/inbound_sms.http")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert (await client.post(doc.path, data=doc.body, headers=form)).status == 403
    forged = {**form, "X-Twilio-Signature": doc.headers["X-Twilio-Signature"]}
    assert (await client.post(doc.path, data=doc.body + b"&Extra=1", headers=forged)).status == 403
    resp = await twilio_post(client, "/webhooks/twilio/sms", [("MessageSid", "SM1"), ("From", "nobody")])
    assert resp.status == 400
    assert (await client.post(doc.path, data=b"x" * 100_000, headers=forged)).status == 413
    assert (await client.post(doc.path, json={"a": 1})).status in (400, 403)
    assert service(client).opened == []


# --- WhatsApp ------------------------------------------------------------------------------------
async def test_whatsapp_handshake_message_reply_and_statuses(
    client: TestClient[Any, Any], providers: tuple[FakeProviders, str]
) -> None:
    fake, _ = providers
    q = {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": WA_VERIFY}
    resp = await client.get("/webhooks/whatsapp", params=q)
    assert resp.status == 200 and await resp.text() == "1158201444"
    resp = await client.get("/webhooks/whatsapp", params={**q, "hub.verify_token": "wrong"})
    assert resp.status == 403 and "1158201444" not in await resp.text()

    doc = http("whatsapp/signed_post_example.http")
    signed = {"Content-Type": "application/json", "X-Hub-Signature-256": doc.headers["X-Hub-Signature-256"]}
    assert (await client.post("/webhooks/whatsapp", data=doc.body, headers=signed)).status == 200
    assert (
        await client.post("/webhooks/whatsapp", data=doc.body, headers=signed)
    ).status == 200  # re-delivery
    messaging = service(client)
    assert await messaging.store.message_count() == 1
    [(opened, _)] = messaging.opened
    customer = messaging.customers.get(opened.customer_id)
    assert {str(i) for i in customer.identities} == {"whatsapp:16505551234", "phone:+16505551234"}

    tampered = doc.body.replace(b"color", b"colour")
    assert (await client.post("/webhooks/whatsapp", data=tampered, headers=signed)).status == 403
    garbage = b'{"object": "whatsapp_business_account", "entry": 5}'
    sig = {"X-Hub-Signature-256": whatsapp.signature(garbage, WA_SECRET)}
    assert (await client.post("/webhooks/whatsapp", data=garbage, headers=sig)).status == 400

    reply = await messaging.reply(opened.conversation_id, "Hi Sheena, yes: it also comes in blue and green.")
    await eventually(lambda: messaging.conversations.messages[reply.id].status == Delivery.SENT)
    [(method, path, headers, body)] = fake.sends()
    assert (method, path) == ("POST", "/v23.0/106540352242922/messages")
    assert headers["Authorization"] == "Bearer WA-ACCESS"
    sent = json.loads(body)
    assert sent["to"] == "16505551234" and sent["context"]["message_id"].startswith("wamid.HBgL")
    assert sent["text"] == {"preview_url": False, "body": "Hi Sheena, yes: it also comes in blue and green."}

    wamid = messaging.conversations.messages[reply.id].provider_id
    status = json.loads(http("whatsapp/signed_post_example.http").body)
    value = status["entry"][0]["changes"][0]["value"]
    del value["messages"]
    value["statuses"] = [
        {"id": wamid, "status": "read", "timestamp": "1749416400", "recipient_id": "16505551234"}
    ]
    raw = json.dumps(status).encode()
    headers = {"X-Hub-Signature-256": whatsapp.signature(raw, WA_SECRET)}
    assert (await client.post("/webhooks/whatsapp", data=raw, headers=headers)).status == 200
    assert messaging.conversations.messages[reply.id].status == Delivery.READ


# --- WeChat --------------------------------------------------------------------------------------
async def test_wechat_check_message_dedup_and_custom_send(
    client: TestClient[Any, Any], providers: tuple[FakeProviders, str]
) -> None:
    fake, _ = providers
    get = http("wechat/verify_get.http")
    resp = await client.get(get.path)
    assert resp.status == 200 and await resp.text() == "5837397749185372411"
    assert (await client.get(get.path.replace("signature=9", "signature=8"))).status == 403

    post = http("wechat/signed_post_example.http")
    # The documented push, signed now (a push must be fresh: test_wechat_security.py).
    timestamp, nonce = str(int(time.time())), post.query["nonce"]
    signed = {"timestamp": timestamp, "nonce": nonce}
    signed["signature"] = wechat.signature(WECHAT_TOKEN, timestamp, nonce)
    path = f"/webhooks/wechat?{urlencode(signed)}"
    for _ in range(3):  # WeChat retries when it did not get an answer in time
        resp = await client.post(path, data=post.body, headers={"Content-Type": "text/xml"})
        assert resp.status == 200 and await resp.text() == "success"
    messaging = service(client)
    assert await messaging.store.message_count() == 1
    assert (await client.post("/webhooks/wechat", data=post.body)).status == 403  # no signature
    assert (await client.post(post.path, data=post.body)).status == 403  # signed in 2024: stale
    timestamp = str(int(time.time()))
    fresh = {"timestamp": timestamp, "nonce": "1"}
    fresh["signature"] = wechat.signature(WECHAT_TOKEN, timestamp, "1")
    assert (await client.post(f"/webhooks/wechat?{urlencode(fresh)}", data=b"<xml><broken")).status == 400

    [(opened, _)] = messaging.opened
    reply = await messaging.reply(opened.conversation_id, "您好，订单明天到")  # noqa: RUF001
    await eventually(lambda: messaging.conversations.messages[reply.id].status == Delivery.SENT)
    token, send = fake.requests
    assert token[1].startswith("/cgi-bin/token?") and "appid=wxAPP" in token[1]
    assert send[1] == "/cgi-bin/message/custom/send?access_token=TOKEN-1"
    assert json.loads(send[3]) == {
        "touser": "oX1a2b3c4d5e6f7g8h9i0jKLMNOP",
        "msgtype": "text",
        "text": {"content": "您好，订单明天到"},  # noqa: RUF001
    }


# --- Provider down -------------------------------------------------------------------------------
async def test_provider_down_keeps_the_reply_and_retries_until_delivered(
    client: TestClient[Any, Any], providers: tuple[FakeProviders, str]
) -> None:
    fake, _ = providers
    fake.failures = 3
    doc = http("twilio/inbound_sms.http")
    await client.post(doc.path, data=doc.body, headers={k: v for k, v in doc.headers.items() if k != "Host"})
    messaging = service(client)
    [(opened, _)] = messaging.opened
    reply = await messaging.reply(opened.conversation_id, "retry me")
    await eventually(lambda: messaging.conversations.messages[reply.id].status == Delivery.SENT)
    assert len(fake.sends()) == 4
    item = await messaging.store.get(reply.id)
    assert item is not None and item.state == "sent" and item.attempts == 4


async def test_pending_replies_survive_a_restart(
    tmp_path: Path, providers: tuple[FakeProviders, str]
) -> None:
    fake, base = providers
    fake.failures = 10_000
    settings = messaging_settings(tmp_path, base)
    doc = http("twilio/inbound_sms.http")
    headers = {k: v for k, v in doc.headers.items() if k != "Host"}
    async with TestClient(TestServer(create_app(settings))) as first:
        await first.post(doc.path, data=doc.body, headers=headers)
        messaging = service(first)
        [(opened, _)] = messaging.opened
        reply = await messaging.reply(opened.conversation_id, "survive")
        await eventually(lambda: len(fake.requests) >= 2)
    item = await _pending(settings, reply.id)
    assert item.state == "pending" and item.attempts >= 1
    fake.failures = 0
    async with TestClient(TestServer(create_app(settings))) as second:
        store = service(second).store

        async def sent() -> bool:
            got = await store.get(reply.id)
            return got is not None and got.state == "sent"

        async with asyncio.timeout(5):
            while not await sent():  # noqa: ASYNC110 (the row is changed by the new server's outbox)
                await asyncio.sleep(0.05)
        # The provider re-delivers the original SMS after our restart: still one inbound copy.
        await second.post(doc.path, data=doc.body, headers=headers)
        assert service(second).opened == []
    assert dict(parse_qsl(fake.sends()[-1][3].decode()))["Body"] == "survive"


async def _pending(settings: Any, message_id: str) -> Any:
    from callcenter.storage.messaging_store import MessagingStore

    store = MessagingStore(settings.database.url)
    await store.start()
    try:
        return await store.get(message_id)
    finally:
        await store.stop()


async def test_sms_and_whatsapp_of_one_number_are_a_suggestion_not_a_fusion(
    client: TestClient[Any, Any],
) -> None:
    sms = [("MessageSid", "SM1"), ("From", "+16505551234"), ("To", "+14155550199"), ("Body", "hi")]
    assert (await twilio_post(client, "/webhooks/twilio/sms", sms)).status == 200
    doc = http("whatsapp/signed_post_example.http")
    signed = {"X-Hub-Signature-256": doc.headers["X-Hub-Signature-256"]}
    assert (await client.post("/webhooks/whatsapp", data=doc.body, headers=signed)).status == 200
    messaging = service(client)
    first, second = (o.customer_id for o, _ in messaging.opened)
    assert first != second
    [suggestion] = messaging.customers.suggestions
    assert (suggestion.customer_id, suggestion.other, suggestion.reason) == (
        second,
        first,
        "shareable identity",
    )
    timeline = messaging.conversations.timeline(messaging.customers.members(first))
    assert [m.direction for m in timeline] == [Direction.IN]


# --- Customers and replies over the API -----------------------------------------------------------
async def test_customer_api_merge_unmerge_attributes_and_reply(
    client: TestClient[Any, Any], providers: tuple[FakeProviders, str]
) -> None:
    fake, _ = providers
    sup, agent = auth("supervisor"), auth("agent")
    sms = [("MessageSid", "SM1"), ("From", "+16505551234"), ("To", "+14155550199"), ("Body", "hi")]
    await twilio_post(client, "/webhooks/twilio/sms", sms)
    doc = http("whatsapp/signed_post_example.http")
    await client.post(
        "/webhooks/whatsapp",
        data=doc.body,
        headers={"X-Hub-Signature-256": doc.headers["X-Hub-Signature-256"]},
    )
    messaging = service(client)
    (sms_open, _), (wa_open, _) = messaging.opened
    a, b = sms_open.customer_id, wa_open.customer_id

    found = await (await client.get("/api/customer-suggestions", headers=sup)).json()
    assert found["suggestions"] == [
        {"customer_id": b, "identity": "phone:+16505551234", "other": a, "reason": "shareable identity"}
    ]
    assert (await client.post(f"/api/customers/{b}/merge", headers=sup, json={"into": a})).status == 400
    assert (
        await client.post(f"/api/customers/{b}/merge", headers=sup, json={"into": b, "reason": "x"})
    ).status == 409
    assert (
        await client.post("/api/customers/nobody/merge", headers=sup, json={"into": a, "reason": "x"})
    ).status == 404
    resp = await client.post(
        f"/api/customers/{b}/merge", headers=sup, json={"into": a, "reason": "same person, checked"}
    )
    assert resp.status == 200
    merge_id = (await resp.json())["merge_id"]
    merged = await (await client.get(f"/api/customers/{b}", headers=agent)).json()  # followed to a
    assert merged["id"] == a and merged["members"] == sorted([a, b])
    assert [m["channel"] for m in merged["timeline"]] == ["whatsapp", "sms"]  # by time: 2025 < now
    assert {i["kind"] for i in merged["identities"]} == {"phone", "whatsapp"}
    assert [(e.kind, e.by) for e in messaging.customers.audit if e.kind == "merged"] == [
        ("merged", "supervisor")
    ]

    resp = await client.post(
        f"/api/customer-merges/{merge_id}/undo", headers=sup, json={"reason": "no, two people"}
    )
    assert resp.status == 200 and (await resp.json())["customer"]["id"] == b
    assert (
        await client.post(f"/api/customer-merges/{merge_id}/undo", headers=sup, json={"reason": "again"})
    ).status == 409
    assert (
        await client.post("/api/customer-merges/nope/undo", headers=sup, json={"reason": "x"})
    ).status == 404
    alone = await (await client.get(f"/api/customers/{a}", headers=agent)).json()
    assert alone["members"] == [a] and [i["value"] for i in alone["identities"]] == ["+16505551234"]

    resp = await client.post(
        f"/api/customers/{a}/attributes", headers=sup, json={"vip": True, "language": "es", "tags": ["gold"]}
    )
    assert resp.status == 200 and (await resp.json())["vip"] is True
    assert (
        await client.post(f"/api/customers/{a}/attributes", headers=sup, json={"vip": "yes"})
    ).status == 400
    assert (await client.post(f"/api/customers/{a}/attributes", headers=sup, json={"id": "x"})).status == 400

    # An agent replies only into a conversation it holds (test_reply_authorization.py); a
    # supervisor of the conversation's line (here unscoped) may reply to any.
    resp = await client.post(
        f"/api/conversations/{sms_open.conversation_id}/reply", headers=agent, json={"body": "Hello!"}
    )
    assert resp.status == 403
    resp = await client.post(
        f"/api/conversations/{sms_open.conversation_id}/reply", headers=sup, json={"body": "Hello!"}
    )
    assert resp.status == 202
    reply_id = (await resp.json())["id"]
    await eventually(lambda: messaging.conversations.messages[reply_id].status == Delivery.SENT)
    assert dict(parse_qsl(fake.sends()[-1][3].decode()))["To"] == "+16505551234"
    assert (
        await client.post("/api/conversations/none/reply", headers=agent, json={"body": "x"})
    ).status == 404
    assert (
        await client.post(f"/api/conversations/{sms_open.conversation_id}/reply", headers=agent, json={})
    ).status == 400


async def test_a_merged_customer_texting_from_each_number_stays_in_each_conversation(
    client: TestClient[Any, Any], providers: tuple[FakeProviders, str]
) -> None:
    """Two numbers, a conversation open with each, then the customers merged: each number's next
    text goes to the conversation with that number (whose replies go there), not to the merged
    customer's latest; the web chats of one visitor's two browsers are filed the same way, as the
    visitor's node files them on a follower (docs/cluster.md)."""
    sup = auth("supervisor")

    def text(sid: str, number: str) -> list[tuple[str, str]]:
        return [("MessageSid", sid), ("From", number), ("To", "+14155550199"), ("Body", sid)]

    await twilio_post(client, "/webhooks/twilio/sms", text("SM1", "+16505551234"))
    await twilio_post(client, "/webhooks/twilio/sms", text("SM2", "+16505559876"))
    messaging = service(client)
    (first, _), (second, _) = messaging.opened
    resp = await client.post(
        f"/api/customers/{second.customer_id}/merge",
        headers=sup,
        json={"into": first.customer_id, "reason": "one person, two phones"},
    )
    assert resp.status == 200
    await twilio_post(client, "/webhooks/twilio/sms", text("SM3", "+16505551234"))
    await twilio_post(client, "/webhooks/twilio/sms", text("SM4", "+16505559876"))
    book = messaging.conversations
    assert [m.body for m in book.messages_of(first.conversation_id)] == ["SM1", "SM3"]
    assert [m.body for m in book.messages_of(second.conversation_id)] == ["SM2", "SM4"]
    assert len(messaging.opened) == 2  # nothing new opened, nothing routed twice


async def test_customers_conversations_and_merges_survive_a_restart(
    tmp_path: Path, providers: tuple[FakeProviders, str]
) -> None:
    settings = messaging_settings(tmp_path, providers[1])
    sup = auth("supervisor")
    sms = [("MessageSid", "SM1"), ("From", "+16505551234"), ("To", "+14155550199"), ("Body", "hi")]
    doc = http("whatsapp/signed_post_example.http")
    signed = {"X-Hub-Signature-256": doc.headers["X-Hub-Signature-256"]}
    async with TestClient(TestServer(create_app(settings))) as first:
        await twilio_post(first, "/webhooks/twilio/sms", sms)
        await first.post("/webhooks/whatsapp", data=doc.body, headers=signed)
        (sms_open, _), (wa_open, _) = service(first).opened
        a, b = sms_open.customer_id, wa_open.customer_id
        await first.post(f"/api/customers/{a}/attributes", headers=sup, json={"vip": True})
        resp = await first.post(
            f"/api/customers/{b}/merge", headers=sup, json={"into": a, "reason": "checked"}
        )
        merge_id = (await resp.json())["merge_id"]
        before = service(first).customers.state()
        audit = list(service(first).customers.audit)
    async with TestClient(TestServer(create_app(settings))) as second:
        messaging = service(second)
        assert messaging.customers.state() == before
        # Times are stored to the microsecond.
        restored = messaging.customers.audit
        assert [(e.kind, e.customer_id, e.by, e.detail) for e in restored] == [
            (e.kind, e.customer_id, e.by, e.detail) for e in audit
        ]
        assert all(abs(x.at - y.at) < 1e-5 for x, y in zip(restored, audit, strict=True))
        assert [s.reason for s in messaging.customers.suggestions] == ["shareable identity"]
        record = await (await second.get(f"/api/customers/{b}", headers=sup)).json()
        assert record["id"] == a and record["vip"] is True and len(record["timeline"]) == 2
        # Re-deliveries after the restart: known, not a new conversation.
        await twilio_post(second, "/webhooks/twilio/sms", sms)
        await second.post("/webhooks/whatsapp", data=doc.body, headers=signed)
        # A new SMS continues the restored conversation; a reply goes to the restored address.
        await twilio_post(second, "/webhooks/twilio/sms", [*sms[1:], ("MessageSid", "SM2")])
        assert messaging.opened == []
        resp = await second.post(
            f"/api/conversations/{sms_open.conversation_id}/reply", headers=sup, json={"body": "ok"}
        )
        assert resp.status == 202
        undo = await second.post(
            f"/api/customer-merges/{merge_id}/undo", headers=sup, json={"reason": "two people"}
        )
        assert undo.status == 200
        after_undo = messaging.customers.state()
    async with TestClient(TestServer(create_app(settings))) as third:
        assert service(third).customers.state() == after_undo


async def test_a_delivery_report_before_the_send_returns_is_applied(client: TestClient[Any, Any]) -> None:
    messaging = service(client)
    doc = http("twilio/inbound_sms.http")
    await client.post(doc.path, data=doc.body, headers={k: v for k, v in doc.headers.items() if k != "Host"})
    [(opened, _)] = messaging.opened
    # The fake answers with sid SM000...1 for its first send; Twilio reports it delivered "early".
    sid = f"SM{1:032d}"
    status = [("MessageSid", sid), ("MessageStatus", "delivered"), ("AccountSid", TWILIO_SID)]
    assert (await twilio_post(client, "/webhooks/twilio/sms", status)).status == 200
    reply = await messaging.reply(opened.conversation_id, "fast")
    await eventually(lambda: messaging.conversations.messages[reply.id].status == Delivery.DELIVERED)
    assert messaging.conversations.messages[reply.id].provider_id == sid


async def test_customers_of_another_business_line_are_hidden_and_changes_audited(
    client: TestClient[Any, Any], providers: tuple[FakeProviders, str]
) -> None:
    from callcenter.web.pages import ACCOUNTS
    from tests.integration.test_auth import PASSWORD, csrf, login

    sms = [("MessageSid", "SM9"), ("From", "+16505550000"), ("To", "+14155550199"), ("Body", "hi")]
    await twilio_post(client, "/webhooks/twilio/sms", sms)
    (opened, _) = service(client).opened[0]
    customer = opened.customer_id
    admin = auth("admin")
    resp = await client.post(
        f"/api/customers/{customer}/attributes", headers=admin, json={"business_line": "sales"}
    )
    assert resp.status == 200
    await client.app[ACCOUNTS].create(  # type: ignore[index]
        "test", username="bea", password=PASSWORD, role="supervisor", lines=["billing"]
    )
    await client.app[ACCOUNTS].create(  # type: ignore[index]
        "test", username="sal", password=PASSWORD, role="supervisor", lines=["sales"]
    )
    await login(client, "bea")
    h = {"X-CSRF-Token": await csrf(client)}
    assert (await client.get(f"/api/customers/{customer}")).status == 403
    assert (
        await client.post(f"/api/customers/{customer}/attributes", headers=h, json={"vip": True})
    ).status == 403
    reply = await client.post(
        f"/api/conversations/{opened.conversation_id}/reply", headers=h, json={"body": "x"}
    )
    assert reply.status == 403
    await login(client, "sal")
    h = {"X-CSRF-Token": await csrf(client)}
    assert (await client.get(f"/api/customers/{customer}")).status == 200
    moved = await client.post(
        f"/api/customers/{customer}/attributes", headers=h, json={"business_line": "billing"}
    )
    assert moved.status == 403  # not into a line sal does not see
    resp = await client.post(f"/api/customers/{customer}/attributes", headers=h, json={"vip": True})
    assert resp.status == 200
    entries = (await (await client.get("/api/audit?action=customer.*", headers=admin)).json())["entries"]
    assert [(e["who"], e["action"], e["target"]) for e in entries] == [
        ("sal", "customer.changed", customer),
        ("admin", "customer.changed", customer),
    ]
    assert entries[0]["detail"] == {"vip": "True"}


async def test_the_webhooks_of_channels_not_configured_are_404(tmp_path: Path) -> None:
    async with TestClient(TestServer(create_app(make_settings(tmp_path)))) as c:
        for method, path, channel in [
            ("POST", "/webhooks/twilio/sms", "SMS"),
            ("GET", "/webhooks/whatsapp", "WhatsApp"),
            ("POST", "/webhooks/whatsapp", "WhatsApp"),
            ("GET", "/webhooks/wechat", "WeChat"),
            ("POST", "/webhooks/wechat", "WeChat"),
        ]:
            resp = await c.request(method, path, data=b"x")
            assert resp.status == 404, (method, path)
            assert await resp.json() == {"error": f"{channel} is not configured"}

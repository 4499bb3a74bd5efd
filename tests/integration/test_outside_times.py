"""Times from outside cannot poison customer storage (issue 13, "Data loss" 1).

An e-mail dated ``Fri, 31 Dec 9999 23:59:59 -2359`` (year 10000 in UTC), a signed WhatsApp
message with ``timestamp: "nan"``, a WeChat ``CreateTime`` of nan or inf: each used to fail, and
its audit entry, kept in memory, failed every later save of every channel's new customers until a
restart. Now the edge refuses them (400) or, for mail, uses the time of receipt; and a record the
database cannot take is never retried into everyone else's saves. Real SMTP (aiosmtplib into our
aiosmtpd server), real signed webhooks, a real Socket.IO visitor, then a normal message on every
channel must still create its customer.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiosmtplib
import pytest
import socketio
from aiohttp import ClientSession

from callcenter.app import SMTP_SERVER
from callcenter.core.omni.conversations import MessagingChannel
from callcenter.core.omni.customers import Claim, IdentityKind
from callcenter.messaging.channels import wechat, whatsapp
from callcenter.messaging.channels.base import InboundMessage, WebhookError
from callcenter.messaging.identity import email as email_identity
from callcenter.messaging.service import Messaging
from tests.channel_data import http, raw
from tests.integration.test_api import make_settings
from tests.integration.test_messaging import PUBLIC_URL, TWILIO_SID, TWILIO_TOKEN, WA_SECRET, WECHAT_TOKEN
from tests.integration.test_realtime import Node, start_node

WAIT = 5.0


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    settings = make_settings(
        tmp_path,
        messaging={
            "public_url": PUBLIC_URL,
            "web_identity_secret": "site-secret-for-signed-visitors",
            "twilio": {"account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN, "from_number": "+14155550199"},
            "whatsapp": {
                "verify_token": "v",
                "app_secret": WA_SECRET,
                "access_token": "WA-ACCESS",
                "phone_number_id": "106540352242922",
            },
            "wechat": {"token": WECHAT_TOKEN, "app_id": "wxAPP", "app_secret": "wx-secret"},
            "email": {"address": "support@acme.example", "listen_host": "127.0.0.1", "listen_port": 0},
        },
    )
    n = await start_node(settings)
    yield n
    await n.server.close()


async def send_mail(n: Node, data: bytes, sender: str) -> None:
    port = n.app[SMTP_SERVER].port
    await aiosmtplib.send(
        data, sender=sender, recipients=["support@acme.example"], hostname="127.0.0.1", port=port
    )


def mail(sender: str, date: str, message_id: str) -> bytes:
    return (
        f"From: {sender}\r\nTo: support@acme.example\r\nSubject: hello\r\nDate: {date}\r\n"
        f"Message-ID: <{message_id}>\r\n\r\nWhere is my parcel?\r\n"
    ).encode()


def whatsapp_body(timestamp: str, wamid: str, wa_id: str) -> bytes:
    doc = json.loads(http("whatsapp/signed_post_example.http").body)
    value = doc["entry"][0]["changes"][0]["value"]
    value["contacts"][0]["wa_id"] = wa_id
    value["messages"][0].update({"timestamp": timestamp, "id": wamid, "from": wa_id})
    return json.dumps(doc).encode()


def wechat_body(create_time: str, msg_id: str, openid: str) -> bytes:
    return (
        f"<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName><FromUserName><![CDATA[{openid}]]>"
        f"</FromUserName><CreateTime>{create_time}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[hello]]></Content><MsgId>{msg_id}</MsgId></xml>"
    ).encode()


def wechat_query() -> str:
    timestamp, nonce = str(int(time.time())), f"n{time.monotonic_ns()}"
    return f"signature={wechat.signature(WECHAT_TOKEN, timestamp, nonce)}&timestamp={timestamp}&nonce={nonce}"


async def customers_with(messaging: Messaging, kind: IdentityKind, value: str) -> int:
    """Customers stored in the database (not only in memory) with this identity."""
    stored, _merges, _audit = await messaging.store.customers()
    return sum(1 for c in stored if any(i.kind == kind and i.value == value for i in c.identities))


async def test_out_of_range_times_are_refused_or_replaced_and_poison_nothing(node: Node) -> None:
    messaging = node.messaging
    async with ClientSession() as http_client:
        # An e-mail from year 10000 (UTC): accepted (250), dated when we received it.
        before = time.time()
        y10k = mail("ana@late.example", "Fri, 31 Dec 9999 23:59:59 -2359", "y10k@late")
        await send_mail(node, y10k, "ana@late.example")
        [stored] = [m for m in messaging.conversations.messages.values() if m.message_id == "y10k@late"]
        assert before - 1 <= stored.at <= time.time() + 1
        assert await customers_with(messaging, IdentityKind.EMAIL, "ana@late.example") == 1

        # WhatsApp "nan" / "inf" / year 10000, signed: 400, nothing stored.
        for bad in ("nan", "inf", "-inf", "253402300800", "1e400"):
            body = whatsapp_body(bad, f"wamid.bad-{bad}", "16505550001")
            headers = {"X-Hub-Signature-256": whatsapp.signature(body, WA_SECRET)}
            async with http_client.post(f"{node.url}/webhooks/whatsapp", data=body, headers=headers) as resp:
                assert resp.status == 400, (bad, await resp.text())
        # WeChat CreateTime nan / inf: 400.
        for bad in ("nan", "inf", "1e309", "-5"):
            body = wechat_body(bad, "9000000000000000001", "oBADTIME0123456789abcdefgh")
            async with http_client.post(f"{node.url}/webhooks/wechat?{wechat_query()}", data=body) as resp:
                assert resp.status == 400, (bad, await resp.text())
        assert await customers_with(messaging, IdentityKind.WHATSAPP, "16505550001") == 0

        # Afterwards, a normal message on every channel creates (and stores) its customer.
        sms = http("twilio/inbound_sms.http")
        headers = {k: v for k, v in sms.headers.items() if k != "Host"}
        async with http_client.post(f"{node.url}{sms.path}", data=sms.body, headers=headers) as resp:
            assert resp.status == 200, await resp.text()
        assert await customers_with(messaging, IdentityKind.PHONE, "+14155550111") == 1

        body = whatsapp_body(str(int(time.time())), "wamid.good-1", "16505550002")
        headers = {"X-Hub-Signature-256": whatsapp.signature(body, WA_SECRET)}
        async with http_client.post(f"{node.url}/webhooks/whatsapp", data=body, headers=headers) as resp:
            assert resp.status == 200, await resp.text()
        assert await customers_with(messaging, IdentityKind.WHATSAPP, "16505550002") == 1

        body = wechat_body(str(int(time.time())), "9000000000000000002", "oGOODTIME0123456789abcdefg")
        async with http_client.post(f"{node.url}/webhooks/wechat?{wechat_query()}", data=body) as resp:
            assert resp.status == 200, await resp.text()
        assert await customers_with(messaging, IdentityKind.WECHAT, "oGOODTIME0123456789abcdefg") == 1

    await send_mail(node, raw("email/contact_center_thread/01_customer.eml"), "ana.lima@customer.example")
    assert await customers_with(messaging, IdentityKind.EMAIL, "ana.lima@customer.example") == 1

    before = len((await messaging.store.customers())[0])
    visitor = socketio.AsyncClient(reconnection=False)
    await visitor.connect(node.url, namespaces=["/customer"], transports=["websocket"], wait_timeout=WAIT)
    try:
        ack = await visitor.call(
            "start",
            {"name": "Bo", "email": "bo@chat.example", "message": "hi"},
            namespace="/customer",
            timeout=WAIT,
        )
        assert "error" not in ack, ack
    finally:
        await visitor.disconnect()
    assert len((await messaging.store.customers())[0]) == before + 1  # the visitor


async def test_the_service_refuses_an_unstorable_time_and_never_retries_one(node: Node) -> None:
    """Behind the edge: ``Messaging.receive`` refuses a time it could not store, and an audit entry
    the database cannot take (put into the book directly) is dropped, logged, not retried into
    every later save."""
    messaging = node.messaging
    sender = email_identity("eve@late.example")
    for at in (math.nan, math.inf, 253_402_300_800.0):
        with pytest.raises(WebhookError):
            await messaging.receive(InboundMessage(MessagingChannel.EMAIL, f"id-{at}", sender, "s", "b", at))
    # A customer created in the book at year 10000 (no channel lets that in any more).
    zed = Claim(email_identity("zed@late.example"), True)
    poisoned = messaging.customers.identify(zed, 253_402_300_800.0, new_id="c-poisoned")
    await messaging.save_customers({poisoned.customer.id})
    # Every later new customer is stored.
    for n in range(3):
        who = email_identity(f"next{n}@ok.example")
        await messaging.identify(who, time.time())
        assert await customers_with(messaging, IdentityKind.EMAIL, who.value) == 1


async def test_nul_characters_and_huge_ids_are_refused_not_stored(node: Node) -> None:
    """Issue 13, 8: NUL bytes and 20 KB ids were stored as they came (PostgreSQL refuses NUL in
    text: such a write fails at every retry)."""
    messaging = node.messaging
    async with ClientSession() as http_client:
        for body in (
            whatsapp_body(str(int(time.time())), "wamid." + "x" * 20_000, "16505550003"),
            whatsapp_body(str(int(time.time())), "wamid.nul", "16505550003").replace(b"color", b"co\\u0000l"),
        ):
            headers = {"X-Hub-Signature-256": whatsapp.signature(body, WA_SECRET)}
            async with http_client.post(f"{node.url}/webhooks/whatsapp", data=body, headers=headers) as resp:
                assert resp.status == 400, await resp.text()
    with pytest.raises(aiosmtplib.SMTPDataError) as refused:
        nul = mail("nul@late.example", "Fri, 1 Jan 2027 10:00:00 +0000", "nul@x") + b"\x00!"
        await send_mail(node, nul, "nul@late.example")
    assert refused.value.code == 554
    visitor = socketio.AsyncClient(reconnection=False)
    await visitor.connect(node.url, namespaces=["/customer"], transports=["websocket"], wait_timeout=WAIT)
    try:
        form = {"name": "N\x00ul", "message": "hi"}
        ack = await visitor.call("start", form, namespace="/customer", timeout=WAIT)
        assert "NUL" in ack.get("error", ""), ack
    finally:
        await visitor.disconnect()
    assert await messaging.store.message_count() == 0

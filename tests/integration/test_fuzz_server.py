"""A short fuzzing run against the running server: signed webhooks of every channel, the widget's
Socket.IO events and FastAGI connections, each with inputs from tests/fuzz/targets.py.

The rule (issue 13): every input gets a typed answer (2xx, or a 4xx saying what is wrong; an
``{"error": ...}`` acknowledgement on a socket) and nothing else is affected: afterwards an ordinary
message on every channel still creates its customer and is stored, and the server still answers.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import socketio
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from callcenter.asterisk.agi import AgiServer, AgiSession
from callcenter.messaging.channels import twilio, whatsapp
from callcenter.web.api import SETTINGS
from callcenter.web.realtime import TRANSPORT_FACTOR
from callcenter.web.webhooks import MESSAGING
from tests.channel_data import http
from tests.fuzz import targets as fz
from tests.integration.test_messaging import (
    PUBLIC_URL,
    TWILIO_TOKEN,
    WA_SECRET,
    WECHAT_TOKEN,
    client,  # noqa: F401 - fixture
    providers,  # noqa: F401 - fixture
)
from tests.integration.test_realtime import chat_settings, start_node

EXAMPLES = 40


def draw_many(strategy: st.SearchStrategy[Any], n: int = EXAMPLES) -> list[Any]:
    """``n`` inputs from a strategy (hypothesis drives the choice; we only collect them)."""
    found: list[Any] = []

    @settings(
        max_examples=n,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(value: Any) -> None:
        found.append(value)

    collect()
    return found


def wechat_query(token: str) -> dict[str, str]:
    timestamp, nonce = str(int(time.time())), secrets.token_hex(6)
    signature = hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()
    return {"signature": signature, "timestamp": timestamp, "nonce": nonce}


async def test_fuzzed_signed_webhooks_get_typed_answers_and_harm_no_one(client: TestClient[Any, Any]) -> None:  # noqa: F811
    statuses: dict[str, list[int]] = {"twilio": [], "whatsapp": [], "wechat": []}
    for form in draw_many(fz.TARGETS_BY_NAME["twilio"].strategy):
        path = "/webhooks/twilio/sms"
        headers = {
            "X-Twilio-Signature": twilio.signature(PUBLIC_URL + path, form, TWILIO_TOKEN),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        resp = await client.post(path, data=urlencode(form), headers=headers)
        statuses["twilio"].append(resp.status)
    for body in draw_many(fz.TARGETS_BY_NAME["whatsapp"].strategy):
        headers = {
            "X-Hub-Signature-256": whatsapp.signature(body, WA_SECRET),
            "Content-Type": "application/json",
        }
        resp = await client.post("/webhooks/whatsapp", data=body, headers=headers)
        statuses["whatsapp"].append(resp.status)
    for body in draw_many(fz.TARGETS_BY_NAME["wechat"].strategy):
        resp = await client.post(
            "/webhooks/wechat",
            params=wechat_query(WECHAT_TOKEN),
            data=body,
            headers={"Content-Type": "text/xml"},
        )
        statuses["wechat"].append(resp.status)
    for channel, seen in statuses.items():
        assert all(s < 500 for s in seen), (channel, sorted(set(seen)))
        assert any(s == 200 for s in seen) and any(400 <= s < 500 for s in seen), (channel, sorted(set(seen)))

    # Nothing else was affected: ordinary messages of new customers on every channel are taken.
    messaging = client.app[MESSAGING]  # type: ignore[index]
    stored = await messaging.store.message_count()
    opened = len(messaging.opened)
    sms = [
        ("MessageSid", "SMfuzzcheck0001"),
        ("From", "+16505550987"),
        ("To", "+14155550199"),
        ("Body", "hello"),
    ]
    resp = await client.post(
        "/webhooks/twilio/sms",
        data=urlencode(sms),
        headers={
            "X-Twilio-Signature": twilio.signature(PUBLIC_URL + "/webhooks/twilio/sms", sms, TWILIO_TOKEN),
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert resp.status == 200
    doc = json.loads(http("whatsapp/signed_post_example.http").body)
    value = doc["entry"][0]["changes"][0]["value"]
    value["contacts"][0]["wa_id"] = value["messages"][0]["from"] = "16505550988"
    value["messages"][0]["id"] = "wamid.fuzzcheck0001"
    value["messages"][0]["timestamp"] = str(int(time.time()))
    body = json.dumps(doc).encode()
    resp = await client.post(
        "/webhooks/whatsapp", data=body, headers={"X-Hub-Signature-256": whatsapp.signature(body, WA_SECRET)}
    )
    assert resp.status == 200
    xml = (
        f"<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[oFuzzCheck0001abcdefghijkl]]>"
        f"</FromUserName><CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[hello]]></Content><MsgId>7777000011112222</MsgId></xml>"
    ).encode()
    resp = await client.post(
        "/webhooks/wechat", params=wechat_query(WECHAT_TOKEN), data=xml, headers={"Content-Type": "text/xml"}
    )
    assert resp.status == 200
    assert await messaging.store.message_count() == stored + 3
    new = messaging.opened[opened:]
    assert len(new) == 3
    for conversation, _ in new:
        assert messaging.customers.get(conversation.customer_id) is not None


async def test_fuzzed_widget_events_get_typed_answers(tmp_path: Path) -> None:
    node = await start_node(chat_settings(tmp_path, events_per_second=1000.0, burst=1000))
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(node.url, namespaces=["/customer"], transports=["websocket"])
    try:
        events = st.sampled_from(
            ["status", "start", "message", "typing", "offline", "transcript", "rate", "end", "nonsense"]
        )
        payloads = st.one_of(
            fz.JSON,
            st.dictionaries(
                st.sampled_from(
                    [
                        "name",
                        "email",
                        "body",
                        "text",
                        "client_id",
                        "token",
                        "rating",
                        "comment",
                        "identity",
                        "subject",
                        "typing",
                        "visitor",
                        "site",
                        "message",
                        "id",
                    ]
                ),
                fz.JSON,
                max_size=5,
            ),
        )
        # A packet over the transport's limit is not read and its socket is dropped (test_realtime's
        # test of it): such draws (20 leaves of up to 18 KB once escaped) are left out here, where
        # every event must be answered.
        readable = TRANSPORT_FACTOR * node.app[SETTINGS].realtime.max_message_bytes - 1024
        for name, payload in draw_many(st.tuples(events, payloads), 120):
            if len(json.dumps([name, payload])) > readable:
                continue
            answer = await sio.call(name, payload, namespace="/customer", timeout=10)
            assert answer is None or isinstance(answer, dict), (name, answer)
            if isinstance(answer, dict) and "error" in answer:
                assert answer["error"] != "internal error", (name, payload)
        # Still answering ordinary requests on the same connection.
        answer = await sio.call("status", {}, namespace="/customer", timeout=10)
        assert isinstance(answer, dict) and "error" not in answer, answer
        # A new visitor after all that is served as ever: the chat starts and its message is stored.
        before = await node.messaging.store.message_count()
        fresh = socketio.AsyncClient(reconnection=False)
        await fresh.connect(node.url, namespaces=["/customer"], transports=["websocket"])
        ack = await fresh.call(
            "start",
            {"name": "After Fuzz", "email": "after@example.com", "message": "Hello"},
            namespace="/customer",
            timeout=10,
        )
        await fresh.disconnect()
        assert "error" not in ack, ack
        assert await node.messaging.store.message_count() == before + 1
    finally:
        await sio.disconnect()
        await node.server.close()


async def test_garbage_on_fastagi_costs_one_connection(unused_tcp_port: int) -> None:
    served: list[str] = []

    async def route(session: AgiSession) -> None:
        served.append(session.channel)
        await session.command("ANSWER", timeout=2)

    server = AgiServer("127.0.0.1", unused_tcp_port, {"inbound": route}, command_timeout=2)
    await server.start()
    try:
        garbage = draw_many(
            st.one_of(
                st.binary(max_size=600),
                st.lists(st.text(max_size=60), max_size=8).map(lambda ls: ("\n".join(ls) + "\n\n").encode()),
                st.builds(
                    lambda h, a: (f"agi_network_script: inbound\nagi_channel: {h}\n\n{a}\n").encode(
                        "utf-8", "replace"
                    ),
                    st.text(max_size=40),
                    st.text(max_size=80),
                ),
            ),
            60,
        )
        for data in garbage:
            reader, writer = await asyncio.open_connection("127.0.0.1", unused_tcp_port)
            writer.write(data)
            await writer.drain()
            writer.close()
        # A well-formed session still gets served.
        reader, writer = await asyncio.open_connection("127.0.0.1", unused_tcp_port)
        writer.write(b"agi_network_script: inbound\nagi_channel: PJSIP/caller-0001\n\n")
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), 5)
        assert line == b"ANSWER\n"
        writer.write(b"200 result=0\n")
        await writer.drain()
        writer.close()
        await _eventually(lambda: "PJSIP/caller-0001" in served)
    finally:
        await server.stop()


async def _eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():  # noqa: ASYNC110 - the server task changes it
            await asyncio.sleep(0.02)

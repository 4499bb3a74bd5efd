"""WeChat pushes cannot be replayed (issue 13, "Authorization" 5).

A signed query from 2001 was accepted with any body from any openid: the plaintext mode does not
sign the body. Now a push must be fresh (timestamp within ``max_clock_skew``), a signed query is
used once with one body (WeChat's own retry of the same push passes), remembered in-process or in
a real Redis shared by two nodes, and the encrypted (safe) mode, whose ``msg_signature`` covers
the body, is supported: with an EncodingAESKey configured only encrypted pushes are taken.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession

from callcenter.messaging.channels import wechat
from tests.integration.test_api import make_settings
from tests.integration.test_realtime import Node, start_node

TOKEN = "cc_wechat_token_2024"
APP_ID = "wxAPP0123456789ab"
AES = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
CUSTOMER, ATTACKER = "oCUSTOMER0123456789abcdefgh", "oATTACKER0123456789abcdefgh"


def settings(tmp_path: Path, *, aes: str | None = None, redis_url: str | None = None) -> Any:
    section: dict[str, Any] = {
        "token": TOKEN,
        "app_id": APP_ID,
        "app_secret": "wx-secret",
        "base_url": "http://127.0.0.1:9",
    }
    if aes is not None:
        section["encoding_aes_key"] = aes
    return make_settings(
        tmp_path,
        messaging={"public_url": "https://cc.example.com", "wechat": section},
        realtime={"redis_url": redis_url} if redis_url else {},
    )


def push(openid: str, msg_id: str, text: str) -> bytes:
    return (
        f"<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName><FromUserName><![CDATA[{openid}]]>"
        f"</FromUserName><CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{text}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    ).encode()


def signed(timestamp: int | None = None, nonce: str | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or str(time.monotonic_ns())
    return {"signature": wechat.signature(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce}


async def post(node: Node, query: dict[str, str], body: bytes) -> tuple[int, str]:
    async with (
        ClientSession() as http,
        http.post(
            f"{node.url}/webhooks/wechat", params=query, data=body, headers={"Content-Type": "text/xml"}
        ) as resp,
    ):
        return resp.status, await resp.text()


def stored_bodies(node: Node) -> list[str]:
    return sorted(m.body for m in node.messaging.conversations.messages.values())


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    n = await start_node(settings(tmp_path))
    yield n
    await n.server.close()


async def test_plaintext_pushes_must_be_fresh_and_their_query_is_used_once(node: Node) -> None:
    # A correctly signed query from 2001: refused whatever the body.
    status, _ = await post(node, signed(timestamp=978_307_200), push(ATTACKER, "1", "old"))
    assert status == 403
    query = signed()
    first = push(CUSTOMER, "1001", "hello")
    assert await post(node, query, first) == (200, "success")
    assert await post(node, query, first) == (200, "success")  # WeChat's retry of the same push
    # The same signed query with another body (another openid): a replay.
    status, text = await post(node, query, push(ATTACKER, "1002", "give me a refund"))
    assert status == 403, text
    assert stored_bodies(node) == ["hello"]


async def test_safe_mode_takes_encrypted_pushes_only(tmp_path: Path) -> None:
    n = await start_node(settings(tmp_path, aes=AES))
    try:
        key = wechat.aes_key(AES)
        query = signed()
        encrypted = wechat.encrypt(push(CUSTOMER, "2001", "encrypted hello"), key, APP_ID)
        body = f"<xml><ToUserName>gh_0</ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        msg_signature = wechat.signature(TOKEN, query["timestamp"], query["nonce"], encrypted)
        safe = {**query, "encrypt_type": "aes", "msg_signature": msg_signature}
        assert await post(n, safe, body.encode()) == (200, "success")
        # Plaintext, correctly signed query: refused (its body is not signed).
        status, _ = await post(n, signed(), push(ATTACKER, "2002", "plain"))
        assert status == 403
        # Another account's message under a valid query signature: the msg_signature does not match.
        other = wechat.encrypt(push(ATTACKER, "2003", "forged"), key, APP_ID)
        forged_body = body.replace(encrypted, other).encode()
        forged = {**signed(), "encrypt_type": "aes", "msg_signature": msg_signature}
        status, _ = await post(n, forged, forged_body)
        assert status == 403
        assert stored_bodies(n) == ["encrypted hello"]
    finally:
        await n.server.close()


async def test_two_nodes_share_the_used_queries_through_redis(tmp_path: Path, redis_url: str) -> None:
    a = await start_node(settings(tmp_path / "a", redis_url=redis_url))
    b = await start_node(settings(tmp_path / "b", redis_url=redis_url))
    try:
        query = signed()
        assert await post(a, query, push(CUSTOMER, "3001", "to node a")) == (200, "success")
        status, _ = await post(b, query, push(ATTACKER, "3002", "replayed to b"))
        assert status == 403
        assert stored_bodies(a) == ["to node a"] and stored_bodies(b) == []
    finally:
        await a.server.close()
        await b.server.close()

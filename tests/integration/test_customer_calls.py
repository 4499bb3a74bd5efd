"""Calls join the customer's record: a caller's number finds the customer a web chat (signed by the
site, with a phone it verified) created; the customer's record routes the call (VIP priority); the
customer's timeline shows the chat and the call. A real server, a real Socket.IO visitor, SQLite.

(The same with a real SIP call through Asterisk: tests/e2e/test_agent_day.py.)
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp

from callcenter.app import ROUTER
from callcenter.core import events as ev
from callcenter.core.omni.customers import Identity, IdentityKind
from callcenter.messaging.channels import whatsapp
from callcenter.messaging.identity import web_token
from callcenter.settings import WhatsAppSettings
from callcenter.web.api import SERVICE
from tests.integration.test_messaging import WA_SECRET
from tests.integration.test_realtime import SITE_SECRET, SUPERVISOR, Node, chat_settings, customer, start_node

PHONE = "+14155550123"
AS_SUPERVISOR = {"Authorization": f"Bearer {SUPERVISOR}"}


async def test_a_call_from_the_phone_a_site_verified_reaches_the_chat_customer(tmp_path: Path) -> None:
    node: Node = await start_node(chat_settings(tmp_path))
    try:
        await _scenario(node)
    finally:
        await node.server.close()


async def _scenario(node: Node) -> None:
    key = SITE_SECRET.encode()
    visitor = await customer(node.url)
    forged = {"user_id": "u-7", "phone": "+14155550999", "signature": web_token("u-7", key, PHONE)}
    refused = await visitor.call("start", {"identity": forged})
    assert refused == {"error": "identity signature does not match"}
    signed = {"user_id": "u-7", "phone": PHONE, "signature": web_token("u-7", key, PHONE)}
    started = await visitor.call("start", {"identity": signed, "name": "Gil", "message": "My order?"})
    assert started["conversation_id"], started
    await visitor.close()
    book = node.messaging.customers
    found = book.owner(Identity(IdentityKind.PHONE, PHONE))
    assert found is not None and found == book.owner(Identity(IdentityKind.WEB, "u-7"))
    owner = found.id

    router, service = node.app[ROUTER], node.app[SERVICE]
    now = service.clock()
    # The caller's number, however the carrier writes it, is that customer; not-a-number is nobody.
    assert await router.identify_caller(PHONE, now) == owner
    assert await router.identify_caller("4155550123", now) == owner
    assert await router.identify_caller("caller", now) is None
    assert await router.identify_caller("anonymous", now) is None

    # A VIP customer's call is served first: the record raises the IVR's priority.
    status = await _post(node, f"/api/customers/{owner}/attributes", {"vip": True})
    assert status == 200
    service.handle(ev.CallArrived("call-1", PHONE, "Gil", "5000", "PJSIP/x-1", now, customer_id=owner))
    finished = router.enrich_call(ev.IvrFinished("call-1", "1", "support", now + 5))
    assert isinstance(finished, ev.IvrFinished) and finished.priority == 10
    service.handle(finished)
    service.handle(ev.CallerHungUp("call-1", "caller hung up", now + 9))
    anonymous = router.enrich_call(ev.IvrFinished("call-2", "1", "support", now))
    assert isinstance(anonymous, ev.IvrFinished) and anonymous.priority == 0  # not a known caller

    # The timeline the agent's screen-pop shows: the chat message and the call, in order.
    async def timeline() -> list[dict[str, Any]]:
        async with aiohttp.ClientSession() as http:
            resp = await http.get(f"{node.url}/api/customers/{owner}", headers=AS_SUPERVISOR)
            assert resp.status == 200
            return list((await resp.json())["timeline"])

    for _ in range(100):  # the call record is written by the service's writer
        entries = await timeline()
        if any(e["kind"] == "call" for e in entries):
            break
        await asyncio.sleep(0.05)
    kinds = [(e["kind"], e.get("body") or e.get("outcome")) for e in entries]
    assert kinds == [("message", "My order?"), ("call", "abandoned")], kinds
    call = entries[1]
    assert call["queue"] == "support" and call["ivr_choice"] == "1" and call["caller_number"] == PHONE


async def _post(node: Node, path: str, body: dict[str, Any]) -> int:
    async with aiohttp.ClientSession() as http:
        resp = await http.post(f"{node.url}{path}", json=body, headers=AS_SUPERVISOR)
        return resp.status


def _whatsapp(wa_id: str, text: str, message_id: str, at: float) -> bytes:
    """A WhatsApp Cloud API text-message webhook (the documented shape)."""
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": "106540352242922"},
        "contacts": [{"profile": {"name": "Gil"}, "wa_id": wa_id}],
        "messages": [
            {
                "from": wa_id,
                "id": message_id,
                "timestamp": str(int(at)),
                "type": "text",
                "text": {"body": text},
            }
        ],
    }
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
    }
    return json.dumps(body).encode()


async def test_call_then_whatsapp_then_chat_land_in_one_timeline(tmp_path: Path) -> None:
    """A phone line may be a household's: the WhatsApp account and the site account that come
    with the caller's number are suggested, not fused; a supervisor merges them (audited), and
    the caller's record then has one timeline of all three."""
    settings = chat_settings(tmp_path)
    wa = {
        "verify_token": "v",
        "app_secret": WA_SECRET,
        "access_token": "t",
        "phone_number_id": "106540352242922",
    }
    settings = settings.model_copy(
        update={"messaging": settings.messaging.model_copy(update={"whatsapp": WhatsAppSettings(**wa)})}
    )
    node = await start_node(settings)
    try:
        router, service = node.app[ROUTER], node.app[SERVICE]
        now = service.clock()
        # 1. A call from a number we have never seen: a new customer.
        owner = await router.identify_caller(PHONE, now)
        assert owner is not None
        service.handle(ev.CallArrived("call-9", PHONE, "", "5000", "PJSIP/x-9", now, customer_id=owner))
        service.handle(ev.CallerHungUp("call-9", "caller hung up", now + 3))
        # 2. WhatsApp from the same number.
        raw = _whatsapp(PHONE.lstrip("+"), "Following up on my call", "wamid.CC1", now + 10)
        headers = {
            "X-Hub-Signature-256": whatsapp.signature(raw, WA_SECRET),
            "Content-Type": "application/json",
        }
        async with aiohttp.ClientSession() as http:
            resp = await http.post(f"{node.url}/webhooks/whatsapp", data=raw, headers=headers)
            assert resp.status == 200, await resp.text()
        # 3. The web chat of the site's account that verified that number.
        visitor = await customer(node.url)
        signed = {
            "user_id": "u-9",
            "phone": PHONE,
            "signature": web_token("u-9", SITE_SECRET.encode(), PHONE),
        }
        await visitor.call("start", {"identity": signed, "message": "And now from the website"})
        await visitor.close()

        async with aiohttp.ClientSession(headers=AS_SUPERVISOR) as http:
            found = await (await http.get(f"{node.url}/api/customer-suggestions")).json()
            others = {s["customer_id"] for s in found["suggestions"] if s["other"] == owner}
            assert len(others) == 2, found  # the WhatsApp sender and the site account
            for other in sorted(others):
                merge = {"into": owner, "reason": "same person: confirmed on the phone"}
                resp = await http.post(f"{node.url}/api/customers/{other}/merge", json=merge)
                assert resp.status == 200, await resp.text()
            entries: list[dict[str, Any]] = []
            for _ in range(100):
                resp = await http.get(f"{node.url}/api/customers/{owner}")
                assert resp.status == 200
                entries = (await resp.json())["timeline"]
                if len(entries) == 3:
                    break
                await asyncio.sleep(0.05)
        got = sorted((e["kind"], e["channel"]) for e in entries)
        assert got == [("call", "voice"), ("message", "webchat"), ("message", "whatsapp")], entries
        assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)  # in time order
    finally:
        await node.server.close()

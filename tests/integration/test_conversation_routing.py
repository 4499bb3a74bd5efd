"""Conversations through the ACD, end to end in-process: a real aiohttp server receives signed
provider webhooks; the call center offers the conversation to an agent, the agent accepts and
replies (the reply leaves through the outbox to a local fake provider), closes, and the customer's
next conversation goes back to that agent first. A restart keeps a waiting conversation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callcenter.app import ROUTER, create_app
from callcenter.core import events as ev
from callcenter.core.commands import Command, OfferConversation, SaveInteraction
from callcenter.core.interaction import Channel, EndedBy, Outcome
from callcenter.core.omni.conversations import Delivery
from callcenter.messaging.channels import whatsapp
from callcenter.messaging.routing import ConversationRouter, NotYourConversation
from callcenter.messaging.service import Messaging
from callcenter.service import CallCenter
from callcenter.web.api import SERVICE
from callcenter.web.webhooks import MESSAGING
from tests.channel_data import http
from tests.integration.test_api import auth
from tests.integration.test_messaging import (
    TWILIO_SID,
    WA_SECRET,
    FakeProviders,
    eventually,
    messaging_settings,
    twilio_post,
)

CUSTOMER = "+14155550111"


def settings(tmp_path: Path, base_url: str) -> Any:
    return messaging_settings(
        tmp_path,
        base_url,
        acd={"offer_timeout": 30, "sticky_seconds": 60},
        agents=[
            {"id": "1001", "extension": "1001", "queues": ["support"], "max_chats": 2},
            {"id": "1002", "extension": "1002", "queues": ["support"], "max_chats": 2},
        ],
    )


@pytest.fixture
async def providers() -> AsyncIterator[tuple[FakeProviders, str]]:
    fake = FakeProviders()
    server = TestServer(fake.app(), host="127.0.0.1", port=0)
    await server.start_server()
    yield fake, str(server.make_url("")).rstrip("/")
    await server.close()


class Seen:
    """Everything the call center emits, as the Socket.IO layer would see it."""

    def __init__(self, service: CallCenter) -> None:
        self.commands: list[Command] = []
        service.listeners.append(self.commands.append)

    def offers(self) -> list[OfferConversation]:
        return [c for c in self.commands if isinstance(c, OfferConversation)]


def parts(client: TestClient[Any, Any]) -> tuple[CallCenter, Messaging, ConversationRouter]:
    app = client.app
    return app[SERVICE], app[MESSAGING], app[ROUTER]  # type: ignore[index]


def sms(client: TestClient[Any, Any], sid: str, body: str) -> Any:
    params = [
        ("MessageSid", sid),
        ("AccountSid", TWILIO_SID),
        ("From", CUSTOMER),
        ("To", "+14155550199"),
        ("Body", body),
        ("NumMedia", "0"),
    ]
    return twilio_post(client, "/webhooks/twilio/sms", params)


async def test_sms_is_offered_accepted_answered_closed_and_sticky(
    tmp_path: Path, providers: tuple[FakeProviders, str]
) -> None:
    fake, base_url = providers
    async with TestClient(TestServer(create_app(settings(tmp_path, base_url)))) as client:
        service, messaging, router = parts(client)
        seen = Seen(service)
        resp = await client.post("/api/agents/1001/login", headers=auth("agent"))
        assert resp.status == 200

        assert (await sms(client, "SM" + "1" * 32, "Where is my order #4521?")).status == 200
        [offer] = seen.offers()
        [(opened, _)] = messaging.opened
        assert (offer.agent_id, offer.channel, offer.conversation_id, offer.customer_id) == (
            "1001",
            "sms",
            opened.conversation_id,
            opened.customer_id,
        )
        iid = offer.interaction_id
        # More messages of the open conversation: no new interaction, no new offer.
        assert (await sms(client, "SM" + "2" * 32, "Hello?")).status == 200
        assert len(seen.offers()) == 1 and len(messaging.opened) == 1

        with pytest.raises(NotYourConversation):
            await router.reply("1001", iid, "not accepted yet")
        service.handle(ev.OfferAccepted(iid, "1001", service.clock()))
        assert service.engine.interactions[iid].agent_id == "1001"
        resp = await client.get("/api/agents/1001", headers=auth("agent"))
        view = await resp.json()
        assert (view["state"], view["max_chats"], view["conversations"]) == ("available", 2, [iid])
        reply = await router.reply("1001", iid, "It ships today.")
        await eventually(lambda: messaging.conversations.messages[reply.id].status == Delivery.SENT)
        [(method, path, _, body)] = fake.sends()
        assert (method, path) == ("POST", f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json")
        assert dict(parse_qsl(body.decode()))["Body"] == "It ships today."
        assert dict(parse_qsl(body.decode()))["To"] == CUSTOMER

        # The agent closes: the interaction is answered, the conversation closed.
        service.handle(ev.ConversationEnded(iid, "agent", service.clock()))
        await eventually(lambda: messaging.conversations.conversations[opened.conversation_id].closed)

        record: dict[str, Any] = {}
        async with asyncio.timeout(5):
            while record.get("outcome") is None:  # the database writer is a task of its own
                resp = await client.get(f"/api/interactions/{iid}", headers=auth("supervisor"))
                assert resp.status == 200
                record = dict(await resp.json())
                await asyncio.sleep(0.02)
        ended_snapshot = [
            c.interaction
            for c in seen.commands
            if isinstance(c, SaveInteraction) and c.interaction.id == iid and c.interaction.is_ended
        ][-1]
        assert ended_snapshot.outcome == Outcome.ANSWERED and ended_snapshot.ended_by == EndedBy.AGENT
        assert ended_snapshot.channel == Channel.SMS
        assert record["outcome"] == "answered"

        # 1002 comes and is the longer idle; still, the customer's next conversation goes to 1001.
        assert (await client.post("/api/agents/1002/login", headers=auth("admin"))).status == 200
        assert (await client.post("/api/agents/1001/pause", headers=auth("agent"))).status == 200
        assert (await client.post("/api/agents/1001/resume", headers=auth("agent"))).status == 200
        assert (await sms(client, "SM" + "3" * 32, "Another question")).status == 200
        assert len(messaging.opened) == 2
        second = seen.offers()[-1]
        assert second.agent_id == "1001" and second.interaction_id != iid
        assert second.conversation_id == messaging.opened[1][0].conversation_id
        assert "sticky" in (service.engine.interactions[second.interaction_id].routing_reason or "")


async def test_whatsapp_conversation_waits_through_a_restart(
    tmp_path: Path, providers: tuple[FakeProviders, str]
) -> None:
    _, base_url = providers
    doc = http("whatsapp/signed_post_example.http")
    signed = {"Content-Type": "application/json", "X-Hub-Signature-256": doc.headers["X-Hub-Signature-256"]}
    async with TestClient(TestServer(create_app(settings(tmp_path, base_url)))) as client:
        service, messaging, _ = parts(client)
        assert (await client.post("/webhooks/whatsapp", data=doc.body, headers=signed)).status == 200
        [waiting] = service.engine.waiting_in("support")
        assert waiting.channel == Channel.WHATSAPP and waiting.offered_to is None
        conversation = waiting.conversation_id
    # Stopped with the conversation waiting: the next server takes it back and offers it.
    async with TestClient(TestServer(create_app(settings(tmp_path, base_url)))) as client:
        service, messaging, router = parts(client)
        seen = Seen(service)
        [restored] = service.engine.waiting_in("support")
        assert (restored.id, restored.conversation_id) == (waiting.id, conversation)
        assert router.open == {conversation: waiting.id}
        # The customer writes again into the same conversation: still one interaction.
        again = doc.body.replace(b"wamid.HBgL", b"wamid.XXgL")
        sig = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": whatsapp.signature(again, WA_SECRET),
        }
        assert (await client.post("/webhooks/whatsapp", data=again, headers=sig)).status == 200
        assert messaging.opened == []
        assert (await client.post("/api/agents/1002/login", headers=auth("admin"))).status == 200
        [offer] = seen.offers()
        assert (offer.interaction_id, offer.agent_id, offer.channel) == (waiting.id, "1002", "whatsapp")

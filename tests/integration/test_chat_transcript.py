"""Chat transcripts by email (issue 13, "Authorization" 6).

The transcript went to the pre-chat address, which nobody verifies, "once per conversation" per
socket: reconnecting mailed the visitor's own text from the support mailbox again and again (three
mails seen). Now: once per conversation whatever the socket (the outbox row is keyed by the
conversation), and only once an agent has answered in it. Real Socket.IO clients, a real SMTP
relay catching what we send.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callcenter.core import events as ev
from callcenter.web.api import SERVICE
from tests.integration.test_api import make_settings
from tests.integration.test_email import Relay, email_messaging
from tests.integration.test_realtime import AGENT_1001, TOKENS, Node, agent, customer, start_node


@pytest.fixture
async def relay() -> AsyncIterator[Relay]:
    r = Relay()
    await r.start()
    yield r
    await r.stop()


@pytest.fixture
async def node(tmp_path: Path, relay: Relay) -> AsyncIterator[Node]:
    settings = make_settings(
        tmp_path,
        security={"api_tokens": TOKENS},
        messaging=email_messaging(relay),
        realtime={"events_per_second": 50.0, "burst": 50},
        acd={"decline_seconds": 0},
    )
    n = await start_node(settings)
    yield n
    await n.server.close()


async def test_a_transcript_is_mailed_once_per_conversation_after_an_agent_answered(
    node: Node, relay: Relay
) -> None:
    visitor = await customer(node.url)
    form = {"name": "Eve", "email": "victim@example.org", "message": "BUY NOW"}
    started = await visitor.call("start", form)
    # Only the visitor's own text so far: not mailed from our mailbox.
    assert "agent has answered" in (await visitor.call("transcript"))["error"]

    desk = await agent(node.url, AGENT_1001)
    service = node.app[SERVICE]
    service.handle(ev.AgentLogin("1001", service.clock()))
    offer = await desk.next("offer")
    assert (await desk.call("accept", {"interaction_id": offer["interaction_id"]}))["ok"]
    answer = {"conversation_id": started["conversation_id"], "text": "How can I help?"}
    sent = await desk.call("reply", answer)
    assert sent["ok"], sent

    assert (await visitor.call("transcript")) == {"ok": True}
    # Reconnecting (new sockets, the same visitor) does not send it again.
    for _ in range(3):
        again = await customer(node.url)
        await again.call("start", {"visitor": started["visitor"], "email": "victim@example.org"})
        assert (await again.call("transcript"))["error"] == "the transcript was already sent"
        await again.close()
    async with asyncio.timeout(5):
        while not relay.received:  # noqa: ASYNC110  (the outbox sends in the background)
            await asyncio.sleep(0.02)
    await asyncio.sleep(0.3)  # room for a wrongly queued second mail to arrive
    [mail] = relay.received
    assert mail["To"] == "victim@example.org" and "Agent: How can I help?" in mail.get_payload()
    await visitor.close()
    await desk.close()

"""Who may reply into a conversation (issue 13, "Authorization" 4).

``POST /api/conversations/{id}/reply`` checked only the customer's business line: an agent replied
(202, SMS queued) into a conversation it never held, and a billing-only supervisor into a sales
conversation it could not even read. Replies belong to the holder, or to a supervisor of the
conversation's line (its queue's line, else its customer's).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callcenter.app import create_app
from callcenter.core import events as ev
from callcenter.web.api import SERVICE
from tests.channel_data import http
from tests.integration.test_api import make_settings
from tests.integration.test_messaging import PUBLIC_URL, TWILIO_SID, TWILIO_TOKEN, service

TOKENS = {
    "agent-1001": {"role": "agent", "agent_id": "1001"},
    "agent-1002": {"role": "agent", "agent_id": "1002"},
    "sup-billing": {"role": "supervisor", "lines": ["billing"]},
    "sup-support": {"role": "supervisor", "lines": ["support"]},
    "sup-all": {"role": "supervisor"},
    "admin": {"role": "admin"},
}


def token(name: str) -> str:
    return f"{name}-token-0123456789abcdef"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    queues = tmp_path / "queues.yaml"
    queues.write_text("queues:\n  support: {line: support}\n  billing: {line: billing}\n")
    settings = make_settings(
        tmp_path,
        security={"api_tokens": [{"name": n, "token": token(n), **t} for n, t in TOKENS.items()]},
        acd={"queues_file": str(queues)},
        messaging={
            "public_url": PUBLIC_URL,
            "queues": {"sms": "support"},
            "twilio": {
                "account_sid": TWILIO_SID,
                "auth_token": TWILIO_TOKEN,
                "from_number": "+14155550199",
                "base_url": "http://127.0.0.1:9",  # never reached while the test runs
            },
        },
    )
    async with TestClient(TestServer(create_app(settings))) as c:
        yield c


async def reply(client: TestClient[Any, Any], who: str, conversation_id: str) -> int:
    resp = await client.post(
        f"/api/conversations/{conversation_id}/reply",
        json={"body": f"from {who}"},
        headers={"Authorization": f"Bearer {token(who)}"},
    )
    return resp.status


async def test_only_the_holder_or_a_supervisor_of_the_line_replies(client: TestClient[Any, Any]) -> None:
    messaging = service(client)
    doc = http("twilio/inbound_sms.http")
    headers = {k: v for k, v in doc.headers.items() if k != "Host"}
    assert (await client.post(doc.path, data=doc.body, headers=headers)).status == 200
    [(opened, _)] = messaging.opened
    conversation = opened.conversation_id
    engine = client.app[SERVICE].engine
    [interaction] = [i for i in engine.live.values() if i.conversation_id == conversation]
    assert interaction.queue == "support" and interaction.agent_id is None

    # Waiting in the support queue, held by nobody: no agent may reply, nor a billing supervisor.
    assert await reply(client, "agent-1001", conversation) == 403
    assert await reply(client, "sup-billing", conversation) == 403
    assert await reply(client, "sup-support", conversation) == 202
    assert await reply(client, "sup-all", conversation) == 202
    assert await reply(client, "admin", conversation) == 202

    # Agent 1001 takes it: it may reply, agent 1002 still may not.
    svc = client.app[SERVICE]
    svc.handle(ev.AgentLogin("1001", svc.clock()))
    assert engine.live[interaction.id].offered_to == "1001"
    svc.handle(ev.OfferAccepted(interaction.id, "1001", svc.clock()))
    assert engine.live[interaction.id].agent_id == "1001"
    assert await reply(client, "agent-1001", conversation) == 202
    assert await reply(client, "agent-1002", conversation) == 403
    assert await reply(client, "sup-billing", conversation) == 403
    assert await reply(client, "sup-support", conversation) == 202
    bodies = [m.body for m in messaging.conversations.messages_of(conversation) if m.body.startswith("from ")]
    assert bodies == ["from sup-support", "from sup-all", "from admin", "from agent-1001", "from sup-support"]

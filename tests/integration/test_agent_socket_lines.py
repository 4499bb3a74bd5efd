"""A scoped supervisor's ``/agent`` socket gets the state of the agents of its lines only (issue
13, "Authorization" 7): a billing supervisor received a sales agent's state events. Real
python-socketio clients against the running app.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callcenter.core import events as ev
from callcenter.web.api import SERVICE
from tests.integration.test_api import make_settings
from tests.integration.test_realtime import Client, Node, start_node

TOKENS = {
    "sup-billing": {"role": "supervisor", "lines": ["billing"]},
    "sup-sales": {"role": "supervisor", "lines": ["sales", "billing"]},
    "sup-all": {"role": "supervisor"},
}


def token(name: str) -> str:
    return f"{name}-token-0123456789abcdef"


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    queues = tmp_path / "queues.yaml"
    queues.write_text("queues:\n  sales: {line: sales}\n  billing: {line: billing}\n  support: {}\n")
    settings = make_settings(
        tmp_path,
        security={"api_tokens": [{"name": n, "token": token(n), **t} for n, t in TOKENS.items()]},
        acd={"queues_file": str(queues)},
        agents=[
            {"id": "1001", "extension": "1001", "queues": ["sales"]},
            {"id": "1002", "extension": "1002", "queues": ["billing"]},
            {"id": "1003", "extension": "1003", "queues": ["support"]},  # a queue without a line
            {"id": "1004", "extension": "1004", "queues": ["sales", "billing"]},
        ],
    )
    n = await start_node(settings)
    yield n
    await n.server.close()


async def states(client: Client, count: int) -> list[str]:
    got = [(await client.next("state"))["agent_id"] for _ in range(count)]
    await asyncio.sleep(0.3)  # anything more would arrive by now
    queue = client.queue("state")
    while not queue.empty():
        got.append(queue.get_nowait()["agent_id"])
    return sorted(got)


async def test_state_events_follow_the_supervisors_lines(node: Node) -> None:
    sockets = {name: await Client("/agent").connect(node.url, auth={"token": token(name)}) for name in TOKENS}
    try:
        service = node.app[SERVICE]
        for agent_id in ("1001", "1002", "1003", "1004"):
            service.handle(ev.AgentLogin(agent_id, service.clock()))
        assert await states(sockets["sup-all"], 4) == ["1001", "1002", "1003", "1004"]
        assert await states(sockets["sup-billing"], 2) == ["1002", "1004"]
        # In two lines, an agent of both: once.
        assert await states(sockets["sup-sales"], 3) == ["1001", "1002", "1004"]
    finally:
        for client in sockets.values():
            await client.close()

"""Two server processes (`callcenter serve`, each its own OS process) sharing a real Redis: what one
node's engine decides reaches an agent whose panel is connected to the other node.

An admin logs agent 1001 in through node A's HTTP API; node A's `/agent` namespace emits the
agent's new state to the room ``agent:1001``; python-socketio's Redis manager carries it to node B,
where the agent's socket is. (No Asterisk is needed: the nodes keep trying to reach AMI.)
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import socketio

from tests.conftest import ADMIN_TOKEN, AGENT_TOKEN, ServerProcess, config_with
from tests.integration.test_api import free_port
from tests.redis_server import RedisServer


def node(tmp_path: Path, name: str, redis_url: str) -> ServerProcess:
    workdir = tmp_path / name
    workdir.mkdir()
    config = config_with(
        asterisk={"ami_port": free_port(), "reconnect_min_delay": 5.0},
        agi={"port": free_port()},
        http={"port": free_port()},
        database={"url": f"sqlite+aiosqlite:///{workdir}/node.db"},
        recordings={"spool_dir": str(workdir / "spool")},
        realtime={"redis_url": redis_url},
    )
    return ServerProcess(config, workdir)


async def test_a_state_change_on_node_a_reaches_the_agent_on_node_b(tmp_path: Path) -> None:
    redis = RedisServer()
    url = redis.start()
    a, b = node(tmp_path, "a", url), node(tmp_path, "b", url)
    client = socketio.AsyncClient(reconnection=False)
    states: asyncio.Queue[Any] = asyncio.Queue()
    client.on("state", states.put_nowait, namespace="/agent")
    try:
        # Two peers (no election on their own SQLite files): they start side by side, both started
        # (or failed) before the test goes on, so that the stops below find both.
        started = await asyncio.gather(
            asyncio.to_thread(a.start, False), asyncio.to_thread(b.start, False), return_exceptions=True
        )
        for outcome in started:
            if isinstance(outcome, BaseException):
                raise outcome
        assert a.proc is not None and b.proc is not None and a.proc.pid != b.proc.pid
        await client.connect(
            b.url, namespaces=["/agent"], auth={"token": AGENT_TOKEN}, transports=["websocket"]
        )
        got: dict[str, Any] = {}
        for action in ("login", "logout", "login", "logout", "login"):  # until B has subscribed
            status, _ = await asyncio.to_thread(a.api, "POST", f"/api/agents/1001/{action}", {}, ADMIN_TOKEN)
            assert status == 200
            try:
                got = await asyncio.wait_for(states.get(), 2.0)
                break
            except TimeoutError:
                continue
        assert got.get("agent_id") == "1001" and got.get("state") in ("available", "logged_out"), got
        # Node B's own engine did not move: the event came from A, through Redis.
        status, on_b = await asyncio.to_thread(b.api, "GET", "/api/agents/1001", None, ADMIN_TOKEN)
        assert status == 200 and on_b["state"] == "logged_out"
    finally:
        if client.connected:
            await client.disconnect()
        await asyncio.gather(asyncio.to_thread(a.stop), asyncio.to_thread(b.stop))
        redis.stop()

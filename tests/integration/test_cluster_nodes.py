"""The nodes as an admin sees them (``cluster_nodes.py``, ``/api/cluster``, ``/admin/cluster``), on
a real Redis: every node's beacon in ``cc:nodes``, a stopped node and a silent one told apart, old
and foreign entries dropped, a Redis that does not answer said so; the API for admins only; the
page in Chromium at 1024 px, in English and Chinese."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import aiohttp
from playwright.async_api import async_playwright, expect
from redis.asyncio import Redis

from callcenter.cluster_nodes import (
    FORGOTTEN_AFTER,
    NODES,
    SILENT_AFTER,
    ClusterReport,
    NodeBeacon,
    ThisNode,
)
from callcenter.web.pages import ACCOUNTS
from tests.integration.test_api import TOKENS, free_port, make_settings
from tests.integration.test_login_browser import CHROMIUM_FLAGS, PASSWORD
from tests.integration.test_realtime import start_node
from tests.integration.test_ticket_access_browser import fits, page_in
from tests.tools import require


def named(tmp_path: Path, node: str, **extra: Any) -> Any:
    """The API tests' settings, this node named ``node``."""
    s = make_settings(tmp_path, **extra)
    return s.model_copy(update={"database": s.database.model_copy(update={"node": node})})


async def term() -> tuple[str, int, float | None]:
    return "node-a", 7, 1000.0


async def test_the_beacons_of_every_node_on_a_real_redis(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    await redis.delete(NODES)
    a = ThisNode("node-a", lambda: "owner", lambda: {"agent": 2, "customer": 5, "supervisor": 1})
    b = ThisNode("node-b", lambda: "follower", lambda: {"agent": 1, "customer": 0, "supervisor": 0})
    beacons = [NodeBeacon(redis, a), NodeBeacon(redis, b)]
    try:
        for beacon in beacons:
            await beacon.start()
        await beacons[1].stop()  # node-b stops cleanly
        now = time.time()
        silent = replace(b.now(), node="node-c", seen_at=now - SILENT_AFTER - 5)  # killed, say
        forgotten = replace(b.now(), node="node-d", seen_at=now - FORGOTTEN_AFTER - 60)
        await redis.hset(NODES, "node-c", json.dumps(asdict(silent)))
        await redis.hset(NODES, "node-d", json.dumps(asdict(forgotten)))
        await redis.hset(NODES, "junk", "not a beacon")
        report = await ClusterReport(a.now, term, redis).report()
        assert report["this_node"] == "node-a" and report["owner"] == "node-a" and report["shared"]
        assert report["term"] == {"node": "node-a", "token": 7, "since": 1000.0}
        states = {n["node"]: (n["role"], n["state"], n["owner_in_database"]) for n in report["nodes"]}
        assert states == {
            "node-a": ("owner", "running", True),
            "node-b": ("follower", "stopped", False),
            "node-c": ("follower", "silent", False),
        }
        mine = next(n for n in report["nodes"] if n["node"] == "node-a")
        assert mine["sockets"] == {"agent": 2, "customer": 5, "supervisor": 1}
        assert sorted(await redis.hkeys(NODES)) == [b"node-a", b"node-b", b"node-c"]  # old and junk gone
        assert [(s["name"], s["entries"], s["unfinished"]) for s in report["streams"]] == [
            ("cc:sockets", 0, 0),
            ("cc:held", 0, 0),
            ("cc:requests", 0, 0),
        ]
        assert report["problems"] == []
    finally:
        await beacons[0].stop()
        await redis.delete(NODES)
        await redis.aclose()


async def test_a_redis_that_does_not_answer_leaves_this_node_shown_and_says_so() -> None:
    redis = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    this = ThisNode("node-a", lambda: "follower", dict)
    try:
        report = await ClusterReport(this.now, term, redis).report()
    finally:
        await redis.aclose()
    assert report["problems"] == ["redis"]
    assert [n["node"] for n in report["nodes"]] == ["node-a"] and report["streams"] == []


async def get(url: str, token: str) -> tuple[int, object]:
    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers={"Authorization": f"Bearer {token}"}) as resp:
            return resp.status, await resp.json()


async def test_the_page_shows_every_node_to_admins_only(tmp_path: Path, redis_url: str) -> None:
    chromium = require("chromium", "chromium")
    redis = Redis.from_url(redis_url)
    await redis.delete(NODES)
    node = await start_node(named(tmp_path, "node-a", realtime={"redis_url": redis_url}))
    try:
        for role in ("agent", "supervisor", "qa", "crm"):
            assert (await get(node.url + "/api/cluster", TOKENS[role]))[0] == 403, role
        status, report = await get(node.url + "/api/cluster", TOKENS["admin"])
        assert status == 200 and isinstance(report, dict), report
        # SQLite: one node routes alone; its beacon is in Redis already.
        assert report["owner"] == "node-a" and [n["node"] for n in report["nodes"]] == ["node-a"]
        assert await redis.hexists(NODES, "node-a")
        # A second node that went silent (killed, say): its last beacon, as its own NodeBeacon wrote it.
        other = ThisNode("node-b", lambda: "follower", lambda: {"agent": 4, "customer": 9, "supervisor": 0})
        other.started_at = time.time() - 3600
        await NodeBeacon(redis, other).write()
        beacon = json.loads(await redis.hget(NODES, "node-b") or "{}")
        beacon["seen_at"] -= SILENT_AFTER + 20
        await redis.hset(NODES, "node-b", json.dumps(beacon))

        await node.app[ACCOUNTS].create("test", username="root", password=PASSWORD, role="admin")
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
            errors: list[str] = []
            try:
                for locale, suffix in (("en-US", "en"), ("zh-CN", "zh-CN")):
                    root = await page_in(browser, locale, node.url, "root")
                    root.on("pageerror", lambda err: errors.append(str(err)))
                    await root.goto(node.url + "/admin/cluster")
                    rows = root.locator("#nodes tbody tr")
                    await expect(rows).to_have_count(2)
                    await expect(
                        root.locator('#nodes tr[data-node="node-b"] td.state-silent')
                    ).to_be_visible()
                    await expect(
                        root.locator('#nodes tr[data-node="node-a"] td.state-running')
                    ).to_be_visible()
                    await expect(root.locator("#streams tbody tr")).to_have_count(3)
                    if suffix == "en":
                        await expect(root.locator("#status")).to_contain_text("Silent: node-b")
                        await expect(root.locator("#term")).to_contain_text("This node routes alone")
                        await expect(root.locator('#nodes tr[data-node="node-a"] td').first).to_have_text(
                            "routing owner"
                        )
                    else:
                        await expect(root.locator("h1")).to_have_text("节点")
                        await expect(root.locator("#status")).to_contain_text(
                            "无响应\uff1anode-b"
                        )  # a full-width colon
                    await fits(root, f"cluster-nodes-1024-{suffix}.png")
                assert errors == []
            finally:
                await browser.close()
    finally:
        await node.server.close()
        await redis.delete(NODES)
        await redis.aclose()


async def test_a_node_alone_without_redis_shows_itself(tmp_path: Path) -> None:
    node = await start_node(named(tmp_path, "solo"))
    try:
        status, report = await get(node.url + "/api/cluster", TOKENS["admin"])
        assert status == 200 and isinstance(report, dict)
        assert report["shared"] is False and report["streams"] == [] and report["owner"] == "solo"
        assert [(n["node"], n["role"], n["state"]) for n in report["nodes"]] == [("solo", "owner", "running")]
        await asyncio.sleep(0)
    finally:
        await node.server.close()

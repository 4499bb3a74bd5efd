"""cc:requests on a real Redis (callcenter/forwarding.py): a follower's request carried out by the
owner with its own headers and body, the answer brought back; what a dead owner read but never
answered is claimed by the next one; what the follower stopped waiting for is not carried out."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from redis.asyncio import Redis

from callcenter.forwarding import FORWARDED, REPLY, STREAM, Consumer, Forwarder
from callcenter.streams import GROUP
from tests.integration.test_api import free_port


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    await client.delete(STREAM)
    yield client
    await client.aclose()


class Owner:
    """The owner's HTTP server: records what reached it, answers with what it got."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.port = free_port()
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(self.app)

    async def handle(self, request: web.Request) -> web.Response:
        got = {
            "method": request.method,
            "path": request.path_qs,
            "body": (await request.read()).decode(),
            "auth": request.headers.get("Authorization"),
            "forwarded": request.headers.get(FORWARDED),
        }
        self.seen.append(got)
        return web.json_response(got, status=201, headers={"X-Answer": "yes"})

    async def __aenter__(self) -> Owner:
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.runner.cleanup()


async def test_a_request_through_the_follower_is_carried_out_by_the_owner(redis: Redis) -> None:
    forwarder = Forwarder(redis, wait=10)

    async def follow(request: web.Request) -> web.StreamResponse:
        answer = await forwarder.forward(request, await request.read())
        return answer if answer is not None else web.Response(status=503)

    follower = web.Application()
    follower.router.add_route("*", "/{tail:.*}", follow)
    runner = web.AppRunner(follower)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    async with Owner() as owner:
        consumer = Consumer(redis, "b", f"http://127.0.0.1:{owner.port}")
        await consumer.start()
        try:
            async with aiohttp.ClientSession() as http:
                async with http.post(
                    f"http://127.0.0.1:{port}/api/agents/1001/pause?x=1",
                    data=b'{"reason": "lunch"}',
                    headers={"Authorization": "Bearer secret-token-1", "Content-Type": "application/json"},
                ) as resp:
                    assert resp.status == 201 and resp.headers["X-Answer"] == "yes"
                    answer = await resp.json()
        finally:
            await consumer.stop()
            await runner.cleanup()
    assert answer == owner.seen[0]
    assert answer["method"] == "POST" and answer["path"] == "/api/agents/1001/pause?x=1"
    assert answer["body"] == '{"reason": "lunch"}' and answer["auth"] == "Bearer secret-token-1"
    assert answer["forwarded"] == "1"
    assert await redis.xlen(STREAM) == 0, "the entry (and the credentials in it) outlived its answer"


def entry(request_id: str, path: str, deadline: float) -> dict[Any, Any]:
    return {
        "id": request_id,
        "method": "POST",
        "path": path,
        "headers": json.dumps({"Authorization": "Bearer t"}),
        "body": base64.b64encode(b"{}").decode(),
        "deadline": repr(deadline),
    }


async def test_what_a_dead_owner_read_is_claimed_by_the_next(redis: Redis) -> None:
    await redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    await redis.xadd(STREAM, entry("r1", "/first", time.time() + 30))
    await redis.xadd(STREAM, entry("r2", "/second", time.time() + 30))
    # Owner "a" read both, then died before answering them.
    read = await redis.xreadgroup(GROUP, "a", {STREAM: ">"}, count=10)
    assert len(read[0][1]) == 2
    async with Owner() as owner:
        consumer = Consumer(redis, "b", f"http://127.0.0.1:{owner.port}")
        await consumer.start()
        try:
            first = await redis.blpop([REPLY + "r1"], timeout=10)
            second = await redis.blpop([REPLY + "r2"], timeout=10)
        finally:
            await consumer.stop()
    assert first is not None and second is not None
    assert [s["path"] for s in owner.seen] == ["/first", "/second"], "claimed out of order"
    assert json.loads(first[1])["status"] == 201
    pending = await redis.xpending(STREAM, GROUP)
    assert pending["pending"] == 0


async def test_a_request_nobody_waits_for_any_more_is_not_carried_out(redis: Redis) -> None:
    await redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    await redis.xadd(STREAM, entry("old", "/too-late", time.time() - 1))
    await redis.xadd(STREAM, entry("new", "/in-time", time.time() + 30))
    async with Owner() as owner:
        consumer = Consumer(redis, "b", f"http://127.0.0.1:{owner.port}")
        await consumer.start()
        try:
            assert await redis.blpop([REPLY + "new"], timeout=10) is not None
        finally:
            await consumer.stop()
    assert [s["path"] for s in owner.seen] == ["/in-time"]
    assert await redis.exists(REPLY + "old") == 0
    assert (await redis.xpending(STREAM, GROUP))["pending"] == 0

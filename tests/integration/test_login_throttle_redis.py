"""Sign-in throttling with the counts in a real Redis (several nodes: ``realtime.redis_url``).

The unit tests' scenarios run again here with the counts in Redis; then what only a shared store
can show: guesses spread over two nodes add up, concurrent failures are all counted, a Redis that
goes away leaves each node counting on its own, and two servers over HTTP lock the same username.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from callcenter.web.sessions import LoginThrottle, RedisCounts
from tests.integration.test_auth import Clock as AppClock
from tests.integration.test_auth import add_user, build, login
from tests.redis_server import RedisServer
from tests.unit.test_auth_logic import (  # noqa: F401  (collected here again, with Redis counts)
    Clock,
    MakeThrottle,
    test_a_quiet_spell_forgets_the_failures,
    test_free_attempts_then_doubling_lockout_capped,
    test_lockout_expires_with_the_clock_and_success_resets_the_user,
    test_one_address_guessing_many_usernames_is_locked_out,
    throttle_settings,
)


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def clients(redis_server: RedisServer) -> AsyncIterator[list[Redis]]:
    """Fresh connections to an emptied Redis; each stands for one node's client."""
    made: list[Redis] = []
    first = Redis.from_url(redis_server.url)
    await first.flushdb()
    made.append(first)
    yield made
    for client in made:
        await client.aclose()


def node(clients: list[Redis], url: str, clock: Clock, **kw: float) -> LoginThrottle:
    client = Redis.from_url(url)
    clients.append(client)
    return LoginThrottle(throttle_settings(**kw), clock, RedisCounts(client))


@pytest.fixture
def throttle(clients: list[Redis], redis_server: RedisServer) -> MakeThrottle:
    return lambda clock, **kw: node(clients, redis_server.url, clock, **kw)


async def test_guesses_spread_over_two_nodes_add_up(clients: list[Redis], redis_server: RedisServer) -> None:
    clock = Clock()
    a, b = node(clients, redis_server.url, clock), node(clients, redis_server.url, clock)
    await a.failed("dave", "10.1.1.1")
    await b.failed("dave", "10.1.1.2")
    await a.failed("dave", "10.1.1.3")
    assert await b.retry_after("dave", None) == 0  # three free failures, wherever they were made
    await b.failed("dave", "10.1.1.4")
    assert await a.retry_after("dave", None) == 2.0 and await b.retry_after("dave", None) == 2.0
    await a.succeeded("dave")
    assert await b.retry_after("dave", None) == 0
    # The counts expire in Redis by themselves (max(forget_after, max_lockout) = 600 s here).
    assert 0 < await clients[0].pttl(RedisCounts.PREFIX + "address:10.1.1.4") <= 600_000


async def test_concurrent_failures_on_two_nodes_are_all_counted(
    clients: list[Redis], redis_server: RedisServer
) -> None:
    clock = Clock()
    a, b = node(clients, redis_server.url, clock), node(clients, redis_server.url, clock)
    await asyncio.gather(*(n.failed("erin", None) for _ in range(15) for n in (a, b)))
    stored = await clients[0].hgetall(RedisCounts.PREFIX + "user:erin")
    assert int(stored[b"failures"]) == 30  # WATCH retried every change that raced another


async def test_without_redis_each_node_counts_alone_and_says_so(
    clients: list[Redis], caplog: pytest.LogCaptureFixture
) -> None:
    lost = RedisServer()
    lost.start()
    clock = Clock()
    t = node(clients, lost.url, clock)
    await t.failed("fay", None)  # counted in Redis
    lost.stop()
    with caplog.at_level(logging.WARNING, logger="callcenter.web.sessions"):
        for _ in range(3):
            await t.failed("fay", None)
        assert await t.retry_after("fay", None) == 0  # the node's own count: 3, all free
        await t.failed("fay", None)
        assert await t.retry_after("fay", None) == 2.0  # locked on this node
    assert any(r.getMessage() == "login_throttle.redis_unavailable" for r in caplog.records)


async def test_two_servers_over_http_share_the_lockout(tmp_path: Path, redis_server: RedisServer) -> None:
    clock = AppClock()
    settings = {
        "realtime": {"redis_url": redis_server.url},
        "security": {"login_throttle": {"free_attempts_per_user": 2, "first_lockout_seconds": 30}},
    }
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    flush = Redis.from_url(redis_server.url)
    await flush.flushdb()
    await flush.aclose()
    async with (
        TestClient(TestServer(build(tmp_path / "a", clock, **settings))) as a,
        TestClient(TestServer(build(tmp_path / "b", clock, **settings))) as b,
    ):
        await add_user(b, "gus", "qa")
        assert (await login(a, "gus", "wrong password!")).status == 401
        assert (await login(b, "gus", "wrong password!")).status == 401
        assert (await login(a, "gus", "wrong password!")).status == 401
        locked = await login(b, "gus")  # the right password, on the other server: wait first
        assert locked.status == 429 and locked.headers["Retry-After"] == "31"
        clock.now += 30
        assert (await login(b, "gus")).status == 303

"""cc:sockets on a real Redis (callcenter/socket_forwarding.py): a follower's socket events carried
out by the owner's back in order per socket and side by side across sockets; what a dead owner read
is claimed by the next one; what the front stopped waiting for is dropped; the back checks the role
again, whatever the entry says."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
import socketio
from redis.asyncio import Redis

from callcenter.accounts.principal import Principal
from callcenter.aio import cancel_and_wait
from callcenter.settings import RealtimeSettings
from callcenter.socket_forwarding import (
    REPLY,
    STREAM,
    SocketConsumer,
    SocketForwarder,
    _entry,
    listen_for_owners,
)
from callcenter.streams import GROUP
from callcenter.web.auth import PUBLIC
from callcenter.web.realtime import Ack, GuardedNamespace, TokenBucket, event, handlers_of
from callcenter.web.sockets import Front, Relay, Rules, SocketEvent, _Socket

WAIT = 10.0
AGENT = Principal("agent-1001", "agent", "1001")


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    await client.delete(STREAM)
    yield client
    await client.aclose()


class Back(GuardedNamespace):
    """A back of our own: records what it carried out; ``wait`` holds an event until ``open``."""

    def __init__(self) -> None:
        super().__init__("/test", RealtimeSettings(events_per_second=100.0, burst=100))
        self.done: list[tuple[str, str]] = []
        self.adoptions: list[tuple[str, Principal | None, dict[str, Any]]] = []
        self.gate = asyncio.Event()

    async def adopted(self, sid: str, principal: Principal | None, context: Mapping[str, Any]) -> None:
        self.adoptions.append((sid, principal, dict(context)))

    @event("wait", PUBLIC)
    async def on_wait(self, sid: str, data: dict[str, Any]) -> Ack:
        await asyncio.wait_for(self.gate.wait(), WAIT)
        self.done.append((sid, str(data.get("n"))))
        return {"ok": True}

    @event("open", PUBLIC)
    async def on_open(self, sid: str, data: dict[str, Any]) -> Ack:
        self.gate.set()
        self.done.append((sid, str(data.get("n"))))
        return {"ok": True}

    @event("note", PUBLIC)
    async def on_note(self, sid: str, data: dict[str, Any]) -> Ack:
        self.done.append((sid, str(data.get("n"))))
        return {"ok": True, "as": self.peers[sid].principal.name if self.peers[sid].principal else None}

    @event("agents_only", "agent")
    async def on_agents_only(self, sid: str, data: dict[str, Any]) -> Ack:
        self.done.append((sid, "agents_only"))
        return {"ok": True}


def owner(back: Back) -> Relay:
    relay = Relay(socketio.AsyncServer(async_mode="aiohttp"), None)
    relay.attach(back)
    return relay


def socket_event(sid: str, name: str, n: object = None, principal: Principal | None = AGENT) -> SocketEvent:
    return SocketEvent("/test", sid, name, principal, {"start": {"visitor": "v"}}, {"n": n})


def entry(event: SocketEvent, seconds: float, request_id: str) -> dict[Any, Any]:
    """A front's entry, due in ``seconds``, answered on the list ``cc:sreply:test``."""
    return _entry(event, time.time() + seconds, request_id, REPLY + "test")


async def test_one_sockets_events_in_order_other_sockets_alongside(redis: Redis) -> None:
    back = Back()
    consumer = SocketConsumer(redis, "owner", owner(back))
    forwarder = SocketForwarder(redis, wait=WAIT)
    await consumer.start()
    try:
        # Socket A's first event waits until socket B's event opens the gate: were the owner
        # carrying out one event at a time, B would wait behind A and neither would answer.
        a1 = asyncio.create_task(forwarder.call(socket_event("A", "wait", 1)))
        a2 = asyncio.create_task(forwarder.call(socket_event("A", "note", 2)))
        for _ in range(200):  # until the owner is carrying out A's first event
            if "A" in back.peers:
                break
            await asyncio.sleep(0.05)
        assert "A" in back.peers and not back.gate.is_set()
        b1 = await forwarder.call(socket_event("B", "open", 1))
        assert b1 == {"ok": True}
        assert await a1 == {"ok": True}
        assert await a2 == {"ok": True, "as": "agent-1001"}
    finally:
        await consumer.stop()
        await forwarder.stop()
    assert back.done == [("B", "1"), ("A", "1"), ("A", "2")]
    # Each socket was adopted once, from the principal and the context its front sent.
    assert sorted(sid for sid, _, _ in back.adoptions) == ["A", "B"]
    assert all(p == AGENT and c == {"start": {"visitor": "v"}} for _, p, c in back.adoptions)
    assert await redis.xlen(STREAM) == 0, "the entries (and the principals in them) outlived their answers"


async def test_what_a_dead_owner_read_is_claimed_by_the_next(redis: Redis) -> None:
    await redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    for n in (1, 2):
        await redis.xadd(STREAM, entry(socket_event("A", "note", n), 30, f"r{n}"))
    # Owner "a" read both, then died before carrying them out.
    read = await redis.xreadgroup(GROUP, "a", {STREAM: ">"}, count=10)
    assert len(read[0][1]) == 2
    back = Back()
    consumer = SocketConsumer(redis, "b", owner(back))
    await consumer.start()
    try:
        first = await redis.blpop([REPLY + "test"], timeout=WAIT)
        second = await redis.blpop([REPLY + "test"], timeout=WAIT)
    finally:
        await consumer.stop()
    assert first is not None and second is not None
    assert json.loads(first[1]) == {"id": "r1", "ack": {"ok": True, "as": "agent-1001"}}
    assert json.loads(second[1])["id"] == "r2"
    assert back.done == [("A", "1"), ("A", "2")], "claimed out of order"
    assert (await redis.xpending(STREAM, GROUP))["pending"] == 0


async def test_an_event_nobody_waits_for_any_more_is_dropped(redis: Redis) -> None:
    await redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    await redis.xadd(STREAM, entry(socket_event("A", "note", "late"), -1, "old"))
    await redis.xadd(STREAM, entry(socket_event("A", "note", "in-time"), 30, "new"))
    back = Back()
    consumer = SocketConsumer(redis, "b", owner(back))
    await consumer.start()
    try:
        got = await redis.blpop([REPLY + "test"], timeout=WAIT)
    finally:
        await consumer.stop()
    assert got is not None and json.loads(got[1])["id"] == "new"
    assert back.done == [("A", "in-time")]
    assert await redis.llen(REPLY + "test") == 0, "the expired entry was answered"
    assert (await redis.xpending(STREAM, GROUP))["pending"] == 0


async def test_the_back_checks_the_role_whatever_the_entry_says(redis: Redis) -> None:
    back = Back()
    consumer = SocketConsumer(redis, "owner", owner(back))
    forwarder = SocketForwarder(redis, wait=WAIT)
    await consumer.start()
    try:
        visitor = await forwarder.call(socket_event("C", "agents_only", principal=None))
        agent = await forwarder.call(socket_event("D", "agents_only"))
        unknown = await forwarder.call(socket_event("D", "shutdown"))
        garbage = {"id": "bad", "reply": REPLY + "test", "ns": "/test", "sid": "E", "principal": "[1]"}
        await redis.xadd(STREAM, {**garbage, "name": "note", "deadline": repr(time.time() + 30)})
        bad = await redis.blpop([REPLY + "test"], timeout=WAIT)
    finally:
        await consumer.stop()
        await forwarder.stop()
    assert visitor == {"error": "your role may not do this"}
    assert agent == {"ok": True}
    assert unknown == {"error": "unknown event 'shutdown'"}
    assert bad is not None and json.loads(bad[1]) == {"id": "bad", "ack": {"error": "bad request"}}
    assert back.done == [("D", "agents_only")]


async def test_without_an_owner_the_front_is_told_to_try_again(redis: Redis) -> None:
    gone = SocketForwarder(redis, wait=0.5)
    relay = Relay(socketio.AsyncServer(async_mode="aiohttp"), gone)
    ack = await relay.call(socket_event("A", "note", 1))
    await gone.stop()
    assert "try again" in ack["error"]
    # Its entry is dropped by the next owner, not carried out late.
    back = Back()
    consumer = SocketConsumer(redis, "owner", owner(back))
    await consumer.start()
    next_one = SocketForwarder(redis, wait=WAIT)
    try:
        assert await next_one.call(socket_event("A", "note", 2)) is not None
    finally:
        await consumer.stop()
        await next_one.stop()
    assert back.done == [("A", "2")]


async def test_a_new_owner_is_told_of_the_sockets_already_connected(redis: Redis) -> None:
    """A follower's sockets are announced to the node that starts owning, without an event of
    theirs (a supervisor's console gets its wallboard at once)."""
    settings = RealtimeSettings()
    forwarder = SocketForwarder(redis, wait=WAIT)
    follower = Relay(socketio.AsyncServer(async_mode="aiohttp"), forwarder)
    front = Front(Rules("/test", handlers_roles(Back)), settings, (), follower)
    follower.fronts.append(front)
    for sid in ("S1", "S2"):
        front.sockets[sid] = _Socket(AGENT, TokenBucket(1.0, 1), {"start": {"visitor": sid}})
    listening = asyncio.create_task(listen_for_owners(redis, follower))
    back = Back()
    consumer = SocketConsumer(redis, "owner", owner(back))
    try:
        await asyncio.sleep(0.5)  # subscribed (an owner elected before that finds no sockets here)
        await consumer.start()
        for _ in range(200):
            if len(back.adoptions) == 2:
                break
            await asyncio.sleep(0.05)
    finally:
        await consumer.stop()
        await cancel_and_wait(listening)
        await forwarder.stop()
    assert sorted((sid, p, c["start"]["visitor"]) for sid, p, c in back.adoptions) == [
        ("S1", AGENT, "S1"),
        ("S2", AGENT, "S2"),
    ]
    assert back.done == [], "an announcement is not an event"


def handlers_roles(cls: type) -> dict[str, frozenset[str]]:
    return {name: roles for name, (roles, _handler) in handlers_of(cls).items()}

"""``cc:held`` on a real Redis (callcenter/held_chats.py) and the front's shortcut
(web/sockets.py, ``Rules.shortcut``): what the visitors' nodes stored reaches the owner in order and
leaves nothing in the stream; what a dead owner read is claimed by the next; a bad entry is dropped
without stopping the reader; a front that does not own takes an event through its shortcut, falls
back to the owner when the shortcut declines, and never hands the browser the back's ``_`` keys."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
import socketio
from redis.asyncio import Redis

from callcenter.held_chats import STREAM, HeldConsumer, tell
from callcenter.settings import RealtimeSettings
from callcenter.streams import GROUP
from callcenter.web.auth import PUBLIC
from callcenter.web.realtime import Ack, BadRequest, TokenBucket
from callcenter.web.sockets import Front, Relay, Rules, SocketEvent, _Socket

WAIT = 10.0


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    await client.delete(STREAM)
    yield client
    await client.delete(STREAM)
    await client.aclose()


class Books:
    def __init__(self) -> None:
        self.taken: list[str] = []

    async def take(self, entry: Mapping[str, str]) -> None:
        self.taken.append(entry["message"])  # KeyError: not an entry of ours


async def until(condition: Any) -> None:
    for _ in range(int(WAIT / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("not in time")


async def test_entries_reach_the_owner_in_order_and_leave_nothing(redis: Redis) -> None:
    books = Books()
    consumer = HeldConsumer(redis, "owner", books.take)
    await consumer.start()
    try:
        for n in range(300):  # more than one read's worth
            await tell(redis, {"message": f"m{n}"})
        await redis.xadd(STREAM, {"not": "ours"})  # dropped, the reader goes on
        await tell(redis, {"message": "last"})
        await until(lambda: books.taken[-1:] == ["last"])
    finally:
        await consumer.stop()
    assert books.taken == [f"m{n}" for n in range(300)] + ["last"]
    assert await redis.xlen(STREAM) == 0
    assert (await redis.xpending(STREAM, GROUP))["pending"] == 0


async def test_what_a_dead_owner_read_is_claimed_by_the_next(redis: Redis) -> None:
    await redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    for n in (1, 2):
        await tell(redis, {"message": f"m{n}"})
    read = await redis.xreadgroup(GROUP, "dead", {STREAM: ">"}, count=10)
    assert len(read[0][1]) == 2
    books = Books()
    consumer = HeldConsumer(redis, "next", books.take)
    await consumer.start()
    try:
        await tell(redis, {"message": "m3"})
        await until(lambda: len(books.taken) == 3)
    finally:
        await consumer.stop()
    assert books.taken == ["m1", "m2", "m3"]
    assert (await redis.xpending(STREAM, GROUP))["pending"] == 0


class Owner:
    """The follower's way to the owner: what it was asked, answered with a back's ``_`` key."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def call(self, event: SocketEvent) -> Ack | None:
        self.asked.append(event.name)
        return {"ok": True, "by": "owner", "_visitor": {"kind": "visitor", "address": "a1"}}

    async def tell(self, event: SocketEvent) -> None:
        return None


async def test_a_followers_front_takes_its_shortcut_or_the_owners_way(redis: Redis) -> None:
    taken: list[str] = []

    async def shortcut(
        sid: str, name: str, payload: Mapping[str, Any], context: dict[str, Any]
    ) -> Ack | None:
        if payload.get("n") == "bad":
            raise BadRequest("text is required")
        if name == "message" and context.get("visitor"):
            taken.append(str(payload.get("n")))
            return {"ok": True, "by": "here"}
        return None  # the owner's

    def remember(name: str, payload: Mapping[str, Any], ack: Ack, context: dict[str, Any]) -> None:
        if isinstance(ack.get("_visitor"), dict):
            context["visitor"] = ack["_visitor"]

    owner = Owner()
    relay = Relay(socketio.AsyncServer(async_mode="aiohttp"), owner)
    events = {"message": frozenset({PUBLIC}), "start": frozenset({PUBLIC})}
    front = Front(Rules("/c", events, remember=remember, shortcut=shortcut), RealtimeSettings(), (), relay)
    front.sockets["S"] = _Socket(None, TokenBucket(100.0, 100))
    # Before the visitor started: the owner's way (the shortcut declines).
    assert await front.trigger_event("message", "S", {"n": 1}) == {"ok": True, "by": "owner"}
    # The start's answer names the visitor for the front only: kept, not shown.
    assert await front.trigger_event("start", "S", {}) == {"ok": True, "by": "owner"}
    assert front.sockets["S"].context["visitor"] == {"kind": "visitor", "address": "a1"}
    assert await front.trigger_event("message", "S", {"n": 2}) == {"ok": True, "by": "here"}
    assert await front.trigger_event("message", "S", {"n": "bad"}) == {"error": "text is required"}
    assert owner.asked == ["message", "start"] and taken == ["2"]
    # One node (no owner elsewhere to spare): the shortcut is never taken.
    relay.remote = None
    assert "try again" in (await front.trigger_event("message", "S", {"n": 3}))["error"]
    assert taken == ["2"]

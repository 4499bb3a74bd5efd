"""``cc:held:moves`` on a real Redis (``held_chats.publish_moves``, ``listen_for_moves``): the
owner's writes of holds reach every node's listener; what is not a move of ours is dropped with
the listener still listening; the holders are forgotten at each subscription (what was published
while a node was not subscribed is lost)."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping

from redis.asyncio import Redis

from callcenter.aio import cancel_and_wait
from callcenter.held_chats import MOVES, listen_for_moves, publish_moves


class Listener:
    def __init__(self) -> None:
        self.moves: list[tuple[dict[str, str], list[str], bool]] = []
        self.forgotten = 0
        self.heard = asyncio.Event()
        self.subscribed = asyncio.Event()

    def moved(self, held: Mapping[str, str], released: Collection[str], every: bool) -> None:
        self.moves.append((dict(held), list(released), every))
        self.heard.set()

    def forget_holders(self) -> None:  # called once subscribed
        self.forgotten += 1
        self.subscribed.set()


async def test_moves_reach_the_listener_and_garbage_is_dropped(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    listener = Listener()
    listening = asyncio.create_task(listen_for_moves(redis, listener))
    try:
        async with asyncio.timeout(10):
            await listener.subscribed.wait()
        assert listener.forgotten == 1
        for garbage in (b"not json", b"[1, 2]", b'{"held": {"c1": 7}, "released": [], "every": false}'):
            await redis.publish(MOVES, garbage)
        await publish_moves(redis, {"c1": "1002"}, ["c2"], False)
        async with asyncio.timeout(10):
            await listener.heard.wait()
        assert listener.moves == [({"c1": "1002"}, ["c2"], False)]
        assert not listening.done()
    finally:
        await cancel_and_wait(listening)
        await redis.aclose()

"""``cc:held``: what the visitors' nodes stored in web chats agents hold, for the routing owner's
books (docs/cluster.md, "Web chats an agent holds"; ``web/chat_holds.py``).

A node adds one entry per stored message (:func:`tell`, no answer awaited). The owner reads the
stream in the consumer group ``owners`` (``streams.StreamConsumer``: what an owner that died read
and did not finish is claimed by the next one), files each entry in its books, and acknowledges
and deletes a whole read in one round trip. An entry carried out twice (a new owner that read the
message back from the database, then claims its entry) is filed once: the books know its id.
Nothing of an entry (a visitor's text) is logged.

``cc:held:moves`` (pub/sub): the owner's writes of holds, for every node's visitors' typing
(:func:`publish_moves`, :func:`listen_for_moves`; ``VisitorMessages.moved``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from callcenter.streams import StreamConsumer, decoded, listen

log = logging.getLogger(__name__)

STREAM = "cc:held"
MOVES = "cc:held:moves"
PUBLISH_SECONDS = 2.0


async def tell(redis: Redis, entry: Mapping[str, str]) -> None:
    """One stored message, to the owner. A Redis failure is logged: the message is stored and was
    shown to its agent; the owner's books have it once a new owner reads them back."""
    try:
        fields: dict[Any, Any] = dict(entry)
        await redis.xadd(STREAM, fields)
    except RedisError as err:
        log.warning("held.redis_failed", extra={"error": type(err).__name__})


async def publish_moves(
    redis: Redis, held: Mapping[str, str], released: Collection[str], every: bool
) -> None:
    """The owner's write of holds, to every node (ids only), awaited at most ``PUBLISH_SECONDS``
    (the agent's accept or close waits for it). A Redis failure is logged: a node's visitors'
    typing may reach a former agent, whose panel ignores it, until their next message."""
    try:
        moves = {"held": dict(held), "released": list(released), "every": every}
        async with asyncio.timeout(PUBLISH_SECONDS):
            await redis.publish(MOVES, json.dumps(moves))
    except (RedisError, TimeoutError) as err:
        log.warning("held.moves_not_published", extra={"error": type(err).__name__})


class MovesListener(Protocol):
    def moved(self, held: Mapping[str, str], released: Collection[str], every: bool) -> None: ...
    def forget_holders(self) -> None: ...


def _moves(data: object) -> tuple[dict[str, str], list[str], bool]:
    """ValueError: not a message of ours."""
    message = json.loads(data if isinstance(data, (str, bytes)) else "")
    held, released, every = message.get("held"), message.get("released"), message.get("every")
    if not isinstance(held, dict) or not isinstance(released, list) or not isinstance(every, bool):
        raise ValueError("not a move of holds")
    if not all(isinstance(v, str) for v in (*held, *held.values(), *released)):
        raise ValueError("not a move of holds")
    return held, released, every


async def listen_for_moves(redis: Redis, listener: MovesListener) -> None:
    """Every node, while it runs: the owner's writes of holds, to ``listener``. What was
    published while this node was not subscribed is lost: its holders are forgotten at each
    (re)subscription."""

    async def heard(data: Any) -> None:
        try:
            listener.moved(*_moves(data))
        except (ValueError, AttributeError):
            log.warning("held.bad_moves")

    await listen(redis, MOVES, heard, "held", subscribed=listener.forget_holders)


class HeldConsumer(StreamConsumer):
    """The owner's reader of ``cc:held``: ``take`` files one entry (KeyError, ValueError: not an
    entry of ours, dropped)."""

    batch = 256
    events = "held"
    # After a read, entries are left to gather this long before the next: one read, one
    # acknowledgement for many (each read is a round trip and the parsing of a reply; at a
    # hundred messages a second, one per entry cost the owner a third of a message's CPU).
    # The books learn a message this much later; its agent saw it at once.
    linger = 0.05

    def __init__(self, redis: Redis, node: str, take: Callable[[Mapping[str, str]], Awaitable[None]]) -> None:
        super().__init__(redis, node, STREAM)
        self._taker = take

    async def start(self) -> None:
        await self._start_reading("cc-held")

    async def stop(self) -> None:
        await self._stop_reading(5.0)

    async def _carry(self, fields: Mapping[str, str]) -> None:
        try:
            await self._taker(fields)
        except (KeyError, ValueError, TypeError) as err:
            log.warning("held.bad_entry", extra={"error": type(err).__name__})
        except Exception:
            log.exception("held.entry_failed")

    async def _take(self, entry_id: Any, fields: dict[str, str]) -> None:
        await self._carry(fields)
        await self._done(entry_id)

    async def _read_new(self) -> None:
        batch: Any = await self._read()
        done = []
        for _stream, entries in batch or []:
            for entry_id, fields in entries:
                await self._carry(decoded(fields))
                done.append(entry_id)
        if done:
            await self._done(*done)
            if len(done) < self.batch and not self._stopping:
                self._idle = True  # as in a read: a stop need not wait for it
                try:
                    await asyncio.sleep(self.linger)
                finally:
                    self._idle = False

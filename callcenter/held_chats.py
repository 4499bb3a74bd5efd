"""``cc:held``: what the visitors' nodes stored in web chats agents hold, for the routing owner's
books (docs/cluster.md, "Web chats an agent holds"; ``web/chat_holds.py``).

A node adds one entry per stored message (:func:`tell`, no answer awaited). The owner reads the
stream in the consumer group ``owners`` (``streams.StreamConsumer``: what an owner that died read
and did not finish is claimed by the next one), files each entry in its books, and acknowledges
and deletes a whole read in one round trip. An entry carried out twice (a new owner that read the
message back from the database, then claims its entry) is filed once: the books know its id.
Nothing of an entry (a visitor's text) is logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from callcenter.streams import StreamConsumer, decoded

log = logging.getLogger(__name__)

STREAM = "cc:held"


async def tell(redis: Redis, entry: Mapping[str, str]) -> None:
    """One stored message, to the owner. A Redis failure is logged: the message is stored and was
    shown to its agent; the owner's books have it once a new owner reads them back."""
    try:
        fields: dict[Any, Any] = dict(entry)
        await redis.xadd(STREAM, fields)
    except RedisError as err:
        log.warning("held.redis_failed", extra={"error": type(err).__name__})


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

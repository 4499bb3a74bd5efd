"""The routing owner's reader of a Redis stream that outlives failovers: what ``cc:requests``
(``forwarding.py``) and ``cc:sockets`` (``socket_forwarding.py``) have in common.

Entries are read in the consumer group ``owners`` under this node's name. On taking over, the
owner first claims (``XAUTOCLAIM``) every entry an earlier owner read and did not finish, oldest
first, then reads new ones. A subclass says what taking an entry means (``_take``); once an entry
is carried out, ``_done`` acknowledges and deletes it, so the stream keeps nothing (credentials,
visitor tokens) longer than needed. A Redis failure is logged by name and the loop starts again
from the claim a second later; nothing of an entry is ever logged. A stop waits for what is under
way, not for a read that is only waiting for entries: a deposed owner must stop within the next
owner's grace (``storage/leadership.py``).

:func:`listen` is the other side of the nodes' Redis: a pub/sub channel every node follows while it
runs (``cc:sockets:owner``, ``cc:held:moves``), subscribed again after a failure.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from callcenter.aio import cancel_and_wait

log = logging.getLogger(__name__)

GROUP = "owners"
REPLY_TTL_SECONDS = 60  # a reply list nobody reads (its asker died) is gone after this


def text(value: Any) -> str:
    """A stream field (bytes unless the client decodes) as text."""
    return value.decode() if isinstance(value, bytes) else str(value)


def decoded(fields: Any) -> dict[str, str]:
    """An entry's fields as text."""
    return {text(k): text(v) for k, v in fields.items()}


async def listen(
    redis: Redis,
    channel: str,
    heard: Callable[[Any], Awaitable[None]],
    events: str,
    subscribed: Callable[[], None] | None = None,
) -> None:
    """Every node, while it runs: each message published on ``channel`` (its data) to ``heard``;
    ``subscribed`` after each (re)subscription (what was published meanwhile is lost). A Redis
    failure is logged (``<events>.listen_failed``) and the subscription made again a second later."""
    while True:
        try:
            async with redis.pubsub() as pubsub:
                await pubsub.subscribe(channel)
                if subscribed is not None:
                    subscribed()
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        await heard(message.get("data"))
        except RedisError as err:
            task = asyncio.current_task()
            if task is not None and task.cancelling():  # a cancelled read may surface as this
                raise asyncio.CancelledError from err
            log.warning(f"{events}.listen_failed", extra={"error": type(err).__name__})
            await asyncio.sleep(1.0)


class StreamConsumer:
    """Claims what an earlier owner left, then reads new entries of ``stream``, until stopped."""

    batch = 16  # entries per read
    events = "streams"  # the prefix of this consumer's log events

    def __init__(self, redis: Redis, node: str, stream: str) -> None:
        self._redis = redis
        self._node = node
        self._stream = stream
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._idle = False  # the reading task waits for entries (nothing of an entry under way)

    async def _start_reading(self, name: str) -> None:
        try:
            await self._redis.xgroup_create(self._stream, GROUP, id="0", mkstream=True)
        except ResponseError as err:
            if "BUSYGROUP" not in str(err):
                raise
        self._task = asyncio.get_running_loop().create_task(self._run(), name=name)

    async def _stop_reading(self, wait: float, also: list[asyncio.Task[None]] | None = None) -> None:
        """No new entry is taken; those under way (the reading task and ``also``) get ``wait``
        seconds to finish, then are cancelled. Entries read but not started stay pending for the
        next owner. redis-py may turn the cancellation of a blocking read into a RedisError: the
        flag ends the loop all the same (reads block one second at most)."""
        self._stopping = True
        if self._task is not None and self._idle:
            # Blocked in a read (up to a second): nothing to finish, and a deposed owner's stop
            # must fit in the next owner's grace (storage/leadership.py).
            await cancel_and_wait(self._task)
        tasks = [t for t in [self._task, *(also or [])] if t is not None]
        if tasks:
            await asyncio.wait(set(tasks), timeout=wait)
        for task in tasks:
            await cancel_and_wait(task)
        self._task = None

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self._claim_left()
                while not self._stopping:
                    await self._before_read()
                    await self._read_new()
            except RedisError as err:
                if self._stopping:
                    return
                log.warning(f"{self.events}.consumer_failed", extra={"error": type(err).__name__})
                await asyncio.sleep(1.0)

    async def _before_read(self) -> None:
        """Called before each read: a subclass may wait here while it is busy."""

    async def _read(self) -> Any:
        """New entries (waiting a second at most); while it waits, a stop does not wait for it."""
        self._idle = True
        try:
            return await self._redis.xreadgroup(
                GROUP, self._node, {self._stream: ">"}, count=self.batch, block=1000
            )
        finally:
            self._idle = False

    async def _read_new(self) -> None:
        batch: Any = await self._read()
        for _stream, entries in batch or []:
            for entry_id, fields in entries:
                if self._stopping:
                    return  # left pending: the next owner claims it
                await self._take(entry_id, decoded(fields))

    async def _claim_left(self) -> None:
        """Entries read by an owner that died before finishing them: ours now, oldest first."""
        start = "0-0"
        while True:
            reply = await self._redis.xautoclaim(
                self._stream, GROUP, self._node, min_idle_time=0, start_id=start
            )
            start, entries = reply[0], reply[1]
            for entry_id, fields in entries:
                if self._stopping:
                    return
                if fields:
                    await self._take(entry_id, decoded(fields))
                else:  # a deleted entry comes back empty
                    await self._redis.xack(self._stream, GROUP, entry_id)
            if start in ("0-0", b"0-0"):
                return

    async def _take(self, entry_id: Any, fields: dict[str, str]) -> None:
        raise NotImplementedError

    async def _done(self, *entry_ids: Any, reply: tuple[str, str] | None = None) -> None:
        """Acknowledge and delete the entries, then push ``reply`` (list key, value; the list
        expires after a minute without replies), in one round trip: Redis runs them in order."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xack(self._stream, GROUP, *entry_ids)
            pipe.xdel(self._stream, *entry_ids)
            if reply is not None:
                pipe.rpush(reply[0], reply[1])
                pipe.expire(reply[0], REPLY_TTL_SECONDS)
            await pipe.execute()

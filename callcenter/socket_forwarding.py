"""``cc:sockets``: events of sockets connected to a follower, carried out by the routing owner's
namespaces (docs/cluster.md). The sibling of ``cc:requests`` (``forwarding.py``) for Socket.IO.

A follower's front (``web/sockets.py``) adds the event (namespace, socket id, principal, the front's
context of the socket, payload) to the stream ``cc:sockets`` and waits for the acknowledgement on
``cc:sreply:<process>`` (one list per process, read by one task: a thousand events in flight hold
no more Redis connections than one); arrivals and departures of sockets are added without waiting.
The owner reads the stream in the consumer group ``owners``, gives each event to its back,
acknowledges and deletes the entry, then pushes the ack. Invariants:

- One socket's events are carried out in the order they were added (one lane per socket); the
  events of different sockets run side by side, as they do for sockets on the owner itself.
- Nothing is lost to a failover: an entry an owner read and did not finish stays pending, and the
  next owner claims it (``XAUTOCLAIM``) before it reads new ones. An event that stores something
  carries an id, so one carried out twice is stored and sent once. An entry whose front stopped
  waiting (past its deadline) is dropped: the socket was told to try again.
- The stream holds a visitor's token or a principal only until the owner takes the entry; nothing
  of an entry is logged.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError

from callcenter.aio import cancel_and_wait
from callcenter.streams import StreamConsumer, listen
from callcenter.web.realtime import Ack
from callcenter.web.sockets import Relay, SocketEvent, principal_from_json, principal_to_json

log = logging.getLogger(__name__)

STREAM = "cc:sockets"
REPLY = "cc:sreply:"
OWNERS = "cc:sockets:owner"  # pub/sub: a new owner reads cc:sockets (the fronts announce their sockets)
WAIT_SECONDS = 15.0  # how long a front waits for the owner (a failover takes a few seconds)
TELL_SECONDS = 60.0  # an arrival or departure not carried out by then is dropped
IN_FLIGHT = 256  # sockets whose events an owner carries out at once (the rest wait in the stream)
CONNECTIONS = 128  # Redis connections per client; more commands at once wait for one, they do not fail


def redis_client(url: str) -> Redis:
    """A Redis client whose commands wait for a free connection when all are busy (redis-py's
    default pool refuses at once, past 100: a burst of events would fail)."""
    pool = BlockingConnectionPool.from_url(
        url, max_connections=CONNECTIONS, timeout=10, socket_connect_timeout=2
    )
    return Redis.from_pool(pool)  # the client owns the pool: aclose() closes its connections


def _entry(event: SocketEvent, deadline: float, request_id: str, reply: str) -> dict[Any, Any]:
    return {
        "id": request_id,
        "reply": reply,
        "ns": event.namespace,
        "sid": event.sid,
        "name": event.name,
        "principal": json.dumps(principal_to_json(event.principal)),
        "context": json.dumps(dict(event.context)),
        "payload": json.dumps(dict(event.payload)),
        "deadline": repr(deadline),
    }


def _event(f: Mapping[str, str]) -> SocketEvent:
    context, payload = json.loads(f["context"]), json.loads(f["payload"])
    if not isinstance(context, dict) or not isinstance(payload, dict):
        raise ValueError("context and payload must be objects")
    principal = principal_from_json(json.loads(f["principal"]))
    return SocketEvent(f["ns"], f["sid"], f["name"], principal, context, payload)


class SocketForwarder:
    """The follower's side: an event to the owner, its ack back (None: nobody answered in time)."""

    def __init__(self, redis: Redis, wait: float = WAIT_SECONDS) -> None:
        self._redis = redis
        self._wait = wait
        self.replies = REPLY + uuid.uuid4().hex  # this process's (a restarted one reads no stale ack)
        self._waiting: dict[str, asyncio.Future[object]] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def stop(self) -> None:
        # redis-py may turn the cancellation of a blocking read into a RedisError: the flag ends
        # the loop all the same.
        self._stopping = True
        await cancel_and_wait(self._task)
        self._task = None

    async def call(self, event: SocketEvent) -> Ack | None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._read(), name="cc-sockets-replies")
        request_id = uuid.uuid4().hex
        answer: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = answer
        try:
            entry = _entry(event, time.time() + self._wait, request_id, self.replies)
            await self._redis.xadd(STREAM, entry)
            ack = await asyncio.wait_for(answer, self._wait)
        except RedisError as err:
            log.warning("sockets.redis_failed", extra={"error": type(err).__name__})
            return None
        except TimeoutError:
            return None
        finally:
            self._waiting.pop(request_id, None)
        return ack if isinstance(ack, dict) else None

    async def _read(self) -> None:
        while not self._stopping:
            try:
                got = await self._redis.blpop([self.replies], timeout=1)
            except RedisError as err:
                if self._stopping:
                    return
                log.warning("sockets.replies_failed", extra={"error": type(err).__name__})
                await asyncio.sleep(0.5)
                continue
            if got is None:
                continue
            try:
                reply = json.loads(got[1])
                waiting = self._waiting.pop(str(reply["id"]), None)
            except (ValueError, KeyError, TypeError):
                continue
            if waiting is not None and not waiting.done():  # else the front gave up waiting
                waiting.set_result(reply.get("ack"))

    async def tell(self, event: SocketEvent) -> None:
        try:
            await self._redis.xadd(STREAM, _entry(event, time.time() + TELL_SECONDS, "", ""))
        except RedisError as err:
            log.warning("sockets.redis_failed", extra={"error": type(err).__name__})


async def listen_for_owners(redis: Redis, relay: Relay) -> None:
    """Every node, while it runs: when a node starts owning, this node's sockets are announced to
    it (``Relay.announce``). Resubscribes after a Redis failure."""

    async def heard(_node: Any) -> None:
        told = await relay.announce()
        log.info("sockets.announced", extra={"sockets": told})

    await listen(redis, OWNERS, heard, "sockets")


class SocketConsumer(StreamConsumer):
    """The owner's side: claims what an earlier owner left, then reads new entries
    (``streams.StreamConsumer``); one lane per socket keeps each socket's events in order."""

    batch = 64
    events = "sockets"

    def __init__(self, redis: Redis, node: str, relay: Relay) -> None:
        super().__init__(redis, node, STREAM)
        self._relay = relay
        self._lanes: dict[str, asyncio.Task[None]] = {}

    async def start(self) -> None:
        await self._start_reading("cc-sockets")
        try:
            await self._redis.publish(OWNERS, self._node)
        except RedisError as err:  # the sockets are adopted at their next event instead
            log.warning("sockets.announce_failed", extra={"error": type(err).__name__})

    async def stop(self) -> None:
        # No new entry is started; those under way finish and are acknowledged (their sockets'
        # acks are sent); entries read but not started stay pending for the next owner.
        await self._stop_reading(WAIT_SECONDS + 2, also=list(self._lanes.values()))
        self._lanes.clear()

    async def _before_read(self) -> None:
        while len(self._lanes) >= IN_FLIGHT and not self._stopping:  # busy: the rest wait in the stream
            await asyncio.wait(set(self._lanes.values()), return_when=asyncio.FIRST_COMPLETED)

    async def _take(self, entry_id: Any, fields: dict[str, str]) -> None:
        self._queue(entry_id, fields)

    def _queue(self, entry_id: Any, f: Mapping[str, str]) -> None:
        lane = f.get("sid", "")
        before = self._lanes.get(lane)
        task = asyncio.get_running_loop().create_task(self._after(before, entry_id, f))
        self._lanes[lane] = task
        task.add_done_callback(functools.partial(self._lane_done, lane))

    def _lane_done(self, lane: str, task: asyncio.Task[None]) -> None:
        if self._lanes.get(lane) is task:
            del self._lanes[lane]
        if not task.cancelled() and task.exception() is not None:
            log.error("sockets.entry_failed", extra={"error": type(task.exception()).__name__})

    async def _after(self, before: asyncio.Task[None] | None, entry_id: Any, f: Mapping[str, str]) -> None:
        if before is not None:
            await asyncio.wait({before})
        if self._stopping:
            return
        await self._serve(entry_id, f)

    async def _serve(self, entry_id: Any, f: Mapping[str, str]) -> None:
        # Carried out, acknowledged, then answered: an owner that dies before acknowledging
        # leaves the entry to the next one (whose ids make a second run harmless).
        ack: Ack | None = None
        try:
            if float(f.get("deadline", "0")) >= time.time():
                ack = await self._relay.local(_event(f))
            else:
                log.info("sockets.expired")  # nothing of the entry: it may carry a visitor token
        except (KeyError, ValueError, TypeError) as err:
            log.warning("sockets.bad_entry", extra={"error": type(err).__name__})
            ack = {"error": "bad request"}
        except Exception:
            log.exception("sockets.event_failed")
            ack = {"error": "internal error"}
        request_id, key = f.get("id", ""), f.get("reply", "")
        answered = ack is not None and request_id and key.startswith(REPLY)
        reply = (key, json.dumps({"id": request_id, "ack": ack})) if answered else None
        await self._done(entry_id, reply=reply)

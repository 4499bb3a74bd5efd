"""``cc:requests``: a follower hands what only the routing owner can decide to the owner, through
a Redis stream (docs/cluster.md).

A request a follower cannot serve (it needs the routing half: an agent's state change over the
API, a webhook opening a conversation...) is added to the stream ``cc:requests`` with its method,
path, headers and body, and the follower waits for the answer on ``cc:reply:<id>``. The owner reads
the stream in a consumer group, one entry at a time in order, replays each request against its own
HTTP server (so authentication, roles and validation are exactly those of a direct request),
pushes the answer and acknowledges the entry. Invariants:

- Nothing is lost to a failover: an entry read by an owner that died before acknowledging it stays
  pending, and the next owner claims it (``XAUTOCLAIM``) before it reads new ones.
- An entry whose follower stopped waiting (past its deadline) is acknowledged without being
  carried out: a person who was told 503 does not find the action done later.
- A request already forwarded once (``X-CC-Forwarded``) is never forwarded again.
- The stream holds credentials (the request's own headers) only until the owner takes the entry:
  it is deleted once answered; nothing of an entry is logged.
"""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any

import aiohttp
from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from callcenter.streams import StreamConsumer

log = logging.getLogger(__name__)

STREAM = "cc:requests"
REPLY = "cc:reply:"
FORWARDED = "X-CC-Forwarded"
WAIT_SECONDS = 15.0  # how long a follower waits for the owner (a failover takes a few seconds)
_HOP = {"host", "content-length", "connection", "keep-alive", "transfer-encoding", "upgrade"}


def _entry(request: web.Request, body: bytes, deadline: float) -> dict[str, str]:
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
    return {
        "method": request.method,
        "path": request.path_qs,
        "headers": json.dumps(headers),
        "body": base64.b64encode(body).decode(),
        "deadline": repr(deadline),
    }


class Forwarder:
    """The follower's side: one request to the owner, its answer back (None: nobody answered)."""

    def __init__(self, redis: Redis, wait: float = WAIT_SECONDS) -> None:
        self._redis = redis
        self._wait = wait

    async def forward(self, request: web.Request, body: bytes) -> web.Response | None:
        request_id = uuid.uuid4().hex
        deadline = time.time() + self._wait
        try:
            fields: dict[Any, Any] = {"id": request_id, **_entry(request, body, deadline)}
            await self._redis.xadd(STREAM, fields)
            got = await self._redis.blpop([REPLY + request_id], timeout=self._wait)
        except RedisError as err:
            log.warning("forwarding.redis_failed", extra={"error": type(err).__name__})
            return None
        if got is None:
            return None
        answer = json.loads(got[1])
        return web.Response(
            status=int(answer["status"]),
            body=base64.b64decode(answer["body"]),
            headers={k: v for k, v in answer["headers"].items() if k.lower() not in _HOP},
        )


class Consumer(StreamConsumer):
    """The owner's side: claims what an earlier owner left, then reads new entries, one at a time
    in order (``streams.StreamConsumer``)."""

    events = "forwarding"

    def __init__(self, redis: Redis, node: str, base_url: str) -> None:
        super().__init__(redis, node, STREAM)
        self._base = base_url
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession()
        await self._start_reading("cc-requests")

    async def stop(self) -> None:
        # The request being carried out is finished and acknowledged; entries read but not
        # started stay for the next owner.
        await self._stop_reading(WAIT_SECONDS + 2)
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _take(self, entry_id: Any, fields: dict[str, str]) -> None:
        await self._serve(entry_id, fields)

    async def _serve(self, entry_id: Any, f: Mapping[str, str]) -> None:
        # Carried out, then acknowledged, then answered: an owner that dies after carrying a
        # request out but before acknowledging it leaves it to the next one (done twice); one
        # that dies before answering leaves the asker a 503, never a request done twice.
        answer: dict[str, Any] | None = None
        try:
            if float(f.get("deadline", "0")) >= time.time():
                answer = await self._replay(f)
            else:
                log.info("forwarding.expired")  # nothing of the entry: its path may carry a token
        except (KeyError, ValueError) as err:
            log.warning("forwarding.bad_entry", extra={"error": type(err).__name__})
        await self._done(entry_id, reply=None if answer is None else (REPLY + f["id"], json.dumps(answer)))

    async def _replay(self, f: Mapping[str, str]) -> dict[str, Any]:
        assert self._session is not None
        headers = {**json.loads(f["headers"]), FORWARDED: "1"}
        try:
            async with self._session.request(
                f["method"],
                self._base + f["path"],
                headers=headers,
                data=base64.b64decode(f["body"]),
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=WAIT_SECONDS),
            ) as resp:
                body = await resp.read()
                kept = {k: v for k, v in resp.headers.items() if k.lower() not in _HOP}
                return {"status": resp.status, "headers": kept, "body": base64.b64encode(body).decode()}
        except (aiohttp.ClientError, TimeoutError) as err:
            log.warning("forwarding.replay_failed", extra={"error": type(err).__name__})
            error = json.dumps({"error": "the routing owner could not serve this request"}).encode()
            return {
                "status": 503,
                "headers": {"Content-Type": "application/json"},
                "body": base64.b64encode(error).decode(),
            }

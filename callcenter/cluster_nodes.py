"""The nodes of a cluster as an admin sees them (docs/cluster.md, "Watching the nodes").

Every node with a Redis (``realtime.redis_url``) writes a *beacon* to the hash ``cc:nodes`` every
``BEACON_SECONDS``: its name, its part (owner or follower), its host and process, its version, when
it started and its sockets by namespace; a node that stops cleanly writes ``stopped`` last. Any
node reads the hash: a node whose beacon is older than ``SILENT_AFTER`` is *silent* (dead, cut off,
or its loop stuck); beacons older than ``FORGOTTEN_AFTER`` are deleted. With the streams' backlogs
(``cc:sockets``, ``cc:held``, ``cc:requests``: entries waiting and entries read but not finished)
and the owner the database names, that is ``GET /api/cluster`` and the page ``/admin/cluster``.

Without Redis a node knows only itself. Nothing secret is written: names, counts and times.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from callcenter import __version__
from callcenter.aio import cancel_and_wait
from callcenter.errors import StorageError
from callcenter.streams import GROUP

log = logging.getLogger(__name__)

NODES = "cc:nodes"
BEACON_SECONDS = 5.0
SILENT_AFTER = 3 * BEACON_SECONDS
FORGOTTEN_AFTER = 24 * 3600.0
STREAMS = ("cc:sockets", "cc:held", "cc:requests")
READ_SECONDS = 2.0  # a page's read of Redis waits this long at most


@dataclass(frozen=True, slots=True)
class Beacon:
    """What a node says of itself."""

    node: str
    role: str  # "owner" or "follower"
    state: str  # "running" or "stopped"
    host: str
    pid: int
    version: str
    started_at: float
    seen_at: float
    sockets: dict[str, int] = field(default_factory=dict)  # namespace ("agent"...) -> sockets here


def parse(raw: str | bytes) -> Beacon:
    """ValueError: not a beacon of ours."""
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("not a beacon")
    sockets = data.get("sockets", {})
    if not isinstance(sockets, dict) or not all(isinstance(v, int) for v in sockets.values()):
        raise ValueError("not a beacon")
    try:
        return Beacon(
            str(data["node"]),
            str(data["role"]),
            str(data["state"]),
            str(data["host"]),
            int(data["pid"]),
            str(data["version"]),
            float(data["started_at"]),
            float(data["seen_at"]),
            {str(k): v for k, v in sockets.items()},
        )
    except (KeyError, TypeError) as err:
        raise ValueError("not a beacon") from err


def view(beacon: Beacon, now: float, owner: str | None) -> dict[str, Any]:
    """A beacon as the API shows it: ``state`` is "running", "stopped" or "silent" (no beacon for
    ``SILENT_AFTER``); ``owner_in_database``: the database names this node the routing owner."""
    state = beacon.state
    if state == "running" and now - beacon.seen_at > SILENT_AFTER:
        state = "silent"
    return {
        **asdict(beacon),
        "state": state,
        "seen_seconds_ago": max(0.0, round(now - beacon.seen_at, 1)),
        "owner_in_database": owner is not None and beacon.node == owner,
    }


class ThisNode:
    """What this node says of itself now."""

    def __init__(
        self,
        node: str,
        role: Callable[[], str],
        sockets: Callable[[], dict[str, int]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.node = node
        self._role = role
        self._sockets = sockets
        self._clock = clock
        self.started_at = clock()

    def role(self) -> str:
        return self._role()

    def now(self, state: str = "running") -> Beacon:
        return Beacon(
            self.node,
            self._role(),
            state,
            socket.gethostname(),
            os.getpid(),
            __version__,
            self.started_at,
            self._clock(),
            self._sockets(),
        )


class NodeBeacon:
    """This node's beacon in ``cc:nodes``, written every ``BEACON_SECONDS`` while it runs (and
    at once when its part changes) and once more, ``stopped``, when it stops."""

    def __init__(self, redis: Redis, this: ThisNode) -> None:
        self._redis = redis
        self._this = this
        self._task: asyncio.Task[None] | None = None

    async def write(self, state: str = "running") -> None:
        beacon = self._this.now(state)
        try:
            async with asyncio.timeout(READ_SECONDS):
                await self._redis.hset(NODES, beacon.node, json.dumps(asdict(beacon)))
        except (RedisError, TimeoutError) as err:
            log.warning("nodes.beacon_failed", extra={"error": type(err).__name__})

    async def start(self) -> None:
        await self.write()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)
        await self.write("stopped")

    async def _run(self) -> None:
        """Every ``BEACON_SECONDS``, and within a second of this node's part changing (won or
        lost the election)."""
        role, written = self._this.role(), time.monotonic()
        while True:
            await asyncio.sleep(1.0)
            now = self._this.role()
            if now != role or time.monotonic() - written >= BEACON_SECONDS:
                await self.write()
                role, written = now, time.monotonic()


async def read_beacons(redis: Redis, now: float) -> list[Beacon]:
    """Every node's last beacon, by name; beacons past ``FORGOTTEN_AFTER`` are deleted."""
    raw: Mapping[Any, Any] = await redis.hgetall(NODES)
    beacons: list[Beacon] = []
    gone: list[Any] = []  # fields to delete: forgotten beacons, and what is no beacon of ours
    for name, value in raw.items():
        try:
            beacon = parse(value)
        except ValueError:
            log.warning("nodes.bad_beacon")
            gone.append(name)
            continue
        if now - beacon.seen_at > FORGOTTEN_AFTER:
            gone.append(name)
        else:
            beacons.append(beacon)
    if gone:
        await redis.hdel(NODES, *gone)
    return sorted(beacons, key=lambda b: b.node)


async def read_streams(redis: Redis) -> list[dict[str, Any]]:
    """Each stream's entries (waiting or read and unfinished) and those read but not finished."""
    found = []
    for stream in STREAMS:
        length = int(await redis.xlen(stream))
        try:
            pending = await redis.xpending(stream, GROUP)
            unfinished = int(pending.get("pending", 0)) if isinstance(pending, dict) else 0
        except ResponseError:  # no group yet: no owner has read it
            unfinished = 0
        found.append({"name": stream, "entries": length, "unfinished": unfinished})
    return found


class ClusterReport:
    """``GET /api/cluster``: the nodes' beacons (this node's as it is now), the routing term the
    database holds (``term``: the last winner, its fencing token, since when; ``owner``: its node
    while the term runs), the streams' backlog; what could not be read is named in ``problems``."""

    def __init__(
        self,
        here: Callable[[], Beacon],
        term: Callable[[], Awaitable[tuple[str, int, float | None]]],
        redis: Redis | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._here = here
        self._term = term
        self._redis = redis
        self._clock = clock

    async def report(self) -> dict[str, Any]:
        now, problems = self._clock(), []
        here = self._here()
        owner: str | None = None
        term: dict[str, Any] | None = None
        try:
            name, token, since = await self._term()
        except StorageError:
            problems.append("database")
        else:
            owner = name if since is not None else None  # an ended term names nobody
            term = {"node": name, "token": token, "since": since} if name else None
        beacons, streams = [here], []
        if self._redis is not None:
            try:
                async with asyncio.timeout(READ_SECONDS):
                    stored = await read_beacons(self._redis, now)
                    streams = await read_streams(self._redis)
                beacons = [b for b in stored if b.node != here.node] + [here]
            except (RedisError, TimeoutError):
                problems.append("redis")
        return {
            "this_node": here.node,
            "owner": owner,
            "term": term,
            "shared": self._redis is not None,
            "nodes": [view(b, now, owner) for b in sorted(beacons, key=lambda b: b.node)],
            "streams": streams,
            "problems": problems,
        }

"""Nonces of signed pushes already used, for a while (WeChat: a signed query is not bound to its
body in plaintext mode, so a captured query must not be usable twice with another body).

A nonce is *claimed* with a digest of what came with it. The same nonce with the same digest again
is the provider's own retry (it resends a push it got no answer to): allowed. With another digest:
a replay, refused. A claim whose delivery could not be stored is *released*, so the provider's
retry is taken. In-process by default; in Redis (``SET NX PX``) when several nodes share one.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from callcenter.aio import within
from callcenter.storage.db import DatabaseError


class Nonces(Protocol):
    async def claim(self, key: str, digest: str, ttl: float) -> bool:
        """True: first use, or the same digest again; False: used with another digest."""
        ...

    async def release(self, key: str) -> None: ...


class LocalNonces:
    """One process's memory, oldest dropped first beyond ``limit`` entries."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, limit: int = 200_000) -> None:
        self._clock = clock
        self._limit = limit
        self._seen: OrderedDict[str, tuple[str, float]] = OrderedDict()

    async def claim(self, key: str, digest: str, ttl: float) -> bool:
        now = self._clock()
        while self._seen:
            oldest, (_, until) = next(iter(self._seen.items()))
            if until > now and len(self._seen) < self._limit:
                break
            del self._seen[oldest]
        found = self._seen.get(key)
        if found is not None and found[1] > now:
            return found[0] == digest
        self._seen[key] = (digest, now + ttl)
        return True

    async def release(self, key: str) -> None:
        self._seen.pop(key, None)


class RedisNonces:
    """Shared by every node. A Redis that is down or hangs: DatabaseError (the webhook answers
    503 and the provider retries), never a push let through unchecked."""

    PREFIX = "callcenter:nonce:"
    TIMEOUT = 2.0

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def claim(self, key: str, digest: str, ttl: float) -> bool:
        async def go() -> bool:
            name = self.PREFIX + key
            if await self._redis.set(name, digest, nx=True, px=max(1, int(ttl * 1000))):
                return True
            found = await self._redis.get(name)
            if isinstance(found, bytes):
                found = found.decode()
            return found is None or found == digest

        try:
            return await within(go(), self.TIMEOUT)
        except (RedisError, OSError, TimeoutError) as err:
            raise DatabaseError(f"cannot check the nonce in Redis: {type(err).__name__}") from err

    async def release(self, key: str) -> None:
        try:
            await within(self._redis.delete(self.PREFIX + key), self.TIMEOUT)
        except (RedisError, OSError, TimeoutError):
            pass  # it expires anyway

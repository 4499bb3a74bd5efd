"""Browser sessions and sign-in throttling (docs/security.md).

- A session is a random 256-bit value in the ``cc_session`` cookie; the database keeps its SHA-256,
  the user it belongs to, a CSRF token, when it was opened and when it was last used. A session
  ends at logout, after ``idle_minutes`` without a request, ``absolute_hours`` after sign-in, when
  its user is disabled or gets a new password. Signing in always opens a new session (the old one,
  if the browser had one, is closed): a value planted before sign-in is worth nothing after.
- Failed sign-ins are counted per username and per client address: after the free attempts, each
  further failure locks that key for twice as long as the last (capped); a quiet spell forgets.
  With ``realtime.redis_url`` (several nodes) the counts live in Redis, shared by every node, so
  spreading guesses over the nodes gains nothing; without it, in the process. If Redis cannot be
  reached, each node counts on its own until it can (sign-in keeps working, the log says so).

Time comes from an injected clock, so expiry and lockouts are tested without sleeping.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol, TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError, WatchError

from callcenter.accounts.model import SessionStore, StoredSession
from callcenter.aio import within
from callcenter.settings import LoginThrottleSettings, SessionSettings

log = logging.getLogger(__name__)
T = TypeVar("T")

COOKIE = "cc_session"
LOGIN_COOKIE = "cc_login"  # double-submit token of the sign-in form (there is no session yet)
# last_seen_at is written at most this often: not one database write per request.
TOUCH_EVERY = 60.0

Clock = Callable[[], float]


def new_token() -> str:
    return secrets.token_urlsafe(32)


def session_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def same_token(expected: str, presented: str | None) -> bool:
    if not expected or presented is None:  # no token was issued: nothing can match it
        return False
    return hmac.compare_digest(expected.encode(), presented.encode())


@dataclass(frozen=True, slots=True)
class OpenedSession:
    token: str  # the cookie's value (only the browser keeps it)
    csrf_token: str


class Sessions:
    def __init__(self, store: SessionStore, settings: SessionSettings, clock: Clock) -> None:
        self._store = store
        self._idle = settings.idle_minutes * 60
        self._absolute = settings.absolute_hours * 3600
        self.clock = clock
        self.max_age = int(self._absolute)

    async def open(self, user_id: int, client: str | None, replacing: str | None = None) -> OpenedSession:
        if replacing:
            await self._store.delete_session(session_key(replacing))
        opened = OpenedSession(new_token(), new_token())
        await self._store.add_session(
            session_key(opened.token), user_id, opened.csrf_token, self.clock(), client
        )
        return opened

    async def lookup(self, token: str) -> StoredSession | None:
        """The live session of this cookie value, or None (unknown, expired, user disabled)."""
        if not token or len(token) > 128:
            return None
        key = session_key(token)
        found = await self._store.session(key)
        if found is None:
            return None
        now = self.clock()
        expired = now - found.created_at >= self._absolute or now - found.last_seen_at >= self._idle
        if expired or found.user.disabled:
            await self._store.delete_session(key)
            return None
        if now - found.last_seen_at >= TOUCH_EVERY:
            await self._store.touch_session(key, now)
        return found

    async def close(self, token: str) -> None:
        await self._store.delete_session(session_key(token))

    async def sweep(self) -> int:
        """Delete expired sessions (they are refused anyway; this keeps the table small)."""
        now = self.clock()
        return await self._store.delete_sessions_before(
            created=now - self._absolute, last_seen=now - self._idle
        )


@dataclass(slots=True)
class _Count:
    failures: int = 0
    last_failure: float = 0.0
    locked_until: float = 0.0


Change = Callable[[_Count | None], _Count]


class _Counts(Protocol):
    """Where the counts are kept: this process, or Redis for every node."""

    async def read(self, keys: list[str]) -> list[_Count | None]: ...
    async def change(self, key: str, change: Change, keep_seconds: float) -> None: ...
    async def forget(self, key: str) -> None: ...


class _LocalCounts:
    MAX_KEYS = 100_000  # oldest entries are forgotten first: memory stays bounded under a flood

    def __init__(self) -> None:
        self._counts: OrderedDict[str, _Count] = OrderedDict()

    async def read(self, keys: list[str]) -> list[_Count | None]:
        return [self._counts.get(k) for k in keys]

    async def change(self, key: str, change: Change, keep_seconds: float) -> None:
        self._counts[key] = change(self._counts.pop(key, None))
        while len(self._counts) > self.MAX_KEYS:
            self._counts.popitem(last=False)

    async def forget(self, key: str) -> None:
        self._counts.pop(key, None)


class RedisCounts:
    """The counts in Redis: a hash per key that expires after a quiet spell (so memory is bounded
    there too). A change is a read-modify-write under WATCH, retried if another node changed the
    key in between: two nodes counting the same guess at once both count."""

    PREFIX = "callcenter:login-failures:"
    TIMEOUT = 2.0  # seconds: a Redis that hangs must not hold a sign-in up

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def read(self, keys: list[str]) -> list[_Count | None]:
        async def go() -> list[_Count | None]:
            async with self._redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.hgetall(self.PREFIX + key)
                return [_parse(raw) for raw in await pipe.execute()]

        return await within(go(), self.TIMEOUT)

    async def change(self, key: str, change: Change, keep_seconds: float) -> None:
        async def go() -> None:
            async with self._redis.pipeline() as pipe:
                while True:
                    try:
                        await pipe.watch(self.PREFIX + key)
                        count = change(_parse(await pipe.hgetall(self.PREFIX + key)))
                        pipe.multi()  # type: ignore[no-untyped-call]  # (untyped in redis-py)
                        pipe.hset(
                            self.PREFIX + key,
                            mapping={
                                "failures": count.failures,
                                "last_failure": repr(count.last_failure),
                                "locked_until": repr(count.locked_until),
                            },
                        )
                        pipe.pexpire(self.PREFIX + key, max(1, int(keep_seconds * 1000)))
                        await pipe.execute()
                        return
                    except WatchError:
                        continue  # another node counted in between: count again on top of it

        await within(go(), self.TIMEOUT)

    async def forget(self, key: str) -> None:
        await within(self._redis.delete(self.PREFIX + key), self.TIMEOUT)


def _parse(raw: Mapping[bytes | str, bytes | str]) -> _Count | None:
    if not raw:
        return None
    try:
        return _Count(int(raw[b"failures"]), float(raw[b"last_failure"]), float(raw[b"locked_until"]))
    except (KeyError, ValueError):
        return None  # not ours, or torn: start counting afresh


def _changing(key: str, change: Change, keep_seconds: float) -> Callable[[_Counts], Awaitable[None]]:
    return lambda store: store.change(key, change, keep_seconds)


class LoginThrottle:
    """Counts failed sign-ins per username and per client address (see the module header)."""

    def __init__(
        self, settings: LoginThrottleSettings, clock: Clock, shared: RedisCounts | None = None
    ) -> None:
        self._s = settings
        self.clock = clock
        self._local = _LocalCounts()
        self._shared = shared

    def _keys(self, username: str, address: str | None) -> list[tuple[str, int]]:
        keys = [(f"user:{username}", self._s.free_attempts_per_user)]
        if address:
            keys.append((f"address:{address}", self._s.free_attempts_per_address))
        return keys

    async def _on_counts(self, use: Callable[[_Counts], Awaitable[T]]) -> T:
        if self._shared is not None:
            try:
                return await use(self._shared)
            except (RedisError, OSError, TimeoutError) as err:
                # Counting on this node alone beats refusing every sign-in or not counting at all.
                log.warning("login_throttle.redis_unavailable", extra={"error": type(err).__name__})
        return await use(self._local)

    async def retry_after(self, username: str, address: str | None) -> float:
        """Seconds until a sign-in may be tried again (0: now)."""
        now = self.clock()
        keys = [k for k, _ in self._keys(username, address)]
        counts = await self._on_counts(lambda store: store.read(keys))
        return max([0.0, *(c.locked_until - now for c in counts if c is not None)])

    async def failed(self, username: str, address: str | None) -> None:
        now = self.clock()
        # Kept while it can still lock someone out, or still counts towards a lockout.
        keep = max(self._s.forget_after_seconds, self._s.max_lockout_seconds)
        for key, free in self._keys(username, address):
            await self._on_counts(_changing(key, functools.partial(self._one_more, now=now, free=free), keep))

    def _one_more(self, count: _Count | None, *, now: float, free: int) -> _Count:
        if count is None or now - count.last_failure >= self._s.forget_after_seconds:
            count = _Count()
        count.failures += 1
        count.last_failure = now
        over = count.failures - free
        if over > 0:
            lockout = self._s.first_lockout_seconds * 2 ** min(over - 1, 32)
            count.locked_until = now + min(lockout, self._s.max_lockout_seconds)
        return count

    async def succeeded(self, username: str) -> None:
        # Only the username's count: one valid account must not reset an address that guesses others.
        await self._on_counts(lambda store: store.forget(f"user:{username}"))

"""Browser sessions and sign-in throttling (docs/security.md).

- A session is a random 256-bit value in the ``cc_session`` cookie; the database keeps its SHA-256,
  the user it belongs to, a CSRF token, when it was opened and when it was last used. A session
  ends at logout, after ``idle_minutes`` without a request, ``absolute_hours`` after sign-in, when
  its user is disabled or gets a new password. Signing in always opens a new session (the old one,
  if the browser had one, is closed): a value planted before sign-in is worth nothing after.
- Failed sign-ins are counted per username and per client address: after the free attempts, each
  further failure locks that key for twice as long as the last (capped); a quiet spell forgets.
  The counts live in the process (a restart forgets them; several nodes count separately).

Time comes from an injected clock, so expiry and lockouts are tested without sleeping.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from callcenter.adapters.accounts_store import AccountStore, StoredSession
from callcenter.config import LoginThrottleSettings, SessionSettings

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
    def __init__(self, store: AccountStore, settings: SessionSettings, clock: Clock) -> None:
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


class LoginThrottle:
    """Counts failed sign-ins per username and per client address (see the module header)."""

    MAX_KEYS = 100_000  # oldest entries are forgotten first: memory stays bounded under a flood

    def __init__(self, settings: LoginThrottleSettings, clock: Clock) -> None:
        self._s = settings
        self.clock = clock
        self._counts: OrderedDict[tuple[str, str], _Count] = OrderedDict()

    def _keys(self, username: str, address: str | None) -> list[tuple[tuple[str, str], int]]:
        keys = [(("user", username), self._s.free_attempts_per_user)]
        if address:
            keys.append((("address", address), self._s.free_attempts_per_address))
        return keys

    def retry_after(self, username: str, address: str | None) -> float:
        """Seconds until a sign-in may be tried again (0: now)."""
        now = self.clock()
        wait = 0.0
        for key, _ in self._keys(username, address):
            count = self._counts.get(key)
            if count is not None:
                wait = max(wait, count.locked_until - now)
        return wait

    def failed(self, username: str, address: str | None) -> None:
        now = self.clock()
        for key, free in self._keys(username, address):
            count = self._counts.pop(key, None) or _Count()
            if now - count.last_failure >= self._s.forget_after_seconds:
                count = _Count()
            count.failures += 1
            count.last_failure = now
            over = count.failures - free
            if over > 0:
                lockout = self._s.first_lockout_seconds * 2 ** min(over - 1, 32)
                count.locked_until = now + min(lockout, self._s.max_lockout_seconds)
            self._counts[key] = count
        while len(self._counts) > self.MAX_KEYS:
            self._counts.popitem(last=False)

    def succeeded(self, username: str) -> None:
        # Only the username's count: one valid account must not reset an address that guesses others.
        self._counts.pop(("user", username), None)

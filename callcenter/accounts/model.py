"""Accounts: who may sign in, with which role and which business lines; password hashing.

Invariants:

- Passwords are kept only as argon2id hashes (``argon2-cffi``); a password is never logged, stored in
  clear or echoed.
- ``lines`` is ``None`` for "every business line"; an admin always has ``None``. A non-admin with a
  set of lines sees only data of those lines (docs/security.md, "Roles and business lines").
- An agent account names the ACD agent it acts as (``agent_id``, from the settings' ``agents``).
- Usernames are lower case (compared exactly; the sign-in form lower-cases what is typed).

Hashing is CPU-bound (tens of milliseconds by design): callers on the event loop run it in a thread.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from callcenter.settings.queues_file import LINE_PATTERN

ROLES = ("agent", "supervisor", "qa", "admin")
# The languages of the pages (callcenter/locale); an account without one gets its browser's.
LANGUAGES = ("en", "zh-CN")
PHONE_ROLES = ("agent", "supervisor", "admin")  # roles whose account may name an agent id (a phone)
USERNAME_PATTERN = r"^[a-z0-9][a-z0-9_.@-]{0,63}$"
MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # argon2 takes any length; this bounds the work one request can cause


class AccountError(ValueError):
    """An account change that is not valid; the message says why (shown to the admin), ``field``
    which field it is about (the admin page shows the message next to it), when it is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UnknownUser(AccountError):
    pass


class DuplicateUser(AccountError):
    pass


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    display_name: str
    role: str
    lines: frozenset[str] | None
    agent_id: str | None
    disabled: bool
    created_at: float
    updated_at: float
    language: str | None = None  # the pages' language (None: the browser's)


def check_language(language: str | None) -> str | None:
    if not language:
        return None
    if language not in LANGUAGES:
        raise AccountError(
            f"language must be one of {', '.join(LANGUAGES)} (or none: the browser's)", "language"
        )
    return language


def check_username(username: str) -> str:
    if not re.fullmatch(USERNAME_PATTERN, username):
        raise AccountError(
            "username must be 1 to 64 characters: lower-case letters, digits and _ . @ -, "
            "starting with a letter or digit",
            "username",
        )
    return username


def check_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise AccountError(f"password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters", "password")
    return password


def check_lines(lines: Iterable[str] | None) -> frozenset[str] | None:
    if lines is None:
        return None
    found = frozenset(line.strip() for line in lines if line.strip())
    for line in found:
        if not re.fullmatch(LINE_PATTERN, line):
            raise AccountError(
                f"business line {line[:40]!r}: 1 to 32 lower-case letters, digits, _ or -", "lines"
            )
    return found or None


def check_account(
    role: str, lines: frozenset[str] | None, agent_id: str | None, known_agents: Iterable[str]
) -> None:
    """The combination of role, lines and agent id is coherent (raises :class:`AccountError`)."""
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}", "role")
    if role == "admin" and lines is not None:
        raise AccountError("an admin sees every business line: give no lines", "lines")
    if role == "agent" and not agent_id:
        raise AccountError("an agent account needs agent_id (the ACD agent it acts as)", "agent_id")
    if agent_id and role not in PHONE_ROLES:
        raise AccountError("only agent, supervisor and admin accounts have an agent_id", "agent_id")
    # A supervisor's or admin's agent id is their desk phone (listen, whisper, barge ring it).
    if agent_id and agent_id not in set(known_agents):
        raise AccountError(f"agent_id {agent_id[:64]!r} is not an agent of the configuration", "agent_id")


class Passwords:
    """argon2id hashing with the library's defaults (RFC 9106 low-memory profile)."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        # Verified against when the user does not exist, so the answer takes as long either way.
        self._dummy = self._hasher.hash("no such user: a dummy password to spend the same time")

    def hash(self, password: str) -> str:
        return self._hasher.hash(check_password(password))

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches; ``stored_hash=None`` spends the time and answers False."""
        if len(password) > MAX_PASSWORD:  # never stored (hash refuses it): spend the time, say no
            stored_hash, password = None, password[:MAX_PASSWORD]
        try:
            return self._hasher.verify(stored_hash or self._dummy, password) and stored_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)


@dataclass(frozen=True, slots=True)
class StoredSession:
    key: str  # SHA-256 of the cookie value
    user: User
    csrf_token: str
    created_at: float
    last_seen_at: float


class SessionStore(Protocol):
    """Where browser sessions are kept (``adapters/accounts_store.py``'s ``AccountStore``)."""

    async def add_session(
        self, key: str, user_id: int, csrf_token: str, now: float, client: str | None
    ) -> None: ...

    async def session(self, key: str) -> StoredSession | None: ...

    async def touch_session(self, key: str, now: float) -> None: ...

    async def delete_session(self, key: str) -> None: ...

    async def delete_sessions_before(self, *, created: float, last_seen: float) -> int: ...


@dataclass(frozen=True, slots=True)
class AuditWrite:
    """One entry of the audit log, to write (``detail`` is JSON-able)."""

    at: float
    who: str
    role: str | None
    action: str
    target: str | None
    detail: Mapping[str, Any]
    client: str | None


class AuditStore(Protocol):
    """Where the audit log is written (``AccountStore`` too)."""

    async def add_audit(self, entry: AuditWrite) -> None: ...

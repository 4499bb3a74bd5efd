"""The account store (users, sessions, audit) against real SQLite and a real PostgreSQL 15."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callcenter.accounts.model import AuditWrite, DuplicateUser, UnknownUser
from callcenter.settings import SessionSettings
from callcenter.storage.accounts_store import AccountStore
from callcenter.storage.db import Database, DatabaseError
from callcenter.web.sessions import Sessions, session_key

NOW = 1_900_000_000.0


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AccountStore]:
    if request.param == "postgresql":
        url: str = request.getfixturevalue("postgres_url")
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'accounts.db'}"
    database = Database(url)
    await database.start()  # migrates
    await database.stop()
    s = AccountStore(url)
    await s.start()
    yield s
    await s.stop()


def name() -> str:
    return f"u{uuid.uuid4().hex[:10]}"


async def test_users_round_trip_and_unique_names(store: AccountStore) -> None:
    username = name()
    user = await store.add_user(
        username=username,
        display_name="Bea",
        role="supervisor",
        lines=frozenset({"billing", "sales"}),
        agent_id=None,
        password_hash="$argon2id$fake",
        now=NOW,
    )
    assert user.lines == {"billing", "sales"} and user.created_at == NOW and not user.disabled
    with pytest.raises(DuplicateUser):
        await store.add_user(
            username=username,
            display_name="",
            role="qa",
            lines=None,
            agent_id=None,
            password_hash="x",
            now=NOW,
        )
    found = await store.credentials(username)
    assert found is not None and found[0] == user and found[1] == "$argon2id$fake"
    assert await store.credentials(name()) is None
    changed = await store.update_user(user.id, NOW + 5, lines=None, role="qa")
    assert changed.lines is None and changed.role == "qa" and changed.updated_at == NOW + 5
    with pytest.raises(UnknownUser):
        await store.update_user(10**12, NOW, role="qa")
    assert username in [u.username for u in await store.users()]


async def test_sessions_expire_and_end_with_the_user(store: AccountStore) -> None:
    user = await store.add_user(
        username=name(),
        display_name="",
        role="qa",
        lines=None,
        agent_id=None,
        password_hash="x",
        now=NOW,
    )
    clock = [NOW]
    sessions = Sessions(store, SessionSettings(idle_minutes=10, absolute_hours=1), lambda: clock[0])
    opened = await sessions.open(user.id, "10.0.0.1")
    found = await sessions.lookup(opened.token)
    assert found is not None and found.user.id == user.id and found.csrf_token == opened.csrf_token
    assert await sessions.lookup("not-a-session") is None
    clock[0] += 10 * 60
    assert await sessions.lookup(opened.token) is None  # idle
    second = await sessions.open(user.id, None)
    third = await sessions.open(user.id, None, replacing=second.token)
    assert await sessions.lookup(second.token) is None  # rotated away
    await store.update_user(user.id, clock[0], disabled=True)
    assert await sessions.lookup(third.token) is None  # disabling ended it
    await store.update_user(user.id, clock[0], disabled=False)
    fourth = await sessions.open(user.id, None)
    clock[0] += 2 * 3600
    assert await sessions.sweep() >= 1
    assert await store.session(session_key(fourth.token)) is None


async def test_audit_filters(store: AccountStore) -> None:
    who = name()
    for n, action in enumerate(["user.created", "user.changed", "login.failed"]):
        await store.add_audit(AuditWrite(NOW + n, who, "admin", action, "x", {"n": n}, "::1"))
    entries = await store.audit(who=who)
    assert [e.action for e in entries] == ["login.failed", "user.changed", "user.created"]
    assert [e.detail["n"] for e in await store.audit(who=who, action="user.*")] == [1, 0]
    assert [e.action for e in await store.audit(who=who, since=NOW + 1, until=NOW + 2)] == ["user.changed"]
    assert len(await store.audit(who=who, limit=1)) == 1


async def test_calls_before_start_are_database_errors(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="not started"):
        await AccountStore(f"sqlite+aiosqlite:///{tmp_path}/x.db").users()

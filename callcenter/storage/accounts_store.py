"""Storage of accounts, browser sessions and the audit log (same database, its own engine).

Sessions are stored under the SHA-256 of the cookie's value: someone who reads the table cannot sign
in with what they read. Every SQLAlchemy or driver failure leaves as
:class:`~callcenter.storage.db.DatabaseError`; a second account with a taken username as
:class:`~callcenter.accounts.model.DuplicateUser`.

An account change is written with its audit row (``audit``: the row, given the changed user) in one
transaction: if the row cannot be written, :class:`~callcenter.errors.AuditUnavailable` leaves and
the change is rolled back with it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.accounts.model import AuditWrite, DuplicateUser, StoredSession, UnknownUser, User
from callcenter.aio import cancel_safe
from callcenter.errors import AuditUnavailable
from callcenter.storage import audit_chain
from callcenter.storage.db import DatabaseError, SessionStore
from callcenter.storage.db_models import AuditRow, SessionRow, UserRow

_UNSET: Any = object()
AuditOf = Callable[[User], AuditWrite]


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: float
    who: str
    role: str | None
    action: str
    target: str | None
    detail: Mapping[str, Any]
    client: str | None


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def _user(row: UserRow) -> User:
    return User(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        role=row.role,
        lines=None if row.lines is None else frozenset(row.lines),
        agent_id=row.agent_id,
        disabled=row.disabled,
        created_at=row.created_at.timestamp(),
        updated_at=row.updated_at.timestamp(),
        language=row.language,
    )


@cancel_safe
class AccountStore(SessionStore):
    _name = "account store"

    # --- users ------------------------------------------------------------------------------------
    async def add_user(
        self,
        *,
        username: str,
        display_name: str,
        role: str,
        lines: frozenset[str] | None,
        agent_id: str | None,
        password_hash: str,
        now: float,
        language: str | None = None,
        audit: AuditOf | None = None,
    ) -> User:
        row = UserRow(
            language=language,
            username=username,
            display_name=display_name,
            role=role,
            lines=None if lines is None else sorted(lines),
            agent_id=agent_id,
            password_hash=password_hash,
            disabled=False,
            created_at=_dt(now),
            updated_at=_dt(now),
        )
        try:
            async with self._transaction(f"add user {username!r}") as session:
                session.add(row)
                await session.flush()
                if audit is not None:
                    await _chain(session, audit(_user(row)))
        except DatabaseError as err:
            if isinstance(err.__cause__, IntegrityError):
                raise DuplicateUser(f"username {username!r} is taken") from err
            raise
        return _user(row)

    async def users(self) -> list[User]:
        async with self._transaction("list users") as session:
            return [_user(r) for r in await session.scalars(sa.select(UserRow).order_by(UserRow.username))]

    async def user(self, user_id: int) -> User:
        async with self._transaction(f"read user {user_id}") as session:
            row = await session.get(UserRow, user_id)
            if row is None:
                raise UnknownUser(f"no user {user_id}")
            return _user(row)

    async def credentials(self, username: str) -> tuple[User, str] | None:
        """The user of this name and their password hash (for signing in), or None."""
        query = sa.select(UserRow).where(UserRow.username == username)
        async with self._transaction("read credentials") as session:
            row = (await session.scalars(query)).first()
            return None if row is None else (_user(row), row.password_hash)

    async def by_username(self, username: str) -> User:
        found = await self.credentials(username)
        if found is None:
            raise UnknownUser(f"no user {username!r}")
        return found[0]

    async def update_user(
        self,
        user_id: int,
        now: float,
        *,
        display_name: str = _UNSET,
        role: str = _UNSET,
        lines: frozenset[str] | None = _UNSET,
        agent_id: str | None = _UNSET,
        disabled: bool = _UNSET,
        password_hash: str = _UNSET,
        language: str | None = _UNSET,
        keep_sessions: bool = False,
        audit: AuditOf | None = None,
    ) -> User:
        """Change the given fields. Disabling or a new password also ends the user's sessions
        (``keep_sessions``: not for a rehash of the same password at sign-in)."""
        async with self._transaction(f"update user {user_id}") as session:
            row = await session.get(UserRow, user_id)
            if row is None:
                raise UnknownUser(f"no user {user_id}")
            if display_name is not _UNSET:
                row.display_name = display_name
            if role is not _UNSET:
                row.role = role
            if lines is not _UNSET:
                row.lines = None if lines is None else sorted(lines)
            if agent_id is not _UNSET:
                row.agent_id = agent_id
            if disabled is not _UNSET:
                row.disabled = disabled
            if password_hash is not _UNSET:
                row.password_hash = password_hash
            if language is not _UNSET:
                row.language = language
            row.updated_at = _dt(now)
            if disabled is True or (password_hash is not _UNSET and not keep_sessions):
                await session.execute(sa.delete(SessionRow).where(SessionRow.user_id == user_id))
            await session.flush()
            user = _user(row)
            if audit is not None:
                await _chain(session, audit(user))
            return user

    # --- sessions ---------------------------------------------------------------------------------
    async def add_session(
        self, key: str, user_id: int, csrf_token: str, now: float, client: str | None
    ) -> None:
        async with self._transaction("open session") as session:
            session.add(
                SessionRow(
                    id=key,
                    user_id=user_id,
                    csrf_token=csrf_token,
                    created_at=_dt(now),
                    last_seen_at=_dt(now),
                    client=client,
                )
            )

    async def session(self, key: str) -> StoredSession | None:
        query = sa.select(SessionRow, UserRow).join(UserRow, UserRow.id == SessionRow.user_id)
        async with self._transaction("read session") as session:
            found = (await session.execute(query.where(SessionRow.id == key))).first()
            if found is None:
                return None
            s, u = found
            return StoredSession(
                key=s.id,
                user=_user(u),
                csrf_token=s.csrf_token,
                created_at=s.created_at.timestamp(),
                last_seen_at=s.last_seen_at.timestamp(),
            )

    async def touch_session(self, key: str, now: float) -> None:
        async with self._transaction("touch session") as session:
            await session.execute(
                sa.update(SessionRow).where(SessionRow.id == key).values(last_seen_at=_dt(now))
            )

    async def delete_session(self, key: str) -> None:
        async with self._transaction("close session") as session:
            await session.execute(sa.delete(SessionRow).where(SessionRow.id == key))

    async def delete_sessions_before(self, *, created: float, last_seen: float) -> int:
        """Remove sessions past their absolute or idle expiry; returns how many."""
        condition = sa.or_(SessionRow.created_at < _dt(created), SessionRow.last_seen_at < _dt(last_seen))
        async with self._transaction("expire sessions") as session:
            result = await session.execute(sa.delete(SessionRow).where(condition))
            return int(getattr(result, "rowcount", 0) or 0)

    # --- audit ------------------------------------------------------------------------------------
    async def add_audit(self, entry: AuditWrite) -> None:
        async with self._transaction(f"write audit {entry.action!r}") as session:
            await _chain(session, entry)

    async def audit(
        self,
        *,
        action: str | None = None,
        who: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        """Entries newest first, filtered by exact action (or prefix ``x.*``), who and time."""
        query = sa.select(AuditRow)
        if action is not None:
            if action.endswith(".*"):
                query = query.where(AuditRow.action.startswith(action[:-1], autoescape=True))
            else:
                query = query.where(AuditRow.action == action)
        if who is not None:
            query = query.where(AuditRow.who == who)
        if since is not None:
            query = query.where(AuditRow.at >= _dt(since))
        if until is not None:
            query = query.where(AuditRow.at < _dt(until))
        query = query.order_by(AuditRow.at.desc(), AuditRow.id.desc()).limit(max(1, min(limit, 1000)))
        async with self._transaction("read audit") as session:
            return [
                AuditEntry(r.id, r.at.timestamp(), r.who, r.role, r.action, r.target, r.detail, r.client)
                for r in await session.scalars(query)
            ]


async def _chain(session: AsyncSession, entry: AuditWrite) -> None:
    """Append ``entry`` to the chained ``audit`` table in the session's transaction."""
    row = {
        "at": _dt(entry.at),
        "who": entry.who,
        "role": entry.role,
        "action": entry.action,
        "target": entry.target,
        "detail": dict(entry.detail),
        "client": entry.client,
    }
    try:
        await audit_chain.append(await session.connection(), AuditRow, row)
    except (SQLAlchemyError, OSError) as err:
        raise AuditUnavailable(
            f"the audit log cannot be written ({entry.action} refused): {type(err).__name__}"
        ) from err

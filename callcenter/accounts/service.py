"""Account management shared by the web (``/api/users``, the admin page) and the command line:
validation, password hashing (in a thread: it is slow by design), storage and the audit entry.

A change and its audit entry are stored in one transaction (:class:`AccountStore` writes both):
when the entry cannot be written, :class:`~callcenter.errors.AuditUnavailable` leaves and the
account is as it was."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from typing import Any

from callcenter.accounts.audit import Audit
from callcenter.accounts.model import (
    PHONE_ROLES,
    AccountError,
    AuditWrite,
    Passwords,
    User,
    check_account,
    check_language,
    check_lines,
    check_password,
    check_username,
)
from callcenter.accounts.principal import Principal
from callcenter.storage.accounts_store import AccountStore

Who = Principal | str


def user_view(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "lines": None if user.lines is None else sorted(user.lines),
        "agent_id": user.agent_id,
        "disabled": user.disabled,
        "language": user.language,
        "created_at": user.created_at,
        "updated_at": user.updated_at,
    }


class Accounts:
    def __init__(
        self,
        store: AccountStore,
        audit: Audit,
        known_agents: Collection[str],
        clock: Callable[[], float],
        passwords: Passwords | None = None,
    ) -> None:
        self.store = store
        self.audit = audit
        self.known_agents = known_agents  # a live view: agents are added and removed at runtime
        self.clock = clock
        self.passwords = passwords or Passwords()

    async def create(
        self,
        by: Who,
        *,
        username: str,
        password: str,
        role: str,
        display_name: str = "",
        lines: Collection[str] | None = None,
        agent_id: str | None = None,
        language: str | None = None,
        client: str | None = None,
    ) -> User:
        username = check_username(username)
        language = check_language(language)
        checked_lines = check_lines(lines)
        check_account(role, checked_lines, agent_id or None, self.known_agents)
        check_password(password)
        password_hash = await asyncio.to_thread(self.passwords.hash, password)
        user = await self.store.add_user(
            username=username,
            display_name=display_name.strip()[:128] or username,
            role=role,
            lines=checked_lines,
            agent_id=agent_id or None,
            password_hash=password_hash,
            now=self.clock(),
            language=language,
            audit=lambda new: self.audit.entry(by, "user.created", new.username, _detail(new), client),
        )
        return user

    async def update(self, by: Who, user_id: int, changes: dict[str, Any], client: str | None = None) -> User:
        """Apply ``changes`` (display_name, role, lines, agent_id, disabled, password, language)."""
        current = await self.store.user(user_id)
        known = {"display_name", "role", "lines", "agent_id", "disabled", "password", "language"}
        unknown = set(changes) - known
        if unknown:
            raise AccountError(f"unknown fields: {', '.join(sorted(unknown))}")
        role = changes.get("role", current.role)
        lines = check_lines(changes["lines"]) if "lines" in changes else current.lines
        if role == "admin" and "lines" not in changes:
            lines = None
        agent_id = changes.get("agent_id", current.agent_id) or None
        if role not in PHONE_ROLES and "agent_id" not in changes:
            agent_id = None  # a QA account has no phone: a role change to qa drops it
        check_account(role, lines, agent_id, self.known_agents)
        fields: dict[str, Any] = {"role": role, "lines": lines, "agent_id": agent_id}
        if "display_name" in changes:
            fields["display_name"] = str(changes["display_name"]).strip()[:128] or current.username
        if "disabled" in changes:
            fields["disabled"] = bool(changes["disabled"])
        if "language" in changes:
            fields["language"] = check_language(changes["language"])
        if changes.get("password") is not None:
            check_password(changes["password"])
            fields["password_hash"] = await asyncio.to_thread(self.passwords.hash, changes["password"])
        action = (
            "user.disabled" if changes.get("disabled") is True and not current.disabled else "user.changed"
        )

        def entry(user: User) -> AuditWrite:
            detail = {k: v for k, v in _detail(user).items() if k in changes}
            if "password" in changes:
                detail["password"] = "changed"
            return self.audit.entry(by, action, user.username, detail, client)

        return await self.store.update_user(user_id, self.clock(), audit=entry, **fields)

    async def authenticate(self, username: str, password: str) -> User | None:
        """The user whose password this is, if enabled; None otherwise, in about the same time."""
        found = await self.store.credentials(username)
        stored = None if found is None else found[1]
        ok = await asyncio.to_thread(self.passwords.verify, stored, password)
        if not ok or found is None or found[0].disabled:
            return None
        user, stored_hash = found
        if self.passwords.needs_rehash(stored_hash):  # hashed with older parameters: upgrade it
            new_hash = await asyncio.to_thread(self.passwords.hash, password)
            await self.store.update_user(user.id, self.clock(), password_hash=new_hash, keep_sessions=True)
        return user


def _detail(user: User) -> dict[str, Any]:
    view = user_view(user)
    return {k: view[k] for k in ("display_name", "role", "lines", "agent_id", "disabled", "language")}

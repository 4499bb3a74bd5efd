"""Accounts and the audit log over HTTP (admin only): ``/api/users``, ``/api/audit``.

Bodies are validated with pydantic (unknown fields refused); errors are 400 (invalid), 404 (no such
user), 409 (username taken, or an admin locking themselves out).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from callcenter.accounts.model import MAX_PASSWORD, AccountError, DuplicateUser, UnknownUser, User
from callcenter.accounts.service import user_view
from callcenter.web.auth import PRINCIPAL, allow
from callcenter.web.http import error as _error
from callcenter.web.http import json_response as _json
from callcenter.web.http import read_json, read_query
from callcenter.web.openapi import doc
from callcenter.web.pages import ACCOUNTS

Role = Literal["agent", "supervisor", "qa", "admin"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NewUser(_Body):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(max_length=MAX_PASSWORD)
    role: Role
    display_name: str = Field("", max_length=128)
    lines: list[str] | None = Field(None, max_length=64)
    agent_id: str | None = Field(None, max_length=64)
    language: str | None = Field(None, max_length=16, description="en or zh-CN; null: the browser's")


class UserChanges(_Body):
    display_name: str | None = Field(None, max_length=128)
    role: Role | None = None
    lines: list[str] | None = Field(None, max_length=64)
    agent_id: str | None = Field(None, max_length=64)
    disabled: bool | None = None
    password: str | None = Field(None, max_length=MAX_PASSWORD)
    language: str | None = Field(None, max_length=16, description="en or zh-CN; null: the browser's")


class AuditQuery(BaseModel):
    action: str | None = Field(None, max_length=64, description="exact action, or a prefix such as user.*")
    user: str | None = Field(None, max_length=64, description="who did it (username, token name, cli:<user>)")
    since: str | None = Field(None, description="ISO 8601 with a time zone, or POSIX seconds (inclusive)")
    until: str | None = Field(None, description="ISO 8601 with a time zone, or POSIX seconds (exclusive)")
    limit: int = Field(100, ge=1, le=1000)


def _user_id(request: web.Request) -> int:
    raw = request.match_info["user_id"]
    if not raw.isdigit() or len(raw) > 18:
        raise web.HTTPNotFound(text='{"error": "no such user"}', content_type="application/json")
    return int(raw)


def lockout_problem(request: web.Request, user: User, changes: dict[str, Any]) -> str | None:
    """An admin may not disable or demote their own account (someone must be able to sign in)."""
    if request[PRINCIPAL].user_id != user.id:
        return None
    if changes.get("disabled") is True:
        return "you cannot disable your own account"
    if changes.get("role", "admin") != "admin":
        return "you cannot take the admin role from your own account"
    return None


@doc("Every account (no password hashes)")
@allow("admin")
async def list_users(request: web.Request) -> web.Response:
    users = await request.app[ACCOUNTS].store.users()
    return _json({"users": [user_view(u) for u in users]})


@doc("Create an account (201; audited)", body=NewUser, ok=201, errors=(409, 503))
@allow("admin")
async def create_user(request: web.Request) -> web.Response:
    body = await read_json(request, NewUser)
    try:
        user = await request.app[ACCOUNTS].create(
            request[PRINCIPAL],
            username=body.username,
            password=body.password,
            role=body.role,
            display_name=body.display_name,
            lines=body.lines,
            agent_id=body.agent_id,
            language=body.language,
            client=request.remote,
        )
    except DuplicateUser as err:
        return _error(409, str(err))
    except AccountError as err:
        return _error(400, str(err))
    return _json(user_view(user), 201)


@doc(
    "Change an account: display_name, role, lines (null: every line), agent_id, disabled,"
    " password, language (null: the browser's); disabling or a new password ends its sessions (audited)",
    body=UserChanges,
    errors=(404, 409, 503),
)
@allow("admin")
async def update_user(request: web.Request) -> web.Response:
    user_id = _user_id(request)
    body = await read_json(request, UserChanges)
    # null clears lines (every line) and agent_id; elsewhere it means "unchanged".
    changes = {
        k: v
        for k, v in body.model_dump(exclude_unset=True).items()
        if v is not None or k in ("lines", "agent_id", "language")
    }
    if not changes:
        return _error(400, "nothing to change")
    accounts = request.app[ACCOUNTS]
    try:
        current = await accounts.store.user(user_id)
        problem = lockout_problem(request, current, changes)
        if problem:
            return _error(409, problem)
        user = await accounts.update(request[PRINCIPAL], user_id, changes, request.remote)
    except UnknownUser as err:
        return _error(404, str(err))
    except AccountError as err:
        return _error(400, str(err))
    return _json(user_view(user))


def _time(raw: str | None, name: str) -> float | None:
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise web.HTTPBadRequest(
            text=f'{{"error": "{name} must be ISO 8601 with a time zone or POSIX seconds"}}',
            content_type="application/json",
        ) from None
    if parsed.tzinfo is None:
        raise web.HTTPBadRequest(
            text=f'{{"error": "{name} needs a time zone (e.g. 2026-11-22T10:00:00Z)"}}',
            content_type="application/json",
        )
    return parsed.timestamp()


@doc(
    "The audit log, newest first: sign-ins, logouts, account changes, forced agent states,"
    " customer merges, IVR flow saves",
    query=AuditQuery,
)
@allow("admin")
async def list_audit(request: web.Request) -> web.Response:
    q = read_query(request, AuditQuery)
    entries = await request.app[ACCOUNTS].store.audit(
        action=q.action or None,
        who=q.user or None,
        since=_time(q.since, "since"),
        until=_time(q.until, "until"),
        limit=q.limit,
    )
    return _json(
        {
            "entries": [
                {
                    "id": e.id,
                    "at": e.at,
                    "who": e.who,
                    "role": e.role,
                    "action": e.action,
                    "target": e.target,
                    "detail": dict(e.detail),
                    "client": e.client,
                }
                for e in entries
            ]
        }
    )


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/users", list_users)
    app.router.add_post("/api/users", create_user)
    app.router.add_patch("/api/users/{user_id}", update_user)
    app.router.add_get("/api/audit", list_audit)

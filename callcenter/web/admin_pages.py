"""The admin's page of accounts: list, create, change role, lines, agent, name, password, disable.

Built for hundreds of accounts: one searchable table (a row per account, filtered as the admin
types) and one edit form, for the account picked (``?edit=ID``). Agent ids and business lines are
picked from lists (the configured agents, by name; the queues' lines). Plain HTML forms (each with
the session's CSRF token, checked by the middleware), posted back here and answered with a redirect
(303) and a notice, or the page again with the problem next to its field and what was typed kept
(400/404/409).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from multidict import MultiDictProxy
from pydantic import Field

from callcenter.accounts.model import ROLES, AccountError, DuplicateUser, UnknownUser, User
from callcenter.web.api import DIRECTORY, SERVICE, queue_line
from callcenter.web.auth import PRINCIPAL, allow
from callcenter.web.openapi import doc
from callcenter.web.pages import ACCOUNTS, FORM, CsrfForm, add_nav, render, see_other
from callcenter.web.users_api import lockout_problem

NOTICES = {"created": "Account created.", "saved": "Changes saved."}


def _lines(raw: str) -> list[str] | None:
    found = [part.strip() for part in raw.split(",") if part.strip()]
    return found or None


def _draft(form: MultiDictProxy[Any]) -> dict[str, Any]:
    """What the admin typed, to fill the form again after a refusal (never the password)."""
    return {
        "username": _text(form, "username", 64),
        "display_name": _text(form, "display_name", 128),
        "role": _text(form, "role", 16),
        "lines": sorted(set(_checked_lines(form) or [])),
        "agent_id": _text(form, "agent_id", 64),
        "language": _text(form, "language", 16),
        "disabled": form.get("disabled") == "on",
    }


def _user_draft(user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "lines": sorted(user.lines or []),
        "agent_id": user.agent_id or "",
        "language": user.language or "",
        "disabled": user.disabled,
    }


async def _page(
    request: web.Request,
    *,
    error: str = "",
    status: int = 200,
    field: str | None = None,
    form: str = "",
    draft: dict[str, Any] | None = None,
    edit_id: int | None = None,
) -> web.Response:
    """The page; ``form`` ("new" or "edit") is the form a refusal is about: its ``field`` gets the
    message, and ``draft`` fills it again."""
    accounts = request.app[ACCOUNTS]
    users = await accounts.store.users()
    if edit_id is None and request.query.get("edit", "").isdigit():
        edit_id = int(request.query["edit"][:18])
    editing = next((u for u in users if u.id == edit_id), None)
    names = dict(request.app[DIRECTORY].names)
    linked = {u.agent_id: u.username for u in users if u.agent_id}
    engine = request.app[SERVICE].engine
    lines = {queue_line(engine, q) for q in engine.queue_names()}
    for u in users:
        lines |= set(u.lines or [])
    edit_draft = draft if form == "edit" and draft is not None else None
    if editing is not None and edit_draft is None:
        edit_draft = _user_draft(editing)
    return render(
        request,
        "admin_users.html",
        status=status,
        users=users,
        roles=ROLES,
        agents=[(a, names.get(a, a), linked.get(a)) for a in sorted(accounts.known_agents)],
        business_lines=sorted(line for line in lines if line),
        editing=editing,
        edit=edit_draft,
        new=draft if form == "new" and draft is not None else {},
        error=error,
        error_field=field or "",
        error_form=form,
        notice=NOTICES.get(request.query.get("done", ""), ""),
    )


def _text(form: MultiDictProxy[Any], name: str, limit: int = 1024) -> str:
    value = form.get(name, "")
    return value[:limit] if isinstance(value, str) else ""


def _checked_lines(form: MultiDictProxy[Any]) -> list[str] | None:
    """The business lines ticked (``line`` checkboxes) plus any typed (``lines``, comma-separated)."""
    ticked = [v[:64] for v in form.getall("line", [])[:200] if isinstance(v, str)]
    return _lines(",".join([*ticked, _text(form, "lines")]))


@doc("Accounts page (HTML)", content="text/html")
@allow("admin")
async def users_page(request: web.Request) -> web.Response:
    return await _page(request)


class NewUserForm(CsrfForm):
    username: str = Field(max_length=64)
    password: str
    role: str = Field(description="agent, supervisor, qa or admin")
    display_name: str = ""
    lines: str = Field("", description="business lines, comma-separated; empty: every line")
    line: list[str] = Field([], description="business lines ticked (one field each); with lines")
    agent_id: str = ""
    language: str = Field("", description="en or zh-CN; empty: the browser's")


class UserForm(CsrfForm):
    display_name: str = ""
    role: str = Field(description="agent, supervisor, qa or admin")
    lines: str = Field("", description="business lines, comma-separated; empty: every line")
    line: list[str] = Field([], description="business lines ticked (one field each); with lines")
    agent_id: str = ""
    disabled: str = Field("", description='"on" disables the account')
    language: str = Field("", description="en or zh-CN; empty: the browser's")
    password: str = Field("", description="a new password; empty: unchanged")


@doc(
    "Create an account from the page's form (csrf_token); 303 back to the page",
    body=NewUserForm,
    body_type=FORM,
    ok=303,
    content=None,
    errors=(400, 409, 503),
)
@allow("admin")
async def create_from_form(request: web.Request) -> web.Response:
    form = await request.post()
    try:
        await request.app[ACCOUNTS].create(
            request[PRINCIPAL],
            username=_text(form, "username", 64).strip().lower(),
            password=_text(form, "password", 1025),
            role=_text(form, "role", 16),
            display_name=_text(form, "display_name", 128),
            lines=_checked_lines(form),
            agent_id=_text(form, "agent_id", 64) or None,
            language=_text(form, "language", 16) or None,
            client=request.remote,
        )
    except DuplicateUser as err:
        return await _page(
            request, error=str(err), status=409, field="username", form="new", draft=_draft(form)
        )
    except AccountError as err:
        return await _page(
            request, error=str(err), status=400, field=err.field, form="new", draft=_draft(form)
        )
    return see_other("/admin/users?done=created")


@doc(
    "Change an account from the page's form (csrf_token); 303 back to the page",
    body=UserForm,
    body_type=FORM,
    ok=303,
    content=None,
    errors=(400, 404, 409, 503),
)
@allow("admin")
async def edit_from_form(request: web.Request) -> web.Response:
    raw_id = request.match_info["user_id"]
    if not raw_id.isdigit() or len(raw_id) > 18:
        return await _page(request, error="no such user", status=404)
    form = await request.post()
    changes: dict[str, Any] = {
        "display_name": _text(form, "display_name", 128),
        "role": _text(form, "role", 16),
        "lines": _checked_lines(form),
        "agent_id": _text(form, "agent_id", 64) or None,
        "disabled": form.get("disabled") == "on",
        "language": _text(form, "language", 16) or None,
    }
    if _text(form, "password", 1025):
        changes["password"] = _text(form, "password", 1025)
    accounts = request.app[ACCOUNTS]
    user_id = int(raw_id)
    try:
        current = await accounts.store.user(user_id)
        problem = lockout_problem(request, current, changes)
        if problem:
            field = "disabled" if changes["disabled"] else "role"
            return await _page(
                request,
                error=problem,
                status=409,
                field=field,
                form="edit",
                draft=_draft(form),
                edit_id=user_id,
            )
        await accounts.update(request[PRINCIPAL], user_id, changes, request.remote)
    except UnknownUser as err:
        return await _page(request, error=str(err), status=404)
    except AccountError as err:
        return await _page(
            request,
            error=str(err),
            status=400,
            field=err.field,
            form="edit",
            draft=_draft(form),
            edit_id=user_id,
        )
    return see_other("/admin/users?done=saved")


def setup_routes(app: web.Application) -> None:
    add_nav(app, "Users", "/admin/users", "admin")
    app.router.add_get("/admin/users", users_page)
    app.router.add_post("/admin/users", create_from_form)
    app.router.add_post("/admin/users/{user_id}", edit_from_form)

"""The admin's page of accounts: list, create, change role, lines, agent, name, password, disable.

Plain HTML forms (each with the session's CSRF token, checked by the middleware), posted back here
and answered with a redirect (303) and a notice, or the page again with the problem (400/409).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from multidict import MultiDictProxy
from pydantic import Field

from callcenter.accounts.model import ROLES, AccountError, DuplicateUser, UnknownUser
from callcenter.web.auth import PRINCIPAL, allow
from callcenter.web.openapi import doc
from callcenter.web.pages import ACCOUNTS, FORM, CsrfForm, add_nav, render, see_other
from callcenter.web.users_api import lockout_problem

NOTICES = {"created": "Account created.", "saved": "Changes saved."}


def _lines(raw: str) -> list[str] | None:
    found = [part.strip() for part in raw.split(",") if part.strip()]
    return found or None


async def _page(request: web.Request, *, error: str = "", status: int = 200) -> web.Response:
    accounts = request.app[ACCOUNTS]
    return render(
        request,
        "admin_users.html",
        status=status,
        users=await accounts.store.users(),
        roles=ROLES,
        agents=sorted(accounts.known_agents),
        error=error,
        notice=NOTICES.get(request.query.get("done", ""), ""),
    )


def _text(form: MultiDictProxy[Any], name: str, limit: int = 1024) -> str:
    value = form.get(name, "")
    return value[:limit] if isinstance(value, str) else ""


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
    agent_id: str = ""
    language: str = Field("", description="en or zh-CN; empty: the browser's")


class UserForm(CsrfForm):
    display_name: str = ""
    role: str = Field(description="agent, supervisor, qa or admin")
    lines: str = Field("", description="business lines, comma-separated; empty: every line")
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
            lines=_lines(_text(form, "lines")),
            agent_id=_text(form, "agent_id", 64) or None,
            language=_text(form, "language", 16) or None,
            client=request.remote,
        )
    except DuplicateUser as err:
        return await _page(request, error=str(err), status=409)
    except AccountError as err:
        return await _page(request, error=str(err), status=400)
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
        "lines": _lines(_text(form, "lines")),
        "agent_id": _text(form, "agent_id", 64) or None,
        "disabled": form.get("disabled") == "on",
        "language": _text(form, "language", 16) or None,
    }
    if _text(form, "password", 1025):
        changes["password"] = _text(form, "password", 1025)
    accounts = request.app[ACCOUNTS]
    try:
        current = await accounts.store.user(int(raw_id))
        problem = lockout_problem(request, current, changes)
        if problem:
            return await _page(request, error=problem, status=409)
        await accounts.update(request[PRINCIPAL], int(raw_id), changes, request.remote)
    except UnknownUser as err:
        return await _page(request, error=str(err), status=404)
    except AccountError as err:
        return await _page(request, error=str(err), status=400)
    return see_other("/admin/users?done=saved")


def setup_routes(app: web.Application) -> None:
    add_nav(app, "Users", "/admin/users", "admin")
    app.router.add_get("/admin/users", users_page)
    app.router.add_post("/admin/users", create_from_form)
    app.router.add_post("/admin/users/{user_id}", edit_from_form)

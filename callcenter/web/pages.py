"""Server-rendered pages: the shared layout, sign-in and sign-out, the home redirect, static files.

Other pages plug into the layout with :func:`render` (it adds the principal, the session's CSRF
token and the navigation of the principal's role) and :func:`add_nav` (an entry in the navigation,
shown to the roles given). Templates live in ``callcenter/web/templates`` (Jinja2, autoescaped),
assets in ``callcenter/web/static`` (served here with cache headers; no CDN).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from aiohttp import web
from pydantic import BaseModel, Field

from callcenter.accounts.model import MAX_PASSWORD
from callcenter.accounts.service import Accounts
from callcenter.settings import Settings
from callcenter.web import assets, i18n, widget
from callcenter.web.audit import AUDIT
from callcenter.web.auth import AUTH_KEY, PRINCIPAL, PUBLIC, ROLES, SESSION, allow
from callcenter.web.openapi import doc
from callcenter.web.sessions import COOKIE, LOGIN_COOKIE, LoginThrottle, new_token, same_token

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
STATIC_MAX_AGE = 3600


@dataclass(frozen=True, slots=True)
class NavItem:
    title: str
    path: str
    roles: frozenset[str]


ACCOUNTS = web.AppKey("accounts", Accounts)
THROTTLE = web.AppKey("login_throttle", LoginThrottle)
NAV = web.AppKey("nav", list[NavItem])
TEMPLATES = web.AppKey("templates", jinja2.Environment)
PAGE_SETTINGS = web.AppKey("page_settings", Settings)


def templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    # {% trans %} blocks' whitespace is normalised: the message ids stay one line however wrapped.
    env.policies["ext.i18n.trimmed"] = True
    env.globals["static"] = static_url
    i18n.install(env)
    return env


def static_url(name: str) -> str:
    """A page's asset by its versioned URL (``{{ static("app.js") }}``): cached for good, and a new
    URL when the file changes (web/assets.py)."""
    if widget.serves(name):
        path = widget.path_of(name)
    elif name.startswith("qa/"):
        path = STATIC_DIR / "qa" / name.removeprefix("qa/")
    else:
        path = STATIC_DIR / _VENDORED.get(name, name)
    return f"/static/{name}?v={assets.version(assets.load(path))}"


def language(request: web.Request) -> str:
    """The request's language: the account's choice, else the browser's (Accept-Language)."""
    principal = request.get(PRINCIPAL)
    chosen = i18n.known(principal.language) if principal is not None else None
    return chosen or i18n.negotiate(request.headers.get("Accept-Language"))


def tr(request: web.Request, message: str, **values: Any) -> str:
    """A message of Python code in the request's language (``%(name)s`` placeholders)."""
    text = i18n.gettext(language(request), message)
    return text % values if values else text


def add_nav(app: web.Application, title: str, path: str, *roles: str) -> None:
    """A navigation entry for these roles (in the order added; the first one is a role's home)."""
    if not roles or set(roles) - set(ROLES):
        raise ValueError(f"bad roles {roles}")
    app[NAV].append(NavItem(title, path, frozenset(roles)))


def nav_for(app: web.Application, role: str | None) -> list[NavItem]:
    return [item for item in app[NAV] if role in item.roles]


def render(
    request: web.Request, template: str, *, status: int = 200, connect: tuple[str, ...] = (), **context: Any
) -> web.Response:
    """The page; ``connect``: origins beyond this site's its scripts may open connections to (the
    softphone's WebSocket to Asterisk)."""
    principal = request.get(PRINCIPAL)
    session = request.get(SESSION)
    chosen = language(request)
    html = (
        request.app[TEMPLATES]
        .get_template(template)
        .render(
            principal=principal,
            csrf_token=session.csrf_token if session is not None else "",
            nav=nav_for(request.app, principal.role if principal else None),
            path=request.path,
            **i18n.context(chosen),
            **context,
        )
    )
    response = web.Response(text=html, status=status, content_type="text/html")
    response.headers["Content-Language"] = chosen
    response.headers["Vary"] = "Accept-Language, Cookie"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
        + (f"; connect-src 'self' {' '.join(connect)}" if connect else "")
    )
    return response


def see_other(location: str) -> web.Response:
    """A redirect after a form post (303: the browser follows with GET)."""
    return web.Response(status=303, headers={"Location": location, "Cache-Control": "no-store"})


def _secure(request: web.Request) -> bool:
    mode = request.app[PAGE_SETTINGS].security.sessions.cookie_secure
    return mode == "always" or (mode == "auto" and request.secure)


def _safe_next(raw: str | None) -> str:
    """Only a path of this site (no scheme, no host, not //evil): else the home page. Control
    characters (a CRLF would end the Location header and drop the connection) and over-long
    values also give the home page."""
    if not raw or not raw.startswith("/") or raw.startswith("//") or "\\" in raw:
        return "/"
    if len(raw) > 2048 or any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        return "/"
    parts = urlsplit(raw)
    return "/" if parts.scheme or parts.netloc else raw


def _login_form(
    request: web.Request, *, error: str = "", username: str = "", status: int = 200
) -> web.Response:
    token = request.cookies.get(LOGIN_COOKIE, "")
    if not re.fullmatch(r"[A-Za-z0-9_-]{43}", token):
        token = new_token()
    response = render(
        request,
        "login.html",
        status=status,
        error=error,
        username=username,
        login_token=token,
        next=_safe_next(request.query.get("next")),
    )
    response.set_cookie(
        LOGIN_COOKIE, token, httponly=True, samesite="Lax", secure=_secure(request), path="/login"
    )
    return response


FORM = "application/x-www-form-urlencoded"


class LoginForm(BaseModel):
    """The sign-in form's fields (read from the form by ``login``)."""

    username: str = Field(max_length=64)
    password: str
    login_token: str = Field(description="the form's token, from its cookie")
    next: str = Field("/", description="where to go after signing in (a local path)")


class CsrfForm(BaseModel):
    csrf_token: str = Field(description="the session's CSRF token")


@doc("The sign-in form (HTML)", content="text/html")
@allow(PUBLIC)
async def login_page(request: web.Request) -> web.Response:
    return _login_form(request)


@doc(
    "Sign in (form: username, password, login_token, next): 303 with the session cookie;"
    " 401 wrong username or password, 429 throttled (Retry-After), 403 form token missing,"
    " 503 the audit log cannot be written (no session)",
    body=LoginForm,
    body_type=FORM,
    ok=303,
    content=None,
    errors=(401, 403, 429, 503),
)
@allow(PUBLIC)
async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username = str(form.get("username", "")).strip().lower()[:64]
    password = str(form.get("password", ""))[: MAX_PASSWORD + 1]
    if not same_token(request.cookies.get(LOGIN_COOKIE, ""), str(form.get("login_token", ""))):
        return _login_form(request, error=tr(request, "The form expired. Please sign in again."), status=403)
    client = request.remote
    throttle, accounts, audit = request.app[THROTTLE], request.app[ACCOUNTS], request.app[AUDIT]
    wait = await throttle.retry_after(username, client)
    if wait > 0:
        # A refusal stands whether or not its row can be written (try_record logs a failed write).
        await audit.try_record(username or "(empty)", "login.throttled", username, {}, client)
        response = _login_form(
            request,
            error=tr(
                request,
                "Too many failed attempts. Try again in %(seconds)s seconds.",
                seconds=int(wait) + 1,
            ),
            username=username,
            status=429,
        )
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response
    user = await accounts.authenticate(username, password) if username and password else None
    if user is None:
        await throttle.failed(username, client)
        await audit.try_record(username or "(empty)", "login.failed", username, {}, client)
        return _login_form(
            request, error=tr(request, "Wrong username or password."), username=username, status=401
        )
    sessions = request.app[AUTH_KEY].sessions
    assert sessions is not None  # the accounts component sets it before serving
    # Audited first: no row, no session (AuditUnavailable: 503 from web.audit.refusals).
    await audit.record(user.username, "login.succeeded", user.username, {"role": user.role}, client)
    await throttle.succeeded(username)
    opened = await sessions.open(user.id, client, replacing=request.cookies.get(COOKIE))
    response = see_other(_safe_next(str(form.get("next", "/"))))
    response.set_cookie(
        COOKIE,
        opened.token,
        httponly=True,
        samesite="Lax",
        secure=_secure(request),
        path="/",
        max_age=sessions.max_age,
    )
    response.del_cookie(LOGIN_COOKIE, path="/login")
    return response


@doc(
    "Sign out (form field csrf_token): the session ends on the server; 303 to /login;"
    " 503 the audit log cannot be written (the session stays)",
    body=CsrfForm,
    body_type=FORM,
    ok=303,
    content=None,
    errors=(503,),
)
@allow(*ROLES)
async def logout(request: web.Request) -> web.StreamResponse:
    token = request.cookies.get(COOKIE)
    sessions = request.app[AUTH_KEY].sessions
    principal = request[PRINCIPAL]
    # Audited first: no row, the session stays (503; it still ends at its expiry).
    await request.app[AUDIT].record(principal, "logout", principal.name, {}, request.remote)
    if token and sessions is not None:
        await sessions.close(token)
    response = see_other("/login")
    response.del_cookie(COOKIE, path="/")
    return response


@doc("Home: redirects to the first page of the role", ok=303, content=None)
@allow(*ROLES)
async def home(request: web.Request) -> web.StreamResponse:
    """A role's first page; a role with no page yet gets the home page of the layout."""
    items = nav_for(request.app, request[PRINCIPAL].role)
    if items:
        raise web.HTTPSeeOther(items[0].path)
    return render(request, "home.html")


_STATIC_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*\.(css|js|svg|png|ico)$")


# Vendored libraries of the pages (not the widget's), by their name in the URL.
_VENDORED = {"jssip.min.js": "vendor/jssip.min.js"}  # its licence: vendor/jssip.LICENSE


@doc(
    "Stylesheets and scripts of the pages and the widget (widget.css, socket.io.min.js, jssip.min.js,"
    " the licence of socket.io)",
    content="text/plain",
    responses={304: "Not modified (ETag)"},
    errors=(404,),
)
@allow(PUBLIC)
async def static(request: web.Request) -> web.StreamResponse:
    """The pages' assets; the widget's own files (served to other sites too) are the widget's."""
    name = request.match_info["name"]
    if widget.serves(name):
        return await widget.static_file(request)
    path = STATIC_DIR / _VENDORED.get(name, name)
    if not _STATIC_NAME.match(name) or not path.is_file():
        raise web.HTTPNotFound(text="no such file")
    return assets.respond(request, assets.load(path), STATIC_MAX_AGE)


def setup_routes(app: web.Application, settings: Settings) -> None:
    i18n.load_all()  # a broken catalogue stops the start, not a page later
    app[TEMPLATES] = templates()
    app[NAV] = []
    app[PAGE_SETTINGS] = settings
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/", home)
    app.router.add_get("/static/{name}", static)

"""Who may call what: every route declares the roles it allows; a route that declares none is denied.

Callers authenticate with an API token from the configuration (``Authorization: Bearer``) or with a
browser session cookie (:mod:`callcenter.web.sessions`); both give the same :class:`Principal`.
A request authenticated by cookie that changes something (any method but GET, HEAD, OPTIONS) must
carry its session's CSRF token, in the ``X-CSRF-Token`` header or a ``csrf_token`` form field;
bearer-token calls need none (a browser never adds that header on its own).

Pages (paths outside ``/api/``, ``/webhooks/`` and the health and metrics endpoints) answer an
anonymous visitor with a redirect to ``/login`` instead of 401.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, Iterable
from http.cookies import CookieError, SimpleCookie
from urllib.parse import quote

from aiohttp import web

from callcenter.accounts.model import StoredSession
from callcenter.accounts.principal import Principal
from callcenter.errors import StorageError
from callcenter.settings import ApiToken
from callcenter.web.sessions import COOKIE, Sessions, same_token

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ROLES = ("agent", "supervisor", "qa", "admin")
# Roles of API tokens only (no account, no page): a CRM updating fields (docs/webhooks.md).
TOKEN_ROLES = ("crm",)
PUBLIC = "public"
_ATTR = "_callcenter_roles"


PRINCIPAL = web.RequestKey("principal", Principal)
SESSION = web.RequestKey("session", StoredSession)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"


def allow(*roles: str) -> Callable[[Handler], Handler]:
    """Declare the roles a handler accepts (``PUBLIC`` for no authentication)."""
    unknown = set(roles) - set(ROLES) - set(TOKEN_ROLES) - {PUBLIC}
    if unknown or not roles:
        raise ValueError(f"bad roles {sorted(unknown) or roles}")

    def mark(handler: Handler) -> Handler:
        setattr(handler, _ATTR, frozenset(roles))
        return handler

    return mark


def roles_of(handler: object) -> frozenset[str]:
    return frozenset(getattr(handler, _ATTR, frozenset()))


class TokenAuthenticator:
    def __init__(self, tokens: Iterable[ApiToken]) -> None:
        self._tokens = [(t.token.get_secret_value().encode(), t) for t in tokens]

    def authenticate(self, request: web.Request) -> Principal | None:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value:
            return None
        return self.principal(value.strip())

    def principal(self, presented_token: str) -> Principal | None:
        """Whose API token this is (HTTP bearer, or a socket's ``auth``), or None."""
        if not presented_token or len(presented_token) > 512:
            return None
        presented = presented_token.encode()
        found: ApiToken | None = None
        for secret, candidate in self._tokens:
            # Compare against every token so timing does not tell which one nearly matched.
            if hmac.compare_digest(secret, presented):
                found = candidate
        if found is None:
            return None
        lines = None if found.lines is None else frozenset(found.lines)
        return Principal(found.name, found.role, found.agent_id, lines)


def principal_of(session: StoredSession) -> Principal:
    user = session.user
    lines = None if user.role == "admin" else user.lines
    return Principal(user.username, user.role, user.agent_id, lines, user.id, user.language)


class Authenticator:
    """Bearer API tokens, and session cookies once ``sessions`` is set (the database is up)."""

    def __init__(self, tokens: Iterable[ApiToken]) -> None:
        self.tokens = TokenAuthenticator(tokens)
        self.sessions: Sessions | None = None

    async def session(self, token: str) -> StoredSession | None:
        if self.sessions is None or not token:
            return None
        try:
            return await self.sessions.lookup(token)
        except StorageError:
            raise web.HTTPServiceUnavailable(
                text='{"error": "sessions cannot be checked now"}', content_type="application/json"
            ) from None

    async def principal_from_cookie(self, cookie_header: str) -> Principal | None:
        """For the Socket.IO layer: the principal of a ``Cookie:`` header's session, or None."""
        try:
            cookies = SimpleCookie(cookie_header or "")
        except CookieError:
            return None
        morsel = cookies.get(COOKIE)
        if morsel is None:
            return None
        try:
            found = await self.session(morsel.value)
        except web.HTTPServiceUnavailable:
            return None
        return None if found is None else principal_of(found)


AUTH_KEY = web.AppKey("auth", Authenticator)
_FORBIDDEN_PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Not allowed</title>'
    '<link rel="stylesheet" href="/static/app.css"></head><body><main><section class="card">'
    '<h1>Not allowed</h1><p>Your role may not open this page. <a href="/">Home</a></p>'
    "</section></main></body></html>"
)


def is_page(path: str) -> bool:
    return not path.startswith(("/api/", "/webhooks/", "/static/")) and path not in ("/healthz", "/metrics")


async def _csrf_ok(request: web.Request, expected: str) -> bool:
    presented = request.headers.get(CSRF_HEADER)
    if presented is None and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        form = await request.post()  # cached: the handler reads it again for free
        field = form.get(CSRF_FIELD)
        presented = field if isinstance(field, str) else None
    return same_token(expected, presented)


def _json_error(
    cls: type[web.HTTPException], message: str, headers: dict[str, str] | None = None
) -> web.HTTPException:
    return cls(text=json.dumps({"error": message}), content_type="application/json", headers=headers)


def middleware(authenticator: Authenticator) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        route_handler = request.match_info.handler
        allowed = roles_of(route_handler)
        if isinstance(request.match_info.http_exception, web.HTTPException):
            return await handler(request)  # 404/405 from the router itself
        if PUBLIC in allowed:
            return await handler(request)
        principal: Principal | None = None
        session: StoredSession | None = None
        if "Authorization" in request.headers:
            # A bad token is refused; it never falls back to a cookie the browser also sent.
            principal = authenticator.tokens.authenticate(request)
        else:
            session = await authenticator.session(request.cookies.get(COOKIE, ""))
            principal = None if session is None else principal_of(session)
        if principal is None:
            if is_page(request.path) and request.method == "GET":
                raise web.HTTPSeeOther(f"/login?next={quote(request.path_qs, safe='')}")
            raise _json_error(web.HTTPUnauthorized, "authentication required", {"WWW-Authenticate": "Bearer"})
        if principal.role not in allowed:  # also covers routes that declared nothing
            if is_page(request.path) and request.method == "GET":
                raise web.HTTPForbidden(text=_FORBIDDEN_PAGE, content_type="text/html")
            raise _json_error(web.HTTPForbidden, "your role may not do this")
        if session is not None and request.method not in SAFE_METHODS:
            if not await _csrf_ok(request, session.csrf_token):
                raise _json_error(web.HTTPForbidden, "CSRF token missing or wrong")
        if session is not None:
            request[SESSION] = session
        request[PRINCIPAL] = principal
        return await handler(request)

    return check

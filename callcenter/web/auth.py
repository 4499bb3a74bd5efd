"""Who may call what: every route declares the roles it allows; a route that declares none is denied.

Today callers authenticate with API tokens from the configuration (``security.api_tokens``); the web
issue adds accounts and session cookies behind the same :class:`Principal`.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from aiohttp import web

from callcenter.config import ApiToken

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ROLES = ("agent", "supervisor", "qa", "admin")
PUBLIC = "public"
_ATTR = "_callcenter_roles"


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: str
    agent_id: str | None = None


PRINCIPAL = web.RequestKey("principal", Principal)


def allow(*roles: str) -> Callable[[Handler], Handler]:
    """Declare the roles a handler accepts (``PUBLIC`` for no authentication)."""
    unknown = set(roles) - set(ROLES) - {PUBLIC}
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
        presented = value.strip().encode()
        found: ApiToken | None = None
        for secret, token in self._tokens:
            # Compare against every token so timing does not tell which one nearly matched.
            if hmac.compare_digest(secret, presented):
                found = token
        if found is None:
            return None
        return Principal(found.name, found.role, found.agent_id)


def middleware(authenticator: TokenAuthenticator) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        route_handler = request.match_info.handler
        allowed = roles_of(route_handler)
        if isinstance(request.match_info.http_exception, web.HTTPException):
            return await handler(request)  # 404/405 from the router itself
        if PUBLIC in allowed:
            return await handler(request)
        principal = authenticator.authenticate(request)
        if principal is None:
            raise web.HTTPUnauthorized(
                text='{"error": "authentication required"}',
                content_type="application/json",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if principal.role not in allowed:  # also covers routes that declared nothing
            raise web.HTTPForbidden(
                text='{"error": "your role may not do this"}', content_type="application/json"
            )
        request[PRINCIPAL] = principal
        return await handler(request)

    return check

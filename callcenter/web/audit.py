"""The audit log seen from a request: ``record`` notes an action of the request's principal
(:class:`callcenter.accounts.audit.Audit` does the writing), and ``refusals`` answers an action whose
record cannot be written.

A handler calls ``record`` *before* its action takes effect (after the checks that can refuse it):
when the row cannot be written, :class:`~callcenter.errors.AuditUnavailable` leaves the handler with
nothing changed, and the ``refusals`` middleware — the one place that maps it — answers 503 (JSON on
the API, a short page on the pages and the sign-in form).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from callcenter.accounts.audit import Audit
from callcenter.accounts.principal import Principal
from callcenter.errors import AuditUnavailable
from callcenter.web.auth import PRINCIPAL, is_page

log = logging.getLogger(__name__)


AUDIT = web.AppKey("audit", Audit)
REFUSED = "The audit log cannot be written now, so this was not done. Try again later."
_REFUSED_PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Not done</title>'
    '<link rel="stylesheet" href="/static/app.css"></head><body><main><section class="card">'
    f'<h1>Not done</h1><p role="alert">{REFUSED}</p><p><a href="/">Home</a></p>'
    "</section></main></body></html>"
)


async def record(
    request: web.Request, action: str, target: str | None = None, detail: Mapping[str, Any] | None = None
) -> None:
    """Record an action of the request's principal, from its client address, before it happens:
    :class:`AuditUnavailable` when the row cannot be written (the action must then not happen)."""
    audit = request.app.get(AUDIT)
    principal = request.get(PRINCIPAL)
    who: Principal | str = principal if principal is not None else "anonymous"
    if audit is None:  # the accounts component is not started (never in a running server)
        log.error("audit.unavailable", extra={"action": action, "target": target})
        raise AuditUnavailable(f"no audit log ({action} refused)")
    await audit.record(who, action, target, detail, request.remote)


@web.middleware
async def refusals(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """503 for an action refused because its audit record cannot be written."""
    try:
        return await handler(request)
    except AuditUnavailable as err:
        log.warning("audit.action_refused", extra={"path": request.path, "detail": str(err)})
        headers = {"Retry-After": "30"}
        if is_page(request.path):
            return web.Response(status=503, text=_REFUSED_PAGE, content_type="text/html", headers=headers)
        return web.Response(
            status=503, text=json.dumps({"error": REFUSED}), content_type="application/json", headers=headers
        )

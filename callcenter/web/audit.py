"""The audit log seen from a request: ``record`` notes an action of the request's principal
(:class:`callcenter.audit.Audit` does the writing).

``record`` never fails the action it records: the action has happened by then. A write the
database refuses is logged (``audit.write_failed``, with the entry) instead.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from callcenter.audit import Audit
from callcenter.principal import Principal
from callcenter.web.auth import PRINCIPAL

log = logging.getLogger(__name__)


AUDIT = web.AppKey("audit", Audit)


async def record(
    request: web.Request, action: str, target: str | None = None, detail: Mapping[str, Any] | None = None
) -> None:
    """Record an action of the request's principal, from its client address."""
    audit = request.app.get(AUDIT)
    principal = request.get(PRINCIPAL)
    who: Principal | str = principal if principal is not None else "anonymous"
    if audit is None:  # the accounts component is not started (never in a running server)
        log.warning("audit.unavailable", extra={"action": action, "target": target})
        return
    await audit.record(who, action, target, detail, request.remote)

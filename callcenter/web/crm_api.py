"""CRM webhooks over HTTP (docs/webhooks.md): the subscriptions (never their secrets), the
delivery log with every attempt, and redelivering one. Admins only; every node answers from the
database, and a redelivery is sent by the routing owner."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal
from urllib.parse import urlsplit

from aiohttp import web
from pydantic import BaseModel, Field

from callcenter.crm.records import DeliveryLog, DeliveryRecord
from callcenter.errors import StorageError
from callcenter.web import api
from callcenter.web.audit import record
from callcenter.web.auth import allow
from callcenter.web.http import error, json_response, read_query
from callcenter.web.openapi import doc

log = logging.getLogger(__name__)
DELIVERIES = web.AppKey("webhook_deliveries", DeliveryLog)
# Set by the routing owner's sender: a redelivery made there is attempted at once.
Wake = Callable[[], None]
WAKE: web.AppKey[Wake] = web.AppKey("webhook_wake")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class DeliveriesQuery(BaseModel):
    state: Literal["pending", "delivered", "failed"] | None = None
    subscription: str | None = Field(None, max_length=40)
    event: str | None = Field(None, max_length=60)
    before: int | None = Field(None, ge=1, description="deliveries with a smaller id (the next page)")
    limit: int = Field(50, ge=1, le=500)


def _guarded(handler: Handler) -> Handler:
    """The database down: 503 (``wraps`` keeps roles and documentation)."""

    @functools.wraps(handler)
    async def run(request: web.Request) -> web.StreamResponse:
        if request.app.get(DELIVERIES) is None:
            return error(503, "the webhooks are not available")
        try:
            return await handler(request)
        except StorageError as err:
            log.warning("webhooks.database_error", extra={"error": str(err)})
            return error(503, "the webhooks are not available")

    return run


def _shown_url(url: str) -> str:
    """Scheme, host and path: a query or user info may hold a credential."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _time(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def _delivery(d: DeliveryRecord) -> dict[str, Any]:
    return {
        "id": d.id,
        "subscription": d.subscription,
        "event": d.event,
        "event_id": d.event_id,
        "created_at": _time(d.created_at),
        "state": d.state,
        "attempts": d.attempts,
        "next_attempt_at": _time(d.next_at),
        "last_status": d.last_status,
        "last_error": d.last_error,
        "finished_at": _time(d.finished_at),
        "log": [
            {"at": _time(a.at), "status": a.status, "error": a.error, "seconds": a.seconds} for a in d.log
        ],
    }


@doc("The CRM webhook subscriptions (their secrets are never shown)")
@allow("admin")
async def subscriptions(request: web.Request) -> web.Response:
    settings = request.app[api.SETTINGS].webhooks
    shown = [
        {"name": s.name, "url": _shown_url(s.url), "events": list(s.events)} for s in settings.subscriptions
    ]
    return json_response({
        "subscriptions": shown,
        "retry": {"max_attempts": settings.max_attempts, "min_delay": settings.retry_min_delay,
                  "max_delay": settings.retry_max_delay, "timeout": settings.timeout},
    })  # fmt: skip


@doc(
    "The delivery log: deliveries newest first, each with every attempt", query=DeliveriesQuery, errors=(503,)
)
@allow("admin")
async def deliveries(request: web.Request) -> web.Response:
    q = read_query(request, DeliveriesQuery)
    found = await request.app[DELIVERIES].find(
        state=q.state, subscription=q.subscription, event=q.event, before=q.before, limit=q.limit
    )
    return json_response({"deliveries": [_delivery(d) for d in found]})


@doc(
    "Send a delivery again with the same body and event id (a new round of attempts)",
    ok=202,
    errors=(404, 503),
    params={"delivery_id": "the delivery"},
)
@allow("admin")
async def redeliver(request: web.Request) -> web.Response:
    raw = request.match_info["delivery_id"]
    if not raw.isdigit():
        return error(404, "no such delivery")
    delivery_id, store = int(raw), request.app[DELIVERIES]
    found = await store.get(delivery_id)
    if found is None:
        return error(404, "no such delivery")
    detail = {"subscription": found.subscription, "event": found.event, "state": found.state}
    await record(request, "webhooks.redeliver", str(delivery_id), detail)
    if not await store.redeliver(delivery_id, time.time()):
        return error(404, "no such delivery")
    wake = request.app.get(WAKE)
    if wake is not None:
        wake()
    return json_response({"id": delivery_id, "state": "pending"}, status=202)


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/webhooks", subscriptions)
    app.router.add_get("/api/webhooks/deliveries", _guarded(deliveries))
    app.router.add_post("/api/webhooks/deliveries/{delivery_id}/redeliver", _guarded(redeliver))

"""CRM sync over HTTP (docs/webhooks.md): the webhook subscriptions (never their secrets), the
delivery log with every attempt and redelivering one (admins); and the inbound update API, a CRM's
token (role ``crm``, nothing else) updating a ticket's mapped fields, the last update winning by
its own timestamp. Every node answers from the database; a redelivery is sent by the owner."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, Field

from callcenter.core.omni import customer_crm
from callcenter.core.omni.customers import UnknownCustomer
from callcenter.core.webhooks import conflict
from callcenter.crm import mapping
from callcenter.crm.records import DeliveryLog, DeliveryRecord, FieldTimes
from callcenter.errors import StorageError
from callcenter.tickets.records import Actor
from callcenter.web import api
from callcenter.web.audit import record
from callcenter.web.auth import PRINCIPAL, allow
from callcenter.web.http import error, json_response, read_json, read_query
from callcenter.web.openapi import doc
from callcenter.web.pages import add_nav, render
from callcenter.web.tickets_api import TICKETS
from callcenter.web.webhooks import MESSAGING

log = logging.getLogger(__name__)
DELIVERIES = web.AppKey("webhook_deliveries", DeliveryLog)
# Set by the routing owner's sender: a redelivery made there is attempted at once.
Wake = Callable[[], None]
WAKE: web.AppKey[Wake] = web.AppKey("webhook_wake")
FIELD_TIMES = web.AppKey("crm_field_times", FieldTimes)
# Customer updates are applied on the routing owner one at a time: read the times, judge, change.
CUSTOMER_LOCK = web.AppKey("crm_customer_lock", asyncio.Lock)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class CrmUpdate(BaseModel):
    updated_at: AwareDatetime = Field(
        description="when the CRM made this change (its own clock): the last one wins"
    )
    fields: dict[str, Any] = Field(
        min_length=1, max_length=50, description="CRM field -> value (the mapping)"
    )


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


@doc(
    "A CRM updates a ticket's mapped fields; each field changes only if this update is newer than"
    " the value in force, else it is recorded as lost (the ticket's crm_updated event, audited)",
    body=CrmUpdate,
    errors=(404, 503),
    params={"ticket_id": "the ticket"},
)
@allow("crm")
async def update_ticket(request: web.Request) -> web.Response:
    tickets = request.app.get(TICKETS)
    if tickets is None:
        return error(503, "tickets are off: set tickets.workflow_file")
    body = await read_json(request, CrmUpdate)
    try:
        changes = mapping.ticket_changes(body.fields)
    except mapping.UnmappedFields as err:
        return error(400, str(err), fields=err.names)
    principal, ticket_id = request[PRINCIPAL], request.match_info["ticket_id"]
    try:
        found = await tickets.store.get(ticket_id)
        if found is None or not principal.may_see(found.line):
            return error(404, "no such ticket")
        actor = Actor(principal.name, principal.role, request.remote)
        ticket, event = await tickets.crm_update(ticket_id, changes, body.updated_at, actor)
    except LookupError:
        return error(404, "no such ticket")
    except StorageError as err:
        log.warning("crm.database_error", extra={"error": str(err)})
        return error(503, "the tickets are not available")
    if event.lost:
        log.info("crm.update_lost", extra={"ticket": ticket_id, "fields": sorted(event.lost)})
    return json_response({
        "ticket": ticket.id,
        "applied": {k: dict(v) for k, v in event.applied.items()},
        "lost": {k: dict(v) for k, v in event.lost.items()},
    })  # fmt: skip


@doc(
    "A CRM updates a customer's mapped attributes (on the routing owner); each changes only if this"
    " update is newer than the value in force, else it is recorded as lost (audited)",
    body=CrmUpdate,
    errors=(404, 409, 503),
    params={"customer_id": "the customer"},
)
@allow("crm")
async def update_customer(request: web.Request) -> web.Response:
    messaging = request.app[MESSAGING]  # a follower: KeyError, the request goes to the owner
    times, lock = request.app[FIELD_TIMES], request.app[CUSTOMER_LOCK]
    body = await read_json(request, CrmUpdate)
    try:
        changes = customer_crm.check(mapping.customer_changes(body.fields))
    except mapping.UnmappedFields as err:
        return error(400, str(err), fields=err.names)
    principal, customer_id = request[PRINCIPAL], request.match_info["customer_id"]
    async with lock:
        try:
            customer = messaging.customers.get(customer_id)
        except UnknownCustomer:
            return error(404, "no such customer")
        if not principal.may_see(customer.business_line):
            return error(404, "no such customer")
        if not customer.active:
            return error(409, f"{customer.id!r} was merged into {customer.merged_into!r}")
        try:
            in_force = await times.field_times("customer", customer.id)
        except StorageError:
            return error(503, "the customers are not available")
        created = datetime.fromtimestamp(customer.created_at, UTC)
        won, lost = conflict.judge(in_force, created, changes, body.updated_at)
        before = customer_crm.current(customer)
        applied = {k: {"before": before[k], "after": v} for k, v in won.items()}
        detail = {"source_at": body.updated_at.isoformat(), "applied": applied, "lost": lost}
        await record(request, "customer.crm_updated", customer.id, detail)  # before: no row, no change
        if won:
            messaging.customers.update(
                customer.id, time.time(), by=principal.name, **customer_crm.attributes(customer, won)
            )
            try:
                await messaging.save_customers({customer.id}, ())
                await times.set_field_times("customer", customer.id, sorted(won), body.updated_at)
            except StorageError as err:
                log.error("crm.customer_save_failed", extra={"detail": str(err)})
                return error(503, "changed, but not stored yet")
    if lost:
        log.info("crm.update_lost", extra={"customer": customer.id, "fields": sorted(lost)})
    return json_response({"customer": customer.id, "applied": applied, "lost": lost})


@doc("The delivery log page: deliveries with their attempts, filters, redelivery", content="text/html")
@allow("admin")
async def deliveries_page(request: web.Request) -> web.Response:
    return render(request, "admin_webhooks.html")


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/admin/webhooks", deliveries_page)
    add_nav(app, "Webhooks", "/admin/webhooks", "admin")
    app.router.add_patch("/api/crm/customers/{customer_id}", update_customer)
    app.router.add_patch("/api/crm/tickets/{ticket_id}", update_ticket)
    app.router.add_get("/api/webhooks", subscriptions)
    app.router.add_get("/api/webhooks/deliveries", _guarded(deliveries))
    app.router.add_post("/api/webhooks/deliveries/{delivery_id}/redeliver", _guarded(redeliver))

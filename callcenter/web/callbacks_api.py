"""Callbacks at a time the customer picks, over HTTP (docs/outbound.md, "Scheduled callbacks").

``POST /api/callbacks``: agents (from the panel), supervisors and admins file one for a queue's
callbacks campaign; the time without an offset is the customer's local time. A refusal is 422
with its reason and, outside the calling hours, the next opening in the customer's time. Listing
and cancelling: supervisors and admins, within their business lines (another line's callback is
404). Every change is audited first. The number is linked to its unified customer through the
routing owner's customer book: on a follower the request is forwarded to the owner (cluster.py).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import BaseModel, Field

from callcenter.core.omni.customers import Identity, IdentityKind
from callcenter.core.outbound.callbacks import local
from callcenter.errors import StorageError
from callcenter.outbound.callbacks import CallbackRefused, Callbacks, Filed, InvalidCallback, view
from callcenter.web import webhooks
from callcenter.web.audit import record
from callcenter.web.auth import PRINCIPAL, allow
from callcenter.web.http import error, json_response, read_json, read_query
from callcenter.web.openapi import doc

CALLBACKS = web.AppKey("callbacks", Callbacks)


class CallbackBody(BaseModel):
    queue: str = Field(min_length=1, max_length=64, description="the queue whose callbacks campaign calls")
    number: str = Field(min_length=3, max_length=32, description="the number to call, any format")
    at: datetime = Field(description="when; without an offset, the customer's local time")
    timezone: str | None = Field(None, max_length=64, description="IANA zone; default: the number's")
    note: str = Field("", max_length=500)


class ListQuery(BaseModel):
    pending: bool = Field(True, description="only callbacks still to be made")
    customer: str | None = Field(None, max_length=64, description="only this customer's")


def customer_lookup(app: web.Application) -> Any:
    """The customer whose phone identity the number is (the owner's customer book; KeyError on a
    follower: the request is forwarded to the owner)."""
    book = app[webhooks.MESSAGING].customers

    def find(number: str) -> str | None:
        owner = book.owner(Identity(IdentityKind.PHONE, number))
        return None if owner is None else owner.id

    return find


def refusal(err: CallbackRefused | InvalidCallback, tz: str | None = None) -> web.Response:
    if isinstance(err, InvalidCallback):
        return error(400, str(err), reason="invalid")
    opening = None
    if err.opening is not None and tz is not None:
        opening = local(err.opening, ZoneInfo(tz))
    return error(422, str(err), reason=err.reason.value, next_opening=opening)


def filed_view(f: Filed) -> dict[str, object]:
    return {
        "id": f.record_id,
        "campaign": f.campaign,
        "queue": f.queue,
        "number": f.number,
        "timezone": f.tz,
        "due_at": f.due_at,
        "local": f.local,
        "how": f.how,
    }


@doc(
    "File a callback at a time the customer picks (422: refused, with the reason and the next opening)",
    body=CallbackBody,
    errors=(400, 422),
)
@allow("agent", "supervisor", "admin")
async def file_callback(request: web.Request) -> web.Response:
    body = await read_json(request, CallbackBody)
    service, principal = request.app[CALLBACKS], request[PRINCIPAL]
    lookup = customer_lookup(request.app)  # first: a follower forwards before doing anything
    try:
        stored, _ = await service.campaign_for(body.queue)
    except InvalidCallback as err:
        return refusal(err)
    if not principal.may_see(stored.line):
        return error(
            400, f"queue {body.queue!r} has no callbacks campaign (callbacks: true)", reason="invalid"
        )
    await record(request, "callback.file", stored.name, {"queue": body.queue})
    source = "agent" if principal.role == "agent" else "api"
    try:
        tz = body.timezone or service.zone(service.read_number(body.number), None)
        filed = await service.file(
            queue=body.queue,
            number=body.number,
            when=body.at,
            tz=tz,
            source=source,
            by=principal.name,
            note=body.note,
            lookup=lookup,
        )
    except (CallbackRefused, InvalidCallback) as err:
        return refusal(err, None if isinstance(err, InvalidCallback) else tz)
    return json_response(filed_view(filed), 201)


@doc("Callbacks of the callbacks campaigns this principal may see, the soonest first", query=ListQuery)
@allow("supervisor", "admin")
async def list_callbacks(request: web.Request) -> web.Response:
    q = read_query(request, ListQuery)
    principal = request[PRINCIPAL]
    found = await request.app[CALLBACKS].list(
        pending_only=q.pending, customers=(q.customer,) if q.customer else (), lines=principal.may_see
    )
    return json_response({"callbacks": [view(r) for r in found]})


@doc("Cancel a pending callback (404: none such, or of another business line)", errors=(404,))
@allow("supervisor", "admin")
async def cancel_callback(request: web.Request) -> web.Response:
    try:
        record_id = int(request.match_info["callback_id"])
    except ValueError:
        return error(404, "no such pending callback")
    principal = request[PRINCIPAL]
    await record(request, "callback.cancel", str(record_id))
    cancelled = await request.app[CALLBACKS].cancel(record_id, principal.name, principal.may_see)
    if cancelled is None:
        return error(404, "no such pending callback")
    return json_response({"id": record_id, "cancelled": True})


async def callbacks_of(request: web.Request, customer_ids: Collection[str]) -> list[dict[str, Any]]:
    """The customers' scheduled callbacks (pending and done) as entries of their timeline
    (customers API), of the callbacks campaigns in the caller's lines; at: when it is due."""
    service = request.app.get(CALLBACKS)
    if service is None or not customer_ids:
        return []
    try:
        found = await service.list(
            pending_only=False, customers=sorted(customer_ids)[:50], lines=request[PRINCIPAL].may_see
        )
    except StorageError:
        return []  # the timeline still shows the rest
    return [{"kind": "callback", **view(r), "at": r.due_at} for r in found]


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/callbacks", file_callback)
    app.router.add_get("/api/callbacks", list_callbacks)
    app.router.add_post("/api/callbacks/{callback_id}/cancel", cancel_callback)

"""Customers and conversations over HTTP: a customer's record and timeline, attributes, explicit
merge and unmerge (audited with the caller's name), merge suggestions, and agents' replies.

Domain errors map to HTTP here: unknown customer or conversation 404, a merge the book refuses 409,
storage down 503 (a reply is accepted only once stored).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from aiohttp import web
from pydantic import BaseModel, Field

from callcenter.core.interaction import Channel, Interaction
from callcenter.core.omni import customer_crm
from callcenter.core.omni.conversations import Message
from callcenter.core.omni.customers import Customer, CustomerError, MergeRecord, UnknownCustomer
from callcenter.errors import StorageError
from callcenter.messaging.service import Messaging
from callcenter.web.api import SERVICE, queue_line
from callcenter.web.audit import record
from callcenter.web.auth import PRINCIPAL, allow
from callcenter.web.callbacks_api import callbacks_of
from callcenter.web.crm_api import FIELD_TIMES
from callcenter.web.http import error as _error
from callcenter.web.http import json_response as _json
from callcenter.web.http import read_json, read_object
from callcenter.web.openapi import doc
from callcenter.web.tickets_api import tickets_of
from callcenter.web.webhooks import messaging_of

log = logging.getLogger(__name__)
MAX_REPLY = 4096
_ATTRIBUTES = {"name": str, "vip": bool, "language": str, "business_line": str}
_SCOPED = "a user limited to business lines only for customers of theirs"


class CustomerAttributes(BaseModel):
    """What ``set_attributes`` accepts (it checks each key itself, to name the wrong one)."""

    name: str | None = Field(None, max_length=128)
    vip: bool | None = None
    language: str | None = Field(None, max_length=128)
    business_line: str | None = Field(None, max_length=128)
    tags: list[str] | None = Field(None, description="strings of 1 to 64 characters")


class MergeBody(BaseModel):
    into: str = Field(min_length=1, description="the customer this one is merged into")
    reason: str = Field(min_length=1, max_length=256)


class UnmergeBody(BaseModel):
    reason: str = Field(min_length=1, max_length=256)


class ReplyBody(BaseModel):
    body: str = Field(min_length=1, max_length=MAX_REPLY)


async def _save(messaging: Messaging, ids: set[str], merge: MergeRecord | None = None) -> None:
    try:
        await messaging.save_customers(ids, (merge,) if merge else ())
    except StorageError as err:
        # The change is made and audited in memory; it is written again with the next change.
        log.error("customer.save_failed", extra={"detail": str(err)})
        raise web.HTTPServiceUnavailable(
            text='{"error": "changed, but not stored yet"}', content_type="application/json"
        ) from err


def _out_of_lines(request: web.Request, *customers: Customer) -> web.Response | None:
    """A customer with a business line is seen only by principals of that line (docs/security.md).
    Customers without a line are everyone's: the line is set as a routing attribute, often late."""
    principal = request[PRINCIPAL]
    for c in customers:
        if c.business_line is not None and not principal.may_see(c.business_line):
            return _error(403, "this customer belongs to another business line")
    return None


def _named_customer(request: web.Request, find: Callable[[str], Customer]) -> Customer | web.Response:
    """The customer the route names, found with ``find``, or the answer to give instead (404, or
    403 when it belongs to another business line)."""
    try:
        customer = find(request.match_info["customer_id"])
    except UnknownCustomer as err:
        return _error(404, str(err))
    return _out_of_lines(request, customer) or customer


def customer_view(c: Customer) -> dict[str, Any]:
    return {
        "id": c.id,
        "created_at": c.created_at,
        "identities": [{"kind": i.kind.value, "value": i.value} for i in sorted(c.identities)],
        "name": c.name,
        "vip": c.vip,
        "language": c.language,
        "business_line": c.business_line,
        "tags": sorted(c.tags),
        "merged_into": c.merged_into,
    }


def message_view(m: Message) -> dict[str, Any]:
    data = asdict(m)
    data["media"] = [asdict(x) for x in m.media]
    return data


@doc(
    "A customer (followed to the one it was merged into): identities, attributes, the customers"
    " merged into it, merge suggestions, the timeline of every channel",
    errors=(404, 503),
    who=_SCOPED,
)
@allow("agent", "supervisor", "admin")
async def get_customer(request: web.Request) -> web.Response:
    messaging = messaging_of(request)
    customer = _named_customer(request, messaging.customers.current)
    if isinstance(customer, web.Response):
        return customer
    members = messaging.customers.members(customer.id)
    timeline = [{"kind": "message", **message_view(m)} for m in messaging.conversations.timeline(members)]
    calls = await _calls_of(request, members)
    timeline += [call_view(i) for i in calls]
    timeline += await tickets_of(request, members)
    timeline += await callbacks_of(request, members)
    timeline.sort(key=lambda entry: (entry["at"], str(entry["id"])))
    return _json(
        {
            **customer_view(customer),
            "members": sorted(members),
            "suggestions": [
                {"identity": str(s.identity), "other": s.other, "reason": s.reason}
                for s in messaging.customers.suggestions
                if s.customer_id in members or s.other in members
            ],
            "timeline": timeline,
        }
    )


@runtime_checkable
class _CustomerInteractions(Protocol):
    async def interactions_of_customers(
        self, customer_ids: Collection[str], limit: int = 100
    ) -> list[Interaction]: ...


async def _calls_of(request: web.Request, members: Collection[str]) -> list[Interaction]:
    """The customer's calls, live and stored (conversations are in the timeline as messages)."""
    service = request.app[SERVICE]
    found: dict[str, Interaction] = {}
    store = service.store
    if isinstance(store, _CustomerInteractions):
        try:
            for i in await store.interactions_of_customers(members):
                found[i.id] = i
        except StorageError:
            pass  # the timeline still shows the messages and live calls
    for i in service.engine.interactions.values():
        if i.customer_id in members:
            found[i.id] = i
    return [i for i in found.values() if i.channel == Channel.VOICE]


def call_view(i: Interaction) -> dict[str, Any]:
    """A call in a customer's timeline: the IVR's choice, queue, agent, outcome, times."""
    return {
        "kind": "call",
        "id": i.id,
        "at": i.started_at,
        "channel": i.channel.value,
        "caller_number": i.caller_number,
        "ivr_choice": i.ivr_choice,
        "queue": i.queue,
        "agent_id": i.agent_id,
        "outcome": i.outcome.value if i.outcome is not None else None,
        "wait_seconds": i.wait_seconds,
        "talk_seconds": i.talk_seconds,
        "live": i.outcome is None,
    }


@doc(
    "Set routing attributes: name, vip, language, business_line, tags (audited)",
    body=CustomerAttributes,
    errors=(404, 409, 503),
    who=_SCOPED,
)
@allow("supervisor", "admin")
async def set_attributes(request: web.Request) -> web.Response:
    body = await read_object(request)
    changes: dict[str, object] = {}
    for key, value in body.items():
        if key == "tags":
            if not isinstance(value, list) or not all(isinstance(t, str) and 0 < len(t) <= 64 for t in value):
                return _error(400, "tags must be a list of strings of 1 to 64 characters")
            changes["tags"] = frozenset(value)
        elif key in _ATTRIBUTES:
            ok = isinstance(value, _ATTRIBUTES[key]) or (
                value is None and key in ("language", "business_line")
            )
            if not ok or (isinstance(value, str) and len(value) > 128):
                return _error(400, f"{key} has the wrong type or is too long")
            changes[key] = value
        else:
            return _error(400, f"unknown attribute {key[:32]!r}")
    if not changes:
        return _error(400, "nothing to change")
    messaging = messaging_of(request)
    current = _named_customer(request, messaging.customers.get)
    if isinstance(current, web.Response):
        return current
    if "business_line" in changes and not request[PRINCIPAL].may_see(
        changes["business_line"]  # type: ignore[arg-type]
    ):
        return _error(403, "you cannot move a customer to a business line you do not see")
    if not current.active:  # the core's refusal, checked before the audit row is written
        return _error(409, f"{current.id!r} was merged into {current.merged_into!r}")
    # Audited before the change: no row, no change (AuditUnavailable: 503).
    await record(request, "customer.changed", current.id, {k: str(v) for k, v in changes.items()})
    try:
        customer = messaging.customers.update(
            request.match_info["customer_id"], messaging.clock(), by=request[PRINCIPAL].name, **changes
        )
    except UnknownCustomer as err:
        return _error(404, str(err))
    except CustomerError as err:
        return _error(409, str(err))
    await _save(messaging, {customer.id})
    await _mark_for_crm(request, customer.id, changes, current)
    return _json(customer_view(customer))


async def _mark_for_crm(
    request: web.Request, customer_id: str, changes: dict[str, object], before: Customer
) -> None:
    """Our edit counts for the CRM's conflict rule (docs/webhooks.md): an update older than it loses."""
    fields: list[str] = [f for f in ("name", "vip", "language") if f in changes]
    if "tags" in changes and customer_crm.current(before)["tier"] != _tier(changes["tags"]):
        fields.append("tier")
    times = request.app.get(FIELD_TIMES)
    if times is None or not fields:
        return
    try:
        await times.set_field_times("customer", customer_id, fields, datetime.now(UTC))
    except StorageError as err:  # the change stands; a CRM update older than it may still win
        log.warning("crm.field_times_failed", extra={"detail": str(err)})


def _tier(tags: object) -> str | None:
    found = sorted(
        t[len(customer_crm.TIER_TAG) :]
        for t in (tags if isinstance(tags, frozenset) else ())
        if isinstance(t, str) and t.startswith(customer_crm.TIER_TAG)
    )
    return found[0] if found else None


@doc(
    "Merge this customer into another; audited, reversible",
    body=MergeBody,
    errors=(404, 409, 503),
    who=_SCOPED,
)
@allow("supervisor", "admin")
async def merge(request: web.Request) -> web.Response:
    body = await read_json(request, MergeBody)
    target, reason = body.into, body.reason
    messaging = messaging_of(request)
    by = request[PRINCIPAL].name
    try:
        source = messaging.customers.get(request.match_info["customer_id"])
        denied = _out_of_lines(request, source, messaging.customers.get(target))
    except UnknownCustomer as err:
        return _error(404, str(err))
    if denied is not None:
        return denied
    if source.id == target:  # the core's refusals, checked before the audit row is written
        return _error(409, "a customer cannot be merged into itself")
    if not source.active or not messaging.customers.get(target).active:
        return _error(409, "only active customers can be merged")
    merge_id = messaging.ids()
    # Audited before the merge: no row, no merge (AuditUnavailable: 503).
    detail = {"into": target, "merge_id": merge_id, "reason": reason}
    await record(request, "customer.merged", source.id, detail)
    try:
        merged = messaging.customers.merge(
            source.id,
            target,
            messaging.clock(),
            merge_id=merge_id,
            by=by,
            reason=reason,
        )
    except UnknownCustomer as err:
        return _error(404, str(err))
    except CustomerError as err:
        return _error(409, str(err))
    await _save(messaging, {merged.source.id, target}, merged)
    log.info("customer.merged", extra={"merge": merged.id, "by": by})
    return _json({"merge_id": merged.id, "customer": customer_view(messaging.customers.get(target))})


@doc("Undo a merge exactly; audited", body=UnmergeBody, errors=(404, 409, 503), who=_SCOPED)
@allow("supervisor", "admin")
async def unmerge(request: web.Request) -> web.Response:
    reason = (await read_json(request, UnmergeBody)).reason
    messaging = messaging_of(request)
    merge_id = request.match_info["merge_id"]
    try:
        pending = messaging.customers.merge_record(merge_id)
        denied = _out_of_lines(request, pending.source, messaging.customers.get(pending.target_id))
    except (CustomerError, UnknownCustomer) as err:
        return _error(404, str(err))
    if denied is not None:
        return denied
    if pending.undone:  # the core's refusal, checked before the audit row is written
        return _error(409, f"merge {merge_id!r} is already undone")
    by = request[PRINCIPAL].name
    # Audited before the unmerge: no row, no unmerge (AuditUnavailable: 503).
    await record(request, "customer.unmerged", pending.source.id, {"merge_id": merge_id, "reason": reason})
    try:
        restored = messaging.customers.unmerge(merge_id, messaging.clock(), by=by, reason=reason)
    except CustomerError as err:
        return _error(409, str(err))
    undone = messaging.customers.merge_record(merge_id)
    await _save(messaging, {undone.source.id, undone.target_id}, undone)
    log.info("customer.unmerged", extra={"merge": merge_id, "by": by})
    return _json({"customer": customer_view(restored)})


@doc("Possible merges for a person to decide (weak or shareable links)", who=_SCOPED)
@allow("supervisor", "admin")
async def suggestions(request: web.Request) -> web.Response:
    book = messaging_of(request).customers
    principal = request[PRINCIPAL]

    def visible(customer_id: str | None) -> bool:
        if customer_id is None:
            return True
        line = book.get(customer_id).business_line
        return line is None or principal.may_see(line)

    return _json(
        {
            "suggestions": [
                {
                    "customer_id": s.customer_id,
                    "identity": str(s.identity),
                    "other": s.other,
                    "reason": s.reason,
                }
                for s in book.suggestions
                if book.get(s.customer_id).active
                and (s.other is None or book.get(s.other).active)
                and visible(s.customer_id)
                and visible(s.other)
            ]
        }
    )


def _may_reply(request: web.Request, conversation_id: str, customer: Customer | None) -> web.Response | None:
    """A reply belongs to the conversation's holder, the agent its live interaction is with, or
    to a supervisor (admin) of the conversation's line: the line of its interaction's queue, else
    its customer's. A scoped supervisor may not reply where there is no line (deny by default)."""
    principal = request[PRINCIPAL]
    engine = request.app[SERVICE].engine
    live = next(
        (i for i in engine.interactions.values() if i.is_messaging and i.conversation_id == conversation_id),
        None,
    )
    if principal.role == "agent":
        if live is None or principal.agent_id is None or live.agent_id != principal.agent_id:
            return _error(403, "only the agent holding this conversation may reply")
        return None
    if principal.lines is None:
        return None
    line = queue_line(engine, live.queue) if live is not None else None
    if line is None and customer is not None:
        line = customer.business_line
    if not principal.may_see(line):
        return _error(403, "this conversation belongs to another business line")
    return None


@doc(
    "Queue a reply (202): stored, then sent by the outbox with retries",
    body=ReplyBody,
    ok=202,
    errors=(404, 503),
    who=_SCOPED,
)
@allow("agent", "supervisor", "admin")
async def reply(request: web.Request) -> web.Response:
    text = (await read_json(request, ReplyBody)).body
    messaging = messaging_of(request)
    conversation_id = request.match_info["conversation_id"]
    conversation = messaging.conversations.conversations.get(conversation_id)
    if conversation is None:
        return _error(404, "no such conversation")
    try:
        customer: Customer | None = messaging.customers.current(conversation.customer_id)
    except UnknownCustomer:
        customer = None  # a conversation whose customer is unknown has no line to hide behind
    denied = (_out_of_lines(request, customer) if customer is not None else None) or _may_reply(
        request, conversation_id, customer
    )
    if denied is not None:
        return denied
    try:
        message = await messaging.reply(conversation_id, text)
    except StorageError:
        return _error(503, "cannot store the reply now; it was not accepted")
    return _json(message_view(message), 202)


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/customer-suggestions", suggestions)
    app.router.add_get("/api/customers/{customer_id}", get_customer)
    app.router.add_post("/api/customers/{customer_id}/attributes", set_attributes)
    app.router.add_post("/api/customers/{customer_id}/merge", merge)
    app.router.add_post("/api/customer-merges/{merge_id}/undo", unmerge)
    app.router.add_post("/api/conversations/{conversation_id}/reply", reply)

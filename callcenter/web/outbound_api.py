"""Outbound campaigns over HTTP (docs/outbound.md): definitions, lists, the do-not-call list,
start / pause / stop, progress and the dialler's decisions.

Supervisors and admins only; a supervisor scoped to business lines sees, imports and runs only
campaigns of those lines (another line's campaign is 404, as if it did not exist). Every change is
audited before it is made. Lists may come here as CSV text in JSON (up to the body limit); larger
lists go through ``callcenter campaign import``. A list import links each number to the customer
it belongs to, which the routing owner's customer book knows: on a follower the request is
forwarded to the owner (cluster.py).
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from callcenter.core.omni.customers import Identity, IdentityKind
from callcenter.core.outbound.campaign import CampaignMove, IllegalCampaignMove
from callcenter.outbound.definitions import NAME_PATTERN
from callcenter.outbound.lists import CustomerLookup, ListError
from callcenter.outbound.service import Campaigns, ConfigError, UnknownCampaign, describe
from callcenter.web import webhooks
from callcenter.web.audit import record
from callcenter.web.auth import PRINCIPAL, allow
from callcenter.web.http import error, json_response, read_json, read_query
from callcenter.web.openapi import doc
from callcenter.web.pages import add_nav, render

CAMPAIGNS = web.AppKey("campaigns", Campaigns)
_NAME = re.compile(NAME_PATTERN)


class CampaignsText(BaseModel):
    yaml: str = Field(min_length=1, max_length=512 * 1024, description="a campaigns file (docs/outbound.md)")


class ListText(BaseModel):
    csv: str = Field(min_length=1, description="CSV with a header: number, timezone, email, other columns")
    source: str = Field("list.csv", max_length=128, pattern=r"^[\w.-]+$", description="named in errors")


class DncBody(BaseModel):
    numbers: list[str] = Field(default_factory=list, max_length=10000, description="numbers, any format")
    csv: str | None = Field(None, description="or CSV with a 'number' column")
    note: str = Field("", max_length=200)


class DecisionsQuery(BaseModel):
    after: int = Field(0, ge=0, description="decisions with a larger id")
    limit: int = Field(100, ge=1, le=1000)
    newest: bool = Field(False, description="the last `limit` decisions, newest first")


def _campaigns(request: web.Request) -> Campaigns:
    return request.app[CAMPAIGNS]


async def _visible(request: web.Request, name: str) -> Any:
    principal = request[PRINCIPAL]
    if not _NAME.fullmatch(name):
        raise web.HTTPNotFound(text='{"error": "no such campaign"}', content_type="application/json")
    try:
        found = await _campaigns(request).get(name)
    except UnknownCampaign:
        found = None
    if found is None or not principal.may_see(found.line):
        raise web.HTTPNotFound(text='{"error": "no such campaign"}', content_type="application/json")
    return found


@doc("Campaigns this principal may see, with their progress")
@allow("supervisor", "admin")
async def list_campaigns(request: web.Request) -> web.Response:
    principal, service = request[PRINCIPAL], _campaigns(request)
    shown = []
    for c in await service.all():
        if principal.may_see(c.line):
            shown.append(describe(c, await service.progress(c.name)))
    return json_response({"campaigns": shown})


@doc(
    "Import campaign definitions (YAML): every problem as file:line, and then nothing changes",
    body=CampaignsText,
    errors=(404,),
    who="a supervisor only for campaigns of their business lines",
)
@allow("supervisor", "admin")
async def import_campaigns(request: web.Request) -> web.Response:
    body = await read_json(request, CampaignsText)
    principal, service = request[PRINCIPAL], _campaigns(request)
    from callcenter.outbound.definitions import parse_definitions

    try:
        parsed = parse_definitions(body.yaml, "campaigns.yaml")
    except ConfigError as err:
        return error(400, "the campaigns were not imported", problems=str(err).splitlines())
    known = {c.name: c for c in await service.all()}
    for name, d in parsed.items():
        if not principal.may_see(d.get("line")) or (
            name in known and not principal.may_see(known[name].line)
        ):
            return error(403, f"campaign {name!r}: not one of your business lines")
    await record(request, "campaigns.import", ",".join(sorted(parsed))[:200])
    try:
        new, replaced = await service.import_definitions(body.yaml, "campaigns.yaml")
    except ConfigError as err:
        return error(400, "the campaigns were not imported", problems=str(err).splitlines())
    return json_response({"new": new, "replaced": replaced})


@doc("A campaign, its progress and its abandonment window", errors=(404,), params={"name": "the campaign"})
@allow("supervisor", "admin")
async def get_campaign(request: web.Request) -> web.Response:
    found = await _visible(request, request.match_info["name"])
    return json_response(describe(found, await _campaigns(request).progress(found.name)))


@doc(
    "Start, pause or stop a campaign (409 when its state does not allow it)",
    errors=(404, 409),
    params={"name": "the campaign", "action": "start, pause or stop"},
)
@allow("supervisor", "admin")
async def move_campaign(request: web.Request) -> web.Response:
    found = await _visible(request, request.match_info["name"])
    try:
        what = CampaignMove(request.match_info["action"])
    except ValueError:
        return error(404, "the action is start, pause or stop")
    await record(request, f"campaign.{what.value}", found.name)
    try:
        state = await _campaigns(request).move(found.name, what, request[PRINCIPAL].name)
    except IllegalCampaignMove as err:
        return error(409, str(err))
    return json_response({"name": found.name, "state": state.value})


def _lookup(request: web.Request) -> CustomerLookup:
    # The owner's customer book (KeyError on a follower: forwarded to the owner, cluster.py).
    book = request.app[webhooks.MESSAGING].customers

    def find(number: str | None, email: str | None) -> str | None:
        for kind, value in ((IdentityKind.PHONE, number), (IdentityKind.EMAIL, email)):
            if value:
                owner = book.owner(Identity(kind, value))
                if owner is not None:
                    return owner.id
        return None

    return find


@doc(
    "Import a call list (CSV) into a campaign: good rows added, each bad one as file:line",
    body=ListText,
    errors=(404,),
    params={"name": "the campaign"},
)
@allow("supervisor", "admin")
async def import_list(request: web.Request) -> web.Response:
    found = await _visible(request, request.match_info["name"])
    body = await read_json(request, ListText)
    lookup = _lookup(request)
    await record(request, "campaign.list_import", found.name, {"source": body.source})
    try:
        result = await _campaigns(request).import_list(found.name, body.csv, body.source, lookup)
    except ListError as err:
        return error(400, str(err))
    return json_response(
        {
            "read": result.read,
            "added": result.added,
            "duplicates": result.duplicates,
            "errors": list(result.errors),
        }
    )


@doc(
    "The dialler's decisions for a campaign (dial, skip with its reason, pacing, state), oldest first"
    " (or the newest first)",
    query=DecisionsQuery,
    errors=(404,),
    params={"name": "the campaign"},
)
@allow("supervisor", "admin")
async def decisions(request: web.Request) -> web.Response:
    found = await _visible(request, request.match_info["name"])
    q = read_query(request, DecisionsQuery)
    rows = await _campaigns(request).decisions(found.name, q.after, q.limit, newest=q.newest)
    return json_response(
        {
            "decisions": [
                {
                    "id": i,
                    "record": d.record_id,
                    "at": d.at,
                    "kind": d.kind,
                    "reason": d.reason,
                    "data": dict(d.data),
                }
                for i, d in rows
            ]
        }
    )


@doc("Add numbers to the do-not-call list (a list of numbers, or CSV with a 'number' column)", body=DncBody)
@allow("supervisor", "admin")
async def add_dnc(request: web.Request) -> web.Response:
    body = await read_json(request, DncBody)
    service = _campaigns(request)
    await record(request, "dnc.add", None, {"numbers": len(body.numbers), "csv": body.csv is not None})
    lines = "number\n" + "\n".join(n.replace(",", " ").replace("\n", " ") for n in body.numbers)
    try:
        typed = await service.import_dnc(lines, "numbers", how="internal") if body.numbers else None
        imported = await service.import_dnc(body.csv, "dnc.csv") if body.csv else None
    except ListError as err:
        return error(400, str(err))
    results = [r for r in (typed, imported) if r is not None]
    return json_response(
        {
            "added": sum(r.added for r in results),
            "already": sum(r.duplicates for r in results),
            "errors": [e for r in results for e in r.errors],
        }
    )


@doc(
    "The campaigns page: progress, start / pause / stop, lists and the dialler's decisions",
    content="text/html",
)
@allow("supervisor", "admin")
async def page(request: web.Request) -> web.Response:
    return render(request, "campaigns.html")


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/campaigns", page)
    app.router.add_get("/api/campaigns", list_campaigns)
    app.router.add_post("/api/campaigns", import_campaigns)
    app.router.add_get("/api/campaigns/{name}", get_campaign)
    app.router.add_post("/api/campaigns/{name}/list", import_list)
    app.router.add_get("/api/campaigns/{name}/decisions", decisions)
    app.router.add_post("/api/campaigns/{name}/{action}", move_campaign)
    app.router.add_post("/api/dnc", add_dnc)
    add_nav(app, "Campaigns", "/campaigns", "supervisor", "admin")

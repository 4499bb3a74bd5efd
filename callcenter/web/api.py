"""HTTP API basics: the application keys handlers share, health, metrics, the OpenAPI document,
and the business-line scoping every API applies (docs/security.md).

The feature APIs live beside it (``agents_api``, ``interactions_api``, ``customers_api``...); each
handler declares its roles (``@allow``) and its documentation (``@doc``), from which
:mod:`callcenter.web.openapi` writes ``/api/openapi.json``.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from callcenter import __version__
from callcenter.accounts.principal import Principal
from callcenter.core import business_lines as lines
from callcenter.core.acd.agents import Agent
from callcenter.core.acd.engine import Acd
from callcenter.core.interaction import Interaction
from callcenter.service import CallCenter
from callcenter.settings import Settings
from callcenter.settings.agents_file import Directory
from callcenter.web import openapi as oas
from callcenter.web.auth import PUBLIC, allow
from callcenter.web.http import json_response
from callcenter.web.openapi import doc

SERVICE = web.AppKey("service", CallCenter)
SETTINGS = web.AppKey("settings", Settings)
# Every agent this node knows now: the settings' and those added at runtime (settings/agents_file.py).
DIRECTORY = web.AppKey("agents_directory", Directory)
OPENAPI_CACHE = web.AppKey("openapi_cache", dict[str, Any])


class Health(Protocol):
    async def check(self) -> dict[str, bool]: ...

    def role(self) -> str:
        """This node's part: "owner" while it routes (docs/cluster.md), else "follower"."""
        ...


HEALTH = web.AppKey("health", Health)


def agent_view(agent: Agent, engine: Acd) -> dict[str, Any]:
    return {
        "id": agent.id,
        "extension": agent.extension,
        "state": agent.state.value,
        "reason": agent.reason,
        "registered": agent.registered,
        "queues": sorted(agent.queues),
        "skills": dict(agent.skills),
        "languages": sorted(agent.languages),
        "since": agent.since,
        "interaction_id": agent.interaction_id,
        "max_chats": agent.max_chats,
        "conversations": engine.conversations_of(agent.id),
    }


def interaction_view(i: Interaction) -> dict[str, Any]:
    data = asdict(i)
    data["wait_seconds"] = i.wait_seconds
    data["talk_seconds"] = i.talk_seconds
    return data


# Business lines (docs/security.md): a queue may belong to one; a scoped principal sees the queues
# of its lines, the agents serving at least one of them, and the interactions routed to them.
def queue_line(engine: Acd, queue: str | None) -> str | None:
    """The business line of ``queue``: its ``line:``, else its name (:func:`business_lines.queue_line`)."""
    found = engine.queues.get(queue) if queue is not None else None
    return lines.queue_line(queue, found.line if found is not None else None)


def may_see_queue(principal: Principal, engine: Acd, queue: str | None) -> bool:
    return principal.lines is None or principal.may_see(queue_line(engine, queue))


def may_see_agent(principal: Principal, engine: Acd, agent: Agent) -> bool:
    if principal.lines is None or principal.agent_id == agent.id:
        return True
    return any(may_see_queue(principal, engine, q) for q in agent.queues)


@doc("Health of the server and its dependencies", errors=(503,))
@allow(PUBLIC)
async def healthz(request: web.Request) -> web.Response:
    checks = await request.app[HEALTH].check()
    # The server is healthy while it can record calls; AMI being away is reported, not fatal:
    # the server keeps serving and reconnects on its own.
    ok = checks.get("database", False)
    body = {
        "status": "ok" if all(checks.values()) else ("degraded" if ok else "failing"),
        "version": __version__,
        "role": request.app[HEALTH].role(),
        **checks,
    }
    return json_response(body, 200 if ok else 503)


async def _metrics(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


# Prometheus scrapers usually come without credentials; ``security.metrics_public: false`` makes the
# endpoint need a supervisor or admin token instead.
@doc("Prometheus metrics", content="text/plain")
@allow(PUBLIC)
async def metrics_public(request: web.Request) -> web.Response:
    return await _metrics(request)


@doc("Prometheus metrics", content="text/plain")
@allow("supervisor", "admin")
async def metrics_private(request: web.Request) -> web.Response:
    return await _metrics(request)


@doc("This document (generated from the routes' declarations)")
@allow(PUBLIC)
async def openapi(request: web.Request) -> web.Response:
    cache = request.app[OPENAPI_CACHE]
    if not cache:  # the router is frozen once the application runs: built once
        cache.update(oas.build(request.app, title="callcenter API", version=__version__))
    return json_response(cache)


def setup_routes(app: web.Application, *, metrics_are_public: bool = True) -> None:
    app[OPENAPI_CACHE] = {}
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_public if metrics_are_public else metrics_private)
    app.router.add_get("/api/openapi.json", openapi)

"""HTTP API: health, metrics, agents' state, queues and interactions; the OpenAPI document.

Handlers translate HTTP into core events and domain errors into HTTP (404 unknown agent, 409 a move
the agent's state does not allow); the core knows nothing of HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any, Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from callcenter import __version__
from callcenter.config import Settings
from callcenter.core import events as ev
from callcenter.core.acd import UnknownAgent
from callcenter.core.agents import Agent, IllegalTransition
from callcenter.core.interaction import Interaction
from callcenter.service import CallCenter
from callcenter.web.auth import PRINCIPAL, PUBLIC, allow
from callcenter.web.webhooks_openapi import OPENAPI_PATHS as WEBHOOK_PATHS
from callcenter.web.widget_openapi import OPENAPI_PATHS as WIDGET_PATHS

SERVICE = web.AppKey("service", CallCenter)
SETTINGS = web.AppKey("settings", Settings)


class Health(Protocol):
    async def check(self) -> dict[str, bool]: ...


HEALTH = web.AppKey("health", Health)
MAX_BODY = 16 * 1024


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, default=str))


def _error(status: int, message: str) -> web.Response:
    return _json({"error": message}, status)


def agent_view(agent: Agent) -> dict[str, Any]:
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
    }


def interaction_view(i: Interaction) -> dict[str, Any]:
    data = asdict(i)
    data["wait_seconds"] = i.wait_seconds
    data["talk_seconds"] = i.talk_seconds
    return data


@allow(PUBLIC)
async def healthz(request: web.Request) -> web.Response:
    checks = await request.app[HEALTH].check()
    # The server is healthy while it can record calls; AMI being away is reported, not fatal:
    # the server keeps serving and reconnects on its own.
    ok = checks.get("database", False)
    body = {
        "status": "ok" if all(checks.values()) else ("degraded" if ok else "failing"),
        "version": __version__,
        **checks,
    }
    return _json(body, 200 if ok else 503)


async def _metrics(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


# Prometheus scrapers usually come without credentials; ``security.metrics_public: false`` makes the
# endpoint need a supervisor or admin token instead.
@allow(PUBLIC)
async def metrics_public(request: web.Request) -> web.Response:
    return await _metrics(request)


@allow("supervisor", "admin")
async def metrics_private(request: web.Request) -> web.Response:
    return await _metrics(request)


@allow("supervisor", "admin")
async def list_agents(request: web.Request) -> web.Response:
    engine = request.app[SERVICE].engine
    return _json({"agents": [agent_view(a) for a in sorted(engine.agents.values(), key=lambda a: a.id)]})


@allow("agent", "supervisor", "admin")
async def get_agent(request: web.Request) -> web.Response:
    agent_id = request.match_info["agent_id"]
    denied = _check_self(request, agent_id)
    if denied is not None:
        return denied
    try:
        agent = request.app[SERVICE].engine.agent(agent_id)
    except UnknownAgent as err:
        return _error(404, str(err))
    return _json(agent_view(agent))


def _check_self(request: web.Request, agent_id: str) -> web.Response | None:
    principal = request[PRINCIPAL]
    if principal.role == "agent" and principal.agent_id != agent_id:
        return _error(403, "an agent may only act on itself")
    return None


async def _body(request: web.Request) -> Mapping[str, Any]:
    if request.content_length and request.content_length > MAX_BODY:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY, actual_size=request.content_length)
    if not request.can_read_body:
        return {}
    try:
        data = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": f"body is not valid JSON: {err}"}),
            content_type="application/json",
        ) from err
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(
            text='{"error": "body must be a JSON object"}', content_type="application/json"
        )
    return data


@allow("agent", "supervisor", "admin")
async def agent_action(request: web.Request) -> web.Response:
    agent_id = request.match_info["agent_id"]
    action = request.match_info["action"]
    denied = _check_self(request, agent_id)
    if denied is not None:
        return denied
    body = await _body(request)
    service = request.app[SERVICE]
    now = service.clock()
    event: ev.Event
    if action == "login":
        event = ev.AgentLogin(agent_id, now)
    elif action == "logout":
        event = ev.AgentLogout(agent_id, now)
    elif action == "pause":
        reason = body.get("reason", "paused")
        if not isinstance(reason, str) or not 0 < len(reason) <= 64:
            return _error(400, "reason must be a string of 1 to 64 characters")
        event = ev.AgentPause(agent_id, reason, now)
    elif action == "resume":
        event = ev.AgentResume(agent_id, now)
    else:
        return _error(404, f"unknown action {action[:32]!r}")
    try:
        service.handle(event)
    except UnknownAgent as err:
        return _error(404, str(err))
    except IllegalTransition as err:
        return _error(409, str(err))
    return _json(agent_view(service.engine.agent(agent_id)))


@allow("supervisor", "admin")
async def list_queues(request: web.Request) -> web.Response:
    """Live figures per queue (see core/stats.py for the definitions)."""
    service = request.app[SERVICE]
    engine, now = service.engine, service.clock()
    queues = []
    for name in engine.queue_names():
        s = engine.queue_stats(name, now)
        queues.append(
            {
                **asdict(s),
                # Kept from the first version of this endpoint.
                "agents_available": sum(
                    1 for a in engine.agents.values() if name in a.queues and a.can_take_call
                ),
            }
        )
    return _json({"queues": queues})


@allow("supervisor", "admin", "qa")
async def list_interactions(request: web.Request) -> web.Response:
    raw = request.query.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= 500:
        return _error(400, "limit must be a whole number from 1 to 500")
    store = request.app[SERVICE].store
    found = await store.recent_interactions(int(raw))
    return _json({"interactions": [interaction_view(i) for i in found]})


@allow("supervisor", "admin", "qa")
async def get_interaction(request: web.Request) -> web.Response:
    interaction_id = request.match_info["interaction_id"]
    service = request.app[SERVICE]
    found = service.engine.live.get(interaction_id) or await service.store.get_interaction(interaction_id)
    if found is None:
        return _error(404, "no such interaction")
    # Its story: arrival, what the IVR collected and how it ended, offers (with the routing reason).
    events = await service.store.events_for(interaction_id)
    view = interaction_view(found)
    view["events"] = [{"at": e.at, "kind": e.kind, "data": dict(e.data)} for e in events]
    return _json(view)


@allow(PUBLIC)
async def openapi(request: web.Request) -> web.Response:
    return _json(OPENAPI)


def setup_routes(app: web.Application, *, metrics_are_public: bool = True) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_public if metrics_are_public else metrics_private)
    app.router.add_get("/api/openapi.json", openapi)
    app.router.add_get("/api/agents", list_agents)
    app.router.add_get("/api/agents/{agent_id}", get_agent)
    app.router.add_post("/api/agents/{agent_id}/{action}", agent_action)
    app.router.add_get("/api/queues", list_queues)
    app.router.add_get("/api/interactions", list_interactions)
    app.router.add_get("/api/interactions/{interaction_id}", get_interaction)


_ERR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}


def _op(
    summary: str,
    roles: str,
    ok: str = "OK",
    *,
    params: list[str] = (),  # type: ignore[assignment]
    body: bool = False,
    errors: tuple[int, ...] = (401, 403),
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "description": f"Roles: {roles}.",
        "responses": {"200": {"description": ok}},
    }
    if roles != "public":
        op["security"] = [{"bearer": []}]
    if params:
        op["parameters"] = [
            {"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in params
        ]
    if body:
        op["requestBody"] = {
            "required": False,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {"reason": {"type": "string", "maxLength": 64}},
                    }
                }
            },
        }
    for code in errors:
        op["responses"][str(code)] = {"description": "error", "content": _ERR}
    return op


_YAML_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {"type": "object", "properties": {"yaml": {"type": "string"}}, "required": ["yaml"]}
        }
    },
}

_JSON_OBJECT: dict[str, Any] = {
    "required": True,
    "content": {"application/json": {"schema": {"type": "object"}}},
}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "callcenter API", "version": __version__},
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {
                "type": "object",
                "properties": {"error": {"type": "string"}},
                "required": ["error"],
            }
        },
    },
    "paths": {
        "/healthz": {"get": _op("Health of the server and its dependencies", "public", errors=(503,))},
        "/metrics": {"get": _op("Prometheus metrics", "public", errors=())},
        "/api/openapi.json": {"get": _op("This document", "public", errors=())},
        "/api/agents": {"get": _op("All agents and their state", "supervisor, admin")},
        "/api/agents/{agent_id}": {
            "get": _op(
                "One agent",
                "agent (itself), supervisor, admin",
                params=["agent_id"],
                errors=(401, 403, 404),
            )
        },
        "/api/agents/{agent_id}/{action}": {
            "post": _op(
                "Change an agent's state: action is login, logout, pause (body: reason) or resume",
                "agent (itself), supervisor, admin",
                params=["agent_id", "action"],
                body=True,
                errors=(400, 401, 403, 404, 409),
            )
        },
        "/api/queues": {
            "get": _op(
                "Live queue figures: waiting, longest wait, agents by state, service level, ASA,"
                " abandonment rate, outcomes (overflowed, exited, called back), estimated wait",
                "supervisor, admin",
            )
        },
        "/api/interactions": {
            "get": {
                **_op("Latest interactions, newest first", "supervisor, admin, qa", errors=(400, 401, 403)),
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 500},
                    }
                ],
            }
        },
        "/api/ivr/flows": {
            "get": _op(
                "The IVR flow files, which are running, the problems of the last load",
                "supervisor, admin",
                errors=(401, 403, 404),
            )
        },
        "/api/ivr/flows/{name}": {
            "get": _op(
                "One flow: its YAML, its graph (nodes, edges) and parse problems",
                "supervisor, admin",
                params=["name"],
                errors=(400, 401, 403, 404),
            ),
            "put": {
                **_op(
                    "Save a flow: validated like a load (line:column problems, 422); body {yaml}",
                    "admin",
                    params=["name"],
                    errors=(400, 401, 403, 404, 413, 422),
                ),
                "requestBody": _YAML_BODY,
            },
        },
        "/api/ivr/flows/{name}/validate": {
            "post": {
                **_op(
                    "Validate a draft without saving; body {yaml}",
                    "admin",
                    params=["name"],
                    errors=(400, 401, 403, 404, 413),
                ),
                "requestBody": _YAML_BODY,
            }
        },
        "/api/ivr/flows/{name}/test": {
            "post": {
                **_op(
                    "Run the flow's tests against the saved flows, or a draft (body {yaml})",
                    "supervisor, admin",
                    params=["name"],
                    errors=(400, 401, 403, 404, 422),
                ),
                "requestBody": {**_YAML_BODY, "required": False},
            }
        },
        "/api/interactions/{interaction_id}": {
            "get": _op(
                "One interaction (live or stored)",
                "supervisor, admin, qa",
                params=["interaction_id"],
                errors=(401, 403, 404),
            )
        },
        "/api/customers/{customer_id}": {
            "get": _op(
                "A customer (followed to the one it was merged into): identities, attributes, the "
                "customers merged into it, merge suggestions, the timeline of every channel",
                "agent, supervisor, admin",
                params=["customer_id"],
                errors=(401, 403, 404, 503),
            )
        },
        "/api/customers/{customer_id}/attributes": {
            "post": {
                **_op(
                    "Set routing attributes: name, vip, language, business_line, tags (audited)",
                    "supervisor, admin",
                    params=["customer_id"],
                    errors=(400, 401, 403, 404, 409),
                ),
                "requestBody": _JSON_OBJECT,
            }
        },
        "/api/customers/{customer_id}/merge": {
            "post": {
                **_op(
                    "Merge this customer into another; body {into, reason}; audited, reversible",
                    "supervisor, admin",
                    params=["customer_id"],
                    errors=(400, 401, 403, 404, 409),
                ),
                "requestBody": _JSON_OBJECT,
            }
        },
        "/api/customer-merges/{merge_id}/undo": {
            "post": {
                **_op(
                    "Undo a merge exactly; body {reason}; audited",
                    "supervisor, admin",
                    params=["merge_id"],
                    errors=(400, 401, 403, 404, 409),
                ),
                "requestBody": _JSON_OBJECT,
            }
        },
        "/api/customer-suggestions": {
            "get": _op(
                "Possible merges for a person to decide (weak or shareable links)", "supervisor, admin"
            )
        },
        "/api/conversations/{conversation_id}/reply": {
            "post": {
                **_op(
                    "Queue a reply (202): stored, then sent by the outbox with retries; body {body}",
                    "agent, supervisor, admin",
                    ok="Accepted",
                    params=["conversation_id"],
                    errors=(400, 401, 403, 404, 503),
                ),
                "requestBody": _JSON_OBJECT,
            }
        },
        **WEBHOOK_PATHS,
        **WIDGET_PATHS,
    },
}

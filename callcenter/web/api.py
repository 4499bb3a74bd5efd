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

from callcenter import __version__, bounded_json, metrics
from callcenter.adapters.ami import AmiError
from callcenter.config import Settings
from callcenter.core import events as ev
from callcenter.core.acd import Acd, UnknownAgent
from callcenter.core.agents import Agent, IllegalTransition
from callcenter.core.commands import RecordEvent
from callcenter.core.interaction import Interaction
from callcenter.recorder import Recorder
from callcenter.service import CallCenter
from callcenter.web.audit import record
from callcenter.web.auth import PRINCIPAL, PUBLIC, Principal, allow
from callcenter.web.console_openapi import OPENAPI_PATHS as CONSOLE_PATHS
from callcenter.web.webhooks_openapi import OPENAPI_PATHS as WEBHOOK_PATHS
from callcenter.web.widget_openapi import OPENAPI_PATHS as WIDGET_PATHS

SERVICE = web.AppKey("service", CallCenter)
SETTINGS = web.AppKey("settings", Settings)


class Health(Protocol):
    async def check(self) -> dict[str, bool]: ...


HEALTH = web.AppKey("health", Health)


class RecordingControl(Protocol):
    """Pauses and resumes the recording of a call in progress (the voice adapter)."""

    async def mute_recording(self, interaction_id: str, muted: bool) -> bool: ...


RECORDING_CONTROL = web.AppKey("recording_control", RecordingControl)
RECORDER = web.AppKey("recorder", Recorder)
MAX_BODY = 16 * 1024


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, default=str))


def _error(status: int, message: str) -> web.Response:
    return _json({"error": message}, status)


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


# Business lines (docs/security.md): a queue may belong to one; a scoped principal sees the queues
# of its lines, the agents serving at least one of them, and the interactions routed to them.
def queue_line(engine: Acd, queue: str | None) -> str | None:
    found = engine.queues.get(queue) if queue is not None else None
    return found.line if found is not None else None


def may_see_queue(principal: Principal, engine: Acd, queue: str | None) -> bool:
    return principal.lines is None or principal.may_see(queue_line(engine, queue))


def may_see_agent(principal: Principal, engine: Acd, agent: Agent) -> bool:
    if principal.lines is None or principal.agent_id == agent.id:
        return True
    return any(may_see_queue(principal, engine, q) for q in agent.queues)


@allow("supervisor", "admin")
async def list_agents(request: web.Request) -> web.Response:
    engine, principal = request.app[SERVICE].engine, request[PRINCIPAL]
    agents = sorted(engine.agents.values(), key=lambda a: a.id)
    return _json({"agents": [agent_view(a, engine) for a in agents if may_see_agent(principal, engine, a)]})


@allow("agent", "supervisor", "admin")
async def get_agent(request: web.Request) -> web.Response:
    agent_id = request.match_info["agent_id"]
    denied = _check_self(request, agent_id)
    if denied is not None:
        return denied
    engine = request.app[SERVICE].engine
    try:
        agent = engine.agent(agent_id)
    except UnknownAgent as err:
        return _error(404, str(err))
    return _json(agent_view(agent, engine))


def _check_self(request: web.Request, agent_id: str) -> web.Response | None:
    principal = request[PRINCIPAL]
    if principal.role == "agent" and principal.agent_id != agent_id:
        return _error(403, "an agent may only act on itself")
    engine = request.app[SERVICE].engine
    agent = engine.agents.get(agent_id)
    if agent is not None and not may_see_agent(principal, engine, agent):
        return _error(403, "this agent serves none of your business lines")
    return None


async def _body(request: web.Request) -> Mapping[str, Any]:
    if request.content_length and request.content_length > MAX_BODY:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY, actual_size=request.content_length)
    if not request.can_read_body:
        return {}
    try:
        data = await request.json(loads=bounded_json.loads)
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
    if request[PRINCIPAL].agent_id != agent_id:  # a supervisor or admin forcing someone's state
        await record(request, "agent.state_forced", agent_id, {"action": action, **body_reason(event)})
    return _json(agent_view(service.engine.agent(agent_id), service.engine))


def body_reason(event: ev.Event) -> dict[str, str]:
    return {"reason": event.reason} if isinstance(event, ev.AgentPause) else {}


@allow("supervisor", "admin")
async def list_queues(request: web.Request) -> web.Response:
    """Live figures per queue (see core/stats.py for the definitions)."""
    service, principal = request.app[SERVICE], request[PRINCIPAL]
    engine, now = service.engine, service.clock()
    queues = []
    for name in engine.queue_names():
        if not may_see_queue(principal, engine, name):
            continue
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
    service, principal = request.app[SERVICE], request[PRINCIPAL]
    queues = None
    if principal.lines is not None:
        queues = [q for q in service.engine.queue_names() if may_see_queue(principal, service.engine, q)]
    found = await service.store.recent_interactions(int(raw), queues=queues)
    return _json({"interactions": [interaction_view(i) for i in found]})


@allow("supervisor", "admin", "qa")
async def get_interaction(request: web.Request) -> web.Response:
    interaction_id = request.match_info["interaction_id"]
    service = request.app[SERVICE]
    found = await service.interaction(interaction_id)
    if found is None or not may_see_queue(request[PRINCIPAL], service.engine, found.queue):
        return _error(404, "no such interaction")
    # Its story: arrival, what the IVR collected and how it ended, offers (with the routing reason).
    events = await service.store.events_for(interaction_id)
    view = interaction_view(found)
    view["events"] = [{"at": e.at, "kind": e.kind, "data": dict(e.data)} for e in events]
    return _json(view)


@allow("agent", "supervisor", "admin")
async def recording_pause(request: web.Request) -> web.Response:
    """Pause (``{"paused": true}``) or resume the recording of a call in progress: agents for
    their own call while the customer gives card data, supervisors for any. Each change is kept in
    the interaction's events (who, when), so pauses are visible and audited."""
    interaction_id = request.match_info["interaction_id"]
    body = await _body(request)
    paused = body.get("paused")
    if not isinstance(paused, bool):
        return _error(400, 'body must be {"paused": true} or {"paused": false}')
    service = request.app[SERVICE]
    live = service.engine.live.get(interaction_id)
    if live is None:
        return _error(404, "no call in progress with this id")
    principal = request[PRINCIPAL]
    if principal.role == "agent" and live.agent_id != principal.agent_id:
        return _error(403, "an agent may only pause the recording of their own call")
    control = request.app.get(RECORDING_CONTROL)
    if control is None:
        return _error(503, "no connection to Asterisk")
    try:
        done = await control.mute_recording(interaction_id, paused)
    except AmiError as err:
        return _error(502, f"Asterisk refused: {err}")
    if not done:
        return _error(409, "this call has no agent talking yet: nothing is being recorded")
    record_recording_pause(service, interaction_id, paused, principal.name, principal.role)
    await service.stored(service.enqueued)  # answered once the pause is in the call's record
    return _json({"interaction_id": interaction_id, "recording": "paused" if paused else "on"})


def record_recording_pause(
    service: CallCenter, interaction_id: str, paused: bool, by: str, role: str
) -> None:
    """A recording paused or resumed (from here or the agent panel): in the call's events, with
    who did it, and counted."""
    action = "paused" if paused else "resumed"
    data = {"by": by, "role": role}
    service.dispatch([RecordEvent(interaction_id, service.clock(), f"recording_{action}", data)])
    metrics.RECORDING_PAUSES.labels(action=action).inc()


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
    app.router.add_post("/api/interactions/{interaction_id}/recording", recording_pause)


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
        # A bearer API token, or a browser session (then state changes need X-CSRF-Token).
        op["security"] = [{"bearer": []}, {"session": []}]
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


def _query(name: str, kind: str, description: str, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": kind, **schema},
    }


_QA = "qa, supervisor, admin (a user limited to business lines sees only theirs)"
_HTML = {"200": {"description": "An HTML page", "content": {"text/html": {}}}}
PANEL_PATHS: dict[str, Any] = {
    "/agent": {
        "get": {
            **_op(
                "The agent panel: state, offers, the call with its screen-pop, chats, wrap-up "
                "(live over the /agent Socket.IO namespace, docs/agent-panel.md)",
                "agent",
            ),
            "responses": {
                **_HTML,
                "401": {"description": "error", "content": _ERR},
                "403": {"description": "error", "content": _ERR},
            },
        }
    },
}
QA_PATHS: dict[str, Any] = {
    "/qa": {
        "get": {
            **_op("The QA page: calls with search, filters, scores and flags", _QA),
            "responses": {
                **_HTML,
                "401": {"description": "error", "content": _ERR},
                "403": {"description": "error", "content": _ERR},
            },
        }
    },
    "/qa/calls/{interaction_id}": {
        "get": {
            **_op(
                "The QA page of one call: audio, transcript, flags, review form, calibration",
                _QA,
                params=["interaction_id"],
            ),
            "responses": {
                **_HTML,
                "401": {"description": "error", "content": _ERR},
                "403": {"description": "error", "content": _ERR},
            },
        }
    },
    "/static/qa/{name}": {
        "get": _op(
            "The QA pages' scripts and styles (qa.js, list.js, call.js, qa.css)",
            "public",
            params=["name"],
            errors=(404,),
        )
    },
    "/api/qa/calls": {
        "get": {
            **_op(
                "Search reviewed and transcribed calls, newest first: {total, limit, offset, calls:"
                " [{interaction_id, business_line, agent_id, queue, call_at, duration, score, flags,"
                " reviews, calibration, excerpt}]}",
                _QA,
                errors=(400, 401, 403, 503),
            ),
            "parameters": [
                _query(
                    "q",
                    "string",
                    "words that must all be in the transcript (whole words, any case)",
                    maxLength=500,
                ),
                _query("agent", "string", "agent id"),
                _query("queue", "string", "queue"),
                _query("from", "string", "from this date (2026-11-22) or ISO date-time"),
                _query("to", "string", "until this date (inclusive) or ISO date-time (exclusive)"),
                _query("min_score", "number", "automatic score at least", minimum=0, maximum=100),
                _query("max_score", "number", "automatic score at most", minimum=0, maximum=100),
                _query("flag", "string", "a failed check's rule id, or emergency"),
                _query(
                    "calibration", "boolean", "only calls marked (true) or not marked (false) for calibration"
                ),
                _query("limit", "integer", "page size", minimum=1, maximum=100),
                _query("offset", "integer", "calls to skip", minimum=0),
            ],
        }
    },
    "/api/qa/scorecards": {"get": _op("The scorecards reviewers fill in (criteria, weights, scales)", _QA)},
    "/api/qa/calls/{interaction_id}": {
        "get": _op(
            "One call: transcript segments (speaker, times, words), automatic score, checks with"
            " evidence (speaker, start, end, text), flags, alerts, reviews, the audio URL",
            _QA,
            params=["interaction_id"],
            errors=(401, 403, 404, 503),
        )
    },
    "/api/qa/calls/{interaction_id}/reviews": {
        "post": {
            **_op(
                "Review the call on a scorecard (201): body {scorecard, answers: {criterion: value"
                " or null for not applicable}, comment}; the total is computed",
                _QA,
                ok="Created",
                params=["interaction_id"],
                errors=(400, 401, 403, 404, 422, 503),
            ),
            "requestBody": _JSON_OBJECT,
        }
    },
    "/api/qa/calls/{interaction_id}/calibration": {
        "get": _op(
            "Calibration: each reviewer's latest answers per criterion, spread (max - min, and as"
            " a share of the scale), mean, differences from the mean; the same for totals."
            " Query: scorecard (default: that of the latest review)",
            _QA,
            params=["interaction_id"],
            errors=(400, 401, 403, 404, 503),
        ),
        "post": {
            **_op(
                "Mark or unmark the call for calibration: body {calibration: true|false}",
                _QA,
                params=["interaction_id"],
                errors=(400, 401, 403, 404, 503),
            ),
            "requestBody": _JSON_OBJECT,
        },
    },
    "/api/recordings/{interaction_id}/audio": {
        "get": {
            **_op(
                "The call's recording (decrypted), audio/wav; HTTP Range (206, 416) for seeking;"
                " every request that returns audio is written to the playback audit."
                " Query: track (mixed, caller, agent; default mixed)",
                _QA,
                params=["interaction_id"],
                errors=(400, 401, 403, 404, 416, 503),
            ),
            "parameters": [
                {"name": "interaction_id", "in": "path", "required": True, "schema": {"type": "string"}},
                _query("track", "string", "which track", enum=["mixed", "caller", "agent"]),
            ],
        }
    },
}

# The audio's own responses: the whole file, or the requested bytes.
_AUDIO = QA_PATHS["/api/recordings/{interaction_id}/audio"]["get"]["responses"]
_AUDIO["200"] = {"description": "The whole recording", "content": {"audio/wav": {}}}
_AUDIO["206"] = {"description": "The requested byte range (Content-Range)", "content": {"audio/wav": {}}}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "callcenter API", "version": __version__},
    "components": {
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "session": {"type": "apiKey", "in": "cookie", "name": "cc_session"},
        },
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
        "/api/agents": {
            "get": _op(
                "All agents: voice state, max_chats and the conversations each holds", "supervisor, admin"
            )
        },
        "/api/agents/{agent_id}": {
            "get": _op(
                "One agent: voice state, max_chats and the conversations it holds (interaction ids)",
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
        "/api/interactions/{interaction_id}/recording": {
            "post": _op(
                'Pause ({"paused": true}) or resume the recording of a call in progress (card '
                "data); recorded in the interaction's events",
                "agent (own call), supervisor, admin",
                params=["interaction_id"],
                body=True,
                errors=(400, 401, 403, 404, 409, 502, 503),
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
        "/api/users": {
            "get": _op("Every account (no password hashes)", "admin"),
            "post": {
                **_op(
                    "Create an account; body {username, password, role, display_name?, lines?, agent_id?}"
                    " (201; audited)",
                    "admin",
                    ok="Created",
                    errors=(400, 401, 403, 409),
                ),
                "requestBody": _JSON_OBJECT,
            },
        },
        "/api/users/{user_id}": {
            "patch": {
                **_op(
                    "Change an account: display_name, role, lines (null: every line), agent_id, disabled,"
                    " password; disabling or a new password ends its sessions (audited)",
                    "admin",
                    params=["user_id"],
                    errors=(400, 401, 403, 404, 409),
                ),
                "requestBody": _JSON_OBJECT,
            }
        },
        "/api/audit": {
            "get": {
                **_op(
                    "The audit log, newest first: sign-ins, logouts, account changes, forced agent"
                    " states, customer merges, IVR flow saves",
                    "admin",
                    errors=(400, 401, 403),
                ),
                "parameters": [
                    {
                        "name": n,
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string"},
                        "description": d,
                    }
                    for n, d in (
                        ("action", "exact action, or a prefix such as user.*"),
                        ("user", "who did it (username, token name, cli:<user>)"),
                        ("since", "ISO 8601 with a time zone, or POSIX seconds (inclusive)"),
                        ("until", "ISO 8601 with a time zone, or POSIX seconds (exclusive)"),
                        ("limit", "1 to 1000 (default 100)"),
                    )
                ],
            }
        },
        # Pages (HTML; see docs/security.md). Anonymous GETs are redirected to /login.
        "/login": {
            "get": _op("The sign-in form (HTML)", "public", errors=()),
            "post": _op(
                "Sign in (form: username, password, login_token, next): 303 with the session cookie;"
                " 401 wrong username or password, 429 throttled (Retry-After), 403 form token missing",
                "public",
                ok="See Other",
                errors=(401, 403, 429),
            ),
        },
        "/logout": {
            "post": _op(
                "Sign out (form field csrf_token): the session ends on the server; 303 to /login",
                "agent, supervisor, qa, admin",
                ok="See Other",
            )
        },
        "/": {"get": _op("Home: redirects to the first page of the role", "agent, supervisor, qa, admin")},
        "/static/{name}": {
            "get": _op("Stylesheets and scripts of the pages", "public", params=["name"], errors=(404,))
        },
        "/admin/users": {
            "get": _op("Accounts page (HTML)", "admin"),
            "post": _op(
                "Create an account from the page's form (csrf_token)", "admin", errors=(400, 401, 403, 409)
            ),
        },
        "/admin/users/{user_id}": {
            "post": _op(
                "Change an account from the page's form (csrf_token)",
                "admin",
                params=["user_id"],
                errors=(400, 401, 403, 404, 409),
            )
        },
        **WEBHOOK_PATHS,
        **QA_PATHS,
        **PANEL_PATHS,
        **WIDGET_PATHS,
        **CONSOLE_PATHS,
    },
}

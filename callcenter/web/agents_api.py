"""``/api/agents`` and ``/api/queues``: agents' state (and changing it), live queue figures.

Handlers translate HTTP into core events and domain errors into HTTP (404 unknown agent, 409 a move
the agent's state does not allow); the core knows nothing of HTTP.
"""

from __future__ import annotations

from dataclasses import asdict

from aiohttp import web
from pydantic import BaseModel, Field

from callcenter.core import events as ev
from callcenter.core.acd.agents import IllegalTransition, Move
from callcenter.core.errors import UnknownAgent
from callcenter.web.api import SERVICE, agent_view, may_see_agent, may_see_queue
from callcenter.web.audit import record
from callcenter.web.auth import PRINCIPAL, allow
from callcenter.web.http import error, json_response, read_json
from callcenter.web.openapi import doc

_SELF = "an agent only for itself; a user limited to business lines only for agents serving them"


class AgentActionBody(BaseModel):
    reason: str = Field("paused", min_length=1, max_length=64, description="why (pause only)")


@doc("All agents: voice state, max_chats and the conversations each holds")
@allow("supervisor", "admin")
async def list_agents(request: web.Request) -> web.Response:
    engine, principal = request.app[SERVICE].engine, request[PRINCIPAL]
    agents = sorted(engine.agents.values(), key=lambda a: a.id)
    return json_response(
        {"agents": [agent_view(a, engine) for a in agents if may_see_agent(principal, engine, a)]}
    )


@doc(
    "One agent: voice state, max_chats and the conversations it holds (interaction ids)",
    errors=(404,),
    who=_SELF,
)
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
        return error(404, str(err))
    return json_response(agent_view(agent, engine))


def _check_self(request: web.Request, agent_id: str) -> web.Response | None:
    principal = request[PRINCIPAL]
    if principal.role == "agent" and principal.agent_id != agent_id:
        return error(403, "an agent may only act on itself")
    engine = request.app[SERVICE].engine
    agent = engine.agents.get(agent_id)
    if agent is not None and not may_see_agent(principal, engine, agent):
        return error(403, "this agent serves none of your business lines")
    return None


@doc(
    "Change an agent's state: action is login, logout, pause (body: reason) or resume",
    body=AgentActionBody,
    body_required=False,
    errors=(404, 409, 503),
    who=_SELF,
    params={"action": "login, logout, pause or resume"},
)
@allow("agent", "supervisor", "admin")
async def agent_action(request: web.Request) -> web.Response:
    agent_id = request.match_info["agent_id"]
    action = request.match_info["action"]
    denied = _check_self(request, agent_id)
    if denied is not None:
        return denied
    body = await read_json(request, AgentActionBody)
    service = request.app[SERVICE]
    now = service.clock()
    event: ev.Event
    if action == "login":
        event = ev.AgentLogin(agent_id, now)
    elif action == "logout":
        event = ev.AgentLogout(agent_id, now)
    elif action == "pause":
        event = ev.AgentPause(agent_id, body.reason, now)
    elif action == "resume":
        event = ev.AgentResume(agent_id, now)
    else:
        return error(404, f"unknown action {action[:32]!r}")
    if request[PRINCIPAL].agent_id != agent_id:  # a supervisor or admin forcing someone's state
        agent = service.engine.agents.get(agent_id)
        if agent is None:
            return error(404, f"unknown agent {agent_id[:64]!r}")
        try:  # the engine's own check, without the move: a refused move is not audited as done
            agent.moved(Move(action), now)
        except IllegalTransition as err:
            return error(409, str(err))
        # Audited before the move: no row, no move (AuditUnavailable: 503).
        await record(request, "agent.state_forced", agent_id, {"action": action, **body_reason(event)})
    try:
        service.handle(event)
    except UnknownAgent as err:
        return error(404, str(err))
    except IllegalTransition as err:
        return error(409, str(err))
    return json_response(agent_view(service.engine.agent(agent_id), service.engine))


def body_reason(event: ev.Event) -> dict[str, str]:
    return {"reason": event.reason} if isinstance(event, ev.AgentPause) else {}


@doc(
    "Live queue figures: waiting, longest wait, agents by state, service level, ASA,"
    " abandonment rate, outcomes (overflowed, exited, called back), estimated wait"
)
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
    return json_response({"queues": queues})


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/agents", list_agents)
    app.router.add_get("/api/agents/{agent_id}", get_agent)
    app.router.add_post("/api/agents/{agent_id}/{action}", agent_action)
    app.router.add_get("/api/queues", list_queues)

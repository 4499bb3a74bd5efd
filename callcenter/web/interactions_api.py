"""``/api/interactions``: the latest interactions, one interaction with its story, and pausing the
recording of a call in progress (card data)."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field, StrictBool

from callcenter.core.calls import machine as cl
from callcenter.web.api import SERVICE, interaction_view, may_see_queue
from callcenter.web.auth import PRINCIPAL, allow
from callcenter.web.http import error, json_response, read_json, read_query
from callcenter.web.openapi import doc


class InteractionsQuery(BaseModel):
    limit: int = Field(50, ge=1, le=500, description="how many, newest first")


class RecordingBody(BaseModel):
    paused: StrictBool = Field(description="true pauses the recording, false resumes it")


_SCOPED = "a user limited to business lines sees only theirs"


@doc("Latest interactions, newest first", query=InteractionsQuery, who=_SCOPED)
@allow("supervisor", "admin", "qa")
async def list_interactions(request: web.Request) -> web.Response:
    query = read_query(request, InteractionsQuery)
    service, principal = request.app[SERVICE], request[PRINCIPAL]
    queues = None
    if principal.lines is not None:
        queues = [q for q in service.engine.queue_names() if may_see_queue(principal, service.engine, q)]
    found = await service.store.recent_interactions(query.limit, queues=queues)
    return json_response({"interactions": [interaction_view(i) for i in found]})


@doc(
    "One interaction (live or stored) with its events: arrival, what the IVR collected, offers"
    " (with the routing reason), how it ended",
    errors=(404,),
    who=_SCOPED,
)
@allow("supervisor", "admin", "qa")
async def get_interaction(request: web.Request) -> web.Response:
    interaction_id = request.match_info["interaction_id"]
    service = request.app[SERVICE]
    found = await service.interaction(interaction_id)
    if found is None or not may_see_queue(request[PRINCIPAL], service.engine, found.queue):
        return error(404, "no such interaction")
    # Its story: arrival, what the IVR collected and how it ended, offers (with the routing reason).
    events = await service.store.events_for(interaction_id)
    view = interaction_view(found)
    view["events"] = [{"at": e.at, "kind": e.kind, "data": dict(e.data)} for e in events]
    return json_response(view)


@doc(
    'Pause ({"paused": true}) or resume the recording of a call in progress (card data);'
    " recorded in the interaction's events",
    body=RecordingBody,
    errors=(403, 404, 409, 502, 503),
    who="an agent only for its own call; a user limited to business lines only for theirs",
)
@allow("agent", "supervisor", "admin")
async def recording_pause(request: web.Request) -> web.Response:
    """Pause (``{"paused": true}``) or resume the recording of a call in progress: agents for
    their own call while the customer gives card data, supervisors for any of their lines. A
    request to the core (``RecordingPauseRequested``), which owns whether the recording is paused
    and refuses what does not fit (not the agent's call: 403; no agent talking yet, already paused,
    not paused: 409); each change is kept in the interaction's events (who, when), so pauses are
    visible and audited."""
    interaction_id = request.match_info["interaction_id"]
    paused = (await read_json(request, RecordingBody)).paused
    service, principal = request.app[SERVICE], request[PRINCIPAL]
    live = service.engine.interactions.get(interaction_id)
    if live is None or (
        principal.role != "agent" and not may_see_queue(principal, service.engine, live.queue)
    ):
        return error(404, "no call in progress with this id")
    if service.call_control is None:
        return error(503, "no connection to Asterisk")
    asking = (principal.agent_id or "") if principal.role == "agent" else None
    now = service.clock()
    await service.request(
        cl.RecordingPauseRequested(
            interaction_id, paused, principal.name, principal.role, now, agent_id=asking
        )
    )
    await service.stored(service.enqueued)  # answered once the pause is in the call's record
    return json_response({"interaction_id": interaction_id, "recording": "paused" if paused else "on"})


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/interactions", list_interactions)
    app.router.add_get("/api/interactions/{interaction_id}", get_interaction)
    app.router.add_post("/api/interactions/{interaction_id}/recording", recording_pause)

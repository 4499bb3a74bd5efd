"""OpenAPI entries of the supervisor console and the administrators' configuration pages."""

from __future__ import annotations

from typing import Any

_ERR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
_SUP = "supervisor, admin (a user limited to business lines sees and acts on only theirs)"


def _op(
    summary: str,
    roles: str,
    *,
    html: bool = False,
    body: dict[str, Any] | None = None,
    params: tuple[str, ...] = (),
    errors: tuple[int, ...] = (401, 403),
) -> dict[str, Any]:
    ok: dict[str, Any] = (
        {"description": "An HTML page", "content": {"text/html": {}}} if html else {"description": "OK"}
    )
    op: dict[str, Any] = {
        "summary": summary,
        "description": f"Roles: {roles}.",
        "security": [{"bearer": []}, {"session": []}],
        "responses": {"200": ok},
    }
    if params:
        op["parameters"] = [
            {"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in params
        ]
    if body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object", **body}}},
        }
    for code in errors:
        op["responses"][str(code)] = {"description": "error", "content": _ERR}
    return op


_S = {"type": "string"}
_LIST = {"type": "array", "items": _S}
_COUNTS = {"type": "object", "additionalProperties": {"type": "integer"}}

OPENAPI_PATHS: dict[str, Any] = {
    "/supervisor": {"get": _op("The supervisor console: live wallboard, alerts, actions", _SUP, html=True)},
    "/api/supervisor/wallboard": {
        "get": _op(
            "The wallboard now: per queue figures and the last hour per minute; per agent state, "
            "time in state and current interactions (what the /supervisor namespace pushes)",
            _SUP,
            errors=(401, 403, 503),
        )
    },
    "/api/supervisor/reassign": {
        "post": _op(
            "Hand a chat held by an agent to another agent or a queue (audited)",
            _SUP,
            body={
                "properties": {"interaction_id": _S, "to_agent": _S, "to_queue": _S},
                "required": ["interaction_id"],
            },
            errors=(400, 401, 403, 404, 409),
        )
    },
    "/api/supervisor/listen": {
        "post": _op(
            "Ring the supervisor's own phone (the extension of the account's agent id) into ChanSpy on "
            "the agent's live call: listen, whisper (the agent hears you) or barge (both do); audited",
            _SUP,
            body={
                "properties": {
                    "agent_id": _S,
                    "mode": {"type": "string", "enum": ["listen", "whisper", "barge"]},
                },
                "required": ["agent_id"],
            },
            errors=(400, 401, 403, 404, 409, 502, 503),
        )
    },
    "/admin/queues": {"get": _op("The queues and business lines editor (HTML)", "admin", html=True)},
    "/admin/agents": {
        "get": _op("The agents' queues, skills, languages and chat capacity (HTML)", "admin", html=True)
    },
    "/admin/ivr": {"get": _op("The IVR flow editor (HTML, on /api/ivr/flows)", "admin", html=True)},
    "/api/admin/queues": {
        "get": _op(
            "The queues file (acd.queues_file) as text, the running queues, the last reload error",
            "admin",
            errors=(401, 403, 409),
        ),
        "put": _op(
            "Replace the queues file: validated by the start-up loader (422 with file:line problems, "
            "nothing changed), written atomically, applied at once; audited",
            "admin",
            body={"properties": {"yaml": _S}, "required": ["yaml"]},
            errors=(400, 401, 403, 409, 413, 422),
        ),
    },
    "/api/admin/agents": {
        "get": _op(
            "Every agent's routing profile as running, and whether acd.agents_file makes it editable", "admin"
        )
    },
    "/api/admin/agents/{agent_id}": {
        "put": _op(
            "Change an agent's queues, skills, languages and chat capacity (acd.agents_file): "
            "validated (422), written atomically, applied at once keeping the agent's state; audited",
            "admin",
            params=("agent_id",),
            body={
                "properties": {
                    "queues": _LIST,
                    "skills": _COUNTS,
                    "languages": _LIST,
                    "max_chats": {"type": "integer", "minimum": 0, "maximum": 50},
                    "chat_capacity": _COUNTS,
                }
            },
            errors=(401, 403, 404, 409, 422),
        )
    },
}

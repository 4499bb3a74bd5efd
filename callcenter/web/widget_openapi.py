"""OpenAPI entries of the web-chat routes (the widget's files and the Socket.IO endpoint)."""

from __future__ import annotations

from typing import Any


def _get(summary: str, params: list[str] | None = None, errors: tuple[int, ...] = ()) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "description": "Roles: public.",
        "responses": {"200": {"description": "OK"}, "304": {"description": "Not modified (ETag)"}},
    }
    for code in errors:
        op["responses"][str(code)] = {"description": "Error"}
    if params:
        op["parameters"] = [
            {"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in params
        ]
    return {"get": op}


OPENAPI_PATHS: dict[str, Any] = {
    "/widget.js": _get("The embeddable web-chat widget (JavaScript)"),
    "/static/{name}": _get(
        "Widget files: widget.css, socket.io.min.js (vendored Socket.IO client) and its licence",
        ["name"],
        (404,),
    ),
    "/chat-demo": {"get": {**_get("A demo page embedding the widget")["get"]}},
    "/socket.io/": {
        method: {
            "summary": "Socket.IO (Engine.IO polling and WebSocket): namespaces /customer and /agent;"
            " see docs/omnichannel.md for the events and their roles",
            "description": "Roles: public transport; /agent needs an agent or supervisor token.",
            "responses": {"200": {"description": "OK"}, "400": {"description": "Bad Engine.IO request"}},
        }
        for method in ("get", "post")
    },
}

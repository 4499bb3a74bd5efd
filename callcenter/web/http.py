"""JSON in and out for every HTTP handler: one body reader (size-limited, parsed, validated), one
error shape (``{"error": message}``, plus ``fields`` for a body or query that failed validation).

A malformed body is a 400 with what was wrong; a body that fails its pydantic model is a 400 whose
``error`` names each field and its problem (``reason: String should have at most 64 characters``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from callcenter import bounded_json

MAX_BODY = 16 * 1024
M = TypeVar("M", bound=BaseModel)


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, default=str))


def error(status: int, message: str, **extra: Any) -> web.Response:
    return json_response({"error": message, **extra}, status)


def _bad_request(message: str, **extra: Any) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": message, **extra}), content_type="application/json")


def field_messages(err: ValidationError) -> list[dict[str, str]]:
    """pydantic's errors as ``{"field": "a.b", "message": ...}``, in the order pydantic found them."""
    found = []
    for e in err.errors(include_url=False):
        field = ".".join(str(part) for part in e["loc"]) or "body"
        found.append({"field": field, "message": str(e["msg"])})
    return found


def validation_error(err: ValidationError, where: str = "body") -> web.HTTPBadRequest:
    fields = field_messages(err)
    text = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
    return _bad_request(f"invalid {where}: {text}", fields=fields)


async def read_object(request: web.Request, max_size: int = MAX_BODY) -> dict[str, Any]:
    """The body as a JSON object (``{}`` when there is none); 413 over ``max_size``, 400 otherwise bad."""
    if request.content_length and request.content_length > max_size:
        raise web.HTTPRequestEntityTooLarge(max_size=max_size, actual_size=request.content_length)
    # body_exists, not can_read_body: on a follower the forwarding middleware (cluster.py) has read
    # the body already (request.read() keeps it), and a body read is not a body absent.
    if not request.body_exists:
        return {}
    raw = await request.read()  # bounded by the application's client_max_size too
    if len(raw) > max_size:
        raise web.HTTPRequestEntityTooLarge(max_size=max_size, actual_size=len(raw))
    try:
        data = bounded_json.loads(raw)  # nested deeper than it allows: a 400, not a RecursionError
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise _bad_request(f"body is not valid JSON: {err}") from err
    if not isinstance(data, dict):
        raise _bad_request("body must be a JSON object")
    return data


async def read_json(request: web.Request, model: type[M], max_size: int = MAX_BODY) -> M:
    """The body validated by ``model``: 400 with each field's problem when it does not fit."""
    data = await read_object(request, max_size)
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise validation_error(err) from None


def read_query(request: web.Request, model: type[M]) -> M:
    """The query string validated by ``model`` (each parameter once; repeated ones keep the last)."""
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as err:
        raise validation_error(err, "query") from None


_STREAMS_BODY = "_callcenter_streams_body"
H = TypeVar("H", bound=Callable[..., Any])


def streams_body(handler: H) -> H:
    """Mark a handler that reads its own (large) body as a stream: the follower middleware
    (cluster.py) must not read it first, bounded by ``MAX_BODY``, in case it has to be forwarded.
    Such a handler never needs the routing owner."""
    setattr(handler, _STREAMS_BODY, True)
    return handler


def streams_its_body(handler: object) -> bool:
    return bool(getattr(handler, _STREAMS_BODY, False))

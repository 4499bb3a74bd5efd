"""The OpenAPI document, generated from the routes themselves.

Each handler declares what it does next to its code (``@doc``: a summary, the pydantic models of its
body and query, the statuses it answers) and the roles it accepts (``@allow``); :func:`build` walks
the application's router and writes one operation per route: path parameters from the route's
pattern, roles from ``@allow``, schemas from the models. A route without ``@doc`` is a programming
error (``build`` raises), so the document cannot silently miss a route nor describe one that is gone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from callcenter.web.auth import PUBLIC, ROLES, roles_of

H = TypeVar("H", bound=Callable[..., Any])
_ATTR = "_callcenter_doc"
_PARAM = re.compile(r"{([^}:]+)(?::[^}]*)?}")
_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    206: "Partial content",
    303: "See Other",
    304: "Not modified (ETag)",
    400: "Bad request: malformed or invalid input",
    401: "Authentication required",
    403: "Your role (or business lines) may not do this",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflicts with the current state",
    413: "Body too large",
    416: "Range not satisfiable",
    422: "Not valid (the problems are listed)",
    429: "Too many attempts (Retry-After)",
    502: "Asterisk refused",
    503: "A dependency is not available",
}


@dataclass(frozen=True, slots=True)
class Doc:
    """What a handler tells the OpenAPI document about itself (roles come from ``@allow``)."""

    summary: str
    body: type[BaseModel] | None = None
    body_required: bool = True
    body_type: str = "application/json"
    query: type[BaseModel] | None = None
    ok: int = 200
    content: str | None = "application/json"  # of the success response; None: no body described
    errors: tuple[int, ...] = ()
    responses: Mapping[int, str] = field(default_factory=dict)  # other statuses (206, 304...)
    who: str = ""  # how the roles are narrowed ("an agent only for itself")
    params: Mapping[str, str] = field(default_factory=dict)  # path parameters' descriptions


def doc(summary: str, **details: Any) -> Callable[[H], H]:
    """Declare a route handler's documentation (see :class:`Doc` for the details)."""
    declared = Doc(summary, **details)

    def mark(handler: H) -> H:
        setattr(handler, _ATTR, declared)
        return handler

    return mark


def doc_of(handler: object) -> Doc | None:
    found = getattr(handler, _ATTR, None)
    return found if isinstance(found, Doc) else None


class Undocumented(Exception):
    """A route whose handler declares no ``@doc``."""


def _models(docs: list[Doc]) -> tuple[dict[type[BaseModel], dict[str, Any]], dict[str, Any]]:
    models = sorted({m for d in docs for m in (d.body,) if m is not None}, key=lambda m: m.__name__)
    if not models:
        return {}, {}
    refs, top = models_json_schema(
        [(m, "validation") for m in models], ref_template="#/components/schemas/{model}"
    )
    by_model: dict[type[BaseModel], dict[str, Any]] = {}
    for (model, _), ref in refs.items():
        if isinstance(model, type) and issubclass(model, BaseModel):
            by_model[model] = dict(ref)
    return by_model, dict(top.get("$defs", {}))


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(by_alias=True)
    required = set(schema.get("required", ()))
    params = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        description = prop.pop("description", "")
        prop.pop("title", None)
        param: dict[str, Any] = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if description:
            param["description"] = description
        params.append(param)
    return params


def _roles_text(roles: frozenset[str], who: str) -> str:
    if PUBLIC in roles:
        return "Roles: public" + (f" ({who})" if who else "") + "."
    named = ", ".join(r for r in ROLES if r in roles) or "none (denied)"
    return f"Roles: {named}" + (f" ({who})" if who else "") + "."


def _response(code: int, description: str, content: str | None) -> dict[str, Any]:
    found: dict[str, Any] = {"description": description}
    if code >= 400:
        found["content"] = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    elif content is not None:
        found["content"] = {content: {}}
    return found


def operation(
    path: str, roles: frozenset[str], d: Doc, refs: Mapping[type[BaseModel], Any]
) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": d.summary, "description": _roles_text(roles, d.who)}
    op["x-roles"] = sorted(roles)
    errors = set(d.errors)
    if PUBLIC not in roles:
        # A bearer API token, or a browser session (then state changes need X-CSRF-Token).
        op["security"] = [{"bearer": []}, {"session": []}]
        errors |= {401, 403}
    params: list[dict[str, Any]] = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
        | ({"description": d.params[p]} if p in d.params else {})
        for p in _PARAM.findall(path)
    ]
    if d.query is not None:
        params += _query_parameters(d.query)
        errors.add(400)
    if params:
        op["parameters"] = params
    if d.body is not None:
        op["requestBody"] = {"required": d.body_required, "content": {d.body_type: {"schema": refs[d.body]}}}
        errors.add(400)
    elif d.body_type == "application/octet-stream":  # a file's bytes as they are (an upload)
        op["requestBody"] = {
            "required": d.body_required,
            "content": {d.body_type: {"schema": {"type": "string", "format": "binary"}}},
        }
    responses = {str(d.ok): _response(d.ok, _STATUS_TEXT.get(d.ok, "OK"), d.content)}
    for code in sorted(errors):
        responses[str(code)] = _response(code, _STATUS_TEXT.get(code, "error"), None)
    for code, text in d.responses.items():  # the handler's own words win
        responses[str(code)] = _response(code, text, d.content)
    op["responses"] = dict(sorted(responses.items()))
    return op


def build(app: web.Application, *, title: str, version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route of ``app`` (HEAD routes are GET's shadows)."""
    routes = [r for r in app.router.routes() if r.method not in ("HEAD", "*")]
    docs: list[tuple[str, str, frozenset[str], Doc]] = []
    for route in routes:
        path = route.resource.canonical if route.resource is not None else ""
        found = doc_of(route.handler)
        if found is None:
            raise Undocumented(f"{route.method} {path}: its handler declares no @doc")
        docs.append((route.method.lower(), path, roles_of(route.handler), found))
    refs, schemas = _models([d for *_, d in docs])
    paths: dict[str, dict[str, Any]] = {}
    for method, path, roles, d in docs:
        paths.setdefault(path, {})[method] = operation(path, roles, d, refs)
    schemas["Error"] = {
        "type": "object",
        "properties": {
            "error": {"type": "string"},
            "fields": {
                "type": "array",
                "description": "for a body or query that failed validation: each field and its problem",
                "items": {
                    "type": "object",
                    "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                },
            },
        },
        "required": ["error"],
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "cc_session"},
            },
            "schemas": dict(sorted(schemas.items())),
        },
        "paths": dict(sorted(paths.items())),
    }

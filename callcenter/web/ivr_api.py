"""The IVR flows over HTTP, for the admins' flow editor: list, read (with the graph), validate,
save, and run a flow's tests.

Saving validates first, the same way the server loads flows (parse, check against the other flows,
prompt audio): an invalid flow is refused with every problem as line:column and the file on disk is
not touched. File names come from the flow name in the URL, checked against a strict pattern, never
from a path the client sends. Every save is audited before the file is written (no row, no save: 503).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from callcenter.core.ivr import model as m
from callcenter.files import write_atomically
from callcenter.ivr import flowtest, loader, prompts
from callcenter.ivr.store import FlowStore
from callcenter.settings import Settings
from callcenter.web import flow_graph
from callcenter.web.api import SETTINGS
from callcenter.web.audit import record
from callcenter.web.auth import PRINCIPAL, allow
from callcenter.web.http import error as _error
from callcenter.web.http import json_response as _json
from callcenter.web.http import read_object
from callcenter.web.openapi import doc
from callcenter.web.pages import tr

log = logging.getLogger(__name__)

FLOWS = web.AppKey("flows", FlowStore)
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
MAX_FLOW_BYTES = 256 * 1024


def _directory(request: web.Request) -> Path:
    flows_dir = request.app[SETTINGS].ivr.flows_dir
    if flows_dir is None or FLOWS not in request.app:
        raise web.HTTPNotFound(
            text='{"error": "no YAML flows configured (ivr.flows_dir)"}', content_type="application/json"
        )
    return flows_dir


def _name(request: web.Request) -> str:
    name = request.match_info["name"]
    if not NAME.fullmatch(name):
        raise web.HTTPBadRequest(
            text='{"error": "a flow name is letters, digits, _ and -"}', content_type="application/json"
        )
    return name


def _problem(p: m.Problem) -> dict[str, Any]:
    return {"file": Path(p.pos.file).name, "line": p.pos.line, "column": p.pos.column, "message": p.message}


def graph(flow: m.FlowDef, request: web.Request | None = None) -> dict[str, Any]:
    """Nodes and edges for drawing: an edge per target, labelled by what leads there (the flow
    file's key); ``svg``: the drawing itself (:mod:`callcenter.web.flow_graph`)."""
    nodes = [
        {"id": n.name, "type": type(n).__name__.removesuffix("Node").lower(), "line": n.pos.line}
        for n in flow.nodes.values()
    ]
    edges = [
        {"from": node.name, "to": e.to, "label": e.label}
        for node in flow.nodes.values()
        for e in flow_graph.exits(flow, node)
    ]

    def translate(message: str, **values: Any) -> str:
        return tr(request, message, **values) if request is not None else message % values

    return {
        "start": flow.start.node,
        "nodes": nodes,
        "edges": edges,
        "svg": flow_graph.flow_svg(flow, translate),
    }


def _namer(settings: Settings) -> loader.SoundNamer:
    voice = settings.ivr.tts_voice
    return lambda text, language: prompts.sound_name(text, language, voice)  # as the store names them


def _candidate(request: web.Request, name: str, text: str) -> tuple[m.FlowSet, list[m.Problem], Path]:
    """Parse ``text`` as flow ``name`` and check it together with the other saved flows."""
    directory = _directory(request)
    settings = request.app[SETTINGS]
    path = directory / f"{name}.yaml"
    others = [p for p in loader.flow_files([directory]) if p.resolve() != path.resolve()]
    flows, _ = loader.load(others, _namer(settings))
    flow, problems = loader.parse_text(text, str(path), _namer(settings))
    if flow is not None and flow.name != name:
        problems.append(m.Problem(flow.pos, f"the flow is named {flow.name!r}; save it as {flow.name!r}"))
    merged = dict(flows.flows)
    if flow is not None:
        merged[flow.name] = flow
    if not problems:
        problems = loader.check(merged)
    flow_set = m.FlowSet(merged)
    if not problems and settings.ivr.render_prompts:
        try:
            prompts.render_all(flow_set, settings.ivr.prompts_dir, settings.ivr.tts_voice)
        except (prompts.PromptError, OSError) as err:
            problems = [m.Problem(m.Pos(str(path), 1, 1), f"prompts not rendered: {err}")]
    if not problems and settings.ivr.check_audio:
        problems = prompts.missing_audio(flow_set, settings.ivr.prompts_dir, settings.ivr.sound_dirs)
    return flow_set, problems, path


class FlowText(BaseModel):
    yaml: str = Field(min_length=1, description="the flow file's YAML")


async def _text(request: web.Request) -> str:
    return _yaml_of(await read_object(request))


def _yaml_of(body: Mapping[str, Any]) -> str:
    text = body.get("yaml")
    if not isinstance(text, str) or not text.strip():
        raise web.HTTPBadRequest(
            text='{"error": "body must be {\\"yaml\\": \\"...\\"}"}', content_type="application/json"
        )
    if len(text.encode()) > MAX_FLOW_BYTES:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_FLOW_BYTES, actual_size=len(text.encode()))
    return text


@doc("The IVR flow files, which are running, the problems of the last load", errors=(404,))
@allow("supervisor", "admin")
async def list_flows(request: web.Request) -> web.Response:
    directory = _directory(request)
    store = request.app[FLOWS]
    running = store.flows.flows if store.flows is not None else {}
    files = []
    for path in loader.flow_files([directory]):
        name = path.name.removesuffix(".yaml")
        files.append(
            {
                "name": name,
                "running": name in running,
                "tests": (path.with_name(name + loader.TEST_SUFFIX)).exists(),
            }
        )
    return _json({"entry": store.entry, "flows": files, "problems": [_problem(p) for p in store.problems]})


@doc("One flow: its YAML, its graph (nodes, edges) and parse problems", errors=(404,))
@allow("supervisor", "admin")
async def get_flow(request: web.Request) -> web.Response:
    name = _name(request)
    path = _directory(request) / f"{name}.yaml"
    if not path.is_file():
        return _error(404, f"no flow {name!r}")
    text = path.read_text(encoding="utf-8")
    store = request.app[FLOWS]
    running = store.flows.flows.get(name) if store.flows is not None else None
    flow, problems = loader.parse_text(text, str(path))
    shown = running or flow
    return _json(
        {
            "name": name,
            "yaml": text,
            "running": running is not None,
            "graph": graph(shown, request) if shown is not None else None,
            "problems": [_problem(p) for p in problems],
        }
    )


@doc("Validate a draft without saving", body=FlowText, errors=(404, 413))
@allow("admin")
async def validate_flow(request: web.Request) -> web.Response:
    name = _name(request)
    text = await _text(request)
    flow_set, problems, _ = await asyncio.to_thread(_candidate, request, name, text)
    flow = flow_set.flows.get(name)
    return _json(
        {
            "valid": not problems,
            "problems": [_problem(p) for p in problems],
            "graph": graph(flow, request) if flow is not None and not problems else None,
        }
    )


@doc(
    "Save a flow: validated like a load (line:column problems, 422)",
    body=FlowText,
    errors=(404, 413, 422, 503),
)
@allow("admin")
async def save_flow(request: web.Request) -> web.Response:
    name = _name(request)
    text = await _text(request)
    _, problems, path = await asyncio.to_thread(_candidate, request, name, text)
    if problems:
        return _json({"saved": False, "problems": [_problem(p) for p in problems]}, 422)
    # Audited before the file is written: no row, no save (AuditUnavailable: 503).
    await record(request, "ivr.flow_saved", name, {"sha256": hashlib.sha256(text.encode()).hexdigest()})
    await asyncio.to_thread(write_atomically, path, text)  # the watcher never sees half a file
    store = request.app[FLOWS]
    await asyncio.to_thread(store.reload)
    log.info(
        "audit.ivr_flow_saved",
        extra={
            "by": request[PRINCIPAL].name,
            "flow": name,
            "sha256": hashlib.sha256(text.encode()).hexdigest()[:16],
        },
    )
    return _json(
        {
            "saved": True,
            "running": store.flows is not None and name in store.flows.flows,
            "problems": [_problem(p) for p in store.problems],
        }
    )


@doc(
    "Run the flow's tests against the saved flows, or a draft (body {yaml})",
    body=FlowText,
    body_required=False,
    errors=(404, 422),
)
@allow("supervisor", "admin")
async def test_flow(request: web.Request) -> web.Response:
    """Run the flow's tests (``<name>.test.yaml``) against the saved flows, or against a draft."""
    name = _name(request)
    directory = _directory(request)
    tests = directory / f"{name}{loader.TEST_SUFFIX}"
    if not tests.is_file():
        return _error(404, f"flow {name!r} has no tests ({tests.name})")
    body = await read_object(request)
    draft = body.get("yaml")
    if draft is not None:
        flow_set, problems, _ = await asyncio.to_thread(_candidate, request, name, _yaml_of(body))
    else:
        flow_set, problems = await asyncio.to_thread(loader.load, [directory], _namer(request.app[SETTINGS]))
    if problems:
        return _json({"passed": False, "problems": [_problem(p) for p in problems], "cases": []}, 422)
    results = await asyncio.to_thread(flowtest.run_file, flow_set, tests)
    return _json(
        {
            "passed": all(r.passed for r in results),
            "cases": [{"name": r.name, "passed": r.passed, "failures": list(r.failures)} for r in results],
        }
    )


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/ivr/flows", list_flows)
    app.router.add_get("/api/ivr/flows/{name}", get_flow)
    app.router.add_put("/api/ivr/flows/{name}", save_flow)
    app.router.add_post("/api/ivr/flows/{name}/validate", validate_flow)
    app.router.add_post("/api/ivr/flows/{name}/test", test_flow)

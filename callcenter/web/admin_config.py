"""The administrators' configuration pages: queues and business lines (the queues YAML file),
agents' routing profiles (the agents file) and the IVR flow editor (on ``/api/ivr/flows``).

Invariants (docs/admin.md):

- An edit is validated by the same loader as at start-up (``parse_queues``, ``parse_agents``);
  refused, it answers 422 with ``file:line: key: problem`` lines and changes nothing — neither the
  file nor the running definitions.
- Accepted, the file is replaced atomically (temporary file + rename) and applied at once through
  the same path as a hot reload (the watchers), so it takes effect without a restart.
- Every accepted edit is audited before it is written: no audit row, no edit (503).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, get_args

from aiohttp import web
from pydantic import BaseModel, Field, ValidationError

from callcenter.files import write_atomically
from callcenter.service import CallCenter
from callcenter.settings import AgentSettings, ConfigError, MessagingChannelName
from callcenter.settings.agents_file import AgentsWatcher, Entry, Profile, dump_agents, parse_agents
from callcenter.settings.queues_file import QueueWatcher, parse_queues
from callcenter.web.api import DIRECTORY, SERVICE, SETTINGS
from callcenter.web.audit import record
from callcenter.web.auth import allow
from callcenter.web.http import read_object
from callcenter.web.i18n import N_
from callcenter.web.openapi import doc
from callcenter.web.pages import add_nav, render, tr

log = logging.getLogger(__name__)

MAX_YAML_BYTES = 256 * 1024
QUEUE_WATCHER = web.AppKey("queue_watcher", QueueWatcher)
AGENTS_WATCHER = web.AppKey("agents_watcher", AgentsWatcher)
PROFILES = web.AppKey("agent_profiles", dict[str, Entry])  # what the agents file holds now
# Apply entries as if the watcher had read them (an edit whose file stamp did not change).
REAPPLY: web.AppKey[Callable[[Mapping[str, Entry]], None]] = web.AppKey("agents_reapply")


def json_answer(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


def error_answer(
    status: int, message: str, problems: list[str] | None = None, fields: Mapping[str, str] | None = None
) -> web.Response:
    """``fields``: a problem per form field, in words (the page shows each next to its field)."""
    body = {"error": message, "problems": problems or [message], "fields": dict(fields or {})}
    return json_answer(body, status)


CHANNELS: tuple[str, ...] = get_args(MessagingChannelName)

# What a profile's fields take, said in words instead of a pattern (the page shows it by the field).
PROFILE_WORDS = {
    "queues": N_("a queue name is 1 to 64 letters, digits, _ . : or -"),
    "skills": N_(
        "a skill name is 1 to 64 letters, digits, _ . : or -; its level a whole number from 1 to 10"
    ),
    "languages": N_(
        "a language is a code of 2 or 3 lower-case letters, with a region if needed (en, fr, pt-BR)"
    ),
    "max_chats": N_("a whole number from 0 to 50"),
    "chat_capacity": N_("a whole number from 0 to 50 per channel"),
}


NOT_THIS = N_("(%(value)s is not)")
NO_CHANNEL = N_("no channel named %(name)s; channels: %(channels)s")


def profile_problems(
    err: ValidationError, translate: Callable[[str], str] = lambda m: m
) -> tuple[list[str], dict[str, str]]:
    """A refused profile: the problem lines (``field.key: ...``) and one sentence per field."""
    lines: list[str] = []
    fields: dict[str, str] = {}
    for e in err.errors():
        loc = [str(p) for p in e["loc"]]
        field = loc[0] if loc else "body"
        words = translate(PROFILE_WORDS[field]) if field in PROFILE_WORDS else str(e["msg"])
        where = ".".join(loc) or "body"
        value = e.get("input")
        shown = ""
        if isinstance(value, (str, int)) and len(str(value)) <= 40:
            shown = " " + translate(NOT_THIS) % {"value": repr(value)}
        if field == "chat_capacity" and len(loc) > 1 and loc[1] not in CHANNELS:
            words = translate(NO_CHANNEL) % {"name": repr(loc[1])[:42], "channels": ", ".join(CHANNELS)}
            shown = ""
        lines.append(f"{where}: {words}{shown}")
        fields.setdefault(field, f"{words}{shown}")
    return lines, fields


class QueuesText(BaseModel):
    yaml: str = Field(description="the whole queues file")


async def file_text(path: Path) -> str | web.Response:
    """An edited file as it is on disk (a 500 naming the file when it cannot be read)."""
    try:
        return await asyncio.to_thread(path.read_text, encoding="utf-8")
    except OSError as err:
        return error_answer(500, f"{path}: cannot read: {err.strerror}")


async def edited_text(request: web.Request) -> str | web.Response:
    """The ``{"yaml": "..."}`` of an edit (400 for another shape, 413 past ``MAX_YAML_BYTES``)."""
    text = (await read_object(request, MAX_YAML_BYTES)).get("yaml")
    if not isinstance(text, str):
        return error_answer(400, 'body must be {"yaml": "..."}')
    if len(text.encode()) > MAX_YAML_BYTES:
        return error_answer(413, f"the file may not be larger than {MAX_YAML_BYTES} bytes")
    return text


# --- queues -----------------------------------------------------------------------------------------


@doc("The queues and business lines editor (HTML)", content="text/html")
@allow("admin")
async def queues_page(request: web.Request) -> web.Response:
    return render(request, "admin_queues.html", file_path=str(request.app[SETTINGS].acd.queues_file or ""))


@doc(
    "The queues file (acd.queues_file) as text, the running queues, the last reload error",
    errors=(409,),
)
@allow("admin")
async def get_queues(request: web.Request) -> web.Response:
    path = request.app[SETTINGS].acd.queues_file
    if path is None:
        return error_answer(409, "acd.queues_file is not set: queues are not editable here")
    text = await file_text(path)
    if isinstance(text, web.Response):
        return text
    watcher = request.app.get(QUEUE_WATCHER)
    engine = request.app[SERVICE].engine
    return json_answer(
        {
            "path": str(path),
            "yaml": text,
            "running": sorted(engine.queues),
            "lines": sorted({q.line for q in engine.queues.values() if q.line}),
            "last_error": watcher.last_error if watcher is not None else None,
        }
    )


@doc(
    "Replace the queues file: validated by the start-up loader (422 with file:line problems,"
    " nothing changed), written atomically, applied at once; audited",
    body=QueuesText,
    errors=(409, 413, 422, 503),
)
@allow("admin")
async def put_queues(request: web.Request) -> web.Response:
    path = request.app[SETTINGS].acd.queues_file
    if path is None:
        return error_answer(409, "acd.queues_file is not set: queues are not editable here")
    text = await edited_text(request)
    if isinstance(text, web.Response):
        return text
    try:
        queues = parse_queues(text, str(path))
    except ConfigError as err:
        return error_answer(422, "The queues were not saved.", str(err).splitlines())
    # Audited before the file is written: no row, no edit (AuditUnavailable: 503).
    await record(request, "queues.edited", str(path.name), {"queues": sorted(queues)})
    await asyncio.to_thread(write_atomically, path, text)
    service = request.app[SERVICE]
    watcher = request.app.get(QUEUE_WATCHER)
    if watcher is None or not watcher.check():  # the watcher reads back what was just written
        service.reload_queues(queues)
    return json_answer({"saved": True, "running": sorted(service.engine.queues)})


# --- agents -----------------------------------------------------------------------------------------


def apply_profiles(service: CallCenter, agents: Iterable[AgentSettings]) -> None:
    """Each agent gets its profile as the directory has it (the file's entry, else the settings')."""
    now = service.clock()
    for p in agents:
        service.dispatch(
            service.engine.set_agent_profile(
                p.id,
                now,
                queues=frozenset(p.queues),
                skills=dict(p.skills),
                languages=frozenset(p.languages),
                capacity={str(k): v for k, v in p.chat_capacity.items()},
                max_chats=p.max_chats,
            )
        )


@doc("The agents' queues, skills, languages and chat capacity (HTML)", content="text/html")
@allow("admin")
async def agents_page(request: web.Request) -> web.Response:
    return render(request, "admin_agents.html", file_path=str(request.app[SETTINGS].acd.agents_file or ""))


@doc("Every agent's routing profile as running, and whether acd.agents_file makes it editable")
@allow("admin")
async def get_agents(request: web.Request) -> web.Response:
    settings, engine = request.app[SETTINGS], request.app[SERVICE].engine
    directory, entries = request.app[DIRECTORY], request.app[PROFILES]
    watcher = request.app.get(AGENTS_WATCHER)
    agents = []
    for a in directory.agents.values():
        live = engine.agents.get(a.id)
        if live is None:
            continue
        agents.append(
            {
                "id": a.id,
                "name": a.name or a.id,
                "extension": a.extension,
                "added": a.id in entries and entries[a.id].added,  # else: from the settings file
                "queues": sorted(live.queues),
                "skills": dict(live.skills),
                "languages": sorted(live.languages),
                "max_chats": live.max_chats,
                "chat_capacity": {k: v for k, v in live.capacity.items() if k != "voice"},
            }
        )
    agents.sort(key=lambda a: str(a["id"]))
    # The lists the form picks from: skills the queues ask for or agents have, languages agents speak.
    skills = {s for a in engine.agents.values() for s in a.skills}
    for q in engine.queues.values():
        skills |= set(q.skills)
        for step in q.overflow:
            skills |= set(step.skills or {})
    languages = {lang for a in engine.agents.values() for lang in a.languages}
    return json_answer(
        {
            "path": str(settings.acd.agents_file) if settings.acd.agents_file else None,
            "editable": settings.acd.agents_file is not None,
            "queues": sorted(engine.queues),
            "skills": sorted(skills),
            "languages": sorted(languages),
            "channels": list(CHANNELS),
            "agents": agents,
            "disabled": sorted(a for a, e in entries.items() if e.disabled),
            "last_error": watcher.last_error if watcher is not None else None,
        }
    )


@doc(
    "Change an agent's queues, skills, languages and chat capacity (acd.agents_file): validated"
    " (422), written atomically, applied at once keeping the agent's state; audited",
    body=Profile,
    errors=(404, 409, 422, 503),
)
@allow("admin")
async def put_agent(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    path = settings.acd.agents_file
    if path is None:
        return error_answer(409, "acd.agents_file is not set: agents are edited in the settings file")
    agent_id = request.match_info["agent_id"]
    engine = request.app[SERVICE].engine
    if agent_id not in request.app[DIRECTORY].agents:
        return error_answer(404, "no such agent")
    body = await read_object(request, MAX_YAML_BYTES)
    try:
        profile = Profile.model_validate(body)
    except ValidationError as err:
        problems, fields = profile_problems(err, lambda message: tr(request, message))
        return error_answer(422, "The agent was not saved.", problems, fields)
    unknown = [q for q in profile.queues if q not in engine.queues]
    if engine.queues and unknown:
        problems = [f"queues: no queue named {q!r}" for q in unknown]
        return error_answer(422, "The agent was not saved.", problems, {"queues": "; ".join(problems)})
    old = request.app[PROFILES].get(agent_id)
    identity = {"name": old.name, "extension": old.extension} if old is not None else {}
    entries = {**request.app[PROFILES], agent_id: Entry(**identity, **profile.model_dump())}
    text = dump_agents(entries)
    known = {a.id: a.extension for a in settings.agents}
    try:  # the same loader as a reload: what is written is what will be read back
        parse_agents(text, str(path), known)
    except ConfigError as err:
        return error_answer(422, "The agent was not saved.", str(err).splitlines())
    await record(request, "agent.profile_edited", agent_id, profile.model_dump(mode="json"))  # first
    await asyncio.to_thread(write_atomically, path, text)
    watcher = request.app.get(AGENTS_WATCHER)
    if watcher is None or not watcher.check():
        request.app[REAPPLY](entries)
    return json_answer({"saved": True, "agent_id": agent_id})


# --- IVR --------------------------------------------------------------------------------------------


@doc("The IVR flow editor (HTML, on /api/ivr/flows)", content="text/html")
@allow("admin")
async def ivr_page(request: web.Request) -> web.Response:
    return render(request, "admin_ivr.html", configured=request.app[SETTINGS].ivr.flows_dir is not None)


def setup_routes(app: web.Application) -> None:
    add_nav(app, "Queues", "/admin/queues", "admin")
    add_nav(app, "Agents", "/admin/agents", "admin")
    add_nav(app, "IVR", "/admin/ivr", "admin")
    app.router.add_get("/admin/queues", queues_page)
    app.router.add_get("/admin/agents", agents_page)
    app.router.add_get("/admin/ivr", ivr_page)
    app.router.add_get("/api/admin/queues", get_queues)
    app.router.add_put("/api/admin/queues", put_queues)
    app.router.add_get("/api/admin/agents", get_agents)
    app.router.add_put("/api/admin/agents/{agent_id}", put_agent)

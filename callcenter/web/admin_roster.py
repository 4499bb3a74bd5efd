"""Adding and removing agents while the server runs (docs/admin.md, "Adding and removing agents").

The agents of the settings file stay the operator's; agents added by an administrator are entries
of the agents file (``acd.agents_file``, settings/agents_file.py) with a name and an extension, and
an agent taken out is removed from it (or marked ``disabled: true`` when it is the settings').

Two halves, like the rest of the root (docs/cluster.md):

- every node (:func:`directory_context`) loads the agents file at start and watches it: the node's
  :class:`~callcenter.settings.agents_file.Directory` (the name maps, the agent ids accounts may
  link to) follows it, on followers too;
- the routing owner (:func:`agents_context`) brings the engine in line with the directory at each
  change — ``AgentAdded``, ``AgentRemoved`` (refused while the agent is on a call or holds chats:
  retried after each of its state changes, so it finishes first), the profiles — and has the
  Asterisk endpoints of the added agents written and res_pjsip reloaded (asterisk/added_agents.py).

Invariants: an edit is validated by the loader of a reload before anything is written; audited
first (no row, no edit); written atomically; applied at once. The API refuses to remove an agent on
a call (409, in words): a supervisor ends or moves the call first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from pathlib import Path
from typing import Protocol

from aiohttp import web
from pydantic import Field, ValidationError

from callcenter.core import events as ev
from callcenter.core.acd.engine import Acd
from callcenter.core.commands import AgentStateChanged, Command, SaveInteraction
from callcenter.core.errors import AgentExists, AgentInUse, UnknownAgent
from callcenter.errors import AsteriskError
from callcenter.files import write_atomically
from callcenter.service import CallCenter
from callcenter.settings import AgentSettings, ConfigError, Settings
from callcenter.settings.agents_file import (
    AGENT_ID,
    EXTENSION,
    AgentsWatcher,
    Entry,
    Profile,
    dump_agents,
    load_agents,
    parse_agents,
    roster,
)
from callcenter.web.admin_config import (
    AGENTS_WATCHER,
    MAX_YAML_BYTES,
    PROFILES,
    REAPPLY,
    apply_profiles,
    error_answer,
    profile_problems,
)
from callcenter.web.api import DIRECTORY, SERVICE, SETTINGS
from callcenter.web.audit import record
from callcenter.web.auth import allow
from callcenter.web.http import read_object
from callcenter.web.i18n import N_
from callcenter.web.openapi import doc
from callcenter.web.pages import tr

log = logging.getLogger(__name__)


class Endpoints(Protocol):
    """Asterisk's endpoints of the added agents (asterisk/added_agents.py's ``AddedEndpoints``)."""

    path: Path

    async def sync(self, agents: Iterable[AgentSettings], wait: float = 10.0) -> bool: ...


# The owner's Asterisk endpoints of added agents (set by the voice context when asterisk.config_dir is).
ENDPOINTS = web.AppKey("added_endpoints", Endpoints)
# Whether Asterisk has a contact for an extension now (the voice adapter's view; set with voice).
REGISTERED: web.AppKey[Callable[[str], bool]] = web.AppKey("extension_registered")
# What follows the agents file on this node: called after the directory changed.
ON_ROSTER = web.AppKey("on_roster", list[Callable[[], None]])

ID_TAKEN = N_("an agent with this id exists")
EXTENSION_TAKEN = N_("extension %(extension)s is agent %(agent)s's phone")
WEB_EXTENSION = N_("an extension may not end in -web (the browser softphone's name)")
NOT_SAVED = N_("The agent was not saved.")
IN_USE = N_("Agent %(agent)s is on a call or holds conversations: remove it once they have ended.")


class NewAgent(Profile):
    """An agent added while the server runs: who it is, its phone, and what it serves."""

    id: str = Field(pattern=AGENT_ID)
    name: str = Field("", max_length=100, pattern=r"^[^\x00-\x1f\x7f\"<>\\;]*$")
    extension: str = Field(pattern=EXTENSION)


def known(settings: Settings) -> dict[str, str]:
    """The settings' agents, id -> extension (what the agents file is checked against)."""
    return {a.id: a.extension for a in settings.agents}


def added_agents(app: web.Application) -> list[AgentSettings]:
    """The running agents that were added in the agents file (their endpoints are ours to write)."""
    entries = app[PROFILES]
    return [a for a in app[DIRECTORY].agents.values() if a.id in entries and entries[a.id].added]


# --- every node: the agents file and the directory --------------------------------------------------


async def directory_context(app: web.Application) -> AsyncIterator[None]:
    """The agents file on this node: loaded at start (a bad file stops the start), watched; the
    directory follows it and ``ON_ROSTER`` listeners (the owner's engine) are told."""
    settings, directory = app[SETTINGS], app[DIRECTORY]
    app[PROFILES] = {}
    app[ON_ROSTER] = []
    path = settings.acd.agents_file
    if path is None:
        yield
        return
    found = await asyncio.to_thread(load_agents, Path(path), known(settings))

    def on_change(entries: Mapping[str, Entry]) -> None:
        app[PROFILES].clear()
        app[PROFILES].update(entries)
        directory.update(roster(settings.agents, entries))
        listeners: list[Callable[[], None]] = app[ON_ROSTER]
        for listener in list(listeners):
            listener()

    on_change(found)
    app[REAPPLY] = on_change
    watcher = AgentsWatcher(Path(path), known(settings), on_change, settings.acd.queues_reload_seconds)
    watcher.check()  # takes the file's stamp (applied above)
    app[AGENTS_WATCHER] = watcher
    await watcher.start()
    yield
    await watcher.stop()


# --- the routing owner: the engine and Asterisk follow -----------------------------------------------


class Applier:
    """Brings the engine in line with the directory, and the added agents' endpoints with it."""

    def __init__(self, app: web.Application, service: CallCenter) -> None:
        self._app, self._service = app, service
        self.deferred: set[str] = set()  # removals refused while the agent was busy
        self._again = False
        self.last_sync: asyncio.Task[str] | None = None
        # The added agents whose endpoints Asterisk has (a leaving agent keeps its phone until it leaves).
        self._phones: dict[str, AgentSettings] = {}

    def apply(self) -> None:
        self._again = False
        service, wanted = self._service, self._app[DIRECTORY].agents
        now = service.clock()
        for agent_id in [a for a in service.engine.agents if a not in wanted]:
            try:
                service.handle(ev.AgentRemoved(agent_id, now))
            except AgentInUse as err:
                if agent_id not in self.deferred:
                    log.warning("agent.removal_deferred", extra={"agent": agent_id, "why": str(err)})
                self.deferred.add(agent_id)
                continue
            self.deferred.discard(agent_id)
            log.info("agent.removed", extra={"agent": agent_id})
        for agent in wanted.values():
            if agent.id in service.engine.agents:
                continue
            try:
                service.handle(_added(agent, now))
            except AgentExists as err:  # its extension is still a leaving agent's: retried then
                log.warning("agent.add_deferred", extra={"agent": agent.id, "why": str(err)})
                continue
            log.info("agent.added", extra={"agent": agent.id, "extension": agent.extension})
            registered = self._app.get(REGISTERED)
            if registered is not None and registered(agent.extension):  # its phone was up already
                service.handle(ev.AgentRegistered(agent.extension, now))
        apply_profiles(service, [a for a in wanted.values() if a.id in service.engine.agents])
        self.sync()

    def on_command(self, command: Command) -> None:
        """A deferred removal is tried again when its agent's work moves (a call or a chat ended)."""
        if not self.deferred or self._again:
            return
        match command:
            case AgentStateChanged(agent_id=agent_id) if agent_id in self.deferred:
                pass
            case SaveInteraction(interaction=i) if i.agent_id in self.deferred:
                pass
            case _:
                return
        self._again = True
        asyncio.get_running_loop().call_soon(self._retry)

    def _retry(self) -> None:
        self._again = False
        engine = self._service.engine
        for agent_id in list(self.deferred):
            try:
                engine.check_removable(agent_id)
            except AgentInUse:
                continue
            except UnknownAgent:
                self.deferred.discard(agent_id)
                continue
            self.apply()  # removes it now, adds what waited for its extension, syncs the phones
            return

    def sync(self) -> asyncio.Task[str] | None:
        endpoints = self._app.get(ENDPOINTS)
        if endpoints is None:
            return None
        phones = {a.id: a for a in added_agents(self._app)}
        for agent_id in self.deferred & set(self._phones):  # still on its call: keep its phone
            phones.setdefault(agent_id, self._phones[agent_id])
        self._phones = phones
        task = _sync(endpoints, sorted(phones.values(), key=lambda a: a.id))
        self.last_sync = asyncio.get_running_loop().create_task(task)
        return self.last_sync


APPLIER = web.AppKey("agents_applier", Applier)


async def _sync(endpoints: Endpoints, agents: list[AgentSettings]) -> str:
    try:
        return "reloaded" if await endpoints.sync(agents) else "unchanged"
    except (AsteriskError, OSError) as err:
        log.warning("agents.endpoints_not_loaded", extra={"file": str(endpoints.path), "detail": str(err)})
        return f"not loaded: {err}"


def _added(agent: AgentSettings, at: float) -> ev.AgentAdded:
    return ev.AgentAdded(
        agent.id,
        agent.extension,
        at,
        queues=frozenset(agent.queues),
        skills=dict(agent.skills),
        languages=frozenset(agent.languages),
        capacity={str(c): n for c, n in agent.chat_capacity.items()},
        max_chats=agent.max_chats,
        auto_login=agent.auto_login,
        chat_while_on_call=agent.chat_while_on_call,
        call_while_chatting=agent.call_while_chatting,
    )


async def agents_context(app: web.Application) -> AsyncIterator[None]:
    """The routing half's part: the engine (built from the directory) follows every change of the
    agents file from now on; the added agents' endpoints are synced once AMI is up (``_voice``)."""
    service = app[SERVICE]
    applier = Applier(app, service)
    app[APPLIER] = applier
    app[ON_ROSTER].append(applier.apply)
    service.listeners.append(applier.on_command)
    applier.apply()  # the file may have changed between the directory's load and now
    try:
        yield
    finally:
        service.listeners.remove(applier.on_command)
        app[ON_ROSTER].remove(applier.apply)
        del app[APPLIER]


# --- the API ------------------------------------------------------------------------------------------

FIELD_WORDS = {
    "id": N_("an agent id is 1 to 64 letters, digits, _ . or -"),
    "name": N_('a name is up to 100 characters, without " < > \\ or ;'),
    "extension": N_("an extension is 1 to 60 letters, digits, _ . or -"),
}


async def _applied(request: web.Request, entries: dict[str, Entry]) -> str:
    """Write the agents file and apply it at once; the Asterisk side's outcome, in words."""
    path = request.app[SETTINGS].acd.agents_file
    assert path is not None
    await asyncio.to_thread(write_atomically, path, dump_agents(entries))
    watcher = request.app.get(AGENTS_WATCHER)
    if watcher is None or not watcher.check():
        request.app[REAPPLY](entries)
    applier = request.app[APPLIER]
    task = applier.last_sync
    if request.app.get(ENDPOINTS) is None:
        return "not managed (asterisk.config_dir is not set)"
    return await task if task is not None else "unchanged"


def _taken(request: web.Request, engine: Acd, new: NewAgent, entries: Mapping[str, Entry]) -> dict[str, str]:
    """What another agent (running, in the settings, disabled, or leaving) already has, by field."""
    fields = {}
    everyone = {**known(request.app[SETTINGS]), **{a: e.extension or a for a, e in entries.items()}}
    everyone |= {a.id: a.extension for a in request.app[DIRECTORY].agents.values()}
    if new.id in everyone or new.id in engine.agents:
        fields["id"] = tr(request, ID_TAKEN)
    if new.extension.endswith("-web"):
        fields["extension"] = tr(request, WEB_EXTENSION)
    owner = next((a for a, ext in everyone.items() if ext == new.extension), None)
    owner = owner or (found.id if (found := engine.agent_by_extension(new.extension)) else None)
    if owner is not None:
        fields["extension"] = tr(request, EXTENSION_TAKEN) % {"extension": new.extension, "agent": owner}
    unknown = [q for q in new.queues if q not in engine.queues]
    if engine.queues and unknown:
        fields["queues"] = "; ".join(f"queues: no queue named {q!r}" for q in unknown)
    return fields


@doc(
    "Add an agent while the server runs (acd.agents_file): id, name, extension, queues, skills,"
    " languages, chat capacity. Validated (422 with a sentence per field), audited, written"
    " atomically, applied at once: the ACD knows it, its desk phone and browser endpoints are"
    " loaded into Asterisk (asterisk.config_dir)",
    body=NewAgent,
    errors=(409, 422, 503),
)
@allow("admin")
async def post_agent(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    path = settings.acd.agents_file
    if path is None:
        return error_answer(409, "acd.agents_file is not set: agents are added in the settings file")
    engine = request.app[SERVICE].engine  # on a follower: KeyError, forwarded to the owner
    body = await read_object(request, MAX_YAML_BYTES)
    not_saved = tr(request, NOT_SAVED)
    try:
        new = NewAgent.model_validate(body)
    except ValidationError as err:
        problems, fields = profile_problems(err, lambda message: tr(request, message))
        for field in set(fields) & set(FIELD_WORDS):
            fields[field] = tr(request, FIELD_WORDS[field])
        return error_answer(422, not_saved, problems, fields)
    current: dict[str, Entry] = request.app[PROFILES]
    entries = dict(current)
    fields = _taken(request, engine, new, entries)
    if fields:
        return error_answer(422, not_saved, [f"{k}: {v}" for k, v in fields.items()], fields)
    identity = {"id", "name", "extension"}
    entry = Entry(name=new.name, extension=new.extension, **new.model_dump(exclude=identity))
    entries[new.id] = entry
    try:  # the same loader as a reload: what is written is what will be read back
        parse_agents(dump_agents(entries), str(path), known(settings))
    except ConfigError as err:
        return error_answer(422, not_saved, str(err).splitlines())
    await record(request, "agent.added", new.id, new.model_dump(mode="json"))  # first
    asterisk = await _applied(request, entries)
    return web.json_response({"saved": True, "agent_id": new.id, "asterisk": asterisk}, status=201)


@doc(
    "Remove an agent while the server runs: an added agent leaves the agents file, one of the"
    " settings file is marked disabled there. Refused (409) while the agent is on a call or holds"
    " conversations; audited; its phone's endpoints leave Asterisk",
    errors=(404, 409, 503),
)
@allow("admin")
async def delete_agent(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    path = settings.acd.agents_file
    if path is None:
        return error_answer(409, "acd.agents_file is not set: agents are removed in the settings file")
    engine = request.app[SERVICE].engine
    agent_id = request.match_info["agent_id"]
    if agent_id not in request.app[DIRECTORY].agents:
        return error_answer(404, "no such agent")
    if agent_id in engine.agents:
        try:
            engine.check_removable(agent_id)
        except AgentInUse:
            return error_answer(409, tr(request, IN_USE) % {"agent": agent_id})
    current: dict[str, Entry] = request.app[PROFILES]
    entries = dict(current)
    if agent_id in known(settings):
        entries[agent_id] = (entries.get(agent_id) or Entry()).model_copy(update={"disabled": True})
    else:
        entries.pop(agent_id, None)
    await record(request, "agent.removed", agent_id, {"disabled": agent_id in known(settings)})  # first
    asterisk = await _applied(request, entries)
    # Deferred: the agent took a call between the check and now; it leaves once the call ends.
    deferred = agent_id in engine.agents
    answer = {"removed": True, "agent_id": agent_id, "deferred": deferred, "asterisk": asterisk}
    return web.json_response(answer)


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/admin/agents", post_agent)
    app.router.add_delete("/api/admin/agents/{agent_id}", delete_agent)

"""What agents serve, edited at runtime: ``acd.agents_file`` (YAML), over the settings' agents.

The administrators' page (/admin/agents) writes it; :class:`AgentsWatcher` reloads it when it
changes (an edit by hand works too) and a bad edit keeps the running profiles. Errors read
``file:line: key: problem``. An entry is the routing profile of an agent of the settings file, or
a whole agent added at runtime (it has an ``extension``); ``disabled: true`` takes an agent out
(docs/admin.md, "Adding and removing agents")::

    agents:
      "1001":
        queues: [sales, support]
        skills: {billing: 3}
        languages: [en, fr]
        max_chats: 3                 # conversations at once, all channels (0: none)
        chat_capacity: {email: 1}    # a lower limit for some channels
      "2001":                        # not in the settings: added here (by /admin/agents)
        name: Ann Added
        extension: "2001"
        queues: [support]
      "1009": {disabled: true}       # in the settings, taken out

Invariants: every agent (the settings' and the file's) has its own id and its own extension; an
extension never ends in ``-web`` (the browser softphone's endpoint, settings/phones.py).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from callcenter.settings import (
    AgentSettings,
    ConfigError,
    MessagingChannelName,
    line_of,
    parse_yaml,
    textfile,
    validation_problems,
)
from callcenter.settings.file_watch import FileWatcher
from callcenter.settings.phones import WEB_SUFFIX

log = logging.getLogger(__name__)

_Count = Annotated[int, Field(ge=0, le=50)]
_Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]


class Profile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    queues: tuple[_Name, ...] = ()
    skills: dict[_Name, Annotated[int, Field(ge=1, le=10)]] = Field(default_factory=dict)
    languages: tuple[Annotated[str, Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")], ...] = ()
    max_chats: _Count = 3
    chat_capacity: dict[MessagingChannelName, _Count] = Field(default_factory=dict)


AGENT_ID = r"^[A-Za-z0-9_.-]{1,64}$"
EXTENSION = r"^[A-Za-z0-9_.-]{1,60}$"


class Entry(Profile):
    """One agent's entry: a profile, plus the identity of an agent added at runtime."""

    # Set only for an agent added here (not in the settings file): its display name and the PJSIP
    # extension its desk phone registers as (<extension>-web: its browser softphone).
    name: Annotated[str, Field(max_length=100, pattern=r"^[^\x00-\x1f\x7f\"<>\\;]*$")] = ""
    extension: Annotated[str, Field(pattern=EXTENSION)] | None = None
    disabled: bool = False  # taken out: not routed to, cannot sign in to the panel as this agent

    @property
    def added(self) -> bool:
        return self.extension is not None


class _File(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    agents: dict[str, Entry] = Field(default_factory=dict)


def parse_agents(text: str, source: str, known: Mapping[str, str] | Collection[str]) -> dict[str, Entry]:
    """``known``: the settings' agents, id -> extension (or their ids only: extensions unchecked)."""
    data, root = parse_yaml(text, source, "the file (with an 'agents' key)")
    try:
        parsed = _File.model_validate(data)
    except ValidationError as err:
        raise ConfigError(validation_problems(err, root, source)) from err
    problems = []
    extensions = dict(known) if isinstance(known, Mapping) else {}
    owner = {ext: a for a, ext in extensions.items()}  # extension -> agent id
    for a, entry in parsed.agents.items():
        where = f"{source}:{line_of(root, ('agents', a))}: agents.{a}"
        if a in known:
            if entry.added or entry.name:
                problems.append(f"{where}: in the settings file, which sets its name and extension")
            continue
        if not entry.added:
            problems.append(f"{where}: no agent with this id in the settings (an added one has an extension)")
            continue
        if not re.fullmatch(AGENT_ID, a):
            problems.append(f"{where}: an agent id is 1 to 64 letters, digits, _ . or -")
        ext = entry.extension or ""
        if ext.endswith(WEB_SUFFIX):
            problems.append(f"{where}.extension: {ext!r} ends in -web, the name of a browser softphone")
        elif ext in owner:
            problems.append(f"{where}.extension: {ext} is already agent {owner[ext]}'s")
        owner[ext] = a
    if problems:
        raise ConfigError("\n".join(problems))
    return dict(parsed.agents)


def roster(settings_agents: Iterable[AgentSettings], entries: Mapping[str, Entry]) -> list[AgentSettings]:
    """Every agent running now: the settings' (their profile from the file when it has one) and
    those added in the file, less the disabled ones."""
    out = []
    for agent in settings_agents:
        entry = entries.get(agent.id)
        if entry is None:
            out.append(agent)
        elif not entry.disabled:
            out.append(agent.model_copy(update=_profile_fields(entry)))
    for agent_id, entry in entries.items():
        if entry.added and not entry.disabled:
            fields = {"id": agent_id, "name": entry.name, "extension": entry.extension}
            out.append(AgentSettings.model_validate({**fields, **_profile_fields(entry)}))
    return out


def _profile_fields(entry: Profile) -> dict[str, object]:
    return {
        "queues": tuple(entry.queues),
        "skills": dict(entry.skills),
        "languages": tuple(entry.languages),
        "max_chats": entry.max_chats,
        "chat_capacity": dict(entry.chat_capacity),
    }


class Directory:
    """The agents this node knows now (:func:`roster`), updated in place: the maps it hands out
    (``names``: id -> display name; ``agents``: id -> settings) stay current for their holders."""

    def __init__(self, agents: Iterable[AgentSettings]) -> None:
        self.agents: dict[str, AgentSettings] = {}
        self.names: dict[str, str] = {}
        self.update(agents)

    def update(self, agents: Iterable[AgentSettings]) -> None:
        fresh = {a.id: a for a in agents}
        for gone in set(self.agents) - set(fresh):
            del self.agents[gone]
            del self.names[gone]
        for agent_id, agent in fresh.items():
            self.agents[agent_id] = agent
            self.names[agent_id] = agent.name or agent_id

    def by_extension(self, extension: str) -> AgentSettings | None:
        return next((a for a in self.agents.values() if a.extension == extension), None)


def load_agents(path: Path, known: Mapping[str, str] | Collection[str]) -> dict[str, Entry]:
    try:
        text = textfile.read_text(path, "agents")
    except textfile.TextFileError as err:
        if isinstance(err.__cause__, FileNotFoundError):
            return {}
        raise ConfigError(str(err)) from err
    return parse_agents(text, str(path), known)


def dump_agents(entries: Mapping[str, Entry]) -> str:
    data = {"agents": {a: _dumped(e) for a, e in sorted(entries.items())}}
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _dumped(entry: Entry) -> dict[str, object]:
    """An entry as written: identity first when added, ``disabled`` only when true."""
    data = entry.model_dump(mode="json")
    name, extension, disabled = data.pop("name"), data.pop("extension"), data.pop("disabled")
    head: dict[str, object] = {"name": name, "extension": extension} if extension is not None else {}
    tail: dict[str, object] = {"disabled": True} if disabled else {}
    return {**head, **data, **tail}


class AgentsWatcher(FileWatcher[Entry]):
    """Polls the agents file; calls ``on_change`` with the valid entries, logs bad edits."""

    def __init__(
        self,
        path: Path,
        known: Mapping[str, str],
        on_change: Callable[[Mapping[str, Entry]], object],
        interval: float = 2.0,
    ) -> None:
        super().__init__(
            path, lambda p: load_agents(p, known), on_change, interval, what="agents", loaded=False
        )
        self.known = known

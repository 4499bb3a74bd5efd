"""What agents serve, edited at runtime: ``acd.agents_file`` (YAML), over the settings' agents.

The administrators' page (/admin/agents) writes it; :class:`AgentsWatcher` reloads it when it
changes (an edit by hand works too) and a bad edit keeps the running profiles. Errors read
``file:line: key: problem``. Agents themselves (id, extension, name) stay in the settings file:
this file only changes the routing profile of known agents::

    agents:
      "1001":
        queues: [sales, support]
        skills: {billing: 3}
        languages: [en, fr]
        max_chats: 3                 # conversations at once, all channels (0: none)
        chat_capacity: {email: 1}    # a lower limit for some channels
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from callcenter.settings import (
    ConfigError,
    MessagingChannelName,
    line_of,
    parse_yaml,
    textfile,
    validation_problems,
)
from callcenter.settings.file_watch import FileWatcher

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


class _File(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    agents: dict[str, Profile] = Field(default_factory=dict)


def parse_agents(text: str, source: str, known: Collection[str]) -> dict[str, Profile]:
    data, root = parse_yaml(text, source, "the file (with an 'agents' key)")
    try:
        parsed = _File.model_validate(data)
    except ValidationError as err:
        raise ConfigError(validation_problems(err, root, source)) from err
    unknown = [
        f"{source}:{line_of(root, ('agents', a))}: agents.{a}: no agent with this id in the settings"
        for a in parsed.agents
        if a not in known
    ]
    if unknown:
        raise ConfigError("\n".join(unknown))
    return dict(parsed.agents)


def load_agents(path: Path, known: Collection[str]) -> dict[str, Profile]:
    try:
        text = textfile.read_text(path, "agents")
    except textfile.TextFileError as err:
        if isinstance(err.__cause__, FileNotFoundError):
            return {}
        raise ConfigError(str(err)) from err
    return parse_agents(text, str(path), known)


def dump_agents(profiles: Mapping[str, Profile]) -> str:
    data = {"agents": {a: p.model_dump(mode="json") for a, p in sorted(profiles.items())}}
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


class AgentsWatcher(FileWatcher[Profile]):
    """Polls the agents file; calls ``on_change`` with the valid profiles, logs bad edits."""

    def __init__(
        self,
        path: Path,
        known: Collection[str],
        on_change: Callable[[Mapping[str, Profile]], object],
        interval: float = 2.0,
    ) -> None:
        super().__init__(
            path, lambda p: load_agents(p, known), on_change, interval, what="agents", loaded=False
        )
        self.known = known

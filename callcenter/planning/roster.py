"""The roster and queues a plan runs with: the agents and queues ``callcenter serve`` would route
with, built the same way (``app.build_engine``: the settings' agents with their profiles from
``acd.agents_file``, the queues of ``acd.queues_file``, the engine's settings)."""

from __future__ import annotations

from collections.abc import Iterable

from callcenter.core.acd import queues as qs
from callcenter.core.acd.agents import Agent
from callcenter.core.acd.engine import AcdConfig
from callcenter.settings import AgentSettings, Settings


def configured(
    settings: Settings, running: Iterable[AgentSettings] | None = None
) -> tuple[list[Agent], dict[str, qs.Queue], AcdConfig]:
    """The agents (``running``: the agents running now, e.g. a node's directory; else the
    settings' and the agents file's), the queues and the engine's settings. An invalid queues or
    agents file raises ConfigError."""
    from callcenter.app import build_engine  # the composition root builds the engine one way
    from callcenter.settings.agents_file import load_agents, roster

    if running is None:
        running = settings.agents
        if settings.acd.agents_file is not None:
            entries = load_agents(settings.acd.agents_file, {a.id: a.extension for a in settings.agents})
            running = tuple(roster(settings.agents, entries))
    engine = build_engine(settings, running)
    return list(engine.agents.values()), dict(engine.queues), engine.config

"""Agents' routing profiles edited at runtime: the engine's set_agent_profile (pure) and the agents
file's loader (file:line errors)."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.core import events as ev
from callcenter.core.acd.agents import Agent, AgentState
from callcenter.core.acd.engine import Acd, AcdConfig
from callcenter.core.acd.queues import Queue
from callcenter.core.commands import OfferConversation
from callcenter.core.errors import UnknownAgent
from callcenter.files import write_atomically
from callcenter.settings import ConfigError
from callcenter.settings.agents_file import Entry, dump_agents, load_agents, parse_agents


def engine() -> Acd:
    agents = [Agent("a1", "1001", frozenset({"billing"}), max_chats=2, capacity={"voice": 1})]
    queues = {"billing": Queue("billing"), "sales": Queue("sales", skills={"sales": 2})}
    return Acd(AcdConfig(), agents, queues)


def test_new_queues_and_skills_route_a_waiting_chat_at_once() -> None:
    acd = engine()
    acd.handle(ev.AgentLogin("a1", 1.0))
    out = acd.handle(ev.ConversationArrived("c1", "webchat", "cust", "conv", "sales", 2.0))
    assert not [c for c in out if isinstance(c, OfferConversation)]  # not a member of sales
    out = acd.set_agent_profile(
        "a1",
        3.0,
        queues=frozenset({"billing", "sales"}),
        skills={"sales": 1},
        languages=frozenset(),
        capacity={},
        max_chats=2,
    )
    assert not [c for c in out if isinstance(c, OfferConversation)]  # level 1 < the queue's 2
    out = acd.set_agent_profile(
        "a1",
        4.0,
        queues=frozenset({"billing", "sales"}),
        skills={"sales": 2},
        languages=frozenset({"en"}),
        capacity={"email": 1},
        max_chats=2,
    )
    offers = [c for c in out if isinstance(c, OfferConversation)]
    assert [(o.interaction_id, o.agent_id) for o in offers] == [("c1", "a1")]
    agent = acd.agents["a1"]
    assert agent.state == AgentState.AVAILABLE and agent.capacity == {"voice": 1, "email": 1}
    assert agent.languages == frozenset({"en"})
    assert acd.queue_stats("sales", 5.0).agents["available"] == 1


def test_leaving_a_queue_takes_the_agent_out_of_its_routing() -> None:
    acd = engine()
    acd.handle(ev.AgentLogin("a1", 1.0))
    acd.set_agent_profile(
        "a1",
        2.0,
        queues=frozenset({"sales"}),
        skills={"sales": 5},
        languages=frozenset(),
        capacity={},
        max_chats=2,
    )
    out = acd.handle(ev.ConversationArrived("c1", "webchat", "cust", "conv", "billing", 3.0))
    assert not [c for c in out if isinstance(c, OfferConversation)]
    assert acd.queue_stats("billing", 4.0).agents["available"] == 0
    with pytest.raises(UnknownAgent):
        acd.set_agent_profile(
            "nobody", 5.0, queues=frozenset(), skills={}, languages=frozenset(), capacity={}, max_chats=0
        )


def test_agents_file_errors_name_file_and_line(tmp_path: Path) -> None:
    text = "agents:\n  '1001':\n    queues: [sales]\n    skills: {billing: 0}\n  '9999': {}\n"
    with pytest.raises(ConfigError) as err:
        parse_agents(text, "agents.yaml", ["1001"])
    assert str(err.value).startswith("agents.yaml:4: agents.1001.skills.billing:")
    with pytest.raises(ConfigError) as err:
        parse_agents("agents:\n  '9999': {}\n", "agents.yaml", ["1001"])
    expected = "agents.yaml:2: agents.9999: no agent with this id in the settings"
    expected += " (an added one has an extension)"
    assert str(err.value) == expected
    with pytest.raises(ConfigError, match=r"agents\.yaml:1: invalid YAML"):
        parse_agents("agents: [", "agents.yaml", ["1001"])


def test_agents_file_round_trip_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "agents.yaml"
    assert load_agents(path, ["1001"]) == {}
    profiles = {"1001": Entry(queues=("sales",), skills={"sales": 3}, languages=("en",), max_chats=1)}
    write_atomically(path, dump_agents(profiles))
    assert load_agents(path, ["1001"]) == profiles
    assert [p.name for p in tmp_path.iterdir()] == ["agents.yaml"]  # no temporary file left

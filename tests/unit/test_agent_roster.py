"""Agents added and removed while the server runs: the engine's AgentAdded / AgentRemoved (pure),
the agents file's added and disabled entries, and the node's directory (docs/admin.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.core import events as ev
from callcenter.core.acd.agents import Agent, AgentState
from callcenter.core.acd.engine import Acd, AcdConfig
from callcenter.core.commands import AgentStateChanged, DialAgent, OfferConversation
from callcenter.core.errors import AgentExists, AgentInUse, UnknownAgent
from callcenter.files import write_atomically
from callcenter.settings import AgentSettings, ConfigError
from callcenter.settings.agents_file import Directory, Entry, dump_agents, load_agents, parse_agents, roster

KNOWN = {"1001": "1001", "1002": "1002"}


def engine() -> Acd:
    return Acd(AcdConfig(), [Agent("1001", "1001", frozenset({"support"}))])


def arrive(acd: Acd, iid: str, at: float) -> list:
    acd.handle(ev.CallArrived(iid, "+15550100", "", "5000", f"PJSIP/caller-{iid}", at))
    return acd.handle(ev.IvrFinished(iid, "1", "support", at))


def test_an_added_agent_registers_and_is_offered_the_waiting_caller() -> None:
    acd = engine()
    arrive(acd, "a", 1.0)  # nobody registered: the caller waits
    out = acd.handle(ev.AgentAdded("2001", "2001", 2.0, queues=frozenset({"support"}), max_chats=0))
    assert next(c for c in out if isinstance(c, AgentStateChanged)).state == AgentState.LOGGED_OUT
    assert acd.agent_by_extension("2001") is not None
    assert acd.queue_stats("support", 2.0).agents["logged_out"] == 2
    out = acd.handle(ev.AgentRegistered("2001", 3.0))  # auto login: offered at once
    (dial,) = [c for c in out if isinstance(c, DialAgent)]
    assert (dial.agent_id, dial.interaction_id, dial.extension) == ("2001", "a", "2001")
    assert acd.agents["2001"].state == AgentState.OFFERED


def test_an_added_agent_takes_chats_of_its_queues() -> None:
    acd = engine()
    acd.handle(ev.AgentAdded("2001", "2001", 1.0, queues=frozenset({"chat"}), capacity={"email": 0}))
    acd.handle(ev.AgentLogin("2001", 2.0))
    out = acd.handle(ev.ConversationArrived("c1", "webchat", "cust", "conv", "chat", 3.0))
    offers = [(c.interaction_id, c.agent_id) for c in out if isinstance(c, OfferConversation)]
    assert offers == [("c1", "2001")]
    out = acd.handle(ev.ConversationArrived("c2", "email", "cust", "conv2", "chat", 4.0))
    assert not [c for c in out if isinstance(c, OfferConversation)]  # email capacity 0


def test_an_id_or_extension_in_use_is_refused_and_nothing_changes() -> None:
    acd = engine()
    with pytest.raises(AgentExists):
        acd.handle(ev.AgentAdded("1001", "2001", 1.0))
    with pytest.raises(AgentExists, match="extension 1001 is agent 1001's"):
        acd.handle(ev.AgentAdded("2001", "1001", 1.0))
    assert list(acd.agents) == ["1001"] and acd.state_counts[AgentState.LOGGED_OUT] == 1


def test_an_agent_on_a_call_is_not_removed_until_the_call_ends() -> None:
    acd = engine()
    acd.handle(ev.AgentRegistered("1001", 0.0))
    arrive(acd, "a", 1.0)
    with pytest.raises(AgentInUse, match="on a call"):  # offered (ringing)
        acd.handle(ev.AgentRemoved("1001", 2.0))
    acd.handle(ev.AgentAnswered("a", "1001", 3.0))
    with pytest.raises(AgentInUse, match="on a call"):
        acd.handle(ev.AgentRemoved("1001", 4.0))
    assert acd.agents["1001"].state == AgentState.BUSY  # refused: nothing changed
    acd.handle(ev.CallerHungUp("a", "Normal Clearing", 5.0))
    out = acd.handle(ev.AgentRemoved("1001", 6.0))
    assert AgentStateChanged("1001", AgentState.LOGGED_OUT, "removed", 6.0) in out
    assert "1001" not in acd.agents and acd.agent_by_extension("1001") is None
    assert sum(acd.state_counts.values()) == 0
    assert acd.queue_stats("support", 6.0).agents["available"] == 0
    arrive(acd, "b", 7.0)  # nobody left to offer it to; its old phone's events are ignored
    assert not [c for c in acd.handle(ev.AgentRegistered("1001", 8.0)) if isinstance(c, DialAgent)]
    with pytest.raises(UnknownAgent):
        acd.handle(ev.AgentRemoved("1001", 9.0))
    acd.handle(ev.AgentAdded("1001", "1001", 10.0, queues=frozenset({"support"})))  # back again
    out = acd.handle(ev.AgentRegistered("1001", 11.0))
    assert [c.interaction_id for c in out if isinstance(c, DialAgent)] == ["b"]


def test_an_agent_holding_a_chat_is_not_removed() -> None:
    acd = engine()
    acd.handle(ev.AgentAdded("2001", "2001", 1.0, queues=frozenset({"chat"})))
    acd.handle(ev.AgentLogin("2001", 2.0))
    acd.handle(ev.ConversationArrived("c1", "webchat", "cust", "conv", "chat", 3.0))
    with pytest.raises(AgentInUse, match="conversations"):
        acd.handle(ev.AgentRemoved("2001", 4.0))


def test_the_file_adds_agents_with_their_own_extension() -> None:
    text = (
        "agents:\n"
        "  '2001': {name: Ann Added, extension: '2001', queues: [support]}\n"
        "  '1002': {disabled: true}\n"
    )
    entries = parse_agents(text, "agents.yaml", KNOWN)
    assert entries["2001"].added and entries["1002"].disabled and not entries["1002"].added
    settings_agents = [AgentSettings(id=a, extension=e, name=f"Agent {a}") for a, e in KNOWN.items()]
    running = roster(settings_agents, entries)
    assert [(a.id, a.name, a.extension, a.queues) for a in running] == [
        ("1001", "Agent 1001", "1001", ("support",)),
        ("2001", "Ann Added", "2001", ("support",)),
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("agents:\n  '2001': {queues: [a]}\n", "agents.yaml:2: agents.2001: no agent with this id"),
        ("agents:\n  '2001': {extension: '1002'}\n", "agents.2001.extension: 1002 is already agent 1002's"),
        (
            "agents:\n  '2001': {extension: '3'}\n  '2002': {extension: '3'}\n",
            "agents.yaml:3: agents.2002.extension: 3 is already agent 2001's",
        ),
        ("agents:\n  '2001': {extension: 2001-web}\n", "ends in -web"),
        ("agents:\n  '1001': {extension: '1001'}\n", "agents.1001: in the settings file"),
        ("agents:\n  'a b': {extension: '7'}\n", "an agent id is 1 to 64 letters"),
        ("agents:\n  '2001': {extension: '2001', name: 'x\"y'}\n", "agents.yaml:2: agents.2001.name"),
    ],
)
def test_bad_added_agents_are_refused_with_file_and_line(text: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem.replace(".", r"\.").replace("'", "'")):
        parse_agents(text, "agents.yaml", KNOWN)


def test_entries_round_trip_and_the_directory_updates_in_place(tmp_path: Path) -> None:
    path = tmp_path / "agents.yaml"
    entries = {
        "2001": Entry(name="Ann", extension="2001", queues=("support",)),
        "1002": Entry(disabled=True),
    }
    write_atomically(path, dump_agents(entries))
    assert load_agents(path, KNOWN) == entries
    assert "disabled" not in path.read_text().split("'2001'")[-1]  # written only when true
    directory = Directory([AgentSettings(id="1001", extension="1001")])
    names = directory.names
    directory.update(roster([AgentSettings(id="1001", extension="1001")], entries))
    assert names == {"1001": "1001", "2001": "Ann"} and directory.by_extension("2001") is not None
    directory.update([])
    assert names == {} and directory.agents == {}

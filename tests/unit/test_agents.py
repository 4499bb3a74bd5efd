"""Agent states: every (state, move) pair lands where the table says, or is refused unchanged."""

from __future__ import annotations

import pytest

from callcenter.core import events as ev
from callcenter.core.acd.agents import Agent, AgentState, IllegalTransition, Move
from callcenter.core.acd.engine import Acd, AcdConfig
from callcenter.core.commands import AgentStateChanged
from tests.unit.agent_table import EXPECTED


def agent(state: AgentState = AgentState.LOGGED_OUT, **kw: object) -> Agent:
    return Agent(id="a1", extension="1001", queues=frozenset({"q"}), state=state, since=5.0, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("state", list(AgentState))
@pytest.mark.parametrize("move", list(Move))
def test_every_pair_of_state_and_move(state: AgentState, move: Move) -> None:
    before = agent(state, reason="was")
    target = EXPECTED.get((state, move))
    if target is None:
        with pytest.raises(IllegalTransition) as err:
            before.moved(move, 9.0)
        assert (err.value.agent_id, err.value.state, err.value.move) == ("a1", state, move)
        assert str(err.value) == f"agent a1: cannot {move.value} while {state.value}"
        return
    after = before.moved(move, 9.0, reason="why")
    assert after.state == target
    assert after.reason == "why"
    # Idle time counts from the last real change: a self-loop keeps it.
    assert after.since == (5.0 if target == state else 9.0)
    assert before.state == state and before.reason == "was"  # frozen: the old value is untouched


def test_moved_carries_changes_and_clears_the_reason() -> None:
    after = agent(AgentState.AVAILABLE).moved(Move.OFFER, 1.0, interaction_id="c1")
    assert after.interaction_id == "c1"
    assert agent(AgentState.PAUSED, reason="lunch").moved(Move.RESUME, 2.0).reason == ""


def test_a_second_login_a_logout_and_a_pause_through_the_engine() -> None:
    acd = Acd(AcdConfig(), [agent()])
    acd.handle(ev.AgentRegistered("1001", 1.0))
    acd.handle(ev.AgentLogin("a1", 1.0))
    assert acd.agents["a1"].state == AgentState.AVAILABLE
    assert acd.handle(ev.AgentLogin("a1", 2.0)) == []  # nothing changes, nothing is announced
    assert acd.agents["a1"].state == AgentState.AVAILABLE
    out = acd.handle(ev.AgentPause("a1", "lunch", 3.0))
    assert [(c.state, c.reason) for c in out if isinstance(c, AgentStateChanged)] == [
        (AgentState.PAUSED, "lunch")
    ]
    acd.handle(ev.AgentLogin("a1", 4.0))
    assert acd.agents["a1"].state == AgentState.PAUSED
    acd.handle(ev.AgentLogout("a1", 5.0))
    assert acd.agents["a1"].state == AgentState.LOGGED_OUT
    acd.handle(ev.AgentLogout("a1", 6.0))
    assert acd.agents["a1"].state == AgentState.LOGGED_OUT


def test_calls_need_available_and_registered() -> None:
    assert agent(AgentState.AVAILABLE, registered=True).can_take_call
    assert not agent(AgentState.AVAILABLE, registered=False).can_take_call
    for state in AgentState:
        if state != AgentState.AVAILABLE:
            assert not agent(state, registered=True).can_take_call


def test_levels_and_languages() -> None:
    a = agent(skills={"billing": 3}, languages=frozenset({"fr"}))
    assert a.level("billing") == 3
    assert a.level("sales") == 0
    assert a.level("lang:fr") == 1
    assert a.level("lang:de") == 0
    assert a.all_skills == {"billing", "lang:fr"}


def test_chat_limits_and_states() -> None:
    a = agent(AgentState.AVAILABLE, max_chats=3, capacity={"voice": 1, "email": 1})
    assert a.chat_limit("email") == 1
    assert a.chat_limit("sms") == 3
    assert agent(max_chats=2, capacity={"sms": 5}).chat_limit("sms") == 2
    assert a.can_take_chat("sms", {"sms": 2})
    assert not a.can_take_chat("sms", {"sms": 3})
    assert not a.can_take_chat("sms", {"sms": 1, "email": 1, "webchat": 1})
    assert a.can_take_chat("sms", {"voice": 1, "sms": 2})  # the call does not count as a chat
    assert not a.can_take_chat("email", {"email": 1})
    assert a.can_take_chat("email", {})
    for state in (AgentState.LOGGED_OUT, AgentState.PAUSED, AgentState.WRAP_UP):
        assert not agent(state, max_chats=3, chat_while_on_call=True).can_take_chat("sms", {})
    for state in (AgentState.OFFERED, AgentState.BUSY):
        assert not agent(state, max_chats=3).can_take_chat("sms", {})
        assert agent(state, max_chats=3, chat_while_on_call=True).can_take_chat("sms", {})
    assert not agent(AgentState.AVAILABLE).can_take_chat("sms", {})  # max_chats 0: none

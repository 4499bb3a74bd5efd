"""The agents' transition table as the tests expect it, written out independently of
``callcenter/core/acd/agents.py``, and a checked ``Acd.handle`` for property tests."""

from __future__ import annotations

import pytest

from callcenter.core import events as ev
from callcenter.core.acd.agents import AgentState, IllegalTransition, Move
from callcenter.core.acd.engine import Acd
from callcenter.core.commands import Command, DialAgent, DialCustomer

S, M = AgentState, Move
EXPECTED: dict[tuple[AgentState, Move], AgentState] = {
    # Logging in again changes nothing (a paused agent stays paused).
    (S.LOGGED_OUT, M.LOGIN): S.AVAILABLE,
    (S.AVAILABLE, M.LOGIN): S.AVAILABLE,
    (S.PAUSED, M.LOGIN): S.PAUSED,
    # Logging out is refused only while a call is offered or talking.
    (S.AVAILABLE, M.LOGOUT): S.LOGGED_OUT,
    (S.PAUSED, M.LOGOUT): S.LOGGED_OUT,
    (S.WRAP_UP, M.LOGOUT): S.LOGGED_OUT,
    (S.LOGGED_OUT, M.LOGOUT): S.LOGGED_OUT,
    (S.AVAILABLE, M.OFFER): S.OFFERED,
    (S.OFFERED, M.ANSWER): S.BUSY,
    (S.OFFERED, M.NO_ANSWER): S.PAUSED,
    (S.OFFERED, M.WITHDRAW): S.AVAILABLE,
    (S.BUSY, M.END): S.WRAP_UP,
    (S.BUSY, M.END_NO_WRAP): S.AVAILABLE,
    (S.WRAP_UP, M.WRAP_DONE): S.AVAILABLE,
    (S.AVAILABLE, M.PAUSE): S.PAUSED,
    (S.WRAP_UP, M.PAUSE): S.PAUSED,
    (S.PAUSED, M.PAUSE): S.PAUSED,
    (S.PAUSED, M.RESUME): S.AVAILABLE,
    (S.AVAILABLE, M.RESUME): S.AVAILABLE,
}
del S, M

AGENT_MOVES: dict[type, Move] = {
    ev.AgentLogin: Move.LOGIN,
    ev.AgentLogout: Move.LOGOUT,
    ev.AgentPause: Move.PAUSE,
    ev.AgentResume: Move.RESUME,
}


def handle_checked(acd: Acd, event: ev.Event) -> list[Command]:
    """``acd.handle(event)``, checking an agent's own move against :data:`EXPECTED`: a legal move
    lands where the table says (or, from AVAILABLE, on a call offered at once), an illegal one
    raises and changes nothing. No other event may raise.

    The timers due at the event's time fire first (a Tick at that time, its commands returned
    too), so that what the move itself did is what gets checked."""
    move = AGENT_MOVES.get(type(event))
    if move is None:
        return acd.handle(event)
    out = acd.handle(ev.Tick(event.at))
    agent_id = event.agent_id  # type: ignore[union-attr]
    before = acd.agents[agent_id]
    expected = EXPECTED.get((before.state, move))
    if expected is None:
        with pytest.raises(IllegalTransition):
            acd.handle(event)
        assert acd.agents[agent_id] == before
        return out
    moved = acd.handle(event)
    after = acd.agents[agent_id]
    offered = any(isinstance(c, (DialAgent, DialCustomer)) and c.agent_id == agent_id for c in moved)
    assert after.state == expected or (
        expected == AgentState.AVAILABLE and after.state == AgentState.OFFERED and offered
    ), (before, move, after)
    if isinstance(event, ev.AgentPause):
        assert after.reason == event.reason
    return out + moved

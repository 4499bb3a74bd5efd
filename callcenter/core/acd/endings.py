"""How an interaction ends in the engine: out of line and off the agents, its helpers of the call
controls let go, the queue's figures counted, the final snapshot saved, the wrap-up owed. Functions
over the engine's state (``Acd``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from callcenter.core import notices as nt
from callcenter.core.acd.agents import AgentState, Move
from callcenter.core.commands import CancelDial, Command, SaveInteraction, WithdrawOffer
from callcenter.core.interaction import EndedBy, Interaction, Outcome

if TYPE_CHECKING:
    from callcenter.core.acd.engine import Acd


def end(
    acd: Acd, i: Interaction, outcome: Outcome, ended_by: EndedBy, at: float, cause: str, out: list[Command]
) -> None:
    acd._dequeue(i.id)
    acd._let_helpers_go(i.id, at, out)
    for timed in (acd._offered_at, acd._announce_at, acd._chat_due, acd._declined):
        timed.pop(i.id, None)
    acd._live.pop(i.id, None)
    for agent_id in {i.offered_to, i.agent_id} - {None}:
        assert agent_id is not None
        acd._roster.held.get(agent_id, {}).pop(i.id, None)
    if i.is_messaging:
        _off_the_screens(acd, i, cause, out)
    elif i.offered_to is not None:
        agent = acd._roster.agents[i.offered_to]
        out.append(CancelDial(i.id, agent.id))
        if agent.state == AgentState.OFFERED and agent.interaction_id == i.id:
            acd._move(agent, Move.WITHDRAW, at, out, interaction_id=None)
    if i.agent_id is not None and i.agent_id in acd._roster.agents and not i.is_messaging:
        agent = acd._roster.agents[i.agent_id]
        if i.answered_at is not None:
            acd._roster.talk[agent.id] = acd._roster.talk.get(agent.id, 0.0) + (at - i.answered_at)
        acd._release(agent, i, at, out)
    if i.queue is not None:
        count_end(acd, i, outcome, at)
    ended = i.with_(outcome=outcome, ended_by=ended_by, ended_at=at, hangup_cause=cause, offered_to=None)
    for pending in acd._to_wrap.values():
        if i.id in pending:  # an agent who transferred it: its wrap-up now saves the final record
            pending[i.id] = ended
    if ended.agent_id is not None and ended.answered_at is not None:
        acd._wrap_later(ended.agent_id, ended)
    out.append(SaveInteraction(ended))
    out.append(nt.Ended(i.id, at, outcome, ended_by))


def _off_the_screens(acd: Acd, i: Interaction, cause: str, out: list[Command]) -> None:
    """Conversations do not move the voice state: the agents' chat load just went down."""
    if i.offered_to is not None:
        out.append(WithdrawOffer(i.id, i.offered_to, cause))
    for agent_id in (i.offered_to, i.agent_id):
        if agent_id is not None and agent_id in acd._roster.agents:
            acd._roster.reindex(acd._roster.agents[agent_id])


def count_end(acd: Acd, i: Interaction, outcome: Outcome, at: float) -> None:
    c = acd._counters(i.queue or "")
    if outcome == Outcome.ABANDONED and i.queued_at is not None:
        c.abandoned += 1
        c.abandoned_in_sl += at - i.queued_at < acd.queue(i.queue or "").service_level_seconds
    elif outcome == Outcome.EXITED:
        c.exited += 1
    elif outcome == Outcome.CALLED_BACK:
        c.called_back += 1
    elif outcome == Outcome.CALLBACK_FAILED:
        c.callback_failed += 1
    elif outcome == Outcome.LOST and i.answered_at is None:
        c.lost += 1
    if i.answered_at is not None:
        c.talk += at - i.answered_at
        c.talked += 1

"""Taking back, after a restart, the interactions that were live and the wrap-ups agents owed.
Functions over the engine's state (``Acd``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from callcenter.core.acd.agents import AgentState
from callcenter.core.commands import Command, SaveInteraction
from callcenter.core.interaction import Interaction

if TYPE_CHECKING:
    from callcenter.core.acd.engine import Acd


def restore(acd: Acd, interactions: Iterable[Interaction], at: float) -> list[Command]:
    """Callers still waiting (or being offered) go back in line with their original queue time, so
    their order is kept; callbacks keep their place (or their retry time). Conversations waiting
    (or offered, or transferred and not yet taken) go back in line the same way; accepted ones
    count again in their agent's chat load. A later :class:`~callcenter.core.events.Reconciled`
    ends those whose channel no longer exists."""
    out: list[Command] = []
    for i in sorted(interactions, key=lambda i: (i.queued_at or i.started_at, i.id)):
        if i.is_ended:
            continue
        pending = i.agent_id is None if i.is_messaging else i.answered_at is None
        if pending and i.offered_to is not None:
            i = i.with_(offered_to=None)
            out.append(SaveInteraction(i))
        acd._live[i.id] = i
        if i.is_messaging:
            _conversation(acd, i, pending, at)
        else:
            _call(acd, i, at)
    return out


def _conversation(acd: Acd, i: Interaction, pending: bool, at: float) -> None:
    if pending and i.queue is not None and i.queued_at is not None:
        acd._enqueue(i, at)
    elif i.agent_id is not None and i.agent_id in acd._roster.agents:
        acd._roster.held[i.agent_id][i.id] = i.channel.value
        acd._roster.reindex(acd._roster.agents[i.agent_id])


def _call(acd: Acd, i: Interaction, at: float) -> None:
    if i.queue is not None and i.queued_at is not None and i.answered_at is None:
        if i.callback_due_at is not None and i.callback_due_at > at:
            acd._timers.push(i.callback_due_at, "due", i.id)
        else:
            acd._enqueue(i, at)
    elif i.agent_id is not None and i.agent_id in acd._roster.agents:
        agent = acd._roster.agents[i.agent_id]
        acd._roster.held[agent.id][i.id] = i.channel.value
        acd._roster.put(replace(agent, state=AgentState.BUSY, interaction_id=i.id, since=at))


def restore_wrap_ups(acd: Acd, owed: Iterable[tuple[str, Interaction]]) -> None:
    for agent_id, i in owed:
        if i.is_ended and agent_id in acd._roster.agents and i.answered_at is not None:
            acd._wrap_later(agent_id, i)

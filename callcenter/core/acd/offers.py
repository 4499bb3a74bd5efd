"""Offering an interaction to the agent selection chose, and taking an offer back. Functions over
the engine's state (``Acd``).

A call is offered by ringing the agent's phone (``DialAgent``; a callback: ``DialCustomer``), the
agent moving to *offered*; a conversation by an offer on the agent's screen
(``OfferConversation``) that times out after ``offer_timeout``, the agent's chat load going up."""

from __future__ import annotations

from typing import TYPE_CHECKING

from callcenter.core import notices as nt
from callcenter.core.acd import selection
from callcenter.core.acd.agents import Agent, Move
from callcenter.core.commands import Command, DialAgent, DialCustomer, OfferConversation, SaveInteraction
from callcenter.core.interaction import Interaction

if TYPE_CHECKING:
    from callcenter.core.acd.engine import Acd


def serve(acd: Acd, iid: str, at: float, out: list[Command]) -> None:
    """Offer the waiting interaction to the best candidate, if any."""
    i = acd._live[iid]
    assert i.queue is not None
    q = acd.queue(i.queue)
    steps = acd._lines.steps.get(i.id, 0)
    choice = selection.choose(i, q, acd._lines.bucket_of[i.id], steps, acd._roster, at)
    if choice is None:
        return
    agent = choice.agent
    acd._dequeue(i.id)
    acd._roster.last_offer[(q.name, agent.id)] = next(acd._offers)
    acd._roster.held[agent.id][i.id] = i.channel.value
    i = i.with_(offered_to=agent.id, offer_attempts=i.offer_attempts + 1, routing_reason=choice.reason)
    acd._live[i.id] = i
    if i.is_messaging:
        _offer_conversation(acd, i, agent, at, out)
    else:
        _ring(acd, i, agent, at, out)
    out.append(SaveInteraction(i))
    out.append(nt.Offered(i.id, at, agent.id, choice.reason))


def _offer_conversation(acd: Acd, i: Interaction, agent: Agent, at: float, out: list[Command]) -> None:
    acd._roster.reindex(agent)
    due = at + acd.config.offer_timeout
    acd._chat_due[i.id] = due
    acd._timers.push(due, "offer", i.id)
    out.append(
        OfferConversation(
            interaction_id=i.id,
            agent_id=agent.id,
            channel=i.channel.value,
            conversation_id=i.conversation_id or "",
            customer_id=i.customer_id or "",
            timeout=acd.config.offer_timeout,
            attempt=i.offer_attempts,
        )
    )


def _ring(acd: Acd, i: Interaction, agent: Agent, at: float, out: list[Command]) -> None:
    acd._offered_at[i.id] = at
    acd._move(agent, Move.OFFER, at, out, interaction_id=i.id)
    if i.is_callback:
        assert i.callback_number is not None
        timeout = acd.queue(i.queue or "").callback.ring_timeout
        attempt = i.callback_attempts + 1
        out.append(DialCustomer(i.id, agent.id, agent.extension, i.callback_number, timeout, attempt))
    else:
        assert i.caller_channel is not None
        out.append(
            DialAgent(
                interaction_id=i.id,
                agent_id=agent.id,
                extension=agent.extension,
                caller_channel=i.caller_channel,
                caller_id=i.caller_number,
                timeout=acd.config.ring_timeout,
                attempt=i.offer_attempts,
            )
        )


def take_back(acd: Acd, i: Interaction) -> Interaction:
    """An offer did not turn into a conversation: the agent no longer holds the interaction."""
    acd._offered_at.pop(i.id, None)
    acd._chat_due.pop(i.id, None)
    if i.offered_to is not None:
        acd._roster.held.get(i.offered_to, {}).pop(i.id, None)
        if i.is_messaging and i.offered_to in acd._roster.agents:
            acd._roster.reindex(acd._roster.agents[i.offered_to])
    i = i.with_(offered_to=None)
    acd._live[i.id] = i
    return i

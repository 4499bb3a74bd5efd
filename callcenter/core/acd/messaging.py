"""The engine's handlers of conversation events (web chat, SMS, WhatsApp, WeChat, email): arrival
(sticky to the customer's last agent), offers accepted, declined or timed out, the end, transfers.
Functions over the engine's state (``Acd``), called by ``Acd.handle`` and its timers only.

A conversation does not move the agent's voice state: it counts in the agent's chat load."""

from __future__ import annotations

from typing import TYPE_CHECKING

from callcenter.core import events as ev
from callcenter.core import notices as nt
from callcenter.core.acd.agents import TRANSITIONS, AgentState, Move
from callcenter.core.acd.roster import VOICE
from callcenter.core.acd.voice import skill_levels
from callcenter.core.commands import Command, SaveInteraction, WithdrawOffer
from callcenter.core.errors import InvalidRequest, UnknownAgent
from callcenter.core.interaction import Channel, EndedBy, Interaction, Outcome

if TYPE_CHECKING:
    from callcenter.core.acd.engine import Acd

_ENDED_BY = {"agent": EndedBy.AGENT, "customer": EndedBy.CALLER, "system": EndedBy.SYSTEM}


def _sticky_agent(acd: Acd, e: ev.ConversationArrived, channel: Channel) -> str | None:
    """The customer's last agent, when worth waiting for: logged in, able to hold a conversation
    of this channel at all."""
    last = acd._roster.agents.get(e.last_agent or "")
    if (
        last is not None
        and last.state != AgentState.LOGGED_OUT
        and last.chat_limit(channel.value) > 0
        and acd.config.sticky_seconds > 0
    ):
        return last.id
    return None


def arrived(acd: Acd, e: ev.ConversationArrived, out: list[Command]) -> None:
    if e.interaction_id in acd._live:
        return
    try:
        channel = Channel(e.channel)
    except ValueError as err:
        raise InvalidRequest(f"{e.channel!r} is not a channel") from err
    if channel == Channel.VOICE:
        raise InvalidRequest("a conversation arrives on a messaging channel, not voice")
    preferred = _sticky_agent(acd, e, channel)
    i = Interaction(
        id=e.interaction_id,
        channel=channel,
        caller_number="",
        started_at=e.at,
        queue=e.queue,
        queued_at=e.at,
        priority=e.priority,
        skills=skill_levels(e.skills),
        language=e.language,
        customer_id=e.customer_id,
        conversation_id=e.conversation_id,
        preferred_agent=preferred,
        preferred_until=None if preferred is None else e.at + acd.config.sticky_seconds,
    )
    acd._live[i.id] = i
    acd._counters(e.queue).entered += 1
    acd._enqueue(i, e.at)
    out.append(SaveInteraction(i))
    needs = bool(e.skills or e.language)
    skills, language = (dict(i.skills), e.language) if needs else (None, None)
    queued = nt.ConversationQueued(
        i.id, e.at, e.queue, channel.value, e.customer_id, e.conversation_id, skills, language, preferred
    )
    out.append(queued)
    if e.data:  # what the virtual agent's flow collected: the agent's panel shows it, as the IVR's
        out.append(nt.IvrFinished(i.id, e.at, "bot", dict(e.data)))


def accepted(acd: Acd, e: ev.OfferAccepted, out: list[Command]) -> None:
    i = acd._live.get(e.interaction_id)
    if i is None or not i.is_messaging or i.offered_to != e.agent_id:
        # Too late (timed out, the customer left, someone else has it): clear the screen.
        out.append(WithdrawOffer(e.interaction_id, e.agent_id, "no longer offered"))
        return
    acd._chat_due.pop(i.id, None)
    first = i.answered_at is None
    i = i.with_(agent_id=e.agent_id, answered_at=i.answered_at if not first else e.at, offered_to=None)
    acd._live[i.id] = i
    if first:
        acd._count_answer(i, e.at)
    out.append(SaveInteraction(i))
    out.append(nt.Answered(i.id, e.at, e.agent_id))


def declined(acd: Acd, e: ev.OfferDeclined, out: list[Command]) -> None:
    i = acd._live.get(e.interaction_id)
    if i is None or not i.is_messaging or i.offered_to != e.agent_id:
        return
    offer_failed(acd, i, e.agent_id, e.reason or "declined", e.at, out, pause=False)


def offer_failed(
    acd: Acd, i: Interaction, agent_id: str, reason: str, at: float, out: list[Command], *, pause: bool
) -> None:
    """A conversation's offer was declined or timed out: back to its place, to someone else."""
    i = acd._take_back(i)
    if i.preferred_agent == agent_id:
        i = i.with_(preferred_agent=None, preferred_until=None)
        acd._live[i.id] = i
    if acd.config.decline_seconds > 0:
        until = at + acd.config.decline_seconds
        acd._declined.setdefault(i.id, {})[agent_id] = until
        acd._timers.push(until, "skip", i.id)
    out.append(WithdrawOffer(i.id, agent_id, reason))
    acd._enqueue(i, at)
    out.append(SaveInteraction(i))
    out.append(nt.OfferFailed(i.id, at, agent_id, reason))
    agent = acd._roster.agents[agent_id]
    if pause and (agent.state, Move.PAUSE) in TRANSITIONS:
        acd._move(agent, Move.PAUSE, at, out, reason=reason)


def ended(acd: Acd, e: ev.ConversationEnded, out: list[Command]) -> None:
    i = acd._live.get(e.interaction_id)
    if i is None or not i.is_messaging:
        return
    by = _ENDED_BY.get(e.by)
    if by is None:
        raise InvalidRequest(f"ended by {e.by!r}: expected agent, customer or system")
    if i.answered_at is not None:
        outcome = Outcome.ANSWERED
    else:
        outcome = Outcome.ABANDONED if by == EndedBy.CALLER else Outcome.LOST
    acd._end(i, outcome, by, e.at, f"closed by the {e.by}", out)


def transferred(acd: Acd, e: ev.ConversationTransferred, out: list[Command]) -> None:
    i = acd._live.get(e.interaction_id)
    if i is None or not i.is_messaging or i.agent_id != e.from_agent:
        return
    if e.to_agent is None and e.to_queue is None:
        raise InvalidRequest("a transfer names an agent, a queue, or both")
    if e.to_agent is not None and e.to_agent not in acd._roster.agents:
        raise UnknownAgent(e.to_agent)
    acd._roster.held[e.from_agent].pop(i.id, None)
    acd._roster.reindex(acd._roster.agents[e.from_agent])
    queue = e.to_queue or i.queue or ""
    if queue != i.queue:
        acd._counters(queue).entered += 1
    until = None if e.to_agent is None else e.at + acd.config.transfer_agent_seconds
    i = i.with_(
        agent_id=None,
        queue=queue,
        queued_at=e.at,
        priority=max(i.priority, acd.config.transfer_priority),
        preferred_agent=e.to_agent,
        preferred_until=until,
    )
    acd._live[i.id] = i
    acd._declined.pop(i.id, None)
    acd._enqueue(i, e.at)
    out.append(SaveInteraction(i))
    out.append(nt.Transferred(i.id, e.at, e.from_agent, e.to_agent, queue))


def withdraw_offers(acd: Acd, agent_id: str, at: float, out: list[Command], reason: str) -> None:
    """The agent stopped taking work (paused, logged out): its open chat offers go to others."""
    for iid, channel in list(acd._roster.held.get(agent_id, {}).items()):
        i = acd._live.get(iid)
        if channel == VOICE or i is None or i.offered_to != agent_id:
            continue
        i = acd._take_back(i)
        out.append(WithdrawOffer(i.id, agent_id, reason))
        acd._enqueue(i, at)
        out.append(SaveInteraction(i))
        out.append(nt.OfferFailed(i.id, at, agent_id, reason))

"""The engine's handlers of call events: arrival, the IVR's end, answer, ring-no-answer, hang-ups,
callbacks. Functions over the engine's state (``Acd``), called by ``Acd.handle`` only."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from callcenter.core import events as ev
from callcenter.core import notices as nt
from callcenter.core.acd.agents import Move
from callcenter.core.commands import CancelDial, Command, ExitQueue, SaveInteraction
from callcenter.core.interaction import Channel, EndedBy, Interaction, Outcome

if TYPE_CHECKING:
    from callcenter.core.acd.engine import Acd

# How an IVR that did not queue the caller ended (IvrFinished.outcome) -> the interaction's end.
_IVR_ENDINGS: dict[str, tuple[Outcome, EndedBy, str]] = {
    "": (Outcome.IVR_NO_INPUT, EndedBy.SYSTEM, "no valid menu choice"),
    "no_input": (Outcome.IVR_NO_INPUT, EndedBy.SYSTEM, "no valid menu choice"),
    "voicemail": (Outcome.VOICEMAIL, EndedBy.CALLER, "left a voicemail"),
    "hangup": (Outcome.IVR_ENDED, EndedBy.SYSTEM, "the flow ended the call"),
    "callback": (Outcome.IVR_NO_INPUT, EndedBy.SYSTEM, "callback asked without a number or queue"),
    "error": (Outcome.FAILED, EndedBy.SYSTEM, "the IVR flow failed"),
}


def skill_levels(skills: Iterable[str]) -> dict[str, int]:
    """The IVR's skills, ``name`` (level 1) or ``name:level``, as a requirement."""
    levels: dict[str, int] = {}
    for skill in skills:
        name, _, level = skill.rpartition(":")
        if name and level.isdigit() and int(level) > 0:
            levels[name] = int(level)
        else:
            levels[skill] = 1
    return levels


def arrived(acd: Acd, e: ev.CallArrived, out: list[Command]) -> None:
    if e.interaction_id in acd._live:
        return
    i = Interaction(
        id=e.interaction_id,
        channel=Channel.VOICE,
        caller_number=e.caller_number,
        caller_name=e.caller_name,
        caller_channel=e.caller_channel,
        dialed_number=e.dialed_number,
        started_at=e.at,
        customer_id=e.customer_id,
    )
    acd._live[i.id] = i
    out.append(SaveInteraction(i))
    out.append(nt.Arrived(i.id, e.at, e.caller_number))


def ivr_finished(acd: Acd, e: ev.IvrFinished, out: list[Command]) -> None:
    i = acd._live.get(e.interaction_id)
    if i is None or i.queue is not None:
        return
    queue, callback_number = e.queue, None
    if queue is None and e.outcome == "callback":
        # A flow's callback ending: in line now for ``callback_queue``, to be called back.
        queue = e.data.get("callback_queue") or None
        callback_number = e.data.get("callback_number") or None
        if callback_number is None:
            queue = None
    if e.outcome or e.data:
        # What the flow collected and how it ended travel with the interaction (the event log).
        out.append(nt.IvrFinished(i.id, e.at, e.outcome, dict(e.data)))
    if queue is None:
        i = i.with_(ivr_choice=e.choice)
        acd._live[i.id] = i
        outcome, by, cause = _IVR_ENDINGS.get(e.outcome, _IVR_ENDINGS[""])
        acd._end(i, outcome, by, e.at, cause, out)
        return
    i = i.with_(
        ivr_choice=e.choice,
        queue=queue,
        queued_at=e.at,
        priority=e.priority,
        skills=skill_levels(e.skills),
        language=e.language,
        callback_number=callback_number,
        preferred_agent=e.agent,
        preferred_until=None if e.agent is None else e.at + acd.config.transfer_agent_seconds,
    )
    acd._live[i.id] = i
    acd._counters(queue).entered += 1
    acd._enqueue(i, e.at)
    out.append(SaveInteraction(i))
    needs = bool(e.skills or e.language)
    skills, language = (dict(i.skills), e.language) if needs else (None, None)
    out.append(nt.Queued(i.id, e.at, queue, e.choice, skills, language, callback_number))


def caller_hung_up(acd: Acd, e: ev.CallerHungUp | ev.OutboundAbandoned, out: list[Command]) -> None:
    if isinstance(e, ev.OutboundAbandoned):
        outbound_abandoned(acd, e, out)
        return
    i = acd._live.get(e.interaction_id)
    if i is None or i.is_messaging:
        return  # (voice events never apply to a conversation, whatever id they carry)
    if i.is_callback and i.answered_at is None and not e.system:
        # The caller hangs up after asking for a callback: the place is kept, the leg is gone.
        if i.offered_to is None and i.caller_channel is not None:
            i = i.with_(caller_channel=None)
            acd._live[i.id] = i
            out.append(SaveInteraction(i))
        return
    if e.system:
        outcome = acd._talked(i) if i.answered_at is not None else Outcome.LOST
        acd._end(i, outcome, EndedBy.SYSTEM, e.at, e.cause, out)
    elif i.answered_at is not None:
        acd._end(i, acd._talked(i), EndedBy.CALLER, e.at, e.cause, out)
    elif i.queue is not None:
        acd._end(i, Outcome.ABANDONED, EndedBy.CALLER, e.at, e.cause, out)
    else:
        acd._end(i, Outcome.IVR_HANGUP, EndedBy.CALLER, e.at, e.cause, out)


def outbound_abandoned(acd: Acd, e: ev.OutboundAbandoned, out: list[Command]) -> None:
    """A campaign's answered call with no agent to take it: out of line, abandoned (by the system:
    the customer hears the campaign's message, then Asterisk hangs up)."""
    i = acd._live.get(e.interaction_id)
    if i is None or i.is_messaging or i.queue is None or i.answered_at is not None:
        return
    if i.offered_to is not None:
        return  # an agent's phone rings for it: not abandoned
    acd._end(i, Outcome.ABANDONED, EndedBy.SYSTEM, e.at, e.cause, out)


def agent_answered(acd: Acd, e: ev.AgentAnswered | ev.CallbackConnected, out: list[Command]) -> None:
    i = acd._live.get(e.interaction_id)
    if i is not None and i.is_messaging:
        return
    if i is None or i.offered_to != e.agent_id:
        # The caller left (or the offer was taken back) while the phone rang: drop the leg.
        out.append(CancelDial(e.interaction_id, e.agent_id))
        return
    if i.is_callback and isinstance(e, ev.AgentAnswered):
        return  # the agent picked up; the callback is answered when the customer is connected
    acd._offered_at.pop(i.id, None)
    # A transferred call keeps its first answer (its talk time counts from there).
    answered = e.at if i.answered_at is None else i.answered_at
    i = i.with_(agent_id=e.agent_id, answered_at=answered, offered_to=None)
    acd._live[i.id] = i
    if not i.is_callback:
        acd._count_answer(i, e.at)
    acd._move(acd._roster.agents[e.agent_id], Move.ANSWER, e.at, out, interaction_id=i.id)
    out.append(SaveInteraction(i))
    notice = nt.CallbackConnected if i.is_callback else nt.Answered
    out.append(notice(i.id, e.at, e.agent_id))


def dial_failed(
    acd: Acd, interaction_id: str, agent_id: str, reason: str, at: float, out: list[Command]
) -> None:
    i = acd._live.get(interaction_id)
    if i is None or i.offered_to != agent_id or i.is_messaging:
        return
    i = acd._take_back(i)
    agent = acd._roster.agents[agent_id]
    # Ring-no-answer: the caller goes back at its original place; the agent is paused.
    acd._move(agent, Move.NO_ANSWER, at, out, reason=reason, interaction_id=None)
    acd._enqueue(i, at)
    out.append(SaveInteraction(i))
    out.append(nt.OfferFailed(i.id, at, agent_id, reason))


def callback_requested(acd: Acd, e: ev.CallbackRequested, out: list[Command]) -> None:
    i = acd._live.get(e.interaction_id)
    if i is None or i.id not in acd._lines.waiting or i.is_callback or i.is_messaging:
        return  # only a caller still in line can ask (not one whose agent is already ringing)
    i = i.with_(callback_number=e.number)
    acd._live[i.id] = i
    out.append(SaveInteraction(i))
    out.append(nt.CallbackRequested(i.id, e.at, e.number))


def callback_key_pressed(acd: Acd, e: ev.CallbackKeyPressed, out: list[Command]) -> None:
    """``*`` from a caller waiting in line: the confirmation (the ``callback`` exit: the caller hears
    it and is hung up), and the callback keeps the place in line. Anywhere else (the menu, ringing
    an agent, talking, on hold) the key means nothing here."""
    i = acd._live.get(e.interaction_id)
    if i is None or i.id not in acd._lines.waiting or i.is_callback or i.is_messaging:
        return
    if i.caller_channel is None:
        return
    out.append(ExitQueue(i.id, i.caller_channel, "callback"))
    callback_requested(acd, ev.CallbackRequested(i.id, e.number, e.at), out)


def callback_failed(acd: Acd, e: ev.CallbackFailed, out: list[Command]) -> None:
    i = acd._live.get(e.interaction_id)
    if i is None or i.offered_to != e.agent_id or not i.is_callback:
        return
    i = acd._take_back(i).with_(callback_attempts=i.callback_attempts + 1)
    acd._move(acd._roster.agents[e.agent_id], Move.WITHDRAW, e.at, out, interaction_id=None)
    policy = acd.queue(i.queue or "").callback
    out.append(nt.CallbackFailed(i.id, e.at, e.agent_id, e.reason, i.callback_attempts))
    if i.callback_attempts >= policy.attempts:
        acd._live[i.id] = i
        acd._end(i, Outcome.CALLBACK_FAILED, EndedBy.SYSTEM, e.at, e.reason, out)
        return
    i = i.with_(callback_due_at=e.at + policy.retry_delay)
    acd._live[i.id] = i
    acd._timers.push(e.at + policy.retry_delay, "due", i.id)
    out.append(SaveInteraction(i))


def agent_hung_up(acd: Acd, e: ev.AgentHungUp, out: list[Command]) -> None:
    i = acd._live.get(e.interaction_id)
    if i is None or i.agent_id != e.agent_id or i.answered_at is None or i.is_messaging:
        return  # before answer, the dial's own outcome (AgentDialFailed) decides
    if e.system:
        acd._end(i, acd._talked(i), EndedBy.SYSTEM, e.at, "agent leg ended by the system", out)
    else:
        acd._end(i, acd._talked(i), EndedBy.AGENT, e.at, "agent hung up", out)


def reconciled(acd: Acd, e: ev.Reconciled, out: list[Command]) -> None:
    for i in list(acd._live.values()):
        if i.id in e.live_interactions or i.is_messaging:
            continue  # conversations have no Asterisk channel
        if i.is_callback:
            # A callback needs no caller leg; its own dial legs are the adapter's to reconcile.
            if i.caller_channel is not None and i.answered_at is None and i.offered_to is None:
                i = i.with_(caller_channel=None)
                acd._live[i.id] = i
                out.append(SaveInteraction(i))
            continue
        acd._end(i, Outcome.LOST, EndedBy.SYSTEM, e.at, "channel gone after reconnect", out)
    for agent in list(acd._roster.agents.values()):
        acd._registered(agent.extension, agent.extension in e.registered_extensions, e.at, out)

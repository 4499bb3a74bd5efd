"""The ACD engine: who gets which interaction, and when. Pure: ``handle(event)`` returns commands.

One engine for every channel: calls come in through the IVR (``CallArrived``, ``IvrFinished``);
messaging interactions (web chat, SMS, WhatsApp, WeChat, email) go straight to their queue
(``ConversationArrived``). Both wait in the same lines, ordered the same way, and are served by the
same dispatch; a call is offered by ringing the agent's phone (``DialAgent``), a conversation by an
offer on the agent's screen (``OfferConversation``) accepted or declined within ``offer_timeout``.
Chat load is counted beside the voice state machine (see ``agents.py``): an agent with chats open
stays offerable for more, up to its capacity.

Invariants (checked by tests, including property-based ones):
- an agent never holds more interactions of a channel than its capacity (voice: one; messaging:
  ``Agent.chat_limit``, and ``max_chats`` across messaging channels);
- a caller is never offered before an earlier-placed caller (higher priority, then earlier queue
  time) who could have gone to the same agent — across every queue the agent serves;
- every interaction that arrives ends exactly once, with an outcome, and is saved at each step;
- at rest (after each ``handle``) no agent able to take an interaction matches any waiting one of
  that channel.

How routing stays cheap (see docs/performance.md): waiting callers are grouped in *buckets* by what
they need right now (their targets: queue pool + minimum skill levels, widened by overflow steps),
each bucket sorted by place, one set of buckets per channel (an agent may be able to take a chat
but not a call); a bucket may also be held for one agent (sticky routing, transfer to an agent) or
skip agents who declined. Agents able to take an interaction are indexed by (channel, queue,
skill). An event only looks at what it changed: a freed agent scans the heads of the buckets of its
queues (and those held for it); a new caller looks up the smallest index set of its targets.
Timers (overflow steps, maximum wait, announcements, callback retries, wrap-up, offer timeouts,
sticky and decline windows) sit in one heap driven by ``Tick``.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from callcenter.core import events as ev
from callcenter.core import notices as nt
from callcenter.core import queues as qs
from callcenter.core.agents import TRANSITIONS, Agent, AgentState, Move
from callcenter.core.commands import (
    AgentStateChanged,
    Announce,
    CancelDial,
    Command,
    DialAgent,
    DialCustomer,
    ExitQueue,
    OfferConversation,
    RecordEvent,
    SaveInteraction,
    WithdrawOffer,
)
from callcenter.core.errors import InvalidRequest, NotYourCall, UnknownAgent
from callcenter.core.interaction import Channel, EndedBy, Interaction, Outcome
from callcenter.core.stats import QueueCounters, QueueSnapshot, snapshot

# The domain errors used to live here; importers of these names keep working.
__all__ = ["Acd", "AcdConfig", "NotYourCall", "UnknownAgent", "skill_levels"]

# How an IVR that did not queue the caller ended (IvrFinished.outcome) -> the interaction's end.
_IVR_ENDINGS: dict[str, tuple[Outcome, EndedBy, str]] = {
    "": (Outcome.IVR_NO_INPUT, EndedBy.SYSTEM, "no valid menu choice"),
    "no_input": (Outcome.IVR_NO_INPUT, EndedBy.SYSTEM, "no valid menu choice"),
    "voicemail": (Outcome.VOICEMAIL, EndedBy.CALLER, "left a voicemail"),
    "hangup": (Outcome.IVR_ENDED, EndedBy.SYSTEM, "the flow ended the call"),
    "callback": (Outcome.IVR_NO_INPUT, EndedBy.SYSTEM, "callback asked without a number or queue"),
    "error": (Outcome.FAILED, EndedBy.SYSTEM, "the IVR flow failed"),
}


@dataclass(frozen=True, slots=True)
class AcdConfig:
    ring_timeout: float = 20.0
    wrap_up_seconds: float = 0.0
    # If Asterisk never reports the outcome of a dial, the offer is taken back after this much
    # longer than the ring timeout, so a lost AMI event cannot hold a caller forever.
    offer_grace: float = 15.0
    # Messaging offers: how long an offer stays on the agent's screen; whether letting it time out
    # pauses the agent (like ring-no-answer; a decline never does); how long an agent who declined
    # (or let time out) is not offered that same interaction again.
    offer_timeout: float = 30.0
    pause_on_offer_timeout: bool = True
    decline_seconds: float = 60.0
    # Sticky routing: a returning customer's last agent is the only one offered the conversation
    # for this long (if logged in), then anyone.
    sticky_seconds: float = 30.0
    # Transfers: a conversation sent to a queue goes in line at least at this priority; one sent
    # to an agent waits for that agent this long, then goes to anyone in its queue.
    transfer_priority: int = 100
    transfer_agent_seconds: float = 60.0
    # Wrap-up: the disposition codes an agent may give (empty: any code, or none); how many
    # finished interactions per agent wait for their wrap-up before the oldest is dropped.
    dispositions: tuple[str, ...] = ()
    wrap_up_keep: int = 20


_CHANNELS = tuple(c.value for c in Channel)
_VOICE = Channel.VOICE.value
_ENDED_BY = {"agent": EndedBy.AGENT, "customer": EndedBy.CALLER, "system": EndedBy.SYSTEM}


@dataclass(frozen=True, slots=True, order=True)
class _Place:
    """A caller's place in line: higher priority first, then earlier queue time, then arrival order."""

    neg_priority: int
    queued_at: float
    seq: int
    iid: str


@dataclass(frozen=True, slots=True)
class _Key:
    """A bucket: who may take its interactions now."""

    channel: str
    targets: tuple[qs.Target, ...]
    only: str | None = None  # held for this agent (sticky, transfer to an agent), whatever its queues
    skip: frozenset[str] = frozenset()  # agents who declined these interactions a moment ago


_EMPTY: frozenset[str] = frozenset()


class Acd:
    def __init__(
        self,
        config: AcdConfig,
        agents: Iterable[Agent],
        queues: Mapping[str, qs.Queue] | None = None,
    ) -> None:
        self.config = config
        self.queues: dict[str, qs.Queue] = dict(queues or {})
        self.agents: dict[str, Agent] = {a.id: a for a in agents}
        self._by_extension = {a.extension: a.id for a in self.agents.values()}
        self.live: dict[str, Interaction] = {}
        self.waiting: dict[str, _Place] = {}
        self.stats: dict[str, QueueCounters] = {}
        self._offered_at: dict[str, float] = {}
        self._seq = itertools.count()
        self._lines: dict[str, list[_Place]] = {}  # per queue, for positions
        self._buckets: dict[_Key, list[_Place]] = {}
        self._bucket_of: dict[str, _Key] = {}
        self._buckets_by_pool: dict[str, set[_Key]] = {}
        self._buckets_by_agent: dict[str, set[_Key]] = {}  # keys held for one agent
        self._steps: dict[str, int] = {}
        self._timers: list[tuple[float, int, str, str]] = []
        self._announce_at: dict[str, float] = {}
        self._members: dict[str, set[str]] = {}
        # (channel, pool) -> agents able to take an interaction of that channel now; and by skill.
        self._avail: dict[tuple[str, str], set[str]] = {}
        self._avail_skill: dict[tuple[str, str, str], set[str]] = {}
        self._indexed: set[tuple[str, str]] = set()  # (agent, channel) in the index
        self._chat_due: dict[str, float] = {}  # messaging offer -> when it times out
        self._declined: dict[str, dict[str, float]] = {}  # interaction -> agent -> skipped until
        self._held: dict[str, dict[str, str]] = {a: {} for a in self.agents}  # agent -> iid -> channel
        self._dirty_agents: set[str] = set()
        self._dirty_callers: set[str] = set()
        self._last_offer: dict[tuple[str, str], int] = {}
        self._talk: dict[str, float] = {}
        self._login_at: dict[str, float] = {}
        self.consults: dict[str, str] = {}  # call -> the agent consulted (attended transfer)
        self.conferences: dict[str, str] = {}  # call -> the agent brought in (three parties)
        # agent -> interactions it handled whose wrap-up (disposition, notes) is still to come
        self._to_wrap: dict[str, dict[str, Interaction]] = {}
        self.state_counts: dict[AgentState, int] = {s: 0 for s in AgentState}
        for agent in self.agents.values():
            self.state_counts[agent.state] += 1
            for q in agent.queues:
                self._members.setdefault(q, set()).add(agent.id)
            self._reindex(agent)

    # -- queries ---------------------------------------------------------------------------------
    def agent(self, agent_id: str) -> Agent:
        try:
            return self.agents[agent_id]
        except KeyError:
            raise UnknownAgent(agent_id) from None

    def agent_by_extension(self, extension: str) -> Agent | None:
        agent_id = self._by_extension.get(extension)
        return None if agent_id is None else self.agents[agent_id]

    def queue(self, name: str) -> qs.Queue:
        found = self.queues.get(name)
        return found if found is not None else qs.Queue(name)

    def queue_names(self) -> list[str]:
        names = set(self.queues) | set(self._members) | set(self._lines) | set(self.stats)
        return sorted(names - {""})

    def conversations_of(self, agent_id: str) -> list[str]:
        """The messaging interactions the agent holds (offered or accepted), oldest first."""
        held = self._held.get(agent_id, {})
        return sorted((i for i, c in held.items() if c != _VOICE), key=lambda i: (self.live[i].started_at, i))

    def wrap_ups_of(self, agent_id: str) -> list[Interaction]:
        """The interactions the agent handled and has not wrapped up yet, oldest first."""
        return list(self._to_wrap.get(agent_id, {}).values())

    def waiting_count(self, queue: str) -> int:
        return len(self._lines.get(queue, ()))

    def waiting_in(self, queue: str) -> list[Interaction]:
        return [self.live[p.iid] for p in self._lines.get(queue, [])]

    def position(self, interaction_id: str) -> int | None:
        place = self.waiting.get(interaction_id)
        if place is None:
            return None
        line = self._lines[self.live[interaction_id].queue or ""]
        return bisect.bisect_left(line, place) + 1

    def estimated_wait(self, queue: str, position: int) -> float:
        """Position x average handle time / staffed agents, rounded up to 30 s."""
        staffed = sum(
            1
            for a in self._members.get(queue, ())
            if self.agents[a].state not in (AgentState.LOGGED_OUT, AgentState.PAUSED)
        )
        handle = self.stats.get(queue, QueueCounters()).handle_seconds
        seconds = position * handle / max(1, staffed)
        return float(math.ceil(seconds / 30.0) * 30)

    def queue_stats(self, name: str, now: float) -> QueueSnapshot:
        q = self.queue(name)
        states: dict[str, int] = {s.value: 0 for s in AgentState}
        for agent_id in self._members.get(name, ()):
            states[self.agents[agent_id].state.value] += 1
        waits = [(p.queued_at, self.live[p.iid].is_callback) for p in self._lines.get(name, [])]
        return snapshot(
            name,
            self.stats.get(name, QueueCounters()),
            waits,
            states,
            q.service_level_seconds,
            q.service_level_target,
            now,
            self.estimated_wait(name, len(waits) + 1),
        )

    # -- configuration ---------------------------------------------------------------------------
    def set_queues(self, queues: Mapping[str, qs.Queue], at: float) -> list[Command]:
        """Replace the queue definitions (a reload): waiting callers are re-targeted in place."""
        self.queues = dict(queues)
        out: list[Command] = []
        for iid in list(self.waiting):
            self._retarget(self.live[iid], at)
            self._schedule(self.live[iid], at)
        self._dispatch(at, out)
        return out

    def set_agent_profile(
        self,
        agent_id: str,
        at: float,
        *,
        queues: frozenset[str],
        skills: Mapping[str, int],
        languages: frozenset[str],
        capacity: Mapping[str, int],
        max_chats: int,
    ) -> list[Command]:
        """An administrator's edit of what an agent serves (queues, skills, languages, chat
        capacity): the state and what the agent holds are kept; the indexes follow, and waiting
        interactions the agent may now take are routed. Raises UnknownAgent."""
        old = self.agent(agent_id)
        # Out of the availability index under the old queues and skills, then in under the new.
        for channel in _CHANNELS:
            if (agent_id, channel) in self._indexed:
                for pool in old.queues:
                    self._avail.get((channel, pool), set()).discard(agent_id)
                    for sk in old.all_skills:
                        self._avail_skill.get((channel, pool, sk), set()).discard(agent_id)
                self._indexed.discard((agent_id, channel))
        for q in old.queues:
            self._members.get(q, set()).discard(agent_id)
        new = replace(
            old,
            queues=frozenset(queues),
            skills=dict(skills),
            languages=frozenset(languages),
            capacity={"voice": 1, **dict(capacity)},
            max_chats=max_chats,
        )
        self.agents[agent_id] = new
        for q in new.queues:
            self._members.setdefault(q, set()).add(agent_id)
        self._reindex(new)
        out: list[Command] = []
        self._dispatch(at, out)
        return out

    # -- restore after a restart -----------------------------------------------------------------
    def restore(self, interactions: Iterable[Interaction], at: float) -> list[Command]:
        """Take back interactions that were live when the server stopped.

        Callers still waiting (or being offered) go back in line with their original queue time, so
        their order is kept; callbacks keep their place (or their retry time). Conversations
        waiting (or offered, or transferred and not yet taken) go back in line the same way;
        accepted ones count again in their agent's chat load. A later
        :class:`~callcenter.core.events.Reconciled` ends those whose channel no longer exists.
        """
        out: list[Command] = []
        for i in sorted(interactions, key=lambda i: (i.queued_at or i.started_at, i.id)):
            if i.is_ended:
                continue
            pending = i.agent_id is None if i.is_messaging else i.answered_at is None
            if pending and i.offered_to is not None:
                i = i.with_(offered_to=None)
                out.append(SaveInteraction(i))
            self.live[i.id] = i
            if i.is_messaging:
                if pending and i.queue is not None and i.queued_at is not None:
                    self._enqueue(i, at)
                elif i.agent_id is not None and i.agent_id in self.agents:
                    self._held[i.agent_id][i.id] = i.channel.value
                    self._reindex(self.agents[i.agent_id])
                continue
            if i.queue is not None and i.queued_at is not None and i.answered_at is None:
                if i.callback_due_at is not None and i.callback_due_at > at:
                    self._push_timer(i.callback_due_at, "due", i.id)
                else:
                    self._enqueue(i, at)
            elif i.agent_id is not None and i.agent_id in self.agents:
                agent = self.agents[i.agent_id]
                self._held[agent.id][i.id] = i.channel.value
                self._put(replace(agent, state=AgentState.BUSY, interaction_id=i.id, since=at))
        return out

    def restore_wrap_ups(self, owed: Iterable[tuple[str, Interaction]]) -> None:
        """Give agents back the wrap-ups they owed when the server stopped: (agent, the ended
        interaction) pairs, oldest first; each agent keeps the newest ``wrap_up_keep``. The agent
        may be one who transferred the call away. The agents' states are not touched: a wrap-up
        timer does not survive a restart, the form does."""
        for agent_id, i in owed:
            if i.is_ended and agent_id in self.agents and i.answered_at is not None:
                self._wrap_later(agent_id, i)

    # -- the one entry point ---------------------------------------------------------------------
    def handle(self, event: ev.Event) -> list[Command]:
        out: list[Command] = []
        match event:
            case ev.CallArrived():
                self._arrived(event, out)
            case ev.IvrFinished():
                self._ivr_finished(event, out)
            case ev.CallerHungUp():
                self._caller_hung_up(event, out)
            case ev.AgentAnswered() | ev.CallbackConnected():
                self._agent_answered(event, out)
            case ev.AgentDialFailed():
                self._dial_failed(event.interaction_id, event.agent_id, event.reason, event.at, out)
            case ev.AgentHungUp():
                self._agent_hung_up(event, out)
            case ev.AgentRegistered():
                self._registered(event.extension, True, event.at, out)
            case ev.AgentUnregistered():
                self._registered(event.extension, False, event.at, out)
            case ev.AgentLogin():
                self._move(self.agent(event.agent_id), Move.LOGIN, event.at, out)
            case ev.AgentLogout():
                self._move(self.agent(event.agent_id), Move.LOGOUT, event.at, out)
            case ev.AgentPause():
                agent = self.agent(event.agent_id)
                self._move(agent, Move.PAUSE, event.at, out, reason=event.reason)
            case ev.AgentResume():
                self._move(self.agent(event.agent_id), Move.RESUME, event.at, out)
            case ev.Tick():
                self._tick(event.at, out)
            case ev.Reconciled():
                self._reconciled(event, out)
            case ev.CallbackRequested():
                self._callback_requested(event, out)
            case ev.CallbackFailed():
                self._callback_failed(event, out)
            case ev.ConversationArrived():
                self._conversation_arrived(event, out)
            case ev.OfferAccepted():
                self._offer_accepted(event, out)
            case ev.OfferDeclined():
                self._offer_declined(event, out)
            case ev.ConversationEnded():
                self._conversation_ended(event, out)
            case ev.ConversationTransferred():
                self._transferred(event, out)
            case ev.CallTransferred():
                self._call_transferred(event, out)
            case ev.CallHeld():
                self._call_held(event, out)
            case ev.WrapUpDone():
                self._wrap_up_done(event, out)
            case ev.ConsultStarted():
                self._consult_started(event, out)
            case ev.ConsultEnded():
                self._consult_ended(event, out)
            case ev.ConferenceInvited():
                self._conference_invited(event, out)
            case ev.ConferenceJoined():
                self._conference_joined(event, out)
            case ev.ConferenceLeft():
                self._conference_left(event, out)
        # Every event carries the time: timers due by then fire, whatever the event. After the
        # handler, so an event refused with an exception leaves the engine untouched.
        self._run_timers(event.at, out)
        self._dispatch(event.at, out)
        return out

    # -- handlers --------------------------------------------------------------------------------
    def _arrived(self, e: ev.CallArrived, out: list[Command]) -> None:
        if e.interaction_id in self.live:
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
        self.live[i.id] = i
        out.append(SaveInteraction(i))
        out.append(nt.Arrived(i.id, e.at, e.caller_number))

    def _ivr_finished(self, e: ev.IvrFinished, out: list[Command]) -> None:
        i = self.live.get(e.interaction_id)
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
            self.live[i.id] = i
            outcome, by, cause = _IVR_ENDINGS.get(e.outcome, _IVR_ENDINGS[""])
            self._end(i, outcome, by, e.at, cause, out)
            return
        i = i.with_(
            ivr_choice=e.choice,
            queue=queue,
            queued_at=e.at,
            priority=e.priority,
            skills=skill_levels(e.skills),
            language=e.language,
            callback_number=callback_number,
        )
        self.live[i.id] = i
        self._counters(queue).entered += 1
        self._enqueue(i, e.at)
        out.append(SaveInteraction(i))
        needs = bool(e.skills or e.language)
        out.append(
            nt.Queued(
                i.id,
                e.at,
                queue,
                e.choice,
                skills=dict(i.skills) if needs else None,
                language=e.language if needs else None,
                callback=callback_number,
            )
        )

    def _caller_hung_up(self, e: ev.CallerHungUp, out: list[Command]) -> None:
        i = self.live.get(e.interaction_id)
        if i is None or i.is_messaging:
            return  # (voice events never apply to a conversation, whatever id they carry)
        if i.is_callback and i.answered_at is None and not e.system:
            # The caller hangs up after asking for a callback: the place is kept, the leg is gone.
            if i.offered_to is None and i.caller_channel is not None:
                i = i.with_(caller_channel=None)
                self.live[i.id] = i
                out.append(SaveInteraction(i))
            return
        if e.system:
            outcome = self._talked(i) if i.answered_at is not None else Outcome.LOST
            self._end(i, outcome, EndedBy.SYSTEM, e.at, e.cause, out)
        elif i.answered_at is not None:
            self._end(i, self._talked(i), EndedBy.CALLER, e.at, e.cause, out)
        elif i.queue is not None:
            self._end(i, Outcome.ABANDONED, EndedBy.CALLER, e.at, e.cause, out)
        else:
            self._end(i, Outcome.IVR_HANGUP, EndedBy.CALLER, e.at, e.cause, out)

    def _agent_answered(self, e: ev.AgentAnswered | ev.CallbackConnected, out: list[Command]) -> None:
        i = self.live.get(e.interaction_id)
        if i is not None and i.is_messaging:
            return
        if i is None or i.offered_to != e.agent_id:
            # The caller left (or the offer was taken back) while the phone rang: drop the leg.
            out.append(CancelDial(e.interaction_id, e.agent_id))
            return
        if i.is_callback and isinstance(e, ev.AgentAnswered):
            return  # the agent picked up; the callback is answered when the customer is connected
        self._offered_at.pop(i.id, None)
        # A transferred call keeps its first answer (its talk time counts from there).
        answered = e.at if i.answered_at is None else i.answered_at
        i = i.with_(agent_id=e.agent_id, answered_at=answered, offered_to=None)
        self.live[i.id] = i
        if not i.is_callback and i.queue is not None and i.queued_at is not None:
            c = self._counters(i.queue)
            wait = e.at - i.queued_at
            c.answered += 1
            c.wait_answered += wait
            c.answered_in_sl += wait <= self.queue(i.queue).service_level_seconds
        self._move(self.agents[e.agent_id], Move.ANSWER, e.at, out, interaction_id=i.id)
        out.append(SaveInteraction(i))
        notice = nt.CallbackConnected if i.is_callback else nt.Answered
        out.append(notice(i.id, e.at, e.agent_id))

    def _dial_failed(
        self, interaction_id: str, agent_id: str, reason: str, at: float, out: list[Command]
    ) -> None:
        i = self.live.get(interaction_id)
        if i is None or i.offered_to != agent_id or i.is_messaging:
            return
        i = self._take_back(i)
        agent = self.agents[agent_id]
        # Ring-no-answer: the caller goes back at its original place; the agent is paused.
        self._move(agent, Move.NO_ANSWER, at, out, reason=reason, interaction_id=None)
        self._enqueue(i, at)
        out.append(SaveInteraction(i))
        out.append(nt.OfferFailed(i.id, at, agent_id, reason))

    def _callback_requested(self, e: ev.CallbackRequested, out: list[Command]) -> None:
        i = self.live.get(e.interaction_id)
        if i is None or i.id not in self.waiting or i.is_callback or i.is_messaging:
            return  # only a caller still in line can ask (not one whose agent is already ringing)
        i = i.with_(callback_number=e.number)
        self.live[i.id] = i
        out.append(SaveInteraction(i))
        out.append(nt.CallbackRequested(i.id, e.at, e.number))

    def _callback_failed(self, e: ev.CallbackFailed, out: list[Command]) -> None:
        i = self.live.get(e.interaction_id)
        if i is None or i.offered_to != e.agent_id or not i.is_callback:
            return
        i = self._take_back(i).with_(callback_attempts=i.callback_attempts + 1)
        self._move(self.agents[e.agent_id], Move.WITHDRAW, e.at, out, interaction_id=None)
        policy = self.queue(i.queue or "").callback
        out.append(nt.CallbackFailed(i.id, e.at, e.agent_id, e.reason, i.callback_attempts))
        if i.callback_attempts >= policy.attempts:
            self.live[i.id] = i
            self._end(i, Outcome.CALLBACK_FAILED, EndedBy.SYSTEM, e.at, e.reason, out)
            return
        i = i.with_(callback_due_at=e.at + policy.retry_delay)
        self.live[i.id] = i
        self._push_timer(e.at + policy.retry_delay, "due", i.id)
        out.append(SaveInteraction(i))

    def _agent_hung_up(self, e: ev.AgentHungUp, out: list[Command]) -> None:
        i = self.live.get(e.interaction_id)
        if i is None or i.agent_id != e.agent_id or i.answered_at is None or i.is_messaging:
            return  # before answer, the dial's own outcome (AgentDialFailed) decides
        if e.system:
            self._end(i, self._talked(i), EndedBy.SYSTEM, e.at, "agent leg ended by the system", out)
        else:
            self._end(i, self._talked(i), EndedBy.AGENT, e.at, "agent hung up", out)

    # -- messaging interactions ------------------------------------------------------------------
    def _conversation_arrived(self, e: ev.ConversationArrived, out: list[Command]) -> None:
        if e.interaction_id in self.live:
            return
        try:
            channel = Channel(e.channel)
        except ValueError as err:
            raise InvalidRequest(f"{e.channel!r} is not a channel") from err
        if channel == Channel.VOICE:
            raise InvalidRequest("a conversation arrives on a messaging channel, not voice")
        preferred, until = None, None
        last = self.agents.get(e.last_agent or "")
        # Worth waiting for: logged in, and able to hold a conversation of this channel at all.
        if (
            last is not None
            and last.state != AgentState.LOGGED_OUT
            and last.chat_limit(channel.value) > 0
            and self.config.sticky_seconds > 0
        ):
            preferred, until = last.id, e.at + self.config.sticky_seconds
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
            preferred_until=until,
        )
        self.live[i.id] = i
        self._counters(e.queue).entered += 1
        self._enqueue(i, e.at)
        out.append(SaveInteraction(i))
        needs = bool(e.skills or e.language)
        out.append(
            nt.ConversationQueued(
                i.id,
                e.at,
                e.queue,
                channel.value,
                e.customer_id,
                e.conversation_id,
                skills=dict(i.skills) if needs else None,
                language=e.language if needs else None,
                sticky=preferred,
            )
        )

    def _offer_accepted(self, e: ev.OfferAccepted, out: list[Command]) -> None:
        i = self.live.get(e.interaction_id)
        if i is None or not i.is_messaging or i.offered_to != e.agent_id:
            # Too late (timed out, the customer left, someone else has it): clear the screen.
            out.append(WithdrawOffer(e.interaction_id, e.agent_id, "no longer offered"))
            return
        self._chat_due.pop(i.id, None)
        first = i.answered_at is None
        i = i.with_(agent_id=e.agent_id, answered_at=i.answered_at if not first else e.at, offered_to=None)
        self.live[i.id] = i
        if first and i.queue is not None and i.queued_at is not None:
            c = self._counters(i.queue)
            wait = e.at - i.queued_at
            c.answered += 1
            c.wait_answered += wait
            c.answered_in_sl += wait <= self.queue(i.queue).service_level_seconds
        out.append(SaveInteraction(i))
        out.append(nt.Answered(i.id, e.at, e.agent_id))

    def _offer_declined(self, e: ev.OfferDeclined, out: list[Command]) -> None:
        i = self.live.get(e.interaction_id)
        if i is None or not i.is_messaging or i.offered_to != e.agent_id:
            return
        self._offer_failed(i, e.agent_id, e.reason or "declined", e.at, out, pause=False)

    def _offer_failed(
        self, i: Interaction, agent_id: str, reason: str, at: float, out: list[Command], *, pause: bool
    ) -> None:
        """A conversation's offer was declined or timed out: back to its place, to someone else."""
        i = self._take_back(i)
        if i.preferred_agent == agent_id:
            i = i.with_(preferred_agent=None, preferred_until=None)
            self.live[i.id] = i
        if self.config.decline_seconds > 0:
            until = at + self.config.decline_seconds
            self._declined.setdefault(i.id, {})[agent_id] = until
            self._push_timer(until, "skip", i.id)
        out.append(WithdrawOffer(i.id, agent_id, reason))
        self._enqueue(i, at)
        out.append(SaveInteraction(i))
        out.append(nt.OfferFailed(i.id, at, agent_id, reason))
        agent = self.agents[agent_id]
        if pause and (agent.state, Move.PAUSE) in TRANSITIONS:
            self._move(agent, Move.PAUSE, at, out, reason=reason)

    def _conversation_ended(self, e: ev.ConversationEnded, out: list[Command]) -> None:
        i = self.live.get(e.interaction_id)
        if i is None or not i.is_messaging:
            return
        by = _ENDED_BY.get(e.by)
        if by is None:
            raise InvalidRequest(f"ended by {e.by!r}: expected agent, customer or system")
        if i.answered_at is not None:
            outcome = Outcome.ANSWERED
        else:
            outcome = Outcome.ABANDONED if by == EndedBy.CALLER else Outcome.LOST
        self._end(i, outcome, by, e.at, f"closed by the {e.by}", out)

    def _transferred(self, e: ev.ConversationTransferred, out: list[Command]) -> None:
        i = self.live.get(e.interaction_id)
        if i is None or not i.is_messaging or i.agent_id != e.from_agent:
            return
        if e.to_agent is None and e.to_queue is None:
            raise InvalidRequest("a transfer names an agent, a queue, or both")
        if e.to_agent is not None and e.to_agent not in self.agents:
            raise UnknownAgent(e.to_agent)
        self._held[e.from_agent].pop(i.id, None)
        self._reindex(self.agents[e.from_agent])
        queue = e.to_queue or i.queue or ""
        if queue != i.queue:
            self._counters(queue).entered += 1
        until = None if e.to_agent is None else e.at + self.config.transfer_agent_seconds
        i = i.with_(
            agent_id=None,
            queue=queue,
            queued_at=e.at,
            priority=max(i.priority, self.config.transfer_priority),
            preferred_agent=e.to_agent,
            preferred_until=until,
        )
        self.live[i.id] = i
        self._declined.pop(i.id, None)
        self._enqueue(i, e.at)
        out.append(SaveInteraction(i))
        out.append(nt.Transferred(i.id, e.at, e.from_agent, e.to_agent, queue))

    # -- call controls and wrap-up ---------------------------------------------------------------
    def _my_call(self, interaction_id: str, agent_id: str) -> Interaction:
        i = self.live.get(interaction_id)
        if i is None or i.is_messaging or i.agent_id != agent_id or i.answered_at is None:
            raise NotYourCall(f"agent {agent_id} is not on call {interaction_id}")
        return i

    def _call_held(self, e: ev.CallHeld, out: list[Command]) -> None:
        i = self._my_call(e.interaction_id, e.agent_id)
        out.append(RecordEvent(i.id, e.at, "held" if e.held else "resumed", {"agent": e.agent_id}))

    def _call_transferred(self, e: ev.CallTransferred, out: list[Command]) -> None:
        i = self._my_call(e.interaction_id, e.from_agent)
        if (e.to_number is None) == (e.to_agent is None and e.to_queue is None):
            raise ValueError("a call transfer names an agent and/or a queue, or a number")
        if e.to_agent is not None and e.to_agent not in self.agents:
            raise UnknownAgent(e.to_agent)
        if e.to_agent == e.from_agent:
            raise ValueError("a call cannot be transferred to the agent already on it")
        if e.to_number is not None:
            i = i.with_(transferred_to=f"number:{e.to_number}")
            self.live[i.id] = i
            data: dict[str, object] = {"from": e.from_agent, "to_number": e.to_number}
            out.append(RecordEvent(i.id, e.at, "transferred", data))
            self._end(i, self._talked(i), EndedBy.AGENT, e.at, f"transferred to {e.to_number}", out)
            return
        self._held.get(e.from_agent, {}).pop(i.id, None)
        agent = self.agents[e.from_agent]
        self._talk[agent.id] = self._talk.get(agent.id, 0.0) + (e.at - (i.answered_at or e.at))
        self._release(agent, i, e.at, out)
        self._reindex(self.agents[e.from_agent])
        queue = e.to_queue or i.queue or ""
        if queue != i.queue:
            self._counters(queue).entered += 1
        until = None if e.to_agent is None else e.at + self.config.transfer_agent_seconds
        target = f"agent:{e.to_agent}" if e.to_agent is not None else f"queue:{queue}"
        self._wrap_later(e.from_agent, i.with_(transferred_to=target))
        i = i.with_(
            agent_id=None,
            queue=queue,
            queued_at=e.at,
            priority=max(i.priority, self.config.transfer_priority),
            preferred_agent=e.to_agent,
            preferred_until=until,
            transferred_to=target,
        )
        self.live[i.id] = i
        self._enqueue(i, e.at)
        out.append(SaveInteraction(i))
        data = {"from": e.from_agent, "to_agent": e.to_agent, "to_queue": queue}
        out.append(RecordEvent(i.id, e.at, "transferred", data))

    def _consult_started(self, e: ev.ConsultStarted, out: list[Command]) -> None:
        i = self._my_call(e.interaction_id, e.from_agent)
        if i.id in self.consults or i.id in self.conferences:
            raise ValueError("another agent is already being brought into this call")
        target = self.agents.get(e.to_agent)
        if target is None:
            raise UnknownAgent(e.to_agent)
        if target.id == e.from_agent or not self._can_take(target):
            raise ValueError(f"agent {e.to_agent} cannot take a call now")
        self._move(target, Move.OFFER, e.at, out, interaction_id=i.id, reason=f"consult from {e.from_agent}")
        self._held.setdefault(target.id, {})[i.id] = _VOICE
        self._reindex(self.agents[target.id])
        self.consults[i.id] = target.id
        data = {"from": e.from_agent, "to_agent": target.id}
        out.append(RecordEvent(i.id, e.at, "consult_started", data))

    def _consult_ended(self, e: ev.ConsultEnded, out: list[Command]) -> None:
        i = self._my_call(e.interaction_id, e.from_agent)
        to_agent = self.consults.get(i.id)
        if to_agent is None:
            raise NotYourCall(f"no consult going on for call {i.id}")
        del self.consults[i.id]
        target = self.agents[to_agent]
        if not e.completed:
            self._drop_consult(i.id, to_agent, e.at, out)
            data: dict[str, object] = {"from": e.from_agent, "to_agent": to_agent, "reason": e.reason}
            out.append(RecordEvent(i.id, e.at, "consult_cancelled", data))
            return
        first = self.agents[e.from_agent]
        self._held.get(first.id, {}).pop(i.id, None)
        self._talk[first.id] = self._talk.get(first.id, 0.0) + (e.at - (i.answered_at or e.at))
        self._release(first, i, e.at, out)
        self._reindex(self.agents[first.id])
        target_i = f"agent:{to_agent}"
        self._wrap_later(first.id, i.with_(transferred_to=target_i))
        self._move(target, Move.ANSWER, e.at, out, interaction_id=i.id)
        i = i.with_(agent_id=to_agent, transferred_to=target_i)
        self.live[i.id] = i
        out.append(SaveInteraction(i))
        out.append(
            RecordEvent(i.id, e.at, "transferred", {"from": first.id, "to_agent": to_agent, "attended": True})
        )

    def _conference_invited(self, e: ev.ConferenceInvited, out: list[Command]) -> None:
        i = self._my_call(e.interaction_id, e.from_agent)
        if i.id in self.conferences or i.id in self.consults:
            raise ValueError("another agent is already being brought into this call")
        target = self.agents.get(e.to_agent)
        if target is None:
            raise UnknownAgent(e.to_agent)
        if target.id == e.from_agent or not self._can_take(target):
            raise ValueError(f"agent {e.to_agent} cannot take a call now")
        self._move(
            target, Move.OFFER, e.at, out, interaction_id=i.id, reason=f"conference with {e.from_agent}"
        )
        self._held.setdefault(target.id, {})[i.id] = _VOICE
        self._reindex(self.agents[target.id])
        self.conferences[i.id] = target.id
        out.append(RecordEvent(i.id, e.at, "conference_invited", {"from": e.from_agent, "agent": target.id}))

    def _conference_joined(self, e: ev.ConferenceJoined, out: list[Command]) -> None:
        if self.conferences.get(e.interaction_id) != e.agent_id:
            raise NotYourCall(f"agent {e.agent_id} is not invited to {e.interaction_id}")
        agent = self.agents[e.agent_id]
        if agent.state == AgentState.OFFERED:
            self._move(agent, Move.ANSWER, e.at, out, interaction_id=e.interaction_id)
            out.append(RecordEvent(e.interaction_id, e.at, "conference_joined", {"agent": e.agent_id}))

    def _conference_left(self, e: ev.ConferenceLeft, out: list[Command]) -> None:
        if self.conferences.get(e.interaction_id) != e.agent_id:
            raise NotYourCall(f"agent {e.agent_id} is not in the conference of {e.interaction_id}")
        del self.conferences[e.interaction_id]
        self._drop_helper(e.interaction_id, e.agent_id, e.at, out)
        data = {"agent": e.agent_id, "reason": e.reason}
        out.append(RecordEvent(e.interaction_id, e.at, "conference_left", data))

    def _drop_helper(self, iid: str, agent_id: str, at: float, out: list[Command]) -> None:
        """A consulted or conference agent is done with this call: free again (no wrap-up)."""
        self._held.get(agent_id, {}).pop(iid, None)
        agent = self.agents[agent_id]
        if agent.interaction_id == iid and agent.state == AgentState.BUSY:
            self._move(agent, Move.END_NO_WRAP, at, out, interaction_id=None)
        elif agent.interaction_id == iid and agent.state == AgentState.OFFERED:
            self._move(agent, Move.WITHDRAW, at, out, interaction_id=None)
        else:
            self._reindex(agent)

    def _drop_consult(self, iid: str, to_agent: str, at: float, out: list[Command]) -> None:
        self._held.get(to_agent, {}).pop(iid, None)
        target = self.agents[to_agent]
        if target.state == AgentState.OFFERED and target.interaction_id == iid:
            self._move(target, Move.WITHDRAW, at, out, interaction_id=None)
        else:
            self._reindex(target)

    def _wrap_up_done(self, e: ev.WrapUpDone, out: list[Command]) -> None:
        pending = self._to_wrap.get(e.agent_id, {})
        done = pending.get(e.interaction_id)
        if done is None:
            raise NotYourCall(f"agent {e.agent_id} has no wrap-up pending for {e.interaction_id}")
        if self.config.dispositions and e.disposition not in self.config.dispositions:
            known = ", ".join(self.config.dispositions)
            raise InvalidRequest(f"disposition {e.disposition!r}: expected one of {known}")
        del pending[e.interaction_id]
        current = self.live.get(e.interaction_id, done)
        i = current.with_(disposition=e.disposition or None, notes=e.notes)
        if i.id in self.live:
            self.live[i.id] = i
        out.append(SaveInteraction(i))
        out.append(nt.WrappedUp(i.id, e.at, e.agent_id, e.disposition, e.notes))
        agent = self.agents.get(e.agent_id)
        if agent is not None and not done.is_messaging and agent.state == AgentState.WRAP_UP:
            self._move(agent, Move.WRAP_DONE, e.at, out, wrap_up_until=None)

    def _withdraw_offers(self, agent_id: str, at: float, out: list[Command], reason: str) -> None:
        """The agent stopped taking work (paused, logged out): its open chat offers go to others."""
        for iid, channel in list(self._held.get(agent_id, {}).items()):
            i = self.live.get(iid)
            if channel == _VOICE or i is None or i.offered_to != agent_id:
                continue
            i = self._take_back(i)
            out.append(WithdrawOffer(i.id, agent_id, reason))
            self._enqueue(i, at)
            out.append(SaveInteraction(i))
            out.append(nt.OfferFailed(i.id, at, agent_id, reason))

    def _registered(self, extension: str, registered: bool, at: float, out: list[Command]) -> None:
        agent = self.agent_by_extension(extension)
        if agent is None or agent.registered == registered:
            return
        agent = self._put(replace(agent, registered=registered))
        if registered and agent.auto_login and agent.state == AgentState.LOGGED_OUT:
            self._move(agent, Move.LOGIN, at, out, reason="phone registered")
        elif not registered and agent.state in (
            AgentState.AVAILABLE,
            AgentState.PAUSED,
            AgentState.WRAP_UP,
        ):
            self._move(agent, Move.LOGOUT, at, out, reason="phone unregistered")
        else:
            out.append(AgentStateChanged(agent.id, agent.state, agent.reason, at))

    def _tick(self, at: float, out: list[Command]) -> None:
        for interaction_id, since in list(self._offered_at.items()):
            i = self.live[interaction_id]
            # A callback rings the agent, then the customer: both timeouts, then the grace.
            ring = self.queue(i.queue or "").callback.ring_timeout if i.is_callback else 0.0
            if at - since >= ring + self.config.ring_timeout + self.config.offer_grace:
                agent_id = i.offered_to
                assert agent_id is not None
                out.append(CancelDial(interaction_id, agent_id))
                self._dial_failed(interaction_id, agent_id, "no dial result", at, out)

    def _run_timers(self, at: float, out: list[Command]) -> None:
        while self._timers and self._timers[0][0] <= at:
            when, _, kind, key = heapq.heappop(self._timers)
            self._fire(kind, key, when, at, out)

    def _fire(self, kind: str, key: str, when: float, at: float, out: list[Command]) -> None:
        if kind == "wrap":
            agent = self.agents[key]
            if agent.state == AgentState.WRAP_UP and agent.wrap_up_until is not None:
                if at >= agent.wrap_up_until:
                    self._move(agent, Move.WRAP_DONE, at, out, wrap_up_until=None)
            return
        i = self.live.get(key)
        if i is None:
            return
        if kind == "offer":
            if self._chat_due.get(i.id) == when and i.offered_to is not None:
                pause = self.config.pause_on_offer_timeout
                self._offer_failed(i, i.offered_to, "offer timed out", at, out, pause=pause)
            return
        if kind == "skip":
            skipped = self._declined.get(i.id, {})
            for agent_id, until in list(skipped.items()):
                if until <= at:
                    del skipped[agent_id]
            if not skipped:
                self._declined.pop(i.id, None)
        if kind == "due":
            if i.callback_due_at is not None and at >= i.callback_due_at and i.offered_to is None:
                i = i.with_(callback_due_at=None)
                self.live[i.id] = i
                self._enqueue(i, at)
                out.append(SaveInteraction(i))
            return
        if i.id not in self.waiting:
            return  # offered meanwhile: re-enqueueing schedules again
        if kind == "step":
            self._retarget(i, at)
            self._schedule(i, at)
        elif kind in ("prefer", "skip"):
            self._retarget(i, at)
        elif kind == "exit":
            self._max_wait(i, at, out)
        elif kind == "announce" and self._announce_at.get(i.id) == when:
            q = self.queue(i.queue or "")
            if not i.is_callback and i.caller_channel is not None:
                position = self.position(i.id) or 1
                wait = self.estimated_wait(q.name, position)
                out.append(Announce(i.id, i.caller_channel, position, wait))
            if q.announce_every:
                self._announce_at[i.id] = at + q.announce_every
                self._push_timer(at + q.announce_every, "announce", i.id)

    def _max_wait(self, i: Interaction, at: float, out: list[Command]) -> None:
        q = self.queue(i.queue or "")
        if q.max_wait is None or q.exit is None or i.queued_at is None or i.is_callback:
            return
        if at < i.queued_at + q.max_wait:
            return
        channel = i.caller_channel or ""
        exit_kind, wait = q.exit.kind.value, at - i.queued_at
        if i.is_messaging and q.exit.kind != qs.ExitKind.QUEUE:
            # No voicemail and no callback for a conversation: it keeps its place.
            out.append(nt.MaxWait(i.id, at, q.name, exit_kind, wait, kept="no such exit for messaging"))
            return
        if q.exit.kind == qs.ExitKind.VOICEMAIL:
            out.append(ExitQueue(i.id, channel, q.exit.kind.value))
            out.append(nt.MaxWait(i.id, at, q.name, exit_kind, wait))
            self._end(i, Outcome.EXITED, EndedBy.SYSTEM, at, "maximum wait: voicemail", out)
        elif q.exit.kind == qs.ExitKind.CALLBACK and not i.caller_number:
            # No number to call back (withheld): the caller stays in line rather than be dropped.
            out.append(nt.MaxWait(i.id, at, q.name, exit_kind, wait, kept="no number to call back"))
        elif q.exit.kind == qs.ExitKind.CALLBACK:
            out.append(ExitQueue(i.id, channel, q.exit.kind.value))
            out.append(nt.MaxWait(i.id, at, q.name, exit_kind, wait))
            self._callback_requested(ev.CallbackRequested(i.id, i.caller_number, at), out)
        elif q.exit.target is not None and q.exit.target != q.name and i.overflowed_from is None:
            # One move per caller: two queues exiting into each other must not ping-pong.
            self._dequeue(i.id)
            self._counters(q.name).overflowed += 1
            self._counters(q.exit.target).entered += 1
            i = i.with_(queue=q.exit.target, overflowed_from=q.name)
            self.live[i.id] = i
            self._enqueue(i, at)
            if not i.is_messaging:
                out.append(ExitQueue(i.id, channel, q.exit.kind.value, q.exit.target))
            out.append(SaveInteraction(i))
            out.append(nt.Overflowed(i.id, at, q.name, exit_kind, wait, q.exit.target))

    def _reconciled(self, e: ev.Reconciled, out: list[Command]) -> None:
        for i in list(self.live.values()):
            if i.id in e.live_interactions or i.is_messaging:
                continue  # conversations have no Asterisk channel
            if i.is_callback:
                # A callback needs no caller leg; its own dial legs are the adapter's to reconcile.
                if i.caller_channel is not None and i.answered_at is None and i.offered_to is None:
                    i = i.with_(caller_channel=None)
                    self.live[i.id] = i
                    out.append(SaveInteraction(i))
                continue
            self._end(i, Outcome.LOST, EndedBy.SYSTEM, e.at, "channel gone after reconnect", out)
        for agent in list(self.agents.values()):
            self._registered(agent.extension, agent.extension in e.registered_extensions, e.at, out)

    # -- agents and the availability index -------------------------------------------------------
    def _load(self, agent_id: str) -> dict[str, int]:
        """What the agent holds now (offered or accepted), per channel."""
        counts: dict[str, int] = {}
        for channel in self._held.get(agent_id, {}).values():
            counts[channel] = counts.get(channel, 0) + 1
        return counts

    def _can_take(self, agent: Agent, channel: str = _VOICE, load: dict[str, int] | None = None) -> bool:
        if load is None:
            load = self._load(agent.id)
        if channel != _VOICE:
            return agent.can_take_chat(channel, load)
        if not agent.can_take_call:
            return False
        if not agent.call_while_chatting and any(c != _VOICE for c in load):
            return False
        return load.get(_VOICE, 0) < agent.capacity.get(_VOICE, 0)

    def _put(self, agent: Agent) -> Agent:
        self.state_counts[self.agents[agent.id].state] -= 1
        self.state_counts[agent.state] += 1
        self.agents[agent.id] = agent
        self._reindex(agent)
        return agent

    def _reindex(self, agent: Agent) -> None:
        """Keep the availability index true for each channel; an agent newly able to take
        something is *dirty*: the next dispatch looks for its best waiting interaction."""
        load = self._load(agent.id)
        for channel in _CHANNELS if agent.max_chats > 0 else (_VOICE,):
            now_in = self._can_take(agent, channel, load)
            was_in = (agent.id, channel) in self._indexed
            if now_in == was_in:
                continue
            skills = agent.all_skills
            for pool in agent.queues:
                if now_in:
                    self._avail.setdefault((channel, pool), set()).add(agent.id)
                    for s in skills:
                        self._avail_skill.setdefault((channel, pool, s), set()).add(agent.id)
                else:
                    self._avail[(channel, pool)].discard(agent.id)
                    for s in skills:
                        self._avail_skill[(channel, pool, s)].discard(agent.id)
            if now_in:
                self._indexed.add((agent.id, channel))
                self._dirty_agents.add(agent.id)
            else:
                self._indexed.discard((agent.id, channel))

    def _move(
        self,
        agent: Agent,
        move: Move,
        at: float,
        out: list[Command],
        *,
        reason: str = "",
        **changes: object,
    ) -> Agent:
        new = agent.moved(move, at, reason=reason, **changes)
        self._put(new)
        if agent.state == AgentState.LOGGED_OUT and new.state != AgentState.LOGGED_OUT:
            self._login_at[agent.id] = at
        if new.state == AgentState.WRAP_UP and new.wrap_up_until is not None:
            self._push_timer(new.wrap_up_until, "wrap", new.id)
        if (new.state, new.reason) != (agent.state, agent.reason):
            out.append(AgentStateChanged(new.id, new.state, new.reason, at))
        if new.state in (AgentState.PAUSED, AgentState.LOGGED_OUT) and new.state != agent.state:
            self._withdraw_offers(new.id, at, out, f"agent {new.state.value}")
        return new

    # -- waiting callers -------------------------------------------------------------------------
    def _counters(self, queue: str) -> QueueCounters:
        c = self.stats.get(queue)
        if c is None:
            c = self.stats[queue] = QueueCounters()
        return c

    def _push_timer(self, when: float, kind: str, key: str) -> None:
        heapq.heappush(self._timers, (when, next(self._seq), kind, key))

    def _enqueue(self, i: Interaction, at: float) -> None:
        """Put (or put back) a caller in line at the place its priority and queue time give it."""
        assert i.queue is not None and i.queued_at is not None
        place = _Place(-i.priority, i.queued_at, next(self._seq), i.id)
        self.waiting[i.id] = place
        bisect.insort(self._lines.setdefault(i.queue, []), place)
        self._retarget(i, at)
        self._schedule(i, at)
        if i.preferred_until is not None and i.preferred_until > at:
            self._push_timer(i.preferred_until, "prefer", i.id)
        q = self.queue(i.queue)
        if q.announce_every and i.id not in self._announce_at:
            self._announce_at[i.id] = at + q.announce_every
            self._push_timer(at + q.announce_every, "announce", i.id)

    def _retarget(self, i: Interaction, at: float) -> None:
        assert i.queue is not None and i.queued_at is not None
        found, steps = qs.targets(self.queue(i.queue), i.queued_at, at, i.skills, i.language)
        only = None
        if i.preferred_agent in self.agents and i.preferred_until is not None and at < i.preferred_until:
            only = i.preferred_agent
        skip = frozenset(a for a, until in self._declined.get(i.id, {}).items() if at < until)
        targets = _Key(i.channel.value, found, only, skip - {only} if only else skip)
        old = self._bucket_of.get(i.id)
        self._steps[i.id] = steps
        if old == targets:
            return
        place = self.waiting[i.id]
        if old is not None:
            self._unbucket(old, place)
        bucket = self._buckets.get(targets)
        if bucket is None:
            bucket = self._buckets[targets] = []
            if only is not None:
                self._buckets_by_agent.setdefault(only, set()).add(targets)
            else:
                for t in found:
                    self._buckets_by_pool.setdefault(t.pool, set()).add(targets)
        bisect.insort(bucket, place)
        self._bucket_of[i.id] = targets
        self._dirty_callers.add(i.id)

    def _unbucket(self, key: _Key, place: _Place) -> None:
        bucket = self._buckets[key]
        del bucket[bisect.bisect_left(bucket, place)]
        if not bucket:
            del self._buckets[key]
            if key.only is not None:
                held = self._buckets_by_agent[key.only]
                held.discard(key)
                if not held:
                    del self._buckets_by_agent[key.only]
                return
            for pool in {t.pool for t in key.targets}:
                keys = self._buckets_by_pool[pool]
                keys.discard(key)
                if not keys:
                    del self._buckets_by_pool[pool]

    def _schedule(self, i: Interaction, at: float) -> None:
        assert i.queue is not None and i.queued_at is not None
        q = self.queue(i.queue)
        step_at = qs.next_step_at(q, i.queued_at, self._steps[i.id])
        if step_at is not None:
            self._push_timer(max(step_at, at), "step", i.id)
        if q.max_wait is not None and q.exit is not None:
            self._push_timer(max(i.queued_at + q.max_wait, at), "exit", i.id)

    def _dequeue(self, iid: str) -> None:
        place = self.waiting.pop(iid, None)
        if place is None:
            return
        line = self._lines[self.live[iid].queue or ""]
        del line[bisect.bisect_left(line, place)]
        self._unbucket(self._bucket_of.pop(iid), place)
        self._steps.pop(iid, None)
        self._dirty_callers.discard(iid)

    def _take_back(self, i: Interaction) -> Interaction:
        """An offer did not turn into a conversation: the agent no longer holds the interaction."""
        self._offered_at.pop(i.id, None)
        self._chat_due.pop(i.id, None)
        if i.offered_to is not None:
            self._held.get(i.offered_to, {}).pop(i.id, None)
            if i.is_messaging and i.offered_to in self.agents:
                self._reindex(self.agents[i.offered_to])
        i = i.with_(offered_to=None)
        self.live[i.id] = i
        return i

    def _talked(self, i: Interaction) -> Outcome:
        return Outcome.CALLED_BACK if i.is_callback else Outcome.ANSWERED

    def _end(
        self,
        i: Interaction,
        outcome: Outcome,
        ended_by: EndedBy,
        at: float,
        cause: str,
        out: list[Command],
    ) -> None:
        self._dequeue(i.id)
        consulted = self.consults.pop(i.id, None)
        if consulted is not None:
            self._drop_consult(i.id, consulted, at, out)
        invited = self.conferences.pop(i.id, None)
        if invited is not None:
            self._drop_helper(i.id, invited, at, out)
        self._offered_at.pop(i.id, None)
        self._announce_at.pop(i.id, None)
        self._chat_due.pop(i.id, None)
        self._declined.pop(i.id, None)
        self.live.pop(i.id, None)
        for agent_id in {i.offered_to, i.agent_id} - {None}:
            assert agent_id is not None
            self._held.get(agent_id, {}).pop(i.id, None)
        if i.is_messaging:
            # Conversations do not move the voice state: the agents' chat load just went down.
            if i.offered_to is not None:
                out.append(WithdrawOffer(i.id, i.offered_to, cause))
            for agent_id in (i.offered_to, i.agent_id):
                if agent_id is not None and agent_id in self.agents:
                    self._reindex(self.agents[agent_id])
        elif i.offered_to is not None:
            agent = self.agents[i.offered_to]
            out.append(CancelDial(i.id, agent.id))
            if agent.state == AgentState.OFFERED and agent.interaction_id == i.id:
                self._move(agent, Move.WITHDRAW, at, out, interaction_id=None)
        if i.agent_id is not None and i.agent_id in self.agents and not i.is_messaging:
            agent = self.agents[i.agent_id]
            if i.answered_at is not None:
                self._talk[agent.id] = self._talk.get(agent.id, 0.0) + (at - i.answered_at)
            self._release(agent, i, at, out)
        if i.queue is not None:
            self._count_end(i, outcome, at)
        ended = i.with_(outcome=outcome, ended_by=ended_by, ended_at=at, hangup_cause=cause, offered_to=None)
        for pending in self._to_wrap.values():
            if i.id in pending:  # an agent who transferred it: its wrap-up now saves the final record
                pending[i.id] = ended
        if ended.agent_id is not None and ended.answered_at is not None:
            self._wrap_later(ended.agent_id, ended)
        out.append(SaveInteraction(ended))
        out.append(nt.Ended(i.id, at, outcome, ended_by))

    def _release(self, agent: Agent, i: Interaction, at: float, out: list[Command]) -> None:
        """The agent's call ``i`` is over for it: wrap-up (the queue's, else the engine's) or free."""
        if agent.state != AgentState.BUSY or agent.interaction_id != i.id:
            return
        q = self.queue(i.queue or "")
        wrap = self.config.wrap_up_seconds if q.wrap_up_seconds is None else q.wrap_up_seconds
        if wrap > 0:
            self._move(agent, Move.END, at, out, interaction_id=None, wrap_up_until=at + wrap)
        else:
            self._move(agent, Move.END_NO_WRAP, at, out, interaction_id=None)

    def _wrap_later(self, agent_id: str, i: Interaction) -> None:
        pending = self._to_wrap.setdefault(agent_id, {})
        pending.pop(i.id, None)
        pending[i.id] = i
        while len(pending) > max(1, self.config.wrap_up_keep):
            del pending[next(iter(pending))]

    def _count_end(self, i: Interaction, outcome: Outcome, at: float) -> None:
        c = self._counters(i.queue or "")
        if outcome == Outcome.ABANDONED and i.queued_at is not None:
            c.abandoned += 1
            c.abandoned_in_sl += at - i.queued_at < self.queue(i.queue or "").service_level_seconds
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

    # -- routing ---------------------------------------------------------------------------------
    def _dispatch(self, at: float, out: list[Command]) -> None:
        """Offer what can be offered, best-placed callers first.

        Candidates are the callers that changed (new, back in line, widened) and the best caller of
        each agent that became able to take one. They are served in place order; when a caller goes
        to another agent, the agents that were waiting for it look again (their next caller is
        placed after it, so the order of the heap holds). An agent offered a conversation may have
        room for more; it needs no second look: it either watches a caller of the heap already, or
        was at rest before this event (matching nobody then, and taking more only narrows what it
        can take).
        """
        if not self._dirty_agents and not self._dirty_callers:
            return
        heap = [self.waiting[i] for i in self._dirty_callers if i in self.waiting]
        self._dirty_callers.clear()
        watchers: dict[str, set[str]] = {}
        agents = sorted(self._dirty_agents)
        self._dirty_agents.clear()
        for agent_id in agents:
            self._watch(agent_id, heap, watchers)
        heapq.heapify(heap)
        done: set[str] = set()
        while heap:
            place = heapq.heappop(heap)
            if place.iid in done or self.waiting.get(place.iid) != place:
                continue
            done.add(place.iid)
            self._serve(self.live[place.iid], at, out)
            for agent_id in sorted(watchers.pop(place.iid, ())):
                self._watch(agent_id, heap, watchers, push=True)
        # Whatever became dirty while offering (nothing can: offers only make agents unavailable).
        self._dirty_agents.clear()
        self._dirty_callers.clear()

    def _watch(
        self, agent_id: str, heap: list[_Place], watchers: dict[str, set[str]], push: bool = False
    ) -> None:
        agent = self.agents[agent_id]
        if not any((agent_id, c) in self._indexed for c in _CHANNELS):
            return
        best = self._best_caller(agent)
        if best is not None:
            watchers.setdefault(best.iid, set()).add(agent_id)
            if push:
                heapq.heappush(heap, best)
            else:
                heap.append(best)

    def _best_caller(self, agent: Agent) -> _Place | None:
        """The best-placed waiting caller this agent may take, across all its queues."""
        best: _Place | None = None
        seen: set[_Key] = set()
        pools = [self._buckets_by_pool.get(pool, ()) for pool in agent.queues]
        for keys in (self._buckets_by_agent.get(agent.id, ()), *pools):
            for key in keys:
                if key in seen:
                    continue
                seen.add(key)
                head = self._buckets[key][0]
                if (best is None or head < best) and self._may(agent, key):
                    best = head
        return best

    def _may(self, agent: Agent, key: _Key) -> bool:
        if (agent.id, key.channel) not in self._indexed:
            return False
        if key.only is not None:
            return key.only == agent.id
        return agent.id not in key.skip and any(_qualifies(agent, t) for t in key.targets)

    def _candidates(self, key: _Key) -> dict[str, qs.Target | None]:
        """Who may take an interaction of this bucket now, and through which target (``None``:
        the agent it is held for)."""
        found: dict[str, qs.Target | None] = {}
        if key.only is not None:
            if (key.only, key.channel) in self._indexed:
                found[key.only] = None
            return found
        ch = key.channel
        for t in key.targets:
            if t.needs:
                pool = min((self._avail_skill.get((ch, t.pool, s), _EMPTY) for s, _ in t.needs), key=len)
            else:
                pool = self._avail.get((ch, t.pool), _EMPTY)
            for agent_id in pool:
                if agent_id not in found and agent_id not in key.skip:
                    if _qualifies(self.agents[agent_id], t):
                        found[agent_id] = t
        return found

    def _serve(self, i: Interaction, at: float, out: list[Command]) -> None:
        """Offer the interaction to the best candidate, if any."""
        assert i.queue is not None
        key = self._bucket_of[i.id]
        found = self._candidates(key)
        found = {a: t for a, t in found.items() if self._can_take(self.agents[a], i.channel.value)}
        if not found:
            return
        q = self.queue(i.queue)
        candidates = [self.agents[a] for a in found]
        load_note = ""
        if i.is_messaging and len(candidates) > 1:
            # Conversations spread: the agents holding the fewest come first.
            loads = {a.id: sum(n for c, n in self._load(a.id).items() if c != _VOICE) for a in candidates}
            least = min(loads.values())
            candidates = [a for a in candidates if loads[a.id] == least]
            load_note = f" among those holding the fewest conversations ({least})"
        agent, why = self._pick(q, candidates, key, at)
        target = found[agent.id]
        if target is None:
            why = f"held for this agent ({'transfer' if i.agent_id is None and i.answered_at else 'sticky'})"
            matched = f"agent {agent.id}"
        else:
            matched = target.describe()
        steps = self._steps.get(i.id, 0)
        wait = at - (i.queued_at or at)
        reason = (
            f"{why}{load_note}; matched {matched}"
            + (f" (after {steps} overflow step(s))" if steps else "")
            + f"; {len(found)} candidate(s); caller waited {wait:.1f} s, priority {i.priority},"
            f" first in line of the callers this agent could take"
        )
        self._dequeue(i.id)
        self._last_offer[(q.name, agent.id)] = next(self._seq)
        self._held[agent.id][i.id] = i.channel.value
        i = i.with_(offered_to=agent.id, offer_attempts=i.offer_attempts + 1, routing_reason=reason)
        self.live[i.id] = i
        if i.is_messaging:
            self._reindex(agent)
            due = at + self.config.offer_timeout
            self._chat_due[i.id] = due
            self._push_timer(due, "offer", i.id)
            out.append(
                OfferConversation(
                    interaction_id=i.id,
                    agent_id=agent.id,
                    channel=i.channel.value,
                    conversation_id=i.conversation_id or "",
                    customer_id=i.customer_id or "",
                    timeout=self.config.offer_timeout,
                    attempt=i.offer_attempts,
                )
            )
            out.append(SaveInteraction(i))
            out.append(nt.Offered(i.id, at, agent.id, reason))
            return
        self._offered_at[i.id] = at
        self._move(agent, Move.OFFER, at, out, interaction_id=i.id)
        if i.is_callback:
            assert i.callback_number is not None
            out.append(
                DialCustomer(
                    interaction_id=i.id,
                    agent_id=agent.id,
                    extension=agent.extension,
                    number=i.callback_number,
                    timeout=q.callback.ring_timeout,
                    attempt=i.callback_attempts + 1,
                )
            )
        else:
            assert i.caller_channel is not None
            out.append(
                DialAgent(
                    interaction_id=i.id,
                    agent_id=agent.id,
                    extension=agent.extension,
                    caller_channel=i.caller_channel,
                    caller_id=i.caller_number,
                    timeout=self.config.ring_timeout,
                    attempt=i.offer_attempts,
                )
            )
        out.append(SaveInteraction(i))
        out.append(nt.Offered(i.id, at, agent.id, reason))

    def _pick(self, q: qs.Queue, candidates: list[Agent], key: _Key, at: float) -> tuple[Agent, str]:
        """The queue's strategy picks among qualified agents; every answer says why, in words."""

        def idle(a: Agent) -> tuple[float, str]:
            return (a.since, a.id)  # longest idle first; the id makes decisions reproducible

        match q.strategy:
            case qs.Strategy.LEAST_OCCUPIED:

                def occupancy(a: Agent) -> float:
                    logged = at - self._login_at.get(a.id, a.since)
                    return self._talk.get(a.id, 0.0) / logged if logged > 0 else 0.0

                agent = min(candidates, key=lambda a: (occupancy(a), *idle(a)))
                why = f"least-occupied agent in queue {q.name} (occupancy {occupancy(agent):.0%})"
            case qs.Strategy.SKILLS_WEIGHTED:
                skills = {s for t in key.targets for s, _ in t.needs}

                def score(a: Agent) -> int:
                    return sum(a.level(s) for s in skills)

                agent = min(candidates, key=lambda a: (-score(a), *idle(a)))
                why = f"best skill match in queue {q.name} (score {score(agent)})"
            case qs.Strategy.ROUND_ROBIN:
                agent = min(candidates, key=lambda a: (self._last_offer.get((q.name, a.id), -1), a.id))
                why = f"round-robin in queue {q.name} (offered a call of this queue longest ago)"
            case _:
                agent = min(candidates, key=idle)
                why = f"longest-idle available agent in queue {q.name} (idle {at - agent.since:.1f} s)"
        return agent, why


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


def _qualifies(agent: Agent, target: qs.Target) -> bool:
    return target.pool in agent.queues and all(agent.level(s) >= lvl for s, lvl in target.needs)

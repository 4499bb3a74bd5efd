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

The engine is split by idea: ``lines.py`` (waiting places, buckets by what callers need now),
``roster.py`` (agents, what each holds, the availability index by channel, queue and skill),
``selection.py`` (dispatch in place order, the queue's strategy, the reason in words),
``timers.py`` (one heap driven by the time every event carries: overflow steps, maximum wait,
announcements, callback retries, wrap-up, offer timeouts, sticky and decline windows), the event
handlers (``acd_voice.py``, ``acd_messaging.py``; the call controls below), offers
(``acd_offers.py``), endings (``acd_endings.py``) and the restart (``acd_restore.py``). This class
holds the state, the one entry point and read-only views for outsiders. An event only looks at
what it changed: see docs/performance.md.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

from callcenter.core import events as ev
from callcenter.core import notices as nt
from callcenter.core.acd import endings as acd_endings
from callcenter.core.acd import messaging as acd_messaging
from callcenter.core.acd import offers as acd_offers
from callcenter.core.acd import queues as qs
from callcenter.core.acd import restore as acd_restore
from callcenter.core.acd import selection, timers
from callcenter.core.acd import voice as acd_voice
from callcenter.core.acd.agents import Agent, AgentState, Move
from callcenter.core.acd.lines import Key, Lines, Place
from callcenter.core.acd.roster import VOICE, Roster
from callcenter.core.acd.stats import QueueCounters, QueueSnapshot, snapshot
from callcenter.core.acd.voice import skill_levels
from callcenter.core.calls import machine as cl
from callcenter.core.commands import AgentStateChanged, Command, SaveInteraction
from callcenter.core.errors import AgentExists, AgentInUse, InvalidRequest, NotYourCall, UnknownAgent
from callcenter.core.interaction import EndedBy, Interaction, Outcome

# The domain errors (and skill_levels) used to live here; importers of these names keep working.
__all__ = ["Acd", "AcdConfig", "NotYourCall", "UnknownAgent", "skill_levels"]

_VOICE = VOICE
_MOVES: dict[type[ev.Event], Move] = {
    ev.AgentLogin: Move.LOGIN,
    ev.AgentLogout: Move.LOGOUT,
    ev.AgentResume: Move.RESUME,
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


class Acd:
    def __init__(
        self,
        config: AcdConfig,
        agents: Iterable[Agent],
        queues: Mapping[str, qs.Queue] | None = None,
    ) -> None:
        self.config = config
        self._queues: dict[str, qs.Queue] = dict(queues or {})
        self._roster = Roster(agents)
        self._lines = Lines()
        self._timers = timers.Timers()
        self._live: dict[str, Interaction] = {}
        self._stats: dict[str, QueueCounters] = {}
        self._places = itertools.count()  # arrival order among equal places
        self._offers = itertools.count()  # offer order (round robin)
        self._offered_at: dict[str, float] = {}  # call being offered -> since (lost dial results)
        self._announce_at: dict[str, float] = {}
        self._chat_due: dict[str, float] = {}  # messaging offer -> when it times out
        self._declined: dict[str, dict[str, float]] = {}  # interaction -> agent -> skipped until
        # agent -> interactions it handled whose wrap-up (disposition, notes) is still to come
        self._to_wrap: dict[str, dict[str, Interaction]] = {}
        # The routing side of call controls (_CallRouting) uses these names.
        self.live = self._live
        self._held = self._roster.held
        self._talk = self._roster.talk
        self.calls = cl.Calls()  # answered calls' control state (hold, consult, conference)
        self._views = (
            MappingProxyType(self._roster.agents),
            MappingProxyType(self._live),
            MappingProxyType(self._lines.waiting),
            MappingProxyType(self._roster.state_counts),
        )

    # -- read-only views for outsiders ------------------------------------------------------------
    @property
    def agents(self) -> Mapping[str, Agent]:
        """Every agent's current snapshot, by id."""
        return self._views[0]

    @property
    def interactions(self) -> Mapping[str, Interaction]:
        """The live interactions (not ended yet), by id."""
        return self._views[1]

    @property
    def waiting(self) -> Mapping[str, Place]:
        """The interactions waiting in line, with their place."""
        return self._views[2]

    @property
    def state_counts(self) -> Mapping[AgentState, int]:
        return self._views[3]

    @property
    def queues(self) -> Mapping[str, qs.Queue]:
        """The queue definitions in force."""
        return MappingProxyType(self._queues)

    # -- queries ---------------------------------------------------------------------------------
    def agent(self, agent_id: str) -> Agent:
        try:
            return self._roster.agents[agent_id]
        except KeyError:
            raise UnknownAgent(agent_id) from None

    def agent_by_extension(self, extension: str) -> Agent | None:
        agent_id = self._roster.by_extension.get(extension)
        return None if agent_id is None else self._roster.agents[agent_id]

    def queue(self, name: str) -> qs.Queue:
        found = self._queues.get(name)
        return found if found is not None else qs.Queue(name)

    def queue_names(self) -> list[str]:
        names = set(self._queues) | set(self._roster.members) | set(self._lines.by_queue)
        return sorted((names | set(self._stats)) - {""})

    def conversations_of(self, agent_id: str) -> list[str]:
        """The messaging interactions the agent holds (offered or accepted), oldest first."""
        chats = [i for i, c in self._roster.held.get(agent_id, {}).items() if c != _VOICE]
        return sorted(chats, key=lambda i: (self._live[i].started_at, i))

    def wrap_ups_of(self, agent_id: str) -> list[Interaction]:
        """The interactions the agent handled and has not wrapped up yet, oldest first."""
        return list(self._to_wrap.get(agent_id, {}).values())

    def waiting_count(self, queue: str) -> int:
        return self._lines.count(queue)

    def waiting_in(self, queue: str) -> list[Interaction]:
        return [self._live[p.iid] for p in self._lines.places(queue)]

    def position(self, interaction_id: str) -> int | None:
        i = self._live.get(interaction_id)
        return None if i is None else self._lines.position(interaction_id, i.queue or "")

    def estimated_wait(self, queue: str, position: int) -> float:
        """Position x average handle time / staffed agents, rounded up to 30 s."""
        handle = self._stats.get(queue, QueueCounters()).handle_seconds
        seconds = position * handle / max(1, self._roster.staffed(queue))
        return float(math.ceil(seconds / 30.0) * 30)

    def next_timer(self) -> float | None:
        """When the earliest timer is due: a driver with no event before sends a ``Tick`` then."""
        return self._timers.next_at()

    def queue_stats(self, name: str, now: float) -> QueueSnapshot:
        q = self.queue(name)
        waits = [(p.queued_at, self._live[p.iid].is_callback) for p in self._lines.places(name)]
        counters = self._stats.get(name, QueueCounters())
        states = self._roster.states_in(name)
        sl_seconds, sl_target = q.service_level_seconds, q.service_level_target
        wait = self.estimated_wait(name, len(waits) + 1)
        return snapshot(name, counters, waits, states, sl_seconds, sl_target, now, wait)

    # -- configuration ---------------------------------------------------------------------------
    def set_queues(self, queues: Mapping[str, qs.Queue], at: float) -> list[Command]:
        """Replace the queue definitions (a reload): waiting callers are re-targeted in place."""
        self._queues = dict(queues)
        out: list[Command] = []
        for iid in list(self._lines.waiting):
            self._retarget(self._live[iid], at)
            timers.schedule(self, self._live[iid], at)
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
        new = replace(
            self.agent(agent_id),
            queues=frozenset(queues),
            skills=dict(skills),
            languages=frozenset(languages),
            capacity={"voice": 1, **dict(capacity)},
            max_chats=max_chats,
        )
        self._roster.replace_profile(new)
        out: list[Command] = []
        self._dispatch(at, out)
        return out

    # -- restore after a restart -----------------------------------------------------------------
    def restore(self, interactions: Iterable[Interaction], at: float) -> list[Command]:
        """Take back interactions that were live when the server stopped (see ``acd_restore``)."""
        return acd_restore.restore(self, interactions, at)

    def restore_wrap_ups(self, owed: Iterable[tuple[str, Interaction]]) -> None:
        """Give agents back the wrap-ups they owed when the server stopped: (agent, the ended
        interaction) pairs, oldest first; each agent keeps the newest ``wrap_up_keep``. The agent
        may be one who transferred the call away. The agents' states are not touched: a wrap-up
        timer does not survive a restart, the form does."""
        acd_restore.restore_wrap_ups(self, owed)

    # -- the one entry point ---------------------------------------------------------------------
    def handle(self, event: ev.Event | cl.CallEvent) -> list[Command]:
        out: list[Command] = []
        match event:
            case _ if isinstance(event, (*cl.REQUESTS, *cl.RESULTS)):
                self.calls.handle(event, _CallRouting(self, out), out)  # type: ignore[arg-type]
            case ev.CallArrived():
                acd_voice.arrived(self, event, out)
            case ev.IvrFinished():
                acd_voice.ivr_finished(self, event, out)
            case ev.CallerHungUp() | ev.OutboundAbandoned():
                acd_voice.caller_hung_up(self, event, out)
            case ev.AgentAnswered() | ev.CallbackConnected():
                acd_voice.agent_answered(self, event, out)
            case ev.AgentDialFailed():
                acd_voice.dial_failed(self, event.interaction_id, event.agent_id, event.reason, event.at, out)
            case ev.AgentHungUp():
                acd_voice.agent_hung_up(self, event, out)
            case ev.AgentRegistered() | ev.AgentUnregistered():
                self._registered(event.extension, isinstance(event, ev.AgentRegistered), event.at, out)
            case ev.AgentLogin() | ev.AgentLogout() | ev.AgentResume():
                self._move(self.agent(event.agent_id), _MOVES[type(event)], event.at, out)
            case ev.AgentPause():
                self._move(self.agent(event.agent_id), Move.PAUSE, event.at, out, reason=event.reason)
            case ev.Tick():
                timers.dial_overdue(self, event.at, out)
            case ev.Reconciled():
                acd_voice.reconciled(self, event, out)
            case ev.CallbackKeyPressed():
                acd_voice.callback_key_pressed(self, event, out)
            case ev.CallbackRequested():
                acd_voice.callback_requested(self, event, out)
            case ev.CallbackFailed():
                acd_voice.callback_failed(self, event, out)
            case ev.ConversationArrived():
                acd_messaging.arrived(self, event, out)
            case ev.OfferAccepted():
                acd_messaging.accepted(self, event, out)
            case ev.OfferDeclined():
                acd_messaging.declined(self, event, out)
            case ev.ConversationEnded():
                acd_messaging.ended(self, event, out)
            case ev.ConversationTransferred():
                acd_messaging.transferred(self, event, out)
            case ev.WrapUpDone():
                self._wrap_up_done(event, out)
            case ev.AgentAdded():
                self._add_agent(event, out)
            case ev.AgentRemoved():
                self._remove_agent(event, out)
        # Every event carries the time: timers due by then fire, whatever the event. After the
        # handler, so an event refused with an exception leaves the engine untouched.
        timers.run(self, event.at, out)
        self._dispatch(event.at, out)
        return out

    # -- agents ----------------------------------------------------------------------------------
    def _add_agent(self, event: ev.AgentAdded, out: list[Command]) -> None:
        if event.agent_id in self._roster.agents:
            raise AgentExists(event.agent_id, "an agent with this id exists")
        if event.extension in self._roster.by_extension:
            other = self._roster.by_extension[event.extension]
            raise AgentExists(event.agent_id, f"extension {event.extension} is agent {other}'s")
        agent = Agent(
            id=event.agent_id,
            extension=event.extension,
            queues=frozenset(event.queues),
            auto_login=event.auto_login,
            since=event.at,
            skills=dict(event.skills),
            languages=frozenset(event.languages),
            capacity={"voice": 1, **dict(event.capacity)},
            max_chats=event.max_chats,
            chat_while_on_call=event.chat_while_on_call,
            call_while_chatting=event.call_while_chatting,
        )
        self._roster.add(agent)
        out.append(AgentStateChanged(agent.id, agent.state, "added", event.at))

    def check_removable(self, agent_id: str) -> None:
        """Raises AgentInUse when the agent may not be removed now (UnknownAgent: no such agent)."""
        agent = self.agent(agent_id)
        if agent.state in (AgentState.OFFERED, AgentState.BUSY) or agent.interaction_id is not None:
            raise AgentInUse(agent.id, "is on a call: remove it once the call has ended")
        if self._roster.held.get(agent.id):
            raise AgentInUse(agent.id, "holds conversations: remove it once they are closed or moved")
        if any(agent.id in (c.agent_id, c.colleague) for c in self.calls):
            raise AgentInUse(agent.id, "takes part in a call: remove it once the call has ended")

    def _remove_agent(self, event: ev.AgentRemoved, out: list[Command]) -> None:
        self.check_removable(event.agent_id)
        agent = self._roster.remove(event.agent_id)
        self._to_wrap.pop(agent.id, None)
        out.append(AgentStateChanged(agent.id, AgentState.LOGGED_OUT, "removed", event.at))

    def _registered(self, extension: str, registered: bool, at: float, out: list[Command]) -> None:
        agent = self.agent_by_extension(extension)
        if agent is None or agent.registered == registered:
            return
        agent = self._roster.put(replace(agent, registered=registered))
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
        self._roster.put(new)
        if agent.state == AgentState.LOGGED_OUT and new.state != AgentState.LOGGED_OUT:
            self._roster.login_at[agent.id] = at
        if new.state == AgentState.WRAP_UP and new.wrap_up_until is not None:
            self._timers.push(new.wrap_up_until, "wrap", new.id)
        if (new.state, new.reason) != (agent.state, agent.reason):
            out.append(AgentStateChanged(new.id, new.state, new.reason, at))
        if new.state in (AgentState.PAUSED, AgentState.LOGGED_OUT) and new.state != agent.state:
            acd_messaging.withdraw_offers(self, new.id, at, out, f"agent {new.state.value}")
        return new

    def _can_take(self, agent: Agent, channel: str = _VOICE) -> bool:
        return self._roster.can_take(agent, channel)

    def _reindex(self, agent: Agent) -> None:
        self._roster.reindex(agent)

    # -- call controls (core/calls.py decides; _CallRouting does the routing side) ---------------
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

    def _hand_off(self, i: Interaction, from_agent: str, at: float, target: str, out: list[Command]) -> None:
        """The call leaves ``from_agent`` (transferred): its talk time counts, its wrap-up is owed."""
        self._held.get(from_agent, {}).pop(i.id, None)
        agent = self.agents[from_agent]
        self._talk[agent.id] = self._talk.get(agent.id, 0.0) + (at - (i.answered_at or at))
        self._release(agent, i, at, out)
        self._reindex(self.agents[from_agent])
        self._wrap_later(from_agent, i.with_(transferred_to=target))

    def _let_helpers_go(self, iid: str, at: float, out: list[Command]) -> None:
        """The call ended: an agent consulted or brought into a conference on it is let go."""
        self.calls.ended(iid, at, _CallRouting(self, out))

    # -- wrap-up ---------------------------------------------------------------------------------
    def _wrap_up_done(self, e: ev.WrapUpDone, out: list[Command]) -> None:
        pending = self._to_wrap.get(e.agent_id, {})
        done = pending.get(e.interaction_id)
        if done is None:
            raise NotYourCall(f"agent {e.agent_id} has no wrap-up pending for {e.interaction_id}")
        allowed = self.config.dispositions if e.dispositions is None else e.dispositions
        if allowed and e.disposition not in allowed:
            raise InvalidRequest(f"disposition {e.disposition!r}: expected one of {', '.join(allowed)}")
        del pending[e.interaction_id]
        current = self._live.get(e.interaction_id, done)
        i = current.with_(disposition=e.disposition or None, notes=e.notes)
        if i.id in self._live:
            self._live[i.id] = i
        out.append(SaveInteraction(i))
        out.append(nt.WrappedUp(i.id, e.at, e.agent_id, e.disposition, e.notes))
        agent = self._roster.agents.get(e.agent_id)
        if agent is not None and not done.is_messaging and agent.state == AgentState.WRAP_UP:
            self._move(agent, Move.WRAP_DONE, e.at, out, wrap_up_until=None)

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

    # -- interactions: in line, counted, ended -----------------------------------------------------
    def _counters(self, queue: str) -> QueueCounters:
        c = self._stats.get(queue)
        if c is None:
            c = self._stats[queue] = QueueCounters()
        return c

    def _count_answer(self, i: Interaction, at: float) -> None:
        if i.queue is not None and i.queued_at is not None:
            c = self._counters(i.queue)
            wait = at - i.queued_at
            c.answered += 1
            c.wait_answered += wait
            c.answered_in_sl += wait <= self.queue(i.queue).service_level_seconds

    def _enqueue(self, i: Interaction, at: float) -> None:
        """Put (or put back) a caller in line at the place its priority and queue time give it."""
        assert i.queue is not None and i.queued_at is not None
        self._lines.put(i.queue, Place(-i.priority, i.queued_at, next(self._places), i.id))
        self._retarget(i, at)
        timers.schedule(self, i, at)
        if i.preferred_until is not None and i.preferred_until > at:
            self._timers.push(i.preferred_until, "prefer", i.id)
        q = self.queue(i.queue)
        if q.announce_every and i.id not in self._announce_at:
            self._announce_at[i.id] = at + q.announce_every
            self._timers.push(at + q.announce_every, "announce", i.id)

    def _retarget(self, i: Interaction, at: float) -> None:
        """The bucket of what the waiting interaction needs now (overflow steps, held for an agent,
        agents who declined it)."""
        assert i.queue is not None and i.queued_at is not None
        found, steps = qs.targets(self.queue(i.queue), i.queued_at, at, i.skills, i.language)
        only = None
        if i.preferred_until is not None and at < i.preferred_until:
            only = i.preferred_agent if i.preferred_agent in self._roster.agents else None
        skip = frozenset(a for a, until in self._declined.get(i.id, {}).items() if at < until)
        self._lines.rebucket(i.id, Key(i.channel.value, found, only, skip - {only} if only else skip), steps)

    def _dequeue(self, iid: str) -> None:
        if iid in self._lines.waiting:
            self._lines.remove(iid, self._live[iid].queue or "")

    def _take_back(self, i: Interaction) -> Interaction:
        return acd_offers.take_back(self, i)

    def _talked(self, i: Interaction) -> Outcome:
        return Outcome.CALLED_BACK if i.is_callback else Outcome.ANSWERED

    def _end(
        self, i: Interaction, outcome: Outcome, ended_by: EndedBy, at: float, cause: str, out: list[Command]
    ) -> None:
        acd_endings.end(self, i, outcome, ended_by, at, cause, out)

    def _dispatch(self, at: float, out: list[Command]) -> None:
        selection.dispatch(self._lines, self._roster, lambda iid: acd_offers.serve(self, iid, at, out))


class _CallRouting:
    """The routing side of a call's control (:class:`~callcenter.core.calls.machine.Routing`), for one
    ``handle``: agents reserved, seated, freed; a transferred call back in line or handed over."""

    def __init__(self, acd: Acd, out: list[Command]) -> None:
        self._acd = acd
        self._out = out

    def live_call(self, interaction_id: str) -> Interaction | None:
        return self._acd.live.get(interaction_id)

    def call_of(self, agent_id: str) -> str | None:
        agent = self._acd.agents.get(agent_id)
        return agent.interaction_id if agent is not None else None

    def extension_of(self, agent_id: str) -> str | None:
        agent = self._acd.agents.get(agent_id)
        return agent.extension if agent is not None else None

    def can_take_call(self, agent_id: str) -> bool:
        return self._acd._can_take(self._acd.agents[agent_id])

    def reserve(self, agent_id: str, interaction_id: str, at: float, reason: str) -> None:
        acd = self._acd
        acd._move(
            acd.agents[agent_id], Move.OFFER, at, self._out, interaction_id=interaction_id, reason=reason
        )
        acd._held.setdefault(agent_id, {})[interaction_id] = VOICE
        acd._reindex(acd.agents[agent_id])

    def seat(self, agent_id: str, interaction_id: str, at: float) -> None:
        agent = self._acd.agents[agent_id]
        if agent.state == AgentState.OFFERED and agent.interaction_id == interaction_id:
            self._acd._move(agent, Move.ANSWER, at, self._out, interaction_id=interaction_id)

    def free_helper(self, agent_id: str, interaction_id: str, at: float) -> None:
        self._acd._drop_helper(interaction_id, agent_id, at, self._out)

    def hand_over(self, interaction_id: str, from_agent: str, to_agent: str, at: float) -> None:
        """Attended transfer completed: the consulted agent (on the phone already) has the call."""
        acd, i = self._acd, self._acd.live[interaction_id]
        target = f"agent:{to_agent}"
        acd._hand_off(i, from_agent, at, target, self._out)
        self.seat(to_agent, interaction_id, at)
        i = i.with_(agent_id=to_agent, transferred_to=target)
        acd.live[i.id] = i
        self._out.append(SaveInteraction(i))

    def requeue(
        self, interaction_id: str, from_agent: str, at: float, to_agent: str | None, to_queue: str | None
    ) -> str:
        """Blind transfer to an agent and/or a queue: back in line at the transfer priority, held
        for ``to_agent`` for a while. Returns the queue."""
        acd, i = self._acd, self._acd.live[interaction_id]
        queue = to_queue or i.queue or ""
        target = f"agent:{to_agent}" if to_agent is not None else f"queue:{queue}"
        acd._hand_off(i, from_agent, at, target, self._out)
        if queue != i.queue:
            acd._counters(queue).entered += 1
        until = None if to_agent is None else at + acd.config.transfer_agent_seconds
        i = i.with_(
            agent_id=None,
            queue=queue,
            queued_at=at,
            priority=max(i.priority, acd.config.transfer_priority),
            preferred_agent=to_agent,
            preferred_until=until,
            transferred_to=target,
        )
        acd.live[i.id] = i
        acd._enqueue(i, at)
        self._out.append(SaveInteraction(i))
        return queue

    def transfer_out(self, interaction_id: str, from_agent: str, number: str, at: float) -> None:
        """Blind transfer to a number: the interaction ends here, answered."""
        acd = self._acd
        i = acd.live[interaction_id].with_(transferred_to=f"number:{number}")
        acd.live[i.id] = i
        acd._end(i, acd._talked(i), EndedBy.AGENT, at, f"transferred to {number}", self._out)

"""The ACD engine: who gets which caller, and when. Pure: ``handle(event)`` returns commands.

Invariants (checked by tests, including property-based ones):
- an agent holds at most one interaction (offered or busy) at a time;
- within a queue, a caller is never offered before an earlier caller of equal or higher priority
  who could have gone to the same agent;
- every interaction that arrives ends exactly once, with an outcome, and is saved at each step.

This is the foundation's minimal engine (one skill = one queue name, longest-idle agent). The full ACD
(skills with levels, strategies, overflow, callbacks) replaces ``_pick_agent`` and the waiting order,
not the event/command surface.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, replace

from callcenter.core import events as ev
from callcenter.core.agents import Agent, AgentState, Move
from callcenter.core.commands import (
    AgentStateChanged,
    CancelDial,
    Command,
    DialAgent,
    RecordEvent,
    SaveInteraction,
)
from callcenter.core.interaction import Channel, EndedBy, Interaction, Outcome


class UnknownAgent(Exception):
    def __init__(self, agent_id: str) -> None:
        super().__init__(f"unknown agent {agent_id!r}")
        self.agent_id = agent_id


@dataclass(frozen=True, slots=True)
class AcdConfig:
    ring_timeout: float = 20.0
    wrap_up_seconds: float = 0.0
    # If Asterisk never reports the outcome of a dial, the offer is taken back after this much
    # longer than the ring timeout, so a lost AMI event cannot hold a caller forever.
    offer_grace: float = 15.0


@dataclass(frozen=True, slots=True, order=True)
class _Place:
    """A caller's place in line: higher priority first, then earlier arrival, then arrival order."""

    neg_priority: int
    queued_at: float
    seq: int


class Acd:
    def __init__(self, config: AcdConfig, agents: Iterable[Agent]) -> None:
        self.config = config
        self.agents: dict[str, Agent] = {a.id: a for a in agents}
        self._by_extension = {a.extension: a.id for a in self.agents.values()}
        self.live: dict[str, Interaction] = {}
        self.waiting: dict[str, _Place] = {}
        self._offered_at: dict[str, float] = {}
        self._seq = itertools.count()

    # -- queries ---------------------------------------------------------------------------------
    def agent(self, agent_id: str) -> Agent:
        try:
            return self.agents[agent_id]
        except KeyError:
            raise UnknownAgent(agent_id) from None

    def agent_by_extension(self, extension: str) -> Agent | None:
        agent_id = self._by_extension.get(extension)
        return None if agent_id is None else self.agents[agent_id]

    def waiting_in(self, queue: str) -> list[Interaction]:
        ids = sorted((p, i) for i, p in self.waiting.items() if self.live[i].queue == queue)
        return [self.live[i] for _, i in ids]

    # -- restore after a restart -----------------------------------------------------------------
    def restore(self, interactions: Iterable[Interaction], at: float) -> list[Command]:
        """Take back interactions that were live when the server stopped.

        Callers still waiting (or being offered) go back in line with their original queue time, so
        their order is kept. A later :class:`~callcenter.core.events.Reconciled` ends those whose
        channel no longer exists in Asterisk.
        """
        out: list[Command] = []
        for i in interactions:
            if i.is_ended:
                continue
            if i.answered_at is None and i.offered_to is not None:
                i = i.with_(offered_to=None)
                out.append(SaveInteraction(i))
            self.live[i.id] = i
            if i.queue is not None and i.queued_at is not None and i.answered_at is None:
                self.waiting[i.id] = _Place(-i.priority, i.queued_at, next(self._seq))
            elif i.agent_id is not None and i.agent_id in self.agents:
                agent = self.agents[i.agent_id]
                self.agents[agent.id] = replace(
                    agent, state=AgentState.BUSY, interaction_id=i.id, since=at
                )
        return out

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
            case ev.AgentAnswered():
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
        )
        self.live[i.id] = i
        out.append(SaveInteraction(i))
        out.append(RecordEvent(i.id, e.at, "arrived", {"caller": e.caller_number}))

    def _ivr_finished(self, e: ev.IvrFinished, out: list[Command]) -> None:
        i = self.live.get(e.interaction_id)
        if i is None or i.queue is not None:
            return
        if e.queue is None:
            i = i.with_(ivr_choice=e.choice)
            self.live[i.id] = i
            self._end(i, Outcome.IVR_NO_INPUT, EndedBy.SYSTEM, e.at, "no valid menu choice", out)
            return
        i = i.with_(ivr_choice=e.choice, queue=e.queue, queued_at=e.at, priority=e.priority)
        self.live[i.id] = i
        self.waiting[i.id] = _Place(-e.priority, e.at, next(self._seq))
        out.append(SaveInteraction(i))
        out.append(RecordEvent(i.id, e.at, "queued", {"queue": e.queue, "choice": e.choice}))

    def _caller_hung_up(self, e: ev.CallerHungUp, out: list[Command]) -> None:
        i = self.live.get(e.interaction_id)
        if i is None:
            return
        if e.system:
            outcome = Outcome.ANSWERED if i.answered_at is not None else Outcome.LOST
            self._end(i, outcome, EndedBy.SYSTEM, e.at, e.cause, out)
        elif i.answered_at is not None:
            self._end(i, Outcome.ANSWERED, EndedBy.CALLER, e.at, e.cause, out)
        elif i.queue is not None:
            self._end(i, Outcome.ABANDONED, EndedBy.CALLER, e.at, e.cause, out)
        else:
            self._end(i, Outcome.IVR_HANGUP, EndedBy.CALLER, e.at, e.cause, out)

    def _agent_answered(self, e: ev.AgentAnswered, out: list[Command]) -> None:
        i = self.live.get(e.interaction_id)
        if i is None or i.offered_to != e.agent_id:
            # The caller left (or the offer was taken back) while the phone rang: drop the leg.
            out.append(CancelDial(e.interaction_id, e.agent_id))
            return
        self._offered_at.pop(i.id, None)
        i = i.with_(agent_id=e.agent_id, answered_at=e.at, offered_to=None)
        self.live[i.id] = i
        self._move(self.agents[e.agent_id], Move.ANSWER, e.at, out, interaction_id=i.id)
        out.append(SaveInteraction(i))
        out.append(RecordEvent(i.id, e.at, "answered", {"agent": e.agent_id}))

    def _dial_failed(
        self, interaction_id: str, agent_id: str, reason: str, at: float, out: list[Command]
    ) -> None:
        i = self.live.get(interaction_id)
        if i is None or i.offered_to != agent_id:
            return
        self._offered_at.pop(i.id, None)
        i = i.with_(offered_to=None)
        self.live[i.id] = i
        assert i.queued_at is not None
        # Back in line at its original place: the order key is unchanged.
        self.waiting[i.id] = _Place(-i.priority, i.queued_at, next(self._seq))
        agent = self.agents[agent_id]
        self._move(agent, Move.NO_ANSWER, at, out, reason=reason, interaction_id=None)
        out.append(SaveInteraction(i))
        out.append(RecordEvent(i.id, at, "offer_failed", {"agent": agent_id, "reason": reason}))

    def _agent_hung_up(self, e: ev.AgentHungUp, out: list[Command]) -> None:
        i = self.live.get(e.interaction_id)
        if i is None or i.agent_id != e.agent_id or i.answered_at is None:
            return  # before answer, the dial's own outcome (AgentDialFailed) decides
        if e.system:
            self._end(i, Outcome.ANSWERED, EndedBy.SYSTEM, e.at, "agent leg ended by the system", out)
        else:
            self._end(i, Outcome.ANSWERED, EndedBy.AGENT, e.at, "agent hung up", out)

    def _registered(self, extension: str, registered: bool, at: float, out: list[Command]) -> None:
        agent = self.agent_by_extension(extension)
        if agent is None or agent.registered == registered:
            return
        agent = replace(agent, registered=registered)
        self.agents[agent.id] = agent
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
        limit = self.config.ring_timeout + self.config.offer_grace
        for interaction_id, since in list(self._offered_at.items()):
            if at - since >= limit:
                agent_id = self.live[interaction_id].offered_to
                assert agent_id is not None
                out.append(CancelDial(interaction_id, agent_id))
                self._dial_failed(interaction_id, agent_id, "no dial result", at, out)
        for agent in list(self.agents.values()):
            if agent.state == AgentState.WRAP_UP and agent.wrap_up_until is not None:
                if at >= agent.wrap_up_until:
                    self._move(agent, Move.WRAP_DONE, at, out, wrap_up_until=None)

    def _reconciled(self, e: ev.Reconciled, out: list[Command]) -> None:
        for i in list(self.live.values()):
            if i.id not in e.live_interactions:
                self._end(
                    i, Outcome.LOST, EndedBy.SYSTEM, e.at, "channel gone after reconnect", out
                )
        for agent in list(self.agents.values()):
            self._registered(agent.extension, agent.extension in e.registered_extensions, e.at, out)

    # -- helpers ---------------------------------------------------------------------------------
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
        self.agents[agent.id] = new
        if (new.state, new.reason) != (agent.state, agent.reason):
            out.append(AgentStateChanged(new.id, new.state, new.reason, at))
        return new

    def _end(
        self,
        i: Interaction,
        outcome: Outcome,
        ended_by: EndedBy,
        at: float,
        cause: str,
        out: list[Command],
    ) -> None:
        self.waiting.pop(i.id, None)
        self._offered_at.pop(i.id, None)
        self.live.pop(i.id, None)
        if i.offered_to is not None:
            agent = self.agents[i.offered_to]
            out.append(CancelDial(i.id, agent.id))
            if agent.state == AgentState.OFFERED and agent.interaction_id == i.id:
                self._move(agent, Move.WITHDRAW, at, out, interaction_id=None)
        if i.agent_id is not None and i.agent_id in self.agents:
            agent = self.agents[i.agent_id]
            if agent.state == AgentState.BUSY and agent.interaction_id == i.id:
                if self.config.wrap_up_seconds > 0:
                    until = at + self.config.wrap_up_seconds
                    self._move(agent, Move.END, at, out, interaction_id=None, wrap_up_until=until)
                else:
                    self._move(agent, Move.END_NO_WRAP, at, out, interaction_id=None)
        ended = i.with_(
            outcome=outcome, ended_by=ended_by, ended_at=at, hangup_cause=cause, offered_to=None
        )
        out.append(SaveInteraction(ended))
        out.append(RecordEvent(i.id, at, "ended", {"outcome": outcome.value, "by": ended_by.value}))

    def _dispatch(self, at: float, out: list[Command]) -> None:
        if not self.waiting:
            return
        for _place, interaction_id in sorted((p, i) for i, p in self.waiting.items()):
            i = self.live[interaction_id]
            candidates = [
                a for a in self.agents.values() if a.can_take_call and i.queue in a.queues
            ]
            if not candidates:
                continue
            # Longest-idle agent first; the id breaks ties so decisions are reproducible.
            agent = min(candidates, key=lambda a: (a.since, a.id))
            del self.waiting[interaction_id]
            self._offered_at[interaction_id] = at
            reason = (
                f"longest-idle available agent in queue {i.queue} "
                f"(idle {at - agent.since:.1f} s, {len(candidates)} candidate(s))"
            )
            i = i.with_(
                offered_to=agent.id, offer_attempts=i.offer_attempts + 1, routing_reason=reason
            )
            self.live[i.id] = i
            self._move(agent, Move.OFFER, at, out, interaction_id=i.id)
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
            out.append(RecordEvent(i.id, at, "offered", {"agent": agent.id, "reason": reason}))

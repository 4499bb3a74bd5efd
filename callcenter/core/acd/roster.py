"""The agents as the engine keeps them: their snapshots, what each holds, and the availability index.

Agents able to take an interaction of a channel now are indexed by (channel, queue) and by
(channel, queue, skill); ``indexed`` says which (agent, channel) pairs are in. An agent newly able
to take something is *dirty*: the next dispatch looks for its best waiting interaction.

Invariants: ``indexed`` holds (agent, channel) exactly when ``can_take(agent, channel)``; the
index sets hold the agent under each of its queues (and skills) for exactly those channels;
``state_counts`` counts the agents by state.
"""

from __future__ import annotations

from collections.abc import Iterable

from callcenter.core.acd import queues as qs
from callcenter.core.acd.agents import Agent, AgentState
from callcenter.core.acd.lines import Key
from callcenter.core.interaction import Channel

CHANNELS = tuple(c.value for c in Channel)
VOICE = Channel.VOICE.value
_EMPTY: frozenset[str] = frozenset()


def qualifies(agent: Agent, target: qs.Target) -> bool:
    return target.pool in agent.queues and all(agent.level(s) >= lvl for s, lvl in target.needs)


class Roster:
    def __init__(self, agents: Iterable[Agent]) -> None:
        self.agents: dict[str, Agent] = {a.id: a for a in agents}
        self.by_extension = {a.extension: a.id for a in self.agents.values()}
        self.held: dict[str, dict[str, str]] = {a: {} for a in self.agents}  # agent -> iid -> channel
        self.members: dict[str, set[str]] = {}  # queue -> agents
        # (channel, pool) -> agents able to take an interaction of that channel now; and by skill.
        self.avail: dict[tuple[str, str], set[str]] = {}
        self.avail_skill: dict[tuple[str, str, str], set[str]] = {}
        self.indexed: set[tuple[str, str]] = set()  # (agent, channel) in the index
        self.dirty: set[str] = set()
        self.state_counts: dict[AgentState, int] = {s: 0 for s in AgentState}
        self.login_at: dict[str, float] = {}
        self.talk: dict[str, float] = {}  # talk seconds per agent (least-occupied strategy)
        self.last_offer: dict[tuple[str, str], int] = {}  # (queue, agent) -> offer sequence
        for agent in self.agents.values():
            self.state_counts[agent.state] += 1
            for q in agent.queues:
                self.members.setdefault(q, set()).add(agent.id)
            self.reindex(agent)

    def load(self, agent_id: str) -> dict[str, int]:
        """What the agent holds now (offered or accepted), per channel."""
        counts: dict[str, int] = {}
        for channel in self.held.get(agent_id, {}).values():
            counts[channel] = counts.get(channel, 0) + 1
        return counts

    def can_take(self, agent: Agent, channel: str = VOICE, load: dict[str, int] | None = None) -> bool:
        if load is None:
            load = self.load(agent.id)
        if channel != VOICE:
            return agent.can_take_chat(channel, load)
        if not agent.can_take_call:
            return False
        if not agent.call_while_chatting and any(c != VOICE for c in load):
            return False
        return load.get(VOICE, 0) < agent.capacity.get(VOICE, 0)

    def put(self, agent: Agent) -> Agent:
        """The agent's new snapshot (state, registration): counts and index follow."""
        self.state_counts[self.agents[agent.id].state] -= 1
        self.state_counts[agent.state] += 1
        self.agents[agent.id] = agent
        self.reindex(agent)
        return agent

    def reindex(self, agent: Agent) -> None:
        """Keep the availability index true for each channel."""
        load = self.load(agent.id)
        for channel in CHANNELS if agent.max_chats > 0 else (VOICE,):
            now_in = self.can_take(agent, channel, load)
            if now_in == ((agent.id, channel) in self.indexed):
                continue
            skills = agent.all_skills
            for pool in agent.queues:
                if now_in:
                    self.avail.setdefault((channel, pool), set()).add(agent.id)
                    for s in skills:
                        self.avail_skill.setdefault((channel, pool, s), set()).add(agent.id)
                else:
                    self.avail[(channel, pool)].discard(agent.id)
                    for s in skills:
                        self.avail_skill[(channel, pool, s)].discard(agent.id)
            if now_in:
                self.indexed.add((agent.id, channel))
                self.dirty.add(agent.id)
            else:
                self.indexed.discard((agent.id, channel))

    def replace_profile(self, new: Agent) -> None:
        """An administrator changed what the agent serves: out of the index and the queues' members
        under the old profile, in under the new one."""
        old = self.agents[new.id]
        for channel in CHANNELS:
            if (new.id, channel) in self.indexed:
                for pool in old.queues:
                    self.avail.get((channel, pool), set()).discard(new.id)
                    for sk in old.all_skills:
                        self.avail_skill.get((channel, pool, sk), set()).discard(new.id)
                self.indexed.discard((new.id, channel))
        for q in old.queues:
            self.members.get(q, set()).discard(new.id)
        self.agents[new.id] = new
        for q in new.queues:
            self.members.setdefault(q, set()).add(new.id)
        self.reindex(new)

    def add(self, agent: Agent) -> None:
        """A new agent (an administrator's addition): counted, a member of its queues, indexed."""
        self.agents[agent.id] = agent
        self.by_extension[agent.extension] = agent.id
        self.held[agent.id] = {}
        self.state_counts[agent.state] += 1
        for q in agent.queues:
            self.members.setdefault(q, set()).add(agent.id)
        self.reindex(agent)

    def remove(self, agent_id: str) -> Agent:
        """Forget an agent that holds nothing: out of every index, count and member set."""
        agent = self.agents[agent_id]
        for channel in CHANNELS:
            if (agent_id, channel) in self.indexed:
                for pool in agent.queues:
                    self.avail.get((channel, pool), set()).discard(agent_id)
                    for sk in agent.all_skills:
                        self.avail_skill.get((channel, pool, sk), set()).discard(agent_id)
                self.indexed.discard((agent_id, channel))
        for q in agent.queues:
            self.members.get(q, set()).discard(agent_id)
        self.state_counts[agent.state] -= 1
        del self.agents[agent_id]
        if self.by_extension.get(agent.extension) == agent_id:
            del self.by_extension[agent.extension]
        self.held.pop(agent_id, None)
        self.dirty.discard(agent_id)
        self.login_at.pop(agent_id, None)
        self.talk.pop(agent_id, None)
        for key in [k for k in self.last_offer if k[1] == agent_id]:
            del self.last_offer[key]
        return agent

    def may(self, agent: Agent, key: Key) -> bool:
        """May the agent take an interaction of this bucket now?"""
        if (agent.id, key.channel) not in self.indexed:
            return False
        if key.only is not None:
            return key.only == agent.id
        return agent.id not in key.skip and any(qualifies(agent, t) for t in key.targets)

    def candidates(self, key: Key) -> dict[str, qs.Target | None]:
        """Who may take an interaction of this bucket now, and through which target (``None``:
        the agent it is held for)."""
        found: dict[str, qs.Target | None] = {}
        if key.only is not None:
            if (key.only, key.channel) in self.indexed:
                found[key.only] = None
            return found
        ch = key.channel
        for t in key.targets:
            if t.needs:
                pool = min((self.avail_skill.get((ch, t.pool, s), _EMPTY) for s, _ in t.needs), key=len)
            else:
                pool = self.avail.get((ch, t.pool), _EMPTY)
            for agent_id in pool:
                if agent_id not in found and agent_id not in key.skip:
                    if qualifies(self.agents[agent_id], t):
                        found[agent_id] = t
        return found

    def staffed(self, queue: str) -> int:
        """Members of the queue logged in and not paused."""
        away = (AgentState.LOGGED_OUT, AgentState.PAUSED)
        return sum(1 for a in self.members.get(queue, ()) if self.agents[a].state not in away)

    def states_in(self, queue: str) -> dict[str, int]:
        states: dict[str, int] = {s.value: 0 for s in AgentState}
        for agent_id in self.members.get(queue, ()):
            states[self.agents[agent_id].state.value] += 1
        return states


def staffed(
    agents: Iterable[Agent], queue: str, skills: Iterable[str] = (), channel: str = "webchat"
) -> bool:
    """Whether someone could take an interaction of ``channel`` in ``queue`` soon: an agent logged in
    and not paused (available or busy: a wait, not a dead end — the web-chat widget's "online" rule,
    for one queue) who is a member of the queue, takes that channel and has ``skills`` ("name" or
    "name:level"). The virtual agent's offline form asks this."""
    needs = []
    for skill in skills:
        name, _, level = skill.partition(":")
        needs.append((name, int(level) if level.isdigit() else 1))
    return any(
        agent.state not in (AgentState.LOGGED_OUT, AgentState.PAUSED)
        and queue in agent.queues
        and (agent.chat_limit(channel) > 0 if channel != VOICE else agent.capacity.get(VOICE, 0) > 0)
        and all(agent.level(name) >= level for name, level in needs)
        for agent in agents
    )

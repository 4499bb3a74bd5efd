"""Property-based tests of the full ACD (skills, levels, languages, overflow, exits, callbacks,
several queues per agent) against a naive oracle that scans every caller x every agent."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.core import events as ev
from callcenter.core.acd import queues as qs
from callcenter.core.acd.agents import Agent, AgentState
from callcenter.core.acd.engine import Acd, AcdConfig
from callcenter.core.commands import DialAgent, DialCustomer, SaveInteraction
from callcenter.core.interaction import Interaction
from tests.unit.agent_table import handle_checked

AGENTS = [
    Agent(id="a1", extension="a1", queues=frozenset({"q1"}), skills={"x": 1}, languages=frozenset({"en"})),
    Agent(
        id="a2",
        extension="a2",
        queues=frozenset({"q1", "q2"}),
        skills={"x": 3, "y": 2},
        languages=frozenset({"en", "fr"}),
    ),
    Agent(id="a3", extension="a3", queues=frozenset({"q2"}), skills={"y": 1}, languages=frozenset({"fr"})),
    Agent(id="a4", extension="a4", queues=frozenset({"q3"}), languages=frozenset({"en", "fr"})),
]
AGENT_IDS = [a.id for a in AGENTS]
QUEUES = {
    "q1": qs.Queue(
        "q1", skills={"x": 2}, overflow=(qs.Overflow(5, skills={"x": 1}), qs.Overflow(12, queue="q3"))
    ),
    "q2": qs.Queue(
        "q2",
        strategy=qs.Strategy.SKILLS_WEIGHTED,
        skills={"y": 1},
        max_wait=20,
        exit=qs.QueueExit(qs.ExitKind.QUEUE, "q1"),
    ),
    "q3": qs.Queue(
        "q3", strategy=qs.Strategy.ROUND_ROBIN, max_wait=15, exit=qs.QueueExit(qs.ExitKind.VOICEMAIL)
    ),
}
CALLERS = [f"c{n}" for n in range(10)]

step = st.one_of(
    st.tuples(
        st.just("arrive"),
        st.sampled_from(CALLERS),
        st.sampled_from(sorted(QUEUES)),
        st.integers(0, 2),
        st.sampled_from([None, "en", "fr"]),
        st.sampled_from([(), ("x:3",), ("y:2",), ("y",)]),
    ),
    st.tuples(st.just("hangup"), st.sampled_from(CALLERS)),
    st.tuples(st.just("register"), st.sampled_from(AGENT_IDS), st.booleans()),
    st.tuples(st.just("answer"), st.sampled_from(CALLERS), st.sampled_from(AGENT_IDS)),
    st.tuples(st.just("fail"), st.sampled_from(CALLERS), st.sampled_from(AGENT_IDS)),
    st.tuples(st.just("agent_hangup"), st.sampled_from(CALLERS), st.sampled_from(AGENT_IDS)),
    st.tuples(st.just("pause"), st.sampled_from(AGENT_IDS), st.booleans()),
    st.tuples(st.just("login"), st.sampled_from(AGENT_IDS), st.booleans()),
    st.tuples(st.just("callback"), st.sampled_from(CALLERS)),
    st.tuples(st.just("cb_connected"), st.sampled_from(CALLERS), st.sampled_from(AGENT_IDS)),
    st.tuples(st.just("cb_failed"), st.sampled_from(CALLERS), st.sampled_from(AGENT_IDS)),
    st.tuples(st.just("tick"), st.floats(0, 30)),
)


def to_events(s: tuple, at: float) -> list[ev.Event]:
    kind = s[0]
    if kind == "arrive":
        return [
            ev.CallArrived(s[1], "100", "", "5000", f"PJSIP/{s[1]}", at),
            ev.IvrFinished(s[1], "1", s[2], at, s[3], skills=s[5], language=s[4]),
        ]
    simple = {
        "hangup": lambda: ev.CallerHungUp(s[1], "x", at),
        "register": lambda: (ev.AgentRegistered if s[2] else ev.AgentUnregistered)(s[1], at),
        "answer": lambda: ev.AgentAnswered(s[1], s[2], at),
        "fail": lambda: ev.AgentDialFailed(s[1], s[2], "busy", at),
        "agent_hangup": lambda: ev.AgentHungUp(s[1], s[2], at),
        "pause": lambda: ev.AgentPause(s[1], "r", at) if s[2] else ev.AgentResume(s[1], at),
        "login": lambda: (ev.AgentLogin if s[2] else ev.AgentLogout)(s[1], at),
        "callback": lambda: ev.CallbackRequested(s[1], "+1", at),
        "cb_connected": lambda: ev.CallbackConnected(s[1], s[2], at),
        "cb_failed": lambda: ev.CallbackFailed(s[1], s[2], "no answer", at),
        "tick": lambda: ev.Tick(at),
    }
    return [simple[kind]()]


def could_take(acd: Acd, agent: Agent, i: Interaction, at: float) -> bool:
    """The oracle: straight from the queue definitions, with no index and without calling
    ``qs.targets`` (the code under test): the queue's skills with the caller's own on top, each
    overflow step reached so far in order, and the caller's language always."""
    assert i.queue is not None and i.queued_at is not None
    queue = QUEUES[i.queue]
    speaks = i.language is None or i.language in agent.languages

    def has(skills: dict[str, int]) -> bool:
        return all(agent.skills.get(s, 0) >= lvl for s, lvl in skills.items() if lvl > 0)

    if not speaks:
        return False
    if i.queue in agent.queues and has({**queue.skills, **i.skills}):
        return True
    for step in queue.overflow:
        if at < i.queued_at + step.after:  # as points in time, like the scheduled timers
            break
        if step.skills is not None and i.queue in agent.queues and has(dict(step.skills)):
            return True
        if step.queue is not None and step.queue in agent.queues:
            return True
    return False


def key(i: Interaction) -> tuple[int, float]:
    assert i.queued_at is not None
    return (-i.priority, i.queued_at)


@settings(max_examples=500, deadline=None)
@given(st.lists(step, min_size=20, max_size=80))
def test_invariants_against_a_naive_oracle(steps: list[tuple]) -> None:
    acd = Acd(AcdConfig(ring_timeout=10, offer_grace=5, wrap_up_seconds=3), AGENTS, QUEUES)
    arrived: set[str] = set()
    ended: dict[str, int] = {}
    at = 0.0
    for s in steps:
        at += 1.0 + (s[1] if s[0] == "tick" else 0.0)  # time only moves forward
        if s[0] == "arrive" and (s[1] in arrived or s[1] in ended):
            continue  # interaction ids are never reused
        for event in to_events(s, at):
            now = event.at
            out = handle_checked(acd, event)
            if isinstance(event, ev.CallArrived):
                arrived.add(event.interaction_id)
            for c in out:
                if isinstance(c, SaveInteraction) and c.interaction.outcome is not None:
                    ended[c.interaction.id] = ended.get(c.interaction.id, 0) + 1
            # Fairness: an offered caller had no better-placed caller still waiting that the same
            # agent could take.
            for c in out:
                if isinstance(c, (DialAgent, DialCustomer)):
                    offered = acd.interactions[c.interaction_id]
                    agent = acd.agents[c.agent_id]
                    for other_id in acd.waiting:
                        other = acd.interactions[other_id]
                        if could_take(acd, agent, other, now):
                            assert not key(other) < key(offered), (other, offered)
            # At rest: nobody able to take a call matches anyone waiting (index == oracle).
            for agent in acd.agents.values():
                free = agent.can_take_call and not any(
                    i.offered_to == agent.id or (i.agent_id == agent.id and i.answered_at)
                    for i in acd.interactions.values()
                )
                for iid in acd.waiting:
                    assert not (free and could_take(acd, agent, acd.interactions[iid], now)), (agent.id, iid)
            # Capacity, and the books agree both ways.
            holders: dict[str, int] = {}
            for i in acd.interactions.values():
                for agent_id in {i.offered_to, i.agent_id if i.answered_at is not None else None} - {None}:
                    assert agent_id is not None
                    holders[agent_id] = holders.get(agent_id, 0) + 1
            for agent in acd.agents.values():
                assert holders.get(agent.id, 0) <= agent.capacity["voice"]
                busy = agent.state in (AgentState.OFFERED, AgentState.BUSY)
                assert busy == (holders.get(agent.id, 0) == 1), (agent, holders)
            counts = {st: sum(1 for a in acd.agents.values() if a.state == st) for st in AgentState}
            assert counts == acd.state_counts
            # Internal structures agree: each waiting caller is in exactly one line and one bucket.
            lines = [p.iid for line in acd._lines.by_queue.values() for p in line]
            buckets = [p.iid for b in acd._lines.buckets.values() for p in b]
            assert sorted(lines) == sorted(buckets) == sorted(acd.waiting)
    for iid in arrived:
        assert (iid in acd.interactions) != (ended.get(iid, 0) == 1), iid
    assert all(n == 1 for n in ended.values())


@settings(max_examples=200, deadline=None)
@given(st.lists(step, min_size=5, max_size=60))
def test_restart_puts_every_waiting_caller_back_in_order(steps: list[tuple]) -> None:
    """kill -9 at any point: the latest snapshots (what the database holds) restore the line."""
    acd = Acd(AcdConfig(ring_timeout=10, offer_grace=5, wrap_up_seconds=3), AGENTS, QUEUES)
    seen: set[str] = set()
    saved: dict[str, Interaction] = {}
    at = 0.0
    for s in steps:
        at += 1.0 + (s[1] if s[0] == "tick" else 0.0)
        if s[0] == "arrive" and s[1] in seen:
            continue
        for event in to_events(s, at):
            out = handle_checked(acd, event)
            if isinstance(event, ev.CallArrived):
                seen.add(event.interaction_id)
            for c in out:
                if isinstance(c, SaveInteraction):
                    saved[c.interaction.id] = c.interaction
    unfinished = [i for i in saved.values() if i.outcome is None]
    # Everything not ended is in the database exactly as the engine holds it.
    assert {i.id: i for i in unfinished} == acd.interactions
    fresh = Acd(AcdConfig(ring_timeout=10, offer_grace=5, wrap_up_seconds=3), AGENTS, QUEUES)
    fresh.restore(reversed(unfinished), at + 1)
    # The line: every caller waiting or being offered, in (priority, queue time) order, per queue.
    for q in QUEUES:
        expected = sorted(
            (
                i
                for i in acd.interactions.values()
                if i.queue == q and i.answered_at is None and (i.callback_due_at or 0) <= at + 1
            ),
            key=lambda i: (key(i), i.id),
        )
        got = fresh.waiting_in(q)
        assert [key(i) for i in got] == [key(i) for i in expected]
        assert {i.id for i in got} == {i.id for i in expected}
    assert all(i.offered_to is None for i in fresh.interactions.values())
    assert all(a.state != AgentState.OFFERED for a in fresh.agents.values())

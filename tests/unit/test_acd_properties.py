"""Property-based tests of the ACD's invariants over random event sequences."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.core import events as ev
from callcenter.core.acd.agents import Agent, AgentState
from callcenter.core.acd.engine import Acd, AcdConfig
from callcenter.core.commands import DialAgent, SaveInteraction
from tests.unit.agent_table import handle_checked

AGENTS = {"a1": {"q1"}, "a2": {"q1", "q2"}, "a3": {"q2"}}
CALLERS = [f"c{n}" for n in range(8)]

step = st.one_of(
    st.tuples(st.just("arrive"), st.sampled_from(CALLERS), st.sampled_from(["q1", "q2"]), st.integers(0, 2)),
    st.tuples(st.just("hangup"), st.sampled_from(CALLERS)),
    st.tuples(st.just("register"), st.sampled_from(sorted(AGENTS)), st.booleans()),
    st.tuples(st.just("answer"), st.sampled_from(CALLERS), st.sampled_from(sorted(AGENTS))),
    st.tuples(st.just("fail"), st.sampled_from(CALLERS), st.sampled_from(sorted(AGENTS))),
    st.tuples(st.just("agent_hangup"), st.sampled_from(CALLERS), st.sampled_from(sorted(AGENTS))),
    st.tuples(st.just("pause"), st.sampled_from(sorted(AGENTS)), st.booleans()),
    st.tuples(st.just("login"), st.sampled_from(sorted(AGENTS)), st.booleans()),
    st.tuples(st.just("tick"), st.floats(0, 40)),
)


def to_event(s: tuple, at: float) -> list[ev.Event]:
    kind = s[0]
    if kind == "arrive":
        return [
            ev.CallArrived(s[1], "100", "", "5000", f"PJSIP/{s[1]}", at),
            ev.IvrFinished(s[1], "1", s[2], at, s[3]),
        ]
    if kind == "hangup":
        return [ev.CallerHungUp(s[1], "x", at)]
    if kind == "register":
        return [(ev.AgentRegistered if s[2] else ev.AgentUnregistered)(s[1], at)]
    if kind == "answer":
        return [ev.AgentAnswered(s[1], s[2], at)]
    if kind == "fail":
        return [ev.AgentDialFailed(s[1], s[2], "busy", at)]
    if kind == "agent_hangup":
        return [ev.AgentHungUp(s[1], s[2], at)]
    if kind == "pause":
        return [ev.AgentPause(s[1], "r", at) if s[2] else ev.AgentResume(s[1], at)]
    if kind == "login":
        return [ev.AgentLogin(s[1], at) if s[2] else ev.AgentLogout(s[1], at)]
    return [ev.Tick(at + s[1])]


@settings(max_examples=300, deadline=None)
@given(st.lists(step, max_size=60))
def test_invariants_hold_for_any_sequence(steps: list[tuple]) -> None:
    acd = Acd(
        AcdConfig(ring_timeout=10, offer_grace=5, wrap_up_seconds=3),
        [Agent(id=a, extension=a, queues=frozenset(q)) for a, q in AGENTS.items()],
    )
    arrived: set[str] = set()
    ended: dict[str, int] = {}
    at = 0.0
    for s in steps:
        at += 1.0
        if s[0] == "arrive" and (s[1] in arrived or s[1] in ended):
            continue  # interaction ids are never reused
        for event in to_event(s, at):
            before_waiting = {i: acd.waiting[i] for i in acd.waiting}
            before_live = dict(acd.interactions)
            out = handle_checked(acd, event)
            if isinstance(event, ev.CallArrived) and event.interaction_id not in before_live:
                if event.interaction_id not in ended:
                    arrived.add(event.interaction_id)
            # No caller is skipped by a later one of lower or equal priority that the same agent
            # could have taken.
            dialled: set[str] = set()
            for c in out:
                if isinstance(c, DialAgent):
                    queues = AGENTS[c.agent_id]
                    for other, place in before_waiting.items():
                        if other == c.interaction_id or other in dialled or other not in acd.waiting:
                            continue
                        if acd.interactions[other].queue in queues:
                            assert place > before_waiting.get(c.interaction_id, place), (other, c)
                    dialled.add(c.interaction_id)
            for c in out:
                if isinstance(c, SaveInteraction) and c.interaction.outcome is not None:
                    ended[c.interaction.id] = ended.get(c.interaction.id, 0) + 1
            # Capacity: an agent holds at most one interaction, and the books agree both ways.
            holders: dict[str, int] = {}
            for i in acd.interactions.values():
                for agent_id in {i.offered_to, i.agent_id if i.answered_at is not None else None} - {None}:
                    holders[agent_id] = holders.get(agent_id, 0) + 1
            for agent in acd.agents.values():
                assert holders.get(agent.id, 0) <= 1
                busy = agent.state in (AgentState.OFFERED, AgentState.BUSY)
                assert busy == (holders.get(agent.id, 0) == 1), (agent, holders)
    # No call is lost: every arrival is either still live or ended exactly once.
    for iid in arrived:
        assert (iid in acd.interactions) != (ended.get(iid, 0) == 1), iid
    assert all(n == 1 for n in ended.values())

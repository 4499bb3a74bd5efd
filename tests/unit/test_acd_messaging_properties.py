"""Property-based tests of calls and conversations sharing the engine, against a naive oracle."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.core import events as ev
from callcenter.core.acd.agents import Agent, AgentState
from callcenter.core.acd.engine import Acd, AcdConfig
from callcenter.core.commands import OfferConversation, SaveInteraction, WithdrawOffer
from callcenter.core.interaction import Interaction
from tests.unit.agent_table import handle_checked

AGENTS = [
    Agent(id="a1", extension="a1", queues=frozenset({"q1"}), max_chats=2),
    Agent(
        id="a2",
        extension="a2",
        queues=frozenset({"q1", "q2"}),
        max_chats=1,
        chat_while_on_call=True,
        capacity={"voice": 1, "email": 1},
    ),
    Agent(id="a3", extension="a3", queues=frozenset({"q2"}), max_chats=3, call_while_chatting=False),
    Agent(id="a4", extension="a4", queues=frozenset({"q2"}), max_chats=0),
]
AGENT_IDS = [a.id for a in AGENTS]
IDS = [f"i{n}" for n in range(8)]
CHANNELS = ["webchat", "sms", "email"]
CONFIG = AcdConfig(
    ring_timeout=10, offer_grace=5, wrap_up_seconds=2, offer_timeout=8, decline_seconds=6, sticky_seconds=5
)

step = st.one_of(
    st.tuples(
        st.just("chat"),
        st.sampled_from(IDS),
        st.sampled_from(["q1", "q2"]),
        st.sampled_from(CHANNELS),
        st.integers(0, 2),
        st.sampled_from([None, *AGENT_IDS]),
    ),
    st.tuples(st.just("call"), st.sampled_from(IDS), st.sampled_from(["q1", "q2"]), st.integers(0, 2)),
    st.tuples(st.just("accept"), st.sampled_from(IDS), st.sampled_from(AGENT_IDS)),
    st.tuples(st.just("decline"), st.sampled_from(IDS), st.sampled_from(AGENT_IDS)),
    st.tuples(st.just("end"), st.sampled_from(IDS), st.sampled_from(["agent", "customer", "system"])),
    st.tuples(
        st.just("transfer"),
        st.sampled_from(IDS),
        st.sampled_from(AGENT_IDS),
        st.sampled_from([None, *AGENT_IDS]),
        st.sampled_from([None, "q1", "q2"]),
    ),
    st.tuples(st.just("answer"), st.sampled_from(IDS), st.sampled_from(AGENT_IDS)),
    st.tuples(st.just("hangup"), st.sampled_from(IDS)),
    st.tuples(st.just("register"), st.sampled_from(AGENT_IDS), st.booleans()),
    st.tuples(st.just("login"), st.sampled_from(AGENT_IDS), st.booleans()),
    st.tuples(st.just("pause"), st.sampled_from(AGENT_IDS), st.booleans()),
    st.tuples(st.just("tick"), st.floats(0, 12)),
)


def to_events(s: tuple, at: float) -> list[ev.Event]:
    kind = s[0]
    if kind == "chat":
        return [ev.ConversationArrived(s[1], s[3], "k" + s[1], "v" + s[1], s[2], at, s[4], last_agent=s[5])]
    if kind == "call":
        return [
            ev.CallArrived(s[1], "100", "", "5000", f"PJSIP/{s[1]}", at),
            ev.IvrFinished(s[1], "1", s[2], at, s[3]),
        ]
    if kind == "transfer":
        to_agent, to_queue = s[3], s[4]
        if to_agent is None and to_queue is None:
            to_queue = "q1"
        return [ev.ConversationTransferred(s[1], s[2], at, to_agent=to_agent, to_queue=to_queue)]
    simple = {
        "accept": lambda: ev.OfferAccepted(s[1], s[2], at),
        "decline": lambda: ev.OfferDeclined(s[1], s[2], at),
        "end": lambda: ev.ConversationEnded(s[1], s[2], at),
        "answer": lambda: ev.AgentAnswered(s[1], s[2], at),
        "hangup": lambda: ev.CallerHungUp(s[1], "x", at),
        "register": lambda: (ev.AgentRegistered if s[2] else ev.AgentUnregistered)(s[1], at),
        "login": lambda: (ev.AgentLogin if s[2] else ev.AgentLogout)(s[1], at),
        "pause": lambda: ev.AgentPause(s[1], "r", at) if s[2] else ev.AgentResume(s[1], at),
        "tick": lambda: ev.Tick(at),
    }
    return [simple[kind]()]


def chat_load(acd: Acd, agent_id: str) -> dict[str, int]:
    load: dict[str, int] = {}
    for i in acd.interactions.values():
        if i.is_messaging and agent_id in (i.offered_to, i.agent_id):
            load[i.channel.value] = load.get(i.channel.value, 0) + 1
        elif not i.is_messaging and (
            i.offered_to == agent_id or (i.agent_id == agent_id and i.answered_at is not None)
        ):
            load["voice"] = load.get("voice", 0) + 1
    return load


def oracle_may_offer(acd: Acd, agent: Agent, i: Interaction, at: float) -> bool:
    """Straight from the rules, no index: could ``agent`` be offered conversation ``i`` now?"""
    if not agent.can_take_chat(i.channel.value, chat_load(acd, agent.id)):
        return False
    if i.preferred_agent in acd.agents and i.preferred_until is not None and at < i.preferred_until:
        return agent.id == i.preferred_agent
    if acd._declined.get(i.id, {}).get(agent.id, -1.0) > at:
        return False
    return i.queue in agent.queues


def check(acd: Acd, out: list, at: float) -> None:
    # Capacity: never more conversations than allowed, per channel and in all.
    for agent in acd.agents.values():
        load = chat_load(acd, agent.id)
        chats = sum(n for c, n in load.items() if c != "voice")
        assert chats <= agent.max_chats, (agent.id, load)
        for channel, n in load.items():
            if channel != "voice":
                assert n <= agent.chat_limit(channel), (agent.id, load)
        assert load.get("voice", 0) <= 1
    # Nothing is offered to an agent paused, logged out or in wrap-up (and left there).
    for n, c in enumerate(out):
        if isinstance(c, OfferConversation):
            later = out[n + 1 :]
            if any(isinstance(w, WithdrawOffer) and w.interaction_id == c.interaction_id for w in later):
                continue
            state = acd.agents[c.agent_id].state
            assert state not in (AgentState.PAUSED, AgentState.LOGGED_OUT, AgentState.WRAP_UP), c
            assert acd.interactions[c.interaction_id].offered_to == c.agent_id
    # At rest: no agent able to take a waiting conversation is left without it.
    for iid in acd.waiting:
        i = acd.interactions[iid]
        if i.is_messaging:
            for agent in acd.agents.values():
                assert not oracle_may_offer(acd, agent, i, at), (agent.id, iid)
    # The line is whole.
    lines = sorted(p.iid for line in acd._lines.by_queue.values() for p in line)
    buckets = sorted(p.iid for b in acd._lines.buckets.values() for p in b)
    assert lines == buckets == sorted(acd.waiting)


def drain(acd: Acd, at: float) -> float:
    """Everyone comes back and works: every interaction is offered, taken and ended."""
    for _ in range(60):
        if not acd.interactions:
            break
        at += 20.0  # past every timer: offers, sticky and decline windows, wrap-up
        acd.handle(ev.Tick(at))
        for a in AGENT_IDS:
            for event in (ev.AgentRegistered(a, at), ev.AgentLogin(a, at), ev.AgentResume(a, at)):
                handle_checked(acd, event)  # refused while on a call, as the table says
        for i in list(acd.interactions.values()):
            if i.id not in acd.interactions:
                continue
            if i.is_messaging and i.offered_to is not None:
                acd.handle(ev.OfferAccepted(i.id, i.offered_to, at))
            elif i.is_messaging and i.agent_id is not None:
                acd.handle(ev.ConversationEnded(i.id, "agent", at))
            elif not i.is_messaging and i.offered_to is not None:
                acd.handle(ev.AgentAnswered(i.id, i.offered_to, at))
            elif not i.is_messaging and i.answered_at is not None:
                acd.handle(ev.CallerHungUp(i.id, "x", at))
    return at


@settings(max_examples=400, deadline=None)
@given(st.lists(step, min_size=10, max_size=70))
def test_calls_and_conversations_share_the_engine_safely(steps: list[tuple]) -> None:
    acd = Acd(CONFIG, AGENTS)
    for a in AGENT_IDS:  # everyone starts at work: the interesting cases come sooner
        acd.handle(ev.AgentLogin(a, 0.0))
    seen: set[str] = set()
    ended: dict[str, int] = {}
    at = 0.0
    for s in steps:
        at += 1.0 + (s[1] if s[0] == "tick" else 0.0)
        if s[0] in ("chat", "call") and s[1] in seen:
            continue
        for event in to_events(s, at):
            out = handle_checked(acd, event)
            if isinstance(event, (ev.ConversationArrived, ev.CallArrived)):
                seen.add(event.interaction_id)
            for c in out:
                if isinstance(c, SaveInteraction) and c.interaction.outcome is not None:
                    ended[c.interaction.id] = ended.get(c.interaction.id, 0) + 1
            check(acd, out, at)
    # Every waiting interaction is offered (and so served) once capacity frees.
    drain(acd, at)
    assert not acd.interactions, acd.interactions
    assert all(n == 1 for n in ended.values())


@settings(max_examples=150, deadline=None)
@given(st.lists(step, min_size=5, max_size=50))
def test_restart_keeps_every_waiting_conversation(steps: list[tuple]) -> None:
    acd = Acd(CONFIG, AGENTS)
    seen: set[str] = set()
    db: dict[str, Interaction] = {}
    at = 0.0
    for s in steps:
        at += 1.0 + (s[1] if s[0] == "tick" else 0.0)
        if s[0] in ("chat", "call") and s[1] in seen:
            continue
        for event in to_events(s, at):
            out = handle_checked(acd, event)
            if isinstance(event, (ev.ConversationArrived, ev.CallArrived)):
                seen.add(event.interaction_id)
            db.update({c.interaction.id: c.interaction for c in out if isinstance(c, SaveInteraction)})
    unfinished = [i for i in db.values() if i.outcome is None]
    assert {i.id: i for i in unfinished} == acd.interactions
    fresh = Acd(CONFIG, AGENTS)
    fresh.restore(reversed(unfinished), at + 1)
    pending = {i.id for i in acd.interactions.values() if i.is_messaging and i.agent_id is None}
    assert pending <= set(fresh.waiting)
    for agent in AGENTS:
        assert chats_of(acd, agent.id) == chats_of(fresh, agent.id)
    # Voice callers are not reconciled here (no Reconciled event): they stay live as before.
    drain(fresh, at + 1)
    assert not fresh.interactions


def chats_of(engine: Acd, agent_id: str) -> set[str]:
    return {i.id for i in engine.interactions.values() if i.is_messaging and i.agent_id == agent_id}

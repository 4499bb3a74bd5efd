"""The chat runner's quiet customers and offline form (core/ivr/chat.py): the idle nudge and the
``abandoned`` end on a fake clock, the ``agents`` node, and their YAML errors with file:line."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from textwrap import dedent

from hypothesis import given
from hypothesis import strategies as st

from callcenter.core.acd.agents import Agent, AgentState
from callcenter.core.acd.roster import staffed
from callcenter.core.ivr import chat
from callcenter.core.ivr import model as m
from callcenter.ivr import loader

NOW = datetime(2026, 1, 5, 12, tzinfo=UTC)

FLOW = """\
flow: quiet
channels: [chat]
start: ask
idle: {after: 60, then: 120%s}
nodes:
  ask:
    type: collect
    input: text
    prompt: "Your question?"
    variable: question
    no_input: person
    next: check
  check:
    type: agents
    queue: support
    skills: [billing]
    available: person
    unavailable: contact
  contact:
    type: collect
    input: text
    prompt: "Nobody is here now. Your e-mail, and we answer later?"
    variable: email
    pattern: "[^@ ]+@[^@ ]+"
    no_input: person
    next: ticket
  ticket: {type: ticket, ticket_type: general, title: "{question}", fields: {email: "{email}"}}
  person: {type: queue, queue: support}
"""


def flows(tmp_path: Path, idle_extra: str = "") -> m.FlowSet:
    (tmp_path / "quiet.yaml").write_text(FLOW % idle_extra)
    loaded, problems = loader.load([tmp_path])
    assert problems == []
    return loaded


def at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


def test_a_quiet_customer_is_nudged_once_then_the_flow_ends_abandoned(tmp_path: Path) -> None:
    fs = flows(tmp_path)
    turn = chat.begin(fs, "quiet", now=NOW)
    assert chat.idle_due(fs, turn.state) == at(60)
    assert chat.idle(fs, turn.state, now=at(59)) == chat.Turn(turn.state)  # early: nothing
    nudged = chat.idle(fs, turn.state, now=at(60))
    assert nudged.nudge and nudged.replies == () and nudged.finish is None  # the built-in text
    assert nudged.state.nudged and chat.idle_due(fs, nudged.state) == at(180)
    # stored and read back (another owner): the same times
    stored = chat.ChatState.from_json(json.loads(json.dumps(nudged.state.to_json())))
    assert stored == nudged.state
    assert chat.idle(fs, stored, now=at(179)).finish is None
    ended = chat.idle(fs, stored, now=at(180))
    assert ended.finish is not None and ended.finish.outcome == chat.ABANDONED
    assert ended.finish.queue is None  # closed
    assert ended.state.variables["handoff_reason"] == "no answer"
    assert chat.idle_due(fs, ended.state) is None


def test_an_answer_starts_the_idle_clock_again_and_a_flow_prompt_replaces_the_built_in(
    tmp_path: Path,
) -> None:
    fs = flows(tmp_path, ', prompt: "Still there?", queue: callbacks')
    turn = chat.begin(fs, "quiet", now=NOW)
    nudged = chat.idle(fs, turn.state, now=at(70))
    assert nudged.replies == ("Still there?",) and not nudged.nudge
    answered = chat.message(fs, nudged.state, "", now=at(100))  # an empty message still answers
    assert not answered.state.nudged and chat.idle_due(fs, answered.state) == at(160)
    late = chat.idle(fs, nudged.state, now=at(400))  # a stale timer of the old state would end it...
    assert late.finish is not None and late.finish.queue == "callbacks"  # ...to the idle's queue
    assert chat.idle(fs, answered.state, now=at(159)) == chat.Turn(answered.state)


@given(answers=st.lists(st.floats(1, 59), max_size=6), extra=st.floats(0, 1000))
def test_a_customer_who_answers_within_the_idle_time_is_never_nudged(
    answers: list[float], extra: float
) -> None:
    fs = _FLOWS
    state = chat.begin(fs, "quiet", now=NOW).state
    clock = 0.0
    for gap in answers:  # each an empty message: "no input", asked again (or the no_input path)
        clock += gap
        assert chat.idle(fs, state, now=at(clock)).finish is None
        assert not chat.idle(fs, state, now=at(clock)).nudge
        state = chat.message(fs, state, "", now=at(clock)).state  # no input: asked again
        if state.waiting != chat.TEXT:
            return
    ended = chat.idle(fs, chat.idle(fs, state, now=at(clock + 60)).state, now=at(clock + 180 + extra))
    assert ended.finish is not None and ended.finish.outcome == chat.ABANDONED


def test_no_agent_takes_the_offline_form_and_an_agent_the_queue(tmp_path: Path) -> None:
    fs = flows(tmp_path)
    asked = chat.message(fs, chat.begin(fs, "quiet", now=NOW).state, "Where is my refund?", now=NOW)
    assert asked.request == chat.AgentsQuery("support", ("billing",))
    assert chat.idle_due(fs, asked.state) is None  # not waiting for the customer
    some = chat.resume(fs, asked.state, chat.AgentsResult(True), now=NOW)
    assert some.finish is not None and some.finish.queue == "support"
    none = chat.resume(fs, asked.state, chat.AgentsResult(False), now=NOW)
    assert none.replies == ("Nobody is here now. Your e-mail, and we answer later?",)
    done = chat.message(fs, none.state, "li@example.com", now=NOW)
    assert done.ticket is not None and done.ticket.fields == {"email": "li@example.com"}
    assert done.finish is not None and done.finish.outcome == "ticket"


def test_staffed_means_logged_in_to_the_queue_with_the_skills_and_taking_chats() -> None:
    base = Agent("1001", "1001", frozenset({"support"}), AgentState.BUSY, skills={"billing": 2}, max_chats=2)
    assert staffed([base], "support", ("billing",))
    assert staffed([base], "support", ("billing:2",))
    assert not staffed([base], "support", ("billing:3",))
    assert not staffed([base], "sales")
    assert not staffed([replace(base, state=AgentState.LOGGED_OUT)], "support")
    assert not staffed([replace(base, state=AgentState.PAUSED)], "support")  # as the widget's online
    assert not staffed([replace(base, max_chats=0)], "support")
    assert staffed([replace(base, max_chats=0)], "support", channel="voice")


def test_idle_and_agents_mistakes_are_reported_with_their_line(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        dedent(
            """
            start: q
            idle: {then: 10}
            nodes:
              q: {type: queue, queue: support}
            """
        ).lstrip()
    )
    (tmp_path / "b.yaml").write_text(
        dedent(
            """
            channels: [chat]
            languages: [en, zh-CN]
            start: c
            idle: {after: 0, prompt: {say: {en: "There?", zh-CN: "在吗?"}}}
            nodes:
              c: {type: agents, queue: support, available: q}
              q: {type: queue, queue: support}
            """
        ).lstrip()
    )
    (tmp_path / "c.yaml").write_text(
        dedent(
            """
            start: c
            idle: {after: 30, prompt: "There?", colour: red}
            nodes:
              c: {type: agents, queue: support, available: q, unavailable: q}
              q: {type: queue, queue: support}
            """
        ).lstrip()
    )
    _, found = loader.load([tmp_path])
    assert [str(p).replace(str(tmp_path) + "/", "") for p in found] == [
        "a.yaml:2:7: 'idle' needs 'after': seconds without an answer before the nudge",
        "b.yaml:4:15: 0.0 is out of range (1..604800)",
        "b.yaml:6:6: agents node needs 'unavailable'",
        "c.yaml:2:7: 'idle' is for chat flows (channels: [chat])",
        "c.yaml:2:37: unknown key 'colour' in 'idle' (allowed: after, prompt, queue, then)",
        "c.yaml:4:3: agents node 'c' is chat only: the flow's channels include voice",
    ]


_FLOWS = loader.parse_text(FLOW % "", "quiet.yaml")[0]
_FLOWS = m.FlowSet({"quiet": _FLOWS}) if _FLOWS is not None else m.FlowSet()

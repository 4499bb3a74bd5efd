"""The IVR's flow language on chat: the validator's channel rules and the pure text runner."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from textwrap import dedent

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.core.ivr import chat
from callcenter.core.ivr import flow as ivr
from callcenter.core.ivr import model as m
from callcenter.ivr import loader

FLOWS = Path(__file__).parents[2] / "ivr_flows"
NOW = datetime(2026, 1, 5, 12, tzinfo=UTC)


def problems(tmp_path: Path, **files: str) -> list[str]:
    for name, text in files.items():
        (tmp_path / f"{name}.yaml").write_text(dedent(text).lstrip())
    _, found = loader.load([tmp_path])
    return [str(p).replace(str(tmp_path) + "/", "") for p in found]


@pytest.fixture(scope="module")
def flows() -> m.FlowSet:
    loaded, found = loader.load([FLOWS])
    assert found == []
    return loaded


def test_voice_only_and_chat_only_nodes_are_refused_with_their_line(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        c="""
        channels: [chat]
        start: vm
        nodes:
          vm: {type: voicemail, mailbox: "1@default", prompt: {file: acme/leave}}
        """,
        v="""
        start: q
        nodes:
          q: {type: collect, input: text, variable: x, prompt: "Say", no_input: k, next: k}
          k: {type: kb, answered: t, unanswered: t}
          t: {type: ticket, ticket_type: general, title: x}
        """,
        w="""
        channels: [chat, fax]
        start: g
        nodes:
          g: {type: goto, flow: v}
        """,
    )
    assert found == [
        "c.yaml:4:3: voicemail node 'vm' is voice only: give 'chat:' (where a chat goes instead) "
        "or take chat out of the flow's channels",
        "c.yaml:4:55: a recorded sound has no text to send on chat ('en', node 'vm'): use say",
        "v.yaml:3:3: collect node 'q' takes text, which only chat has",
        "v.yaml:4:3: kb node 'k' is chat only: the flow's channels include voice",
        "v.yaml:5:3: ticket node 't' is chat only: the flow's channels include voice",
        "w.yaml:1:11: unknown channel 'fax' (voice, chat)",
        "w.yaml:4:25: goto flow 'v', which does not run on chat, fax (its channels: voice)",
    ]


def test_a_goto_into_a_flow_of_other_channels_is_refused(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        c="""
        channels: [chat]
        start: g
        nodes:
          g: {type: goto, flow: v}
        """,
        v="""
        start: q
        nodes:
          q: {type: queue, queue: support}
        """,
    )
    assert found == ["c.yaml:4:25: goto flow 'v', which does not run on chat (its channels: voice)"]


def test_a_voicemail_with_a_chat_target_runs_on_both(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text(
        dedent("""
        channels: [voice, chat]
        start: vm
        nodes:
          vm: {type: voicemail, mailbox: "1@default", prompt: "Leave a message.", chat: q}
          q: {type: queue, queue: support, prompt: "An agent will write to you."}
        """)
    )
    flows, found = loader.load([tmp_path])
    assert found == []
    turn = chat.begin(flows, "b", now=NOW)
    assert turn.finish is not None and turn.finish.queue == "support"
    assert turn.replies == ("An agent will write to you.",)


def test_a_menu_takes_its_key_its_words_or_its_target_but_not_two_choices(flows: m.FlowSet) -> None:
    topic = flows.flows["chat_support"].nodes["topic"]
    assert isinstance(topic, m.MenuNode)
    assert chat.menu_choice(topic, " 3. ") == "3"
    assert chat.menu_choice(topic, "I have a question about my bill") is None  # two choices
    assert chat.menu_choice(topic, "Billing please!") == "1"
    assert chat.menu_choice(topic, "我要投诉") == "3"
    assert chat.menu_choice(topic, "billingham") is None  # whole words only
    assert chat.menu_choice(topic, "complaint") == "3"


def test_the_whole_exchange_carries_what_was_collected_to_the_queue(flows: m.FlowSet) -> None:
    turn = chat.begin(flows, "chat_support", now=NOW, variables={"caller": "+34600111222"})
    assert turn.replies[0].startswith("Hi, I am Acme's virtual assistant")
    assert turn.state.waiting == chat.TEXT and turn.finish is None
    turn = chat.message(flows, turn.state, "1", now=NOW)
    turn = chat.message(flows, turn.state, "12-34-56", now=NOW)
    assert turn.request == chat.AgentsQuery("billing") and turn.finish is None  # anyone in billing?
    turn = chat.resume(flows, turn.state, chat.AgentsResult(True), now=NOW)
    assert turn.finish is not None
    assert (turn.finish.queue, turn.finish.outcome) == ("billing", "queue")
    assert turn.finish.data["order"] == "123456" and turn.finish.data["caller"] == "+34600111222"
    assert turn.state.waiting == chat.DONE
    after = chat.message(flows, turn.state, "hello?", now=NOW)
    assert after.finish is None and after.replies == ()


def test_a_knowledge_base_step_is_a_request_answered_by_the_adapter(flows: m.FlowSet) -> None:
    turn = chat.begin(flows, "chat_support", now=NOW, language="zh-CN")
    turn = chat.message(flows, turn.state, "咨询", now=NOW)
    turn = chat.message(flows, turn.state, "怎么退款？", now=NOW)  # noqa: RUF001
    assert turn.request == chat.KbQuery("怎么退款？", "zh-CN")  # noqa: RUF001
    with pytest.raises(ivr.FlowError):
        chat.resume(flows, turn.state, ivr.HttpResult(200, {}), now=NOW)
    answered = chat.resume(flows, turn.state, chat.KbResult("七天内退款。", 4), now=NOW)
    assert answered.replies == ("七天内退款。", "这回答了您的问题吗？1 是，2 否。")  # noqa: RUF001
    assert answered.state.variables["kb_article"] == "4"


def test_a_state_that_no_longer_fits_the_flows_hands_over(flows: m.FlowSet) -> None:
    turn = chat.begin(flows, "chat_support", now=NOW)
    moved = chat.ChatState.from_json({**turn.state.to_json(), "node": "gone"})
    after = chat.message(flows, moved, "1", now=NOW)
    assert after.finish is not None and after.finish.outcome == "error" and after.finish.queue is None


def test_a_state_that_is_not_one_is_refused() -> None:
    with pytest.raises(ValueError, match="not a chat flow state"):
        chat.ChatState.from_json({"flow": "x"})
    with pytest.raises(ValueError, match="variables"):
        chat.ChatState.from_json(
            {
                "flow": "x",
                "node": "y",
                "language": "en",
                "variables": {"a": 1},
                "attempt": 1,
                "choice": None,
                "waiting": "text",
            }
        )


MESSAGES = st.lists(
    st.sampled_from(
        [
            "1",
            "2",
            "3",
            "billing",
            "question",
            "123456",
            "12",
            "",
            "yes",
            "no",
            "How do refunds work?",
            "我要投诉",
            "nonsense",
            "that answers my question",
        ]
    ),
    max_size=8,
)


def _run(flows: m.FlowSet, said: list[str], *, stored: bool) -> list[chat.Turn]:
    """Runs the messages; ``stored``: the state goes through JSON between turns (a restart, another node)."""
    turns = [chat.begin(flows, "chat_support", now=NOW)]
    for text in said:
        last = turns[-1]
        if last.finish is not None:
            break
        state = (
            chat.ChatState.from_json(json.loads(json.dumps(last.state.to_json()))) if stored else last.state
        )
        turn = chat.message(flows, state, text, now=NOW)
        while turn.request is not None:  # the knowledge base knows refunds only; agents are in
            result: chat.Result = chat.AgentsResult(True)
            if isinstance(turn.request, chat.KbQuery):
                known = "refund" in turn.request.question
                result = (
                    chat.KbResult("Within 5 days.", 7) if known else chat.KbResult(reason="nothing found")
                )
            turns.append(turn)
            turn = chat.resume(flows, turn.state, result, now=NOW)
        turns.append(turn)
    return turns


@settings(max_examples=150, deadline=None)
@given(
    said=MESSAGES, person=st.sampled_from(["agent", "人工", "can I talk to someone"]), at=st.integers(0, 8)
)
def test_stored_state_resumes_the_same_and_a_person_is_always_reachable(
    flows: m.FlowSet, said: list[str], person: str, at: int
) -> None:
    plain = _run(flows, said, stored=False)
    stored = _run(flows, said, stored=True)
    assert [(t.replies, t.finish, t.ticket, t.state) for t in plain] == [
        (t.replies, t.finish, t.ticket, t.state) for t in stored
    ]
    for turn in plain:
        assert turn.state.waiting in (chat.TEXT, chat.KB, chat.AGENTS, chat.DONE)
        assert (turn.finish is None) == (turn.state.waiting != chat.DONE)
    last = plain[-1]
    if last.finish is None:  # no prefix finished either: a person asked for at any point takes over
        handed = _run(flows, [*said[:at], person], stored=True)[-1]
        assert handed.finish is not None and handed.finish.queue == "support"
        assert handed.state.variables.get("handoff_reason") == "asked for a person"


def test_a_new_customers_language_is_guessed_from_the_first_message() -> None:
    assert chat.language_of("我的包裹还没到", ("en", "zh-CN")) == "zh-CN"
    assert chat.language_of("my parcel is late", ("en", "zh-CN")) is None  # the flow's own
    assert chat.language_of("包裹 late", ("en", "es")) is None  # no Chinese in the flow: its own


def test_a_first_message_that_asks_for_a_person_hands_over_and_one_that_mentions_an_agent_does_not(
    flows: m.FlowSet,
) -> None:
    asked = chat.begin(flows, "chat_support", now=NOW, variables={"first_message": "转人工"})
    assert asked.request == chat.AgentsQuery("support")  # the flow's agent: is anyone there?
    assert asked.state.variables["handoff_reason"] == "asked for a person"
    mentioned = chat.begin(
        flows, "chat_support", now=NOW, variables={"first_message": "my agent number is wrong"}
    )
    assert mentioned.request is None and mentioned.state.node == "topic"


def test_the_shipped_flows_open_tickets_the_example_workflow_has(flows: m.FlowSet) -> None:
    """ivr_flows/ and tickets.example.yaml are used together: every ticket a flow opens is of a type
    the example workflow defines, with nothing it requires left out."""
    from tests.unit.tickets_fixtures import example

    workflow = example()
    opened = [n for f in flows.flows.values() for n in f.nodes.values() if isinstance(n, m.TicketNode)]
    assert opened
    for node in opened:
        assert node.ticket_type in workflow.types, node.ticket_type
        required = {f.name for f in workflow.types[node.ticket_type].fields if f.required}
        assert required <= set(node.fields), (node.ticket_type, required)


def test_first_words_that_answer_the_first_menu_are_taken_as_its_answer(flows: m.FlowSet) -> None:
    turn = chat.begin(
        flows, "chat_support", now=NOW, variables={"first_message": "我要投诉"}, language="zh-CN"
    )
    assert turn.replies == (
        "您好，我是 Acme 的虚拟助手。您随时可以要求转人工。",  # noqa: RUF001
        "非常抱歉。请描述发生了什么，我们会为您创建工单。",  # noqa: RUF001
    )  # the greeting, then the complaint's question: the menu is not put to the customer
    assert (turn.state.node, turn.state.choice, turn.state.waiting) == ("complaint", "3", chat.TEXT)
    # Words that answer no choice, or two: the menu is asked as usual.
    for first in ("hello", "a question about my bill"):
        turn = chat.begin(flows, "chat_support", now=NOW, variables={"first_message": first})
        assert turn.state.node == "topic" and turn.replies[-1].startswith("What is it about?"), first

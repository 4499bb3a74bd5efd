"""Asking for a person is an intent, not a word (core/kb/person.py): a table of requests and of
messages that only mention an agent, in English and Chinese, and properties over their variants."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcenter.core.kb.person import PHRASES, asks_for_person

ASKS = [
    "agent",
    "Agent please!",
    "human",
    "real person",
    "live agent",
    "representative",
    "customer service",
    "speak to agent",
    "I want a HUMAN",
    "I want to talk to a human",
    "Can I talk to a person?",
    "could I speak with someone please",
    "I need to speak with someone about my bill",
    "I'd like to talk to an agent, my order is late",
    "connect me to an agent",
    "transfer me to a human please",
    "get me a person",
    "Is there a human I can talk to?",
    "转人工",
    "人工",
    "客服",
    "人工客服在吗",
    "我要找人工客服",
    "帮我转人工，谢谢",
    "找人工",
    "有真人吗",
    "我要和客服说话",
    "我能跟人工客服说话吗",
    "订单一直没到，转人工",
]

MENTIONS = [
    "my agent number is wrong",
    "the agent I spoke to said my refund was sent",
    "I talked to an agent yesterday and nothing happened",
    "how do I change my agent's phone number",
    "the person at the desk was rude",
    "what does the human resources team do",
    "human error on my invoice",
    "people are charged twice",
    "Someone stole my card",
    "Personal data",
    "are you a bot?",
    "my card is lost",
    "人工智能是什么",
    "人工费怎么算",
    "客服人员说我的退款已经发出",
    "客服电话是多少",
    "上次的坐席说会回电话",
    "退款多久到账",
]


@pytest.mark.parametrize("text", ASKS)
def test_a_request_for_a_person_hands_over(text: str) -> None:
    assert asks_for_person(text)


@pytest.mark.parametrize("text", MENTIONS)
def test_a_message_that_only_mentions_an_agent_does_not(text: str) -> None:
    assert not asks_for_person(text)


@given(
    text=st.sampled_from(ASKS),
    shout=st.booleans(),
    mark=st.sampled_from(["", "!", "?", "!!", "。", " ..."]),
)
def test_case_and_punctuation_do_not_change_a_request(text: str, shout: bool, mark: str) -> None:
    assert asks_for_person((text.upper() if shout else text) + mark)


@given(
    noun=st.sampled_from([n for n in PHRASES["en"].nouns if " " not in n]),
    before=st.sampled_from(["my", "the", "our", "that"]),
    after=st.sampled_from(
        ["number is wrong", "said no", "was helpful yesterday", "account shows an old address", "id"]
    ),
)
def test_an_agent_word_inside_a_statement_is_not_a_request(noun: str, before: str, after: str) -> None:
    assert not asks_for_person(f"{before} {noun} {after}")


@given(
    noun=st.sampled_from(["人工", "客服", "坐席", "客服人员"]),
    after=st.sampled_from(["说已经退款了", "的电话是多少", "昨天回复过我"]),
)
def test_a_chinese_mention_is_not_a_request(noun: str, after: str) -> None:
    assert not asks_for_person(f"上次{noun}{after}")

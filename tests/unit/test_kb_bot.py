"""The virtual agent's decision (core/kb/bot.py): a person whenever asked, an answer only when
confident, the handoff carrying what the customer wrote."""

from __future__ import annotations

import pytest

from callcenter.core.kb.articles import Hit
from callcenter.core.kb.bot import Answer, Confidence, Handoff, asks_for_person, decide


def hit(ident: int, score: float, coverage: float) -> Hit:
    return Hit(ident, f"k{ident}", "en", "t", "the answer", "", score, None, coverage)


@pytest.mark.parametrize(
    "text",
    ["Can I talk to a person?", "I want a HUMAN", "agent please", "转人工", "我要找人工客服", "有真人吗"],
)
def test_asking_for_a_person_always_hands_over(text: str) -> None:
    assert asks_for_person(text)
    decision = decide(["my card is lost", text], [hit(1, 9.0, 1.0)])
    assert decision == Handoff("asked for a person", ("my card is lost", text))


@pytest.mark.parametrize(
    "text", ["my card is lost", "management fees", "退款多久到账", "Someone stole my card", "Personal data"]
)
def test_other_words_are_questions(text: str) -> None:
    assert not asks_for_person(text)


def test_answers_only_when_confident() -> None:
    strong = [hit(1, 6.0, 0.8), hit(2, 2.0, 0.5)]
    assert decide(["q"], strong) == Answer(strong[0])
    close = [hit(1, 6.0, 0.8), hit(2, 5.0, 0.8)]  # the runner-up is too near
    assert decide(["q"], close) == Handoff("not confident", ("q",))
    thin = [hit(1, 6.0, 0.2)]  # most of the question is not in the article
    assert decide(["q"], thin) == Handoff("not confident", ("q",))
    assert decide(["q"], [], offered=(4,)) == Handoff("nothing found", ("q",), (4,))
    assert decide(["q"], thin, Confidence(coverage=0.1, margin=1.0)) == Answer(thin[0])

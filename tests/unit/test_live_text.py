"""Live transcription's pure parts: held-back numbers and redaction across utterances, live QA,
which calls get a live stream (core/qa/live.py)."""

from __future__ import annotations

from callcenter.core.qa.live import LiveQa, LiveSlots, LiveText, StreamText
from callcenter.core.qa.redaction import Redactor, open_number_start
from callcenter.core.qa.scoring import PhraseRule, QaRules
from callcenter.core.qa.transcript import Word


def words(text: str, start: float = 0.0) -> tuple[Word, ...]:
    return tuple(Word(w, start + i * 0.3, start + i * 0.3 + 0.25, 0.9) for i, w in enumerate(text.split()))


def said(out: tuple[Word, ...]) -> str:
    return " ".join(w.text for w in out)


def test_open_number_start() -> None:
    assert open_number_start("my card is four one one") == len("my card is ")
    assert open_number_start("four one, uh,") == 0
    assert open_number_start("four one double") == 0
    assert open_number_start("ends with a double") == len("ends with a ")
    assert open_number_start("four one thanks") is None
    assert open_number_start("hello there") is None
    assert open_number_start("") is None


def test_a_card_said_over_two_utterances_is_masked_as_one() -> None:
    stream = StreamText(Redactor())
    first = stream.final(words("my card number is four one one one one one one one"))
    assert said(first) == "my card number is", "the open number is held back"
    assert stream.holding
    second = stream.final(words("one one one one one one one one thank you", 4.0))
    assert said(second) == "[CARD] thank you"
    assert not stream.holding


def test_partials_never_show_an_open_number() -> None:
    stream = StreamText(Redactor())
    assert said(stream.partial(words("my card is four one one one"))) == "my card is"
    stream.final(words("my card is four one one one one one one one"))
    # The held digits and the new ones together: still open, still hidden.
    assert said(stream.partial(words("one one one"))) == ""
    assert said(stream.partial(words("one one one one one one one one thanks"))) == "[CARD] thanks"


def test_a_short_number_is_let_out_when_it_is_over() -> None:
    stream = StreamText(Redactor())
    assert said(stream.final(words("order seven three nine"))) == "order"
    assert said(stream.flush()) == "seven three nine"
    assert said(stream.flush()) == ""
    assert said(stream.final(words("seven three"))) == ""
    assert said(stream.final(words("nine please"))) == "seven three nine please"


def test_configured_identifiers_are_masked_live_too() -> None:
    from callcenter.core.qa.redaction import IdentifierPattern

    stream = StreamText(Redactor(patterns=(IdentifierPattern.of("MEMBER", r"\b\d{6}\b"),)))
    assert said(stream.final(words("member one two three"))) == "member"
    assert said(stream.final(words("four five six thanks"))) == "[MEMBER] thanks"


def text(speaker: str, line: str, start: float = 0.0, final: bool = True) -> LiveText:
    return LiveText("c1", speaker, final, words(line, start))  # type: ignore[arg-type]


RULES = QaRules(
    required=(
        PhraseRule("greeting", ("thank you for calling",), where="start", within=20),
        PhraseRule("closing", ("anything else",), where="end", within=30),
    ),
    emergency_words=("lawyer", "kill myself"),
    max_anger=0.5,
)


def test_an_emergency_word_alerts_once_per_call() -> None:
    qa = LiveQa(RULES)
    assert qa.hear(text("caller", "hello there")) == ()
    alerts = qa.hear(text("caller", "i will call my lawyer", 2.0))
    assert [(a.kind, a.word, a.evidence.speaker) for a in alerts] == [("emergency_word", "lawyer", "caller")]
    assert qa.hear(text("caller", "my lawyer will hear of this", 5.0)) == ()


def test_a_phrase_split_over_two_utterances_is_found() -> None:
    qa = LiveQa(RULES)
    assert qa.hear(text("caller", "i want to kill", 1.0)) == ()
    alerts = qa.hear(text("caller", "myself today", 3.0))
    assert [a.word for a in alerts] == ["kill myself"]


def test_partials_raise_nothing() -> None:
    qa = LiveQa(RULES)
    assert qa.hear(text("caller", "lawyer", final=False)) == ()


def test_anger_alerts_once_and_only_for_the_caller() -> None:
    qa = LiveQa(RULES)
    assert qa.hear(text("agent", "this is ridiculous stupid furious")) == ()
    alerts = qa.hear(text("caller", "this is ridiculous i am furious", 2.0))
    assert [a.kind for a in alerts] == ["anger"] and alerts[0].level > 0.5
    assert qa.hear(text("caller", "furious stupid idiot", 4.0)) == ()


def test_the_checklist_follows_what_the_agent_said() -> None:
    qa = LiveQa(RULES)
    assert [(i.rule, i.said) for i in qa.checklist()] == [("greeting", False), ("closing", False)]
    qa.hear(text("agent", "thank you for calling how can i help", 1.0))
    assert [(i.rule, i.said) for i in qa.checklist()] == [("greeting", True), ("closing", False)]
    qa.hear(text("caller", "anything else", 5.0))  # the caller saying it does not count
    assert [i.said for i in qa.checklist()] == [True, False]
    qa.hear(text("agent", "is there anything else", 40.0))  # an end rule: counted when said
    assert [i.said for i in qa.checklist()] == [True, True]


def test_slots_bound_calls_per_queue_and_in_all() -> None:
    slots = LiveSlots()
    assert slots.take("a", "support", limit=2, capacity=3) is None
    assert slots.take("a", "support", limit=2, capacity=3) is None  # already in
    assert slots.take("b", "support", limit=2, capacity=3) is None
    refused = slots.take("c", "support", limit=2, capacity=3)
    assert refused is not None and refused.reason == "queue_limit"
    assert slots.take("d", "sales", limit=5, capacity=3) is None
    refused = slots.take("e", "sales", limit=5, capacity=3)
    assert refused is not None and refused.reason == "saturated"
    refused = slots.take("f", "billing", limit=0, capacity=3)
    assert refused is not None and refused.reason == "off"
    assert slots.release("a") and not slots.release("a")
    assert slots.take("c", "support", limit=2, capacity=3) is None
    assert len(slots) == 3 and "c" in slots and "a" not in slots


def test_a_queue_says_how_many_of_its_calls_are_live() -> None:
    import pytest

    from callcenter.settings import ConfigError
    from callcenter.settings.queues_file import parse_queues

    queues = parse_queues("queues:\n  support: {live: 3}\n  sales: {}\n", "queues.yaml")
    assert queues["support"].live == 3 and queues["sales"].live is None
    with pytest.raises(ConfigError, match=r"queues\.yaml:2: .*live"):
        parse_queues("queues:\n  support: {live: -1}\n", "queues.yaml")

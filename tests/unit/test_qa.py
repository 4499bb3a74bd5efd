"""Automatic QA scoring: rules from YAML, a score, evidence with times."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.core.qa.scoring import QaRules, anger, score
from callcenter.core.qa.transcript import Segment, Speaker, Transcript, Word
from callcenter.qa.loader import QaRulesError, load_rules, parse_rules

RULES = """\
required:
  greeting: {phrases: ["thank you for calling"], where: start, within: 10}
  identification: {phrases: ["date of birth", "account number"], weight: 20}
  closing: {phrases: ["anything else"], where: end, within: 15}
forbidden:
  rude: {phrases: ["shut up", "not my problem"], weight: 30}
silence: {max_seconds: 5}
talk_over: {max_seconds: 0.5, weight: 5}
sentiment: {max_anger: 0.5}
emergency_words: ["ambulance", "kill myself"]
"""


def seg(speaker: Speaker, start: float, text: str, step: float = 0.4) -> Segment:
    words = tuple(
        Word(w, start + i * step, start + i * step + step * 0.9, 0.9) for i, w in enumerate(text.split())
    )
    return Segment(speaker, start, words[-1].end, words)


def call(*segments: Segment) -> Transcript:
    return Transcript("en", "test", segments)


GOOD = call(
    seg("agent", 0.5, "Thank you for calling Acme, how can I help?"),
    seg("caller", 4.0, "Hi, my internet is down"),
    seg("agent", 7.0, "Can I have your date of birth please"),
    seg("caller", 10.0, "first of May"),
    seg("agent", 12.0, "Fixed. Is there anything else?"),
    seg("caller", 15.0, "No thanks, bye"),
)


def test_a_good_call_scores_100_with_evidence() -> None:
    result = score(parse_rules(RULES), GOOD)
    assert result.score == 100.0
    assert result.alerts == ()
    greeting = next(c for c in result.checks if c.rule == "greeting")
    assert greeting.passed and greeting.evidence[0].text == "Thank you for calling"
    assert greeting.evidence[0].start == 0.5 and greeting.evidence[0].speaker == "agent"
    ident = next(c for c in result.checks if c.rule == "identification")
    assert ident.evidence[0].text == "date of birth" and ident.evidence[0].start == pytest.approx(8.6)


def test_missing_phrases_forbidden_words_silence_and_talk_over_lose_points() -> None:
    bad = call(
        seg("agent", 20.0, "yes what"),  # greeting too late -> missing
        seg("caller", 21.0, "my account is broken"),
        seg("agent", 21.5, "shut up that is not my problem"),  # talks over the caller
        seg("caller", 40.0, "this is ridiculous I am furious, I hate this useless scam"),  # 15 s gap
    )
    result = score(parse_rules(RULES), bad)
    failed = {check.rule: check for check in result.failed}
    assert set(failed) == {
        "greeting",
        "identification",
        "closing",
        "rude",
        "silence",
        "talk_over",
        "sentiment",
    }
    assert result.score == 0.0
    assert [e.text for e in failed["rude"].evidence] == ["shut up", "not my problem"]
    assert failed["silence"].evidence[0].start < 24.5 and failed["silence"].evidence[0].end == 40.0
    assert failed["talk_over"].evidence and failed["talk_over"].evidence[0].speaker == "both"
    assert failed["sentiment"].evidence[0].start == 40.0
    assert "not said in the first 10s" in failed["greeting"].detail


def test_partial_score_is_weighted() -> None:
    rules = parse_rules(RULES)
    no_closing = call(*GOOD.segments[:-2])
    result = score(rules, no_closing)
    # closing (10) lost out of 10+20+10+30+10+5+10 = 95
    assert result.score == pytest.approx(round(100 * 85 / 95, 1))


def test_emergency_words_raise_alerts_with_times() -> None:
    transcript = call(seg("caller", 3.0, "please send an ambulance my father fell"))
    alerts = score(parse_rules(RULES), transcript).alerts
    assert [(a.word, a.evidence.start) for a in alerts] == [("ambulance", pytest.approx(4.2))]


def test_the_anger_lexicon_scorer() -> None:
    assert anger(seg("caller", 0, "thanks that is great")) == 0.0
    assert anger(seg("caller", 0, "this is ridiculous and unacceptable I am furious")) == 1.0
    assert 0 < anger(seg("caller", 0, "I am a bit annoyed about the bill today, can you look")) < 0.5


def test_no_rules_is_100() -> None:
    assert score(QaRules(), GOOD).score == 100.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("required:\n  greeting:\n    phrases: []\n", "x.yaml:3: required.greeting.phrases:"),
        ("silence: {max_seconds: -1}\n", "x.yaml:1: silence.max_seconds:"),
        (
            "forbidden:\n  a: {phrases: [x]}\n  b: {phrases: [y], speaker: robot}\n",
            "x.yaml:3: forbidden.b.speaker:",
        ),
        ("required:\n  g:\n    phrases: [hi]\n    within: 5\n", "x.yaml:4: required.g.within: needs where"),
        ("sentiment: {max_anger: 2}\nbogus: 1\n", "x.yaml:2: bogus: Extra inputs"),
        ("required: [\n", "x.yaml:2: invalid YAML"),
        ("- a\n", "x.yaml:1: QA rules must be a mapping"),
    ],
)
def test_invalid_rules_name_file_line_and_key(text: str, message: str) -> None:
    with pytest.raises(QaRulesError) as info:
        parse_rules(text, "x.yaml")
    assert message in str(info.value)


def test_load_rules_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "qa.yaml"
    path.write_text(RULES)
    rules = load_rules(path)
    assert [r.id for r in rules.required] == ["greeting", "identification", "closing"]
    assert rules.required[1].line == 3
    with pytest.raises(QaRulesError, match="cannot read"):
        load_rules(tmp_path / "missing.yaml")


def test_the_example_rules_load() -> None:
    rules = load_rules(Path(__file__).parents[2] / "qa_rules.example.yaml")
    assert [r.id for r in rules.required] == ["greeting", "identification", "closing"]
    assert "ambulance" in rules.emergency_words


VOCAB = ["thank", "you", "for", "calling", "anything", "else", "shut", "up", "furious", "ok", "ambulance"]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["caller", "agent"]),
            st.floats(0, 60),
            st.lists(st.sampled_from(VOCAB), min_size=1, max_size=8),
        ),
        max_size=8,
    )
)
def test_scores_are_bounded_and_evidence_is_real(parts: list[tuple[Speaker, float, list[str]]]) -> None:
    transcript = call(*(seg(speaker, start, " ".join(words)) for speaker, start, words in parts))
    result = score(parse_rules(RULES), transcript)
    assert 0.0 <= result.score <= 100.0
    end = max((s.end for s in transcript.segments), default=0.0)
    for check in result.checks:
        for evidence in check.evidence:
            assert 0.0 <= evidence.start <= evidence.end <= end
    # Phrases are matched inside one segment (one breath of one speaker).
    rude_said = any("shut up" in f" {s.text} " for s in transcript.segments if s.speaker == "agent")
    rude = next(c for c in result.checks if c.rule == "rude")
    assert rude.passed != rude_said
    assert all(a.word == "ambulance" for a in result.alerts)
    assert len(result.alerts) == sum(words.count("ambulance") for _, _, words in parts)

"""Caller anger per language: VADER for English behind the seam, the core lexicon elsewhere."""

from __future__ import annotations

from callcenter.core.qa.scoring import QaRules, anger, score
from callcenter.core.qa.transcript import Segment, Speaker, Transcript, Word
from callcenter.qa.sentiment import VaderAnger, anger_measure


def seg(speaker: Speaker, start: float, text: str) -> Segment:
    words = tuple(Word(w, start + i * 0.4, start + i * 0.4 + 0.36, 0.9) for i, w in enumerate(text.split()))
    return Segment(speaker, start, words[-1].end, words)


def test_the_measure_is_chosen_per_language() -> None:
    english = anger_measure("en-US")
    assert isinstance(english, VaderAnger)
    assert anger_measure("en") is english  # made once, shared
    assert anger_measure("EN_gb") is english
    for other in ("ko", "de-DE", "", None):
        assert anger_measure(other) is anger


def test_vader_scores_anger_and_understands_negation() -> None:
    vader = anger_measure("en-US")
    furious = seg("caller", 0, "this is ridiculous and unacceptable i am furious")
    assert vader(furious) > 0.6
    # Negation: the lexicon sees only the polite word "happy" and calls it calm.
    unhappy = seg("caller", 0, "i am not happy at all with this service")
    assert anger(unhappy) == 0.0 and vader(unhappy) > 0.2
    # ... and "not bad" is not anger, though "bad" alone is negative.
    assert vader(seg("caller", 0, "not bad at all thanks")) == 0.0 < vader(seg("caller", 0, "bad"))
    assert vader(seg("caller", 0, "thank you that is great")) == 0.0
    assert vader(Segment("caller", 0, 0, ())) == 0.0


def test_score_uses_the_measure_it_is_given() -> None:
    rules = QaRules(max_anger=0.5)
    transcript = Transcript(
        "en-US",
        "test",
        (
            seg("agent", 0, "this is ridiculous and unacceptable i am furious"),  # agents are not scored
            seg("caller", 5, "i am not happy at all this is a terrible service"),
        ),
    )
    vader = score(rules, transcript, anger_measure(transcript.language)).checks[0]
    assert vader.kind == "sentiment" and not vader.passed
    assert [e.speaker for e in vader.evidence] == ["caller"]
    # A measure of our own (another language's library) is used as given.
    calm = score(rules, transcript, lambda segment: 0.1).checks[0]
    assert calm.passed and calm.detail == "caller anger 0.10 (limit 0.5)"
    # Without one, the core's lexicon (the default for scoring in pure code).
    assert score(rules, transcript).checks[0].detail.startswith("caller anger ")

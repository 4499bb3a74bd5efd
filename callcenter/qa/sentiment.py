"""Caller anger per language: a maintained library where one fits, the core's lexicon elsewhere.

English uses VADER (vaderSentiment: a rule-based valence model with negation, intensifiers, "but"
and caps handling, tuned on social-media text): a segment's anger is its negative compound valence,
so "I am not happy, this is ridiculous" scores and "not bad at all, thanks" does not. Other languages
fall back to :func:`callcenter.core.qa.scoring.anger` (the small English lexicon: it simply finds nothing in
other languages) until a library is registered for them in :data:`MEASURES`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from callcenter.core.qa.scoring import AngerMeasure, anger
from callcenter.core.qa.transcript import Segment


class VaderAnger:
    """0 (neutral or positive) .. 1 (strongly negative): ``max(0, -compound)`` of VADER."""

    def __init__(self) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self._analyzer = SentimentIntensityAnalyzer()  # reads its lexicon files once

    def __call__(self, segment: Segment) -> float:
        text = " ".join(word.text for word in segment.words) or segment.text
        if not text.strip():
            return 0.0
        compound = float(self._analyzer.polarity_scores(text)["compound"])
        return round(max(0.0, min(1.0, -compound)), 4)


@functools.cache
def _vader() -> AngerMeasure:
    return VaderAnger()


# Primary language subtag -> the measure's factory (made on first use, then shared).
MEASURES: dict[str, Callable[[], AngerMeasure]] = {"en": _vader}


def anger_measure(language: str | None) -> AngerMeasure:
    """The anger measure for a transcript in ``language`` ("en-US", "ko"...)."""
    primary = (language or "").split("-", 1)[0].split("_", 1)[0].lower()
    factory = MEASURES.get(primary)
    return factory() if factory is not None else anger

"""Automatic quality review of one call's transcript: rules as data, a score with evidence.

Pure: a :class:`QaRules` and a (redacted) :class:`Transcript` in, a :class:`QaResult` out.

Scoring: every check has a weight (points); a failed check loses its weight; the score is
``100 * kept / total`` (100 when no check applies). Every check, passed or failed, carries the
evidence it was decided on: transcript spans with speaker, times and text.

Sentiment is a seam (:data:`AngerMeasure`, one per language, chosen by the caller of :func:`score`;
callcenter/qa/sentiment.py picks VADER for English). The default here, for languages without a
library, is a small lexicon scorer, not a model: a caller segment's anger is the share of its words
found in the anger lexicon (plus a boost for a few strong words), minus polite words; it catches
obvious anger ("this is ridiculous, I am furious") and misses sarcasm and context.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from callcenter.core.qa.transcript import Segment, Speaker, Transcript, Word

Who = Literal["caller", "agent", "any"]
Where = Literal["start", "end", "anywhere"]

ANGER_WORDS = frozenset(
    "angry furious ridiculous unacceptable terrible awful horrible useless stupid incompetent "
    "disgusting pathetic outrageous hate worst joke scam rubbish nonsense annoyed frustrated "
    "fed upset mad livid sick lawyer complaint cancel idiot damn hell".split()
)
STRONG_ANGER = frozenset("furious livid hate idiot stupid scam disgusting outrageous".split())
POLITE_WORDS = frozenset("thank thanks please great appreciate perfect wonderful happy glad".split())


@dataclass(frozen=True, slots=True)
class PhraseRule:
    """Phrases that must (or must not) be said. ``within``: seconds from the start (``where="start"``)
    or before the end (``"end"``) in which one of the phrases must fall."""

    id: str
    phrases: tuple[str, ...]
    speaker: Who = "agent"
    where: Where = "anywhere"
    within: float | None = None
    weight: float = 10.0
    line: int | None = None  # where the rule was defined, for messages


@dataclass(frozen=True, slots=True)
class QaRules:
    required: tuple[PhraseRule, ...] = ()
    forbidden: tuple[PhraseRule, ...] = ()
    max_silence: float | None = None  # seconds of nobody speaking
    silence_weight: float = 10.0
    max_talk_over: float | None = None  # seconds of both speaking at once, in total
    talk_over_weight: float = 10.0
    max_anger: float | None = None  # 0..1, see the module docstring
    anger_weight: float = 10.0
    emergency_words: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Evidence:
    speaker: Speaker | Literal["none", "both"]
    start: float
    end: float
    text: str


@dataclass(frozen=True, slots=True)
class Check:
    rule: str
    kind: Literal["required", "forbidden", "silence", "talk_over", "sentiment"]
    passed: bool
    weight: float
    detail: str
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True, slots=True)
class Alert:
    """An emergency word was said: a supervisor should be told now."""

    word: str
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class QaResult:
    score: float
    checks: tuple[Check, ...]
    alerts: tuple[Alert, ...] = field(default=())

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if not check.passed)


_WORD = re.compile(r"[a-z0-9']+|\[[a-z]+\]")


def normalise(text: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(text.lower()))


def score(rules: QaRules, transcript: Transcript, anger_of: AngerMeasure | None = None) -> QaResult:
    """``anger_of``: the sentiment measure for the transcript's language (default: :func:`anger`)."""
    measure = anger_of or anger
    segments = transcript.by_time()
    checks = _phrase_checks(rules, segments) + _delivery_checks(rules, segments, measure)
    total_weight = sum(check.weight for check in checks)
    kept = sum(check.weight for check in checks if check.passed)
    value = 100.0 if total_weight == 0 else round(100.0 * kept / total_weight, 1)
    return QaResult(value, tuple(checks), emergencies(rules.emergency_words, segments))


def _phrase_checks(rules: QaRules, segments: Sequence[Segment]) -> list[Check]:
    """Phrases that must be said (in their window) and phrases that must not."""
    end_of_call = max((segment.end for segment in segments), default=0.0)
    checks: list[Check] = []
    for rule in rules.required:
        hits = _find(rule, segments, end_of_call)
        checks.append(
            Check(
                rule.id,
                "required",
                bool(hits),
                rule.weight,
                f"said: {hits[0].text!r}"
                if hits
                else f"not said{_window(rule)}: any of {list(rule.phrases)}",
                tuple(hits[:1]),
            )
        )
    for rule in rules.forbidden:
        hits = _find(rule, segments, end_of_call)
        checks.append(
            Check(
                rule.id,
                "forbidden",
                not hits,
                rule.weight,
                f"said {len(hits)} time(s)" if hits else "never said",
                tuple(hits),
            )
        )
    return checks


def _delivery_checks(rules: QaRules, segments: Sequence[Segment], measure: AngerMeasure) -> list[Check]:
    """How the call went: silences, talking over each other, the caller's anger."""
    checks: list[Check] = []
    if rules.max_silence is not None:
        gaps = silences(segments, rules.max_silence)
        longest = max((gap.end - gap.start for gap in gaps), default=0.0)
        checks.append(
            Check(
                "silence",
                "silence",
                not gaps,
                rules.silence_weight,
                f"{len(gaps)} silence(s) over {rules.max_silence:g}s, longest {longest:.1f}s"
                if gaps
                else f"no silence over {rules.max_silence:g}s",
                gaps,
            )
        )
    if rules.max_talk_over is not None:
        overlaps = talk_overs(segments)
        total = sum(overlap.end - overlap.start for overlap in overlaps)
        checks.append(
            Check(
                "talk_over",
                "talk_over",
                total <= rules.max_talk_over,
                rules.talk_over_weight,
                f"{total:.1f}s of talking over each other (limit {rules.max_talk_over:g}s)",
                overlaps,
            )
        )
    if rules.max_anger is not None:
        angry = [(measure(segment), segment) for segment in segments if segment.speaker != "agent"]
        worst = max((value for value, _ in angry), default=0.0)
        evidence = tuple(_evidence(segment) for value, segment in angry if value > rules.max_anger)
        checks.append(
            Check(
                "sentiment",
                "sentiment",
                worst <= rules.max_anger,
                rules.anger_weight,
                f"caller anger {worst:.2f} (limit {rules.max_anger:g})",
                evidence,
            )
        )
    return checks


def _window(rule: PhraseRule) -> str:
    if rule.within is None or rule.where == "anywhere":
        return ""
    return f" in the first {rule.within:g}s" if rule.where == "start" else f" in the last {rule.within:g}s"


def _find(rule: PhraseRule, segments: Sequence[Segment], end_of_call: float) -> list[Evidence]:
    hits: list[Evidence] = []
    for segment in segments:
        if rule.speaker != "any" and segment.speaker not in (rule.speaker, "mixed"):
            continue
        for phrase in rule.phrases:
            for words in _occurrences(normalise(phrase), segment.words):
                start, end = words[0].start, words[-1].end
                if rule.within is not None:
                    if rule.where == "start" and start > rule.within:
                        continue
                    if rule.where == "end" and end < end_of_call - rule.within:
                        continue
                hits.append(Evidence(segment.speaker, start, end, " ".join(w.text for w in words)))
    return sorted(hits, key=lambda e: e.start)


def _occurrences(phrase: tuple[str, ...], words: Sequence[Word]) -> list[Sequence[Word]]:
    """Runs of ``words`` that say ``phrase`` (case and punctuation ignored)."""
    if not phrase:
        return []
    # A recognised "word" may hold several ("thank-you"): match on the flattened token stream.
    tokens: list[tuple[str, Word]] = [(token, word) for word in words for token in normalise(word.text)]
    found: list[Sequence[Word]] = []
    size = len(phrase)
    for i in range(len(tokens) - size + 1):
        if tuple(token for token, _ in tokens[i : i + size]) == phrase:
            span = [word for _, word in tokens[i : i + size]]
            found.append(tuple(dict.fromkeys(span)))
    return found


def silences(segments: Sequence[Segment], longer_than: float) -> tuple[Evidence, ...]:
    """Stretches where nobody speaks, longer than ``longer_than`` seconds (between the first and
    the last word of the call: the ringing before and the hang-up after are not silences)."""
    intervals = sorted(_speech(segments))
    gaps: list[Evidence] = []
    if not intervals:
        return ()
    reach = intervals[0][1]
    for start, end in intervals[1:]:
        if start - reach > longer_than:
            gaps.append(Evidence("none", reach, start, ""))
        reach = max(reach, end)
    return tuple(gaps)


def talk_overs(segments: Sequence[Segment]) -> tuple[Evidence, ...]:
    """Times where caller and agent speak at once (measured on words, so pauses inside a segment
    do not count)."""
    caller = sorted(_speech([s for s in segments if s.speaker == "caller"]))
    agent = sorted(_speech([s for s in segments if s.speaker == "agent"]))
    out: list[Evidence] = []
    i = j = 0
    while i < len(caller) and j < len(agent):
        start = max(caller[i][0], agent[j][0])
        end = min(caller[i][1], agent[j][1])
        if end > start:
            out.append(Evidence("both", start, end, ""))
        if caller[i][1] < agent[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def _speech(segments: Sequence[Segment]) -> list[tuple[float, float]]:
    intervals: list[tuple[float, float]] = []
    for segment in segments:
        if segment.words:
            intervals.extend((word.start, word.end) for word in segment.words)
        else:
            intervals.append((segment.start, segment.end))
    return intervals


AngerMeasure = Callable[[Segment], float]
"""A caller segment in, 0 (calm) .. 1 (furious) out."""


def anger(segment: Segment) -> float:
    """0 (calm) .. 1 (furious), from the anger and politeness lexicons."""
    tokens = [token for word in segment.words for token in normalise(word.text)]
    if not tokens:
        return 0.0
    angry = sum(1 for t in tokens if t in ANGER_WORDS) + sum(1 for t in tokens if t in STRONG_ANGER)
    polite = sum(1 for t in tokens if t in POLITE_WORDS)
    # Three angry words in a short outburst is already the top of the scale.
    value = (angry - polite) / max(3.0, len(tokens) / 4)
    return max(0.0, min(1.0, value))


def emergencies(words: Sequence[str], segments: Sequence[Segment]) -> tuple[Alert, ...]:
    alerts: list[Alert] = []
    for phrase in words:
        single = PhraseRule("emergency", (phrase,), speaker="any")
        for hit in _find(single, segments, 0.0):
            alerts.append(Alert(phrase, hit))
    return tuple(sorted(alerts, key=lambda a: a.evidence.start))


def _evidence(segment: Segment) -> Evidence:
    return Evidence(segment.speaker, segment.start, segment.end, segment.text)

"""Live transcription's pure parts: what a stream's words may show, the live QA, and which calls
are transcribed live.

:class:`StreamText` (one per stream: one speaker of one call, in the worker process): the
recognizer's final and partial words in, redacted words out. A card number may be heard over two
utterances ("four one one one ..." then "one one one one ..."); redacting each alone would let both
halves out. So the words of a number still open at the end of what was heard are *held back* until
it is over (a word that is not part of a number follows, the stream pauses or ends, or it stayed
silent for a while: :meth:`StreamText.flush`), and redaction runs over the held words and the new
ones together, with the same :class:`~callcenter.core.qa.redaction.Redactor` as offline. A partial
shows what is settled and never the open number.

:class:`LiveQa` (one per call, in the server): final segments in, alerts out — an emergency word or
phrase of the QA rules (once per word per call), a caller segment angrier than ``max_anger`` (once
per call) — and the checklist of required phrases said so far.

:class:`LiveSlots`: which calls get a live stream: at most a queue's own limit at once, and at most
what the workers take in all; the others are transcribed after the call only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal, Protocol

from callcenter.core.qa.redaction import Redactor, open_number_start
from callcenter.core.qa.scoring import (
    AngerMeasure,
    Evidence,
    QaRules,
    anger,
    emergencies,
    score,
)
from callcenter.core.qa.transcript import Segment, Speaker, Transcript, Word, redact_words


@dataclass(frozen=True, slots=True)
class LiveText:
    """Words of one speaker of a call, as they may be shown: redacted. ``final``: an utterance
    is over (the words will not change); otherwise the best guess so far of the one being said.
    Times are seconds from the start of the stream (about when the agent answered)."""

    interaction_id: str
    speaker: Speaker
    final: bool
    words: tuple[Word, ...]

    @property
    def text(self) -> str:
        return " ".join(word.text for word in self.words)

    @property
    def start(self) -> float:
        return self.words[0].start if self.words else 0.0

    @property
    def end(self) -> float:
        return self.words[-1].end if self.words else 0.0


def _settled(words: Sequence[Word]) -> tuple[tuple[Word, ...], tuple[Word, ...]]:
    """``words`` split into what may be shown and the open number at their end (held back)."""
    if not words:
        return (), ()
    offset = open_number_start(" ".join(word.text for word in words))
    if offset is None:
        return tuple(words), ()
    cursor = 0
    for index, word in enumerate(words):
        if cursor + len(word.text) > offset:
            return tuple(words[:index]), tuple(words[index:])
        cursor += len(word.text) + 1
    return tuple(words), ()


class StreamText:
    """One stream's words on their way out of the worker: redacted, open numbers held back."""

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        self._held: tuple[Word, ...] = ()

    @property
    def holding(self) -> bool:
        return bool(self._held)

    def final(self, words: Sequence[Word]) -> tuple[Word, ...]:
        """An utterance is over: its words (with those held before), redacted; an open number at
        its end is held for the next."""
        shown, self._held = _settled(redact_words((*self._held, *words), self._redactor))
        return shown

    def partial(self, words: Sequence[Word]) -> tuple[Word, ...]:
        """The utterance being said, so far: redacted, without the open number at its end."""
        shown, _ = _settled(redact_words((*self._held, *words), self._redactor))
        return shown

    def flush(self) -> tuple[Word, ...]:
        """The number is over (pause, end, silence): what was held, redacted on its own."""
        held, self._held = self._held, ()
        return redact_words(held, self._redactor) if held else ()


AlertKind = Literal["emergency_word", "anger"]


@dataclass(frozen=True, slots=True)
class LiveAlert:
    kind: AlertKind
    word: str  # the emergency word or phrase; for anger, the caller's words
    evidence: Evidence
    level: float = 1.0  # anger: the measure (0..1)


@dataclass(frozen=True, slots=True)
class ChecklistItem:
    rule: str
    phrases: tuple[str, ...]
    said: bool


class LiveQa:
    """The QA rules on a call's live text. The checklist: every required phrase of the rules,
    said or not yet ("said in the last N seconds" rules count when said anywhere: the end is not
    known yet)."""

    def __init__(self, rules: QaRules, anger_of: AngerMeasure | None = None) -> None:
        self._rules = rules
        self._anger_of = anger_of or anger
        self._required = tuple(
            replace(rule, where="anywhere", within=None) if rule.where == "end" else rule
            for rule in rules.required
        )
        self._alerted: set[str] = set()
        self._angry = False
        self._last: dict[Speaker, Segment] = {}
        self._segments: list[Segment] = []
        self._said: frozenset[str] = frozenset()

    def hear(self, text: LiveText) -> tuple[LiveAlert, ...]:
        """A final text: the alerts it raises (each emergency word once per call; anger once)."""
        if not text.final or not text.words:
            return ()
        segment = Segment(text.speaker, text.start, text.end, text.words)
        self._segments.append(segment)
        # A phrase may be split over two utterances: look at the last one of the speaker too.
        before = self._last.get(text.speaker)
        self._last[text.speaker] = segment
        window = (
            segment
            if before is None
            else Segment(text.speaker, before.start, segment.end, (*before.words, *segment.words))
        )
        found: list[LiveAlert] = []
        for alert in emergencies(self._rules.emergency_words, [window]):
            if alert.word not in self._alerted and alert.evidence.end > segment.start:
                self._alerted.add(alert.word)
                found.append(LiveAlert("emergency_word", alert.word, alert.evidence))
        limit = self._rules.max_anger
        if limit is not None and not self._angry and text.speaker != "agent":
            level = self._anger_of(segment)
            if level > limit:
                self._angry = True
                evidence = Evidence(text.speaker, segment.start, segment.end, segment.text)
                found.append(LiveAlert("anger", segment.text, evidence, round(level, 3)))
        if text.speaker != "caller" and self._required:
            self._said = self._said_now()
        return tuple(found)

    def _said_now(self) -> frozenset[str]:
        transcript = Transcript("", "live", tuple(self._segments))
        result = score(QaRules(required=self._required), transcript)
        return frozenset(check.rule for check in result.checks if check.passed)

    def checklist(self) -> tuple[ChecklistItem, ...]:
        return tuple(ChecklistItem(r.id, r.phrases, r.id in self._said) for r in self._required)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a call gets no live stream (it is still recorded and transcribed after the call)."""

    reason: Literal["queue_limit", "saturated", "off"]


class LiveSlots:
    """Which calls are transcribed live: at most ``limit`` of a queue at once (its setting) and at
    most ``capacity`` in all (what the workers take)."""

    def __init__(self) -> None:
        self._queue_of: dict[str, str] = {}

    def __contains__(self, interaction_id: object) -> bool:
        return interaction_id in self._queue_of

    def __len__(self) -> int:
        return len(self._queue_of)

    def of_queue(self, queue: str) -> int:
        return sum(1 for q in self._queue_of.values() if q == queue)

    def take(self, interaction_id: str, queue: str, limit: int, capacity: int) -> Refusal | None:
        """A slot for the call, or why not (nothing changes then)."""
        if interaction_id in self._queue_of:
            return None
        if limit <= 0:
            return Refusal("off")
        if self.of_queue(queue) >= limit:
            return Refusal("queue_limit")
        if len(self._queue_of) >= capacity:
            return Refusal("saturated")
        self._queue_of[interaction_id] = queue
        return None

    def release(self, interaction_id: str) -> bool:
        return self._queue_of.pop(interaction_id, None) is not None

    def calls(self) -> Iterable[str]:
        return tuple(self._queue_of)


@dataclass(frozen=True, slots=True)
class LiveCall:
    """A call being transcribed live, as the screens need it."""

    interaction_id: str
    agent_id: str
    queue: str | None


class LiveSink(Protocol):
    """Where live results go (the agent panel and the supervisors' consoles: web/live.py)."""

    def text(self, call: LiveCall, text: LiveText) -> None: ...

    def alert(self, call: LiveCall, alert: LiveAlert) -> None: ...

    def checklist(self, call: LiveCall, items: tuple[ChecklistItem, ...]) -> None: ...

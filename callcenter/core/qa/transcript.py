"""A call's transcript: per-speaker segments of timed words. Pure data, plus redaction of it.

Times are seconds from the start of the recording. A segment belongs to one speaker (one track of
the recording: ``caller`` or ``agent``, or ``mixed`` for a one-track recording).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from callcenter.core.qa.redaction import Redactor

Speaker = Literal["caller", "agent", "mixed"]


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    start: float
    end: float
    confidence: float  # 0..1


@dataclass(frozen=True, slots=True)
class Segment:
    speaker: Speaker
    start: float
    end: float
    words: tuple[Word, ...]

    @property
    def text(self) -> str:
        return " ".join(word.text for word in self.words)

    @property
    def confidence(self) -> float:
        if not self.words:
            return 0.0
        return sum(word.confidence for word in self.words) / len(self.words)


@dataclass(frozen=True, slots=True)
class Transcript:
    language: str
    engine: str
    segments: tuple[Segment, ...]
    redacted: bool = False

    @property
    def text(self) -> str:
        return " ".join(segment.text for segment in self.segments if segment.words)

    def by_time(self) -> tuple[Segment, ...]:
        return tuple(sorted(self.segments, key=lambda s: (s.start, s.end)))


def segments_from_words(speaker: Speaker, words: Iterable[Word], pause: float = 0.8) -> tuple[Segment, ...]:
    """Words of one track grouped into segments; a silence longer than ``pause`` starts a new one."""
    segments: list[Segment] = []
    current: list[Word] = []
    for word in sorted(words, key=lambda w: w.start):
        if current and word.start - current[-1].end > pause:
            segments.append(Segment(speaker, current[0].start, current[-1].end, tuple(current)))
            current = []
        current.append(word)
    if current:
        segments.append(Segment(speaker, current[0].start, current[-1].end, tuple(current)))
    return tuple(segments)


def redact_words(words: Sequence[Word], redactor: Redactor) -> tuple[Word, ...]:
    """Masked words: each masked span becomes one word ``[LABEL]`` covering the masked words' times.

    The redactor sees the words joined by spaces; a mask touching any part of a word takes the
    whole word, so no fragment of a masked token survives.
    """
    offsets: list[tuple[int, int]] = []
    cursor = 0
    for word in words:
        offsets.append((cursor, cursor + len(word.text)))
        cursor += len(word.text) + 1
    redacted = redactor.redact(" ".join(word.text for word in words))
    if not redacted.masks:
        return tuple(words)
    out: list[Word] = []
    index = 0
    for mask in redacted.masks:
        while index < len(words) and offsets[index][1] <= mask.start:
            out.append(words[index])
            index += 1
        covered: list[Word] = []
        while index < len(words) and offsets[index][0] < mask.end:
            covered.append(words[index])
            index += 1
        if covered:
            out.append(
                Word(
                    f"[{mask.label}]",
                    covered[0].start,
                    covered[-1].end,
                    min(word.confidence for word in covered),
                )
            )
    out.extend(words[index:])
    return tuple(out)


def redact_transcript(transcript: Transcript, redactor: Redactor) -> Transcript:
    """The transcript with every segment's words redacted (a number split over segments of one
    speaker is caught because each speaker's words are redacted as one stream)."""
    redacted_segments: list[Segment] = []
    for speaker in dict.fromkeys(segment.speaker for segment in transcript.segments):
        own = [segment for segment in transcript.by_time() if segment.speaker == speaker]
        flat = [word for segment in own for word in segment.words]
        masked = redact_words(flat, redactor)
        # Each word goes back to the segment its start falls in (a mask spanning two segments
        # starts in the first, which is stretched to its end).
        buckets: list[list[Word]] = [[] for _ in own]
        for word in masked:
            home = 0
            for position, segment in enumerate(own):
                if segment.start <= word.start:
                    home = position
            buckets[home].append(word)
        for segment, words in zip(own, buckets, strict=True):
            end = max([segment.end, *(word.end for word in words)])
            redacted_segments.append(replace(segment, end=end, words=tuple(words)))
    return replace(
        transcript,
        segments=tuple(sorted(redacted_segments, key=lambda s: (s.start, s.speaker))),
        redacted=True,
    )

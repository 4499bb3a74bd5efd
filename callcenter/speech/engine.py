"""The engine interface: one track of audio in, timed words out. Plus domain phrases.

Domain phrases (product names, "anything else") improve recognition the same way on every engine:
the engine runs a second, phrase-only pass (pocketsphinx keyword spotting; a Vosk recognizer
restricted to the phrase list), and each phrase it is confident about replaces the free
transcription's words at that time (:func:`merge_hits`). Free speech stays free: a phrase list
never narrows what else can be recognised.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from callcenter.core.qa.transcript import Word

if TYPE_CHECKING:  # the command line's parser reads ENGINES without loading the audio code
    from callcenter.speech.audio import Track


class EngineError(Exception):
    """The engine cannot be made or used (not installed, model missing or invalid)."""


class Engine(Protocol):
    name: str
    language: str
    sample_rate: int

    def recognize(self, track: Track) -> list[Word]:
        """Timed words of ``track`` (already at :attr:`sample_rate`)."""

    def spot(self, track: Track, phrases: Sequence[str]) -> list[tuple[Word, ...]]:
        """Occurrences of ``phrases`` in ``track``, each as its timed words."""


ENGINES = ("pocketsphinx", "vosk")


def create_engine(
    name: str,
    model: Path | None = None,
    language: str | None = None,
    adapted: Path | None = None,
    decoder_options: Sequence[tuple[str, str]] = (),
) -> Engine:
    """An engine by name. ``model``: a model directory (Vosk: required; pocketsphinx: optional,
    its bundled US English model otherwise). ``adapted`` (an adapted model's directory) and
    ``decoder_options`` are pocketsphinx's; Vosk ignores them."""
    if name == "pocketsphinx":
        from callcenter.speech.pocketsphinx_engine import PocketsphinxEngine

        return PocketsphinxEngine(model, language or "en-US", adapted, decoder_options)
    if name == "vosk":
        from callcenter.speech.vosk_engine import VoskEngine

        if model is None:
            raise EngineError("the vosk engine needs a model directory (--model DIR)")
        return VoskEngine(model, language)
    raise EngineError(f"unknown engine {name!r}: use one of {', '.join(ENGINES)}")


def merge_hits(
    words: Sequence[Word], hits: Sequence[tuple[Word, ...]], min_confidence: float = 0.5
) -> list[Word]:
    """``words`` with each confident phrase hit replacing the words whose middle falls inside it."""
    accepted = sorted(
        (hit for hit in hits if hit and min(w.confidence for w in hit) >= min_confidence),
        key=lambda hit: hit[0].start,
    )
    out = [
        word
        for word in words
        if not any(hit[0].start <= (word.start + word.end) / 2 <= hit[-1].end for hit in accepted)
    ]
    kept: list[tuple[Word, ...]] = []
    for hit in accepted:  # two overlapping hits: the first wins
        if not kept or hit[0].start >= kept[-1][-1].end:
            kept.append(hit)
    out.extend(word for hit in kept for word in hit)
    return sorted(out, key=lambda w: w.start)


def split_phrase(phrase: str, start: float, end: float, confidence: float) -> tuple[Word, ...]:
    """A phrase spotted as a whole, as words sharing its time evenly."""
    parts = phrase.split()
    step = (end - start) / max(1, len(parts))
    return tuple(
        Word(part, round(start + i * step, 3), round(start + (i + 1) * step, 3), confidence)
        for i, part in enumerate(parts)
    )

"""CMU pocketsphinx 5: the embedded default (its US English model ships inside the wheel).

A model directory, when given, holds an acoustic model (a directory with ``mdef``), a language
model (``*.lm.bin``, ``*.lm`` or ``*.arpa``) and a pronunciation dictionary (``*.dict``). An adapted
model (:mod:`callcenter.speech.adaptation`: the centre's language model and dictionary) replaces
the language model and dictionary and keeps the acoustic model. Decoder options (``lw``, ``beam``...)
pass through as given.
Domain phrases are spotted with pocketsphinx's keyword search; phrases with words missing from the
dictionary are left out (and reported by :meth:`PocketsphinxEngine.unknown_words`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from callcenter.core.qa.transcript import Word
from callcenter.speech.audio import Track
from callcenter.speech.engine import EngineError, split_phrase

FRAME_RATE = 100  # pocketsphinx frames per second
# Filler "words" of the models' noisedict: not speech. [SPEECH] is the bundled model's spoken noise
# (it used to reach transcripts, where it looked like a redaction mask).
_FILLER = {"<s>", "</s>", "<sil>", "[NOISE]", "[SPEECH]", "[BREATH]", "[COUGH]", "[SMACK]", "[UH]", "[UM]"}
# Keyword-spotting threshold: lower finds more (and more false hits). Per word of the phrase.
KWS_THRESHOLD = 1e-10


class PocketsphinxEngine:
    name = "pocketsphinx"
    sample_rate = 16000

    def __init__(
        self,
        model: Path | None = None,
        language: str = "en-US",
        adapted: Path | None = None,
        decoder_options: Sequence[tuple[str, str]] = (),
    ) -> None:
        try:
            import pocketsphinx
        except ImportError as err:
            raise EngineError("pocketsphinx is not installed: pip install 'callcenter[speech]'") from err
        self.language = language
        options: dict[str, Any] = {"samprate": self.sample_rate, "loglevel": "FATAL"}
        if model is not None:
            options.update(_model_files(model))
        if adapted is not None:
            from callcenter.speech.adaptation import DICT_FILE, LM_FILE

            if not (adapted / LM_FILE).is_file() or not (adapted / DICT_FILE).is_file():
                raise EngineError(f"{adapted} is not an adapted model (no {LM_FILE} and {DICT_FILE})")
            options.update(lm=str(adapted / LM_FILE), dict=str(adapted / DICT_FILE))
        for name, value in decoder_options:
            options[name] = _option_value(value)
        if "samprate" in dict(decoder_options):
            self.sample_rate = int(float(options["samprate"]))
        try:
            self._decoder = pocketsphinx.Decoder(**options)
        except (RuntimeError, ValueError) as err:
            raise EngineError(f"pocketsphinx cannot load the model: {err}") from err
        self._default_search = self._decoder.current_search()

    def recognize(self, track: Track) -> list[Word]:
        decoder = self._decoder
        decoder.activate_search(self._default_search)
        self._decode(track)
        words: list[Word] = []
        for seg in decoder.seg() or ():  # None for silence
            if seg.word in _FILLER:
                continue
            text = seg.word.split("(", 1)[0]  # "for(3)": the third pronunciation of "for"
            words.append(
                Word(
                    text,
                    seg.start_frame / FRAME_RATE,
                    (seg.end_frame + 1) / FRAME_RATE,
                    _confidence(seg.prob),
                )
            )
        return words

    def unknown_words(self, phrases: Sequence[str]) -> list[str]:
        return [w for p in phrases for w in p.lower().split() if self._decoder.lookup_word(w) is None]

    def spot(self, track: Track, phrases: Sequence[str]) -> list[tuple[Word, ...]]:
        known = [p.lower().strip() for p in phrases if p.strip() and not self.unknown_words([p])]
        if not known:
            return []
        fd, name = tempfile.mkstemp(suffix=".kws")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                for phrase in dict.fromkeys(known):
                    threshold = KWS_THRESHOLD ** len(phrase.split())
                    handle.write(f"{phrase} /{threshold:.0e}/\n")
            self._decoder.add_kws("callcenter-phrases", name)
        finally:
            os.unlink(name)
        self._decoder.activate_search("callcenter-phrases")
        try:
            self._decode(track)
            return [
                split_phrase(
                    seg.word.strip(),
                    seg.start_frame / FRAME_RATE,
                    (seg.end_frame + 1) / FRAME_RATE,
                    _confidence(seg.prob),
                )
                for seg in self._decoder.seg() or ()  # None when nothing was spotted
            ]
        finally:
            self._decoder.activate_search(self._default_search)

    def _decode(self, track: Track) -> None:
        if track.rate != self.sample_rate:
            raise EngineError(f"pocketsphinx wants {self.sample_rate} Hz audio, got {track.rate}")
        self._decoder.start_utt()
        self._decoder.process_raw(track.pcm, full_utt=True)
        self._decoder.end_utt()


def _model_files(model: Path) -> dict[str, str]:
    if not model.is_dir():
        raise EngineError(f"pocketsphinx model {model} is not a directory")
    hmm = next((p.parent for p in sorted(model.rglob("mdef"))), None)
    lm = next((p for pattern in ("*.lm.bin", "*.lm", "*.arpa") for p in sorted(model.glob(pattern))), None)
    dictionary = next(iter(sorted(model.glob("*.dict"))), None)
    if hmm is None or lm is None or dictionary is None:
        raise EngineError(
            f"pocketsphinx model {model} needs an acoustic model directory (with mdef), "
            "a language model (*.lm.bin, *.lm or *.arpa) and a dictionary (*.dict)"
        )
    return {"hmm": str(hmm), "lm": str(lm), "dict": str(dictionary)}


def _option_value(value: str) -> Any:
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return {"yes": True, "no": False, "true": True, "false": False}.get(value.lower(), value)


def _confidence(prob: float) -> float:
    # pocketsphinx's posterior is a float computed in log space: it can come out as 1.0003.
    return round(min(1.0, max(0.0, float(prob))), 4)

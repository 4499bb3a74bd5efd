"""Vosk (Kaldi): any Vosk model directory, in any language the model speaks.

The recognizer streams the audio in chunks (as it would a live call) with word timestamps. Domain
phrases use Vosk's phrase list: a second recognizer restricted to the phrases (plus ``[unk]``); it
needs a model with a dynamic graph (most small models; the big ones ignore the list).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from callcenter.core.qa.transcript import Word
from callcenter.speech.audio import Track
from callcenter.speech.engine import EngineError

CHUNK_SECONDS = 0.5


class VoskEngine:
    name = "vosk"
    sample_rate = 16000

    def __init__(self, model: Path, language: str | None = None) -> None:
        try:
            import vosk
        except ImportError as err:
            raise EngineError("vosk is not installed: pip install 'callcenter[speech]'") from err
        if not (model / "am").is_dir() and not (model / "final.mdl").exists():
            raise EngineError(f"{model} is not a Vosk model directory (no am/ inside)")
        vosk.SetLogLevel(-1)
        try:
            self._model = vosk.Model(str(model))
        except Exception as err:  # vosk raises a bare Exception on a bad model
            raise EngineError(f"vosk cannot load the model {model}: {err}") from err
        self._vosk = vosk
        self.language = language or _language_of(model)
        conf = model / "conf" / "mfcc.conf"
        if conf.exists():
            for line in conf.read_text(encoding="utf-8").splitlines():
                if line.startswith("--sample-frequency="):
                    self.sample_rate = int(float(line.split("=", 1)[1]))

    def recognize(self, track: Track) -> list[Word]:
        return self._run(self._vosk.KaldiRecognizer(self._model, track.rate), track)

    def spot(self, track: Track, phrases: Sequence[str]) -> list[tuple[Word, ...]]:
        wanted = [p.lower().strip() for p in phrases if p.strip()]
        if not wanted:
            return []
        grammar = json.dumps([*dict.fromkeys(wanted), "[unk]"], ensure_ascii=False)
        words = self._run(self._vosk.KaldiRecognizer(self._model, track.rate, grammar), track)
        hits: list[tuple[Word, ...]] = []
        i = 0
        while i < len(words):
            for phrase in sorted(wanted, key=lambda p: -len(p.split())):
                parts = phrase.split()
                if [w.text for w in words[i : i + len(parts)]] == parts:
                    hits.append(tuple(words[i : i + len(parts)]))
                    i += len(parts)
                    break
            else:
                i += 1
        return hits

    def _run(self, recognizer: Any, track: Track) -> list[Word]:
        recognizer.SetWords(True)
        words: list[Word] = []
        step = int(track.rate * CHUNK_SECONDS) * 2
        for offset in range(0, len(track.pcm), step):
            if recognizer.AcceptWaveform(track.pcm[offset : offset + step]):
                words.extend(_words(recognizer.Result()))
        words.extend(_words(recognizer.FinalResult()))
        return [w for w in words if w.text != "[unk]"]


def _words(result: str) -> list[Word]:
    data = json.loads(result)
    return [
        Word(item["word"], float(item["start"]), float(item["end"]), round(float(item["conf"]), 4))
        for item in data.get("result", ())
    ]


def _language_of(model: Path) -> str:
    # Vosk model directories are usually named vosk-model-small-en-us-0.15 and the like.
    parts = model.resolve().name.lower().split("-")
    for index, part in enumerate(parts):
        if part in {"model", "small"} and index + 1 < len(parts) and parts[index + 1].isalpha():
            if parts[index + 1] != "small":
                return parts[index + 1]
    return "und"

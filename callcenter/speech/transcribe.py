"""One recording in, a redacted :class:`Transcript` out. Runs in worker processes (blocking, CPU).

Tracks: a stereo file is caller (left) and agent (right); two mono files are caller then agent;
one mono file is a single ``mixed`` track. Redaction happens here, in the worker, so the raw
transcript never leaves the process that recognised it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from callcenter.core.qa.redaction import IdentifierPattern, Redactor
from callcenter.core.qa.scoring import QaResult
from callcenter.core.qa.transcript import (
    Segment,
    Speaker,
    Transcript,
    Word,
    redact_transcript,
    segments_from_words,
)
from callcenter.settings import TranscriptionSettings
from callcenter.speech.audio import AudioError, Track, read_wav, resample
from callcenter.speech.engine import Engine, EngineError, create_engine, merge_hits
from callcenter.storage.recordings import Keyring, read_audio


@dataclass(frozen=True, slots=True)
class EngineSpec:
    """Which engine to make (picklable: it crosses to the worker processes)."""

    name: str = "pocketsphinx"
    model: str | None = None
    language: str | None = None
    adapted: str | None = None  # an adapted model's directory (callcenter.speech.adaptation)
    options: tuple[tuple[str, str], ...] = ()  # decoder options (transcription.decoder)

    def create(self) -> Engine:
        return create_engine(
            self.name,
            Path(self.model) if self.model else None,
            self.language,
            Path(self.adapted) if self.adapted else None,
            self.options,
        )


@dataclass(frozen=True, slots=True)
class Request:
    files: tuple[str, ...]
    engine: EngineSpec = field(default_factory=EngineSpec)
    phrases: tuple[str, ...] = ()
    redactor: Redactor = field(default_factory=Redactor)
    key: Keyring | None = None  # recordings.encryption_key: encrypted files are decrypted in memory


def _read(path: str, key: Keyring | None) -> list[Track]:
    try:
        data = read_audio(path, key)
    except OSError as err:
        raise AudioError(f"{path}: cannot read: {err.strerror}") from err
    return read_wav(path, data)


def tracks_of(files: Sequence[str], key: Keyring | None = None) -> list[tuple[Speaker, Track]]:
    if len(files) == 2:
        caller, agent = (_read(path, key) for path in files)
        if len(caller) != 1 or len(agent) != 1:
            raise EngineError("two files must both be mono (caller, then agent)")
        return [("caller", caller[0]), ("agent", agent[0])]
    if len(files) != 1:
        raise EngineError(f"a recording is one file or two (caller, agent), not {len(files)}")
    tracks = _read(files[0], key)
    if len(tracks) == 1:
        return [("mixed", tracks[0])]
    if len(tracks) == 2:
        return [("caller", tracks[0]), ("agent", tracks[1])]
    raise EngineError(f"{files[0]}: {len(tracks)} channels; expected 1 or 2")


def transcribe(request: Request, engine: Engine) -> Transcript:
    segments: list[Segment] = []
    for speaker, track in tracks_of(request.files, request.key):
        audio = resample(track, engine.sample_rate)
        words = engine.recognize(audio)
        if request.phrases:
            words = merge_hits(words, engine.spot(audio, request.phrases))
        segments.extend(segments_from_words(speaker, words))
    raw = Transcript(engine.language, engine.name, tuple(sorted(segments, key=lambda s: s.start)))
    return redact_transcript(raw, request.redactor)


# --- in worker processes: one engine per process and spec, made on first use -----------------

_engines: dict[EngineSpec, Engine] = {}
KEPT_ENGINES = 2  # an adapted model rebuilt: the new engine is made, the oldest one let go


def run(request: Request) -> Transcript:
    engine = _engines.get(request.engine)
    if engine is None:
        while len(_engines) >= KEPT_ENGINES:
            del _engines[next(iter(_engines))]
        engine = _engines[request.engine] = request.engine.create()
    return transcribe(request, engine)


# --- from settings ---------------------------------------------------------------------------


def redactor_for(settings: TranscriptionSettings) -> Redactor:
    return Redactor(
        patterns=tuple(IdentifierPattern.of(p.label, p.regex) for p in settings.redact_patterns),
        cards=settings.redact_cards,
        unverified_run=settings.redact_digit_runs,
    )


def decoder_options(settings: TranscriptionSettings) -> tuple[tuple[str, str], ...]:
    """pocketsphinx's options: ``transcription.decoder``, and the adapted acoustic model
    (``transcription.acoustic_model``: a directory is ``-hmm``, a file an ``-mllr`` transform)."""
    options = {name: str(value) for name, value in settings.decoder.items()}
    acoustic = settings.acoustic_model
    if acoustic is not None:
        options["hmm" if acoustic.is_dir() else "mllr"] = str(acoustic.resolve())
    return tuple(sorted(options.items()))


def engine_for(
    settings: TranscriptionSettings, language: str | None = None, adapted: Path | None = None
) -> EngineSpec:
    """The engine for a call in ``language`` (``transcription.languages``), else the default one,
    which uses ``adapted`` (the current adapted model) when it is pocketsphinx."""
    chosen = settings.languages.get(language) if language else None
    if chosen is not None:
        return EngineSpec(chosen.engine, str(chosen.model) if chosen.model else None, language)
    pocketsphinx = settings.engine == "pocketsphinx"
    return EngineSpec(
        settings.engine,
        str(settings.model) if settings.model else None,
        settings.language,
        str(adapted) if adapted is not None and pocketsphinx else None,
        decoder_options(settings) if pocketsphinx else (),
    )


def request_for(
    settings: TranscriptionSettings,
    files: tuple[str, ...],
    key: Keyring | None = None,
    language: str | None = None,
    adapted: Path | None = None,
) -> Request:
    return Request(
        files=files,
        engine=engine_for(settings, language, adapted),
        phrases=settings.phrases,
        redactor=redactor_for(settings),
        key=key,
    )


def qa_json(result: QaResult) -> dict[str, Any]:
    return {
        "score": result.score,
        "checks": [dataclasses.asdict(check) for check in result.checks],
        "alerts": [dataclasses.asdict(alert) for alert in result.alerts],
    }


# --- JSON form (what is stored and printed) ---------------------------------------------------


def to_json(transcript: Transcript) -> dict[str, Any]:
    return {
        "language": transcript.language,
        "engine": transcript.engine,
        "redacted": transcript.redacted,
        "text": transcript.text,
        "segments": [
            {
                "speaker": s.speaker,
                "start": round(s.start, 3),
                "end": round(s.end, 3),
                "text": s.text,
                "confidence": round(s.confidence, 4),
                "words": [
                    {"word": w.text, "start": round(w.start, 3), "end": round(w.end, 3), "conf": w.confidence}
                    for w in s.words
                ],
            }
            for s in transcript.segments
        ],
    }


def from_json(data: Mapping[str, Any]) -> Transcript:
    return Transcript(
        language=str(data["language"]),
        engine=str(data["engine"]),
        redacted=bool(data.get("redacted", False)),
        segments=tuple(
            Segment(
                cast(Speaker, s["speaker"]),
                float(s["start"]),
                float(s["end"]),
                tuple(
                    Word(w["word"], float(w["start"]), float(w["end"]), float(w["conf"])) for w in s["words"]
                ),
            )
            for s in data["segments"]
        ),
    )

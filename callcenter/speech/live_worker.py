"""Live transcription in a worker process: streams of 8 kHz audio in, redacted words out.

Runs in processes of :class:`callcenter.speech.live_pool.LivePool` (spawned), so recognition never
runs on the server's event loop. Each stream (one speaker of one call) has its own resampler (to the
model's 16 kHz, continuous across chunks), a voice-activity endpointer (pocketsphinx's
``Endpointer``: an utterance starts and ends with the speech), and, while it is in speech, a
pocketsphinx ``Decoder`` borrowed from the worker's free list (decoders are heavy; streams are many
and mostly silent). Every ``partial_seconds`` of speech the best guess so far goes out as a partial;
at the end of an utterance its words go out as a final.

Privacy: words leave only through :class:`~callcenter.core.qa.live.StreamText` — redacted with the
offline redactor, a number still being said held back — so raw words never leave this process. A
``pause`` (the PCI recording pause) ends the utterance under way at once; the server sends no
audio until the resume.

Messages (tuples, cheap to pickle). In: ``("open", id, options)``, ``("audio", id, pcm)``,
``("pause", id)``, ``("close", id)``, ``("stop",)``. Out: ``("text", id, final, words, heard)`` —
words as ``(text, start, end, confidence)``, ``heard`` the stream's seconds of audio so far —,
``("closed", id)``, ``("error", id, error type)``, ``("ready", worker)``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import queue
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from callcenter.core.qa.live import StreamText
from callcenter.core.qa.redaction import Redactor
from callcenter.core.qa.transcript import Word
from callcenter.speech.live_audio import StreamResampler

log = logging.getLogger(__name__)

RATE = 16000  # the model's
IN_RATE = 8000  # AudioSocket's
FRAME_RATE = 100  # pocketsphinx frames per second
_FILLER = {"<s>", "</s>", "<sil>", "[NOISE]", "[SPEECH]", "[BREATH]", "[COUGH]", "[SMACK]", "[UH]", "[UM]"}

WordTuple = tuple[str, float, float, float]
Out = Callable[[tuple[Any, ...]], None]


@dataclass(frozen=True, slots=True)
class StreamOptions:
    """How to recognise one stream (picklable: it crosses to the worker)."""

    model: str | None = None  # pocketsphinx: its model directory (None: the bundled US English
    # model); vosk: the Vosk model directory (required)
    engine: str = "pocketsphinx"  # or "vosk"
    redactor: Redactor = dataclasses.field(default_factory=Redactor)
    resampler: str = "linear"  # "linear" (what offline transcription uses) or "soxr"
    partial_seconds: float = 0.5  # a partial every so much speech; 0: none
    hold_seconds: float = 2.0  # an open number is let out after this much silence
    vad_mode: int = 0  # the endpointer's aggressiveness, 0 (loose, its default) - 3
    window: float = 0.3  # seconds of (non-)speech that start (end) an utterance


def _decoder(model: str | None) -> Any:
    import pocketsphinx

    from callcenter.speech.pocketsphinx_engine import _model_files

    options: dict[str, Any] = {"samprate": RATE, "loglevel": "FATAL"}
    if model is not None:
        options.update(_model_files(Path(model)))
    return pocketsphinx.Decoder(**options)


class _Sphinx:
    """One utterance at a time on a pocketsphinx decoder (heavy: kept for the next utterance)."""

    def __init__(self, model: str | None) -> None:
        self._decoder = _decoder(model)

    def start(self) -> None:
        self._decoder.start_utt()

    def feed(self, pcm: bytes) -> None:
        self._decoder.process_raw(pcm, False, False)

    def partial(self) -> list[str]:
        hyp = self._decoder.hyp()
        return [w for w in hyp.hypstr.split() if w not in _FILLER] if hyp is not None else []

    def finish(self) -> list[WordTuple]:
        """The utterance's words, times from its start."""
        self._decoder.end_utt()
        return [
            (
                seg.word.split("(", 1)[0],
                seg.start_frame / FRAME_RATE,
                (seg.end_frame + 1) / FRAME_RATE,
                min(1.0, max(0.0, float(seg.prob))),
            )
            for seg in self._decoder.seg() or ()
            if seg.word not in _FILLER
        ]


_VOSK_MODELS: dict[str, Any] = {}  # path -> the loaded model, shared by the worker's recognizers


class _Vosk:
    """One utterance at a time on a Vosk recognizer (light: a new one per utterance, on the
    worker's one copy of the model). Vosk may end a segment by itself inside our utterance: its
    words are kept and the utterance goes on."""

    def __init__(self, model: str | None) -> None:
        import vosk

        if model is None:
            raise ValueError("live transcription with vosk needs transcription.model")
        if model not in _VOSK_MODELS:
            vosk.SetLogLevel(-1)
            _VOSK_MODELS[model] = vosk.Model(model)
        self._vosk, self._model = vosk, _VOSK_MODELS[model]
        self._recognizer: Any = None
        self._words: list[WordTuple] = []

    def start(self) -> None:
        self._recognizer = self._vosk.KaldiRecognizer(self._model, RATE)
        self._recognizer.SetWords(True)
        self._words = []

    def feed(self, pcm: bytes) -> None:
        if self._recognizer.AcceptWaveform(pcm):
            self._take(self._recognizer.Result())

    def partial(self) -> list[str]:
        said = [w[0] for w in self._words]
        return said + str(json.loads(self._recognizer.PartialResult()).get("partial", "")).split()

    def finish(self) -> list[WordTuple]:
        self._take(self._recognizer.FinalResult())
        self._recognizer = None
        return self._words

    def _take(self, result: str) -> None:
        for w in json.loads(result).get("result", ()):
            if w.get("word") and w["word"] != "[unk]":
                self._words.append((w["word"], float(w["start"]), float(w["end"]), float(w.get("conf", 1.0))))


Recognizer = _Sphinx | _Vosk


class Decoders:
    """The worker's recognizers, by engine and model: borrowed for an utterance, given back after it."""

    def __init__(self) -> None:
        self._free: dict[tuple[str, str | None], list[Recognizer]] = {}
        self.made = 0

    def borrow(self, model: str | None, engine: str = "pocketsphinx") -> Recognizer:
        free = self._free.setdefault((engine, model), [])
        if free:
            return free.pop()
        self.made += 1
        return _Vosk(model) if engine == "vosk" else _Sphinx(model)

    def give_back(self, model: str | None, recognizer: Recognizer, engine: str = "pocketsphinx") -> None:
        self._free.setdefault((engine, model), []).append(recognizer)


class LiveStream:
    """One speaker of one call, in the worker."""

    def __init__(self, stream_id: str, options: StreamOptions, decoders: Decoders, out: Out) -> None:
        self.id = stream_id
        self._options = options
        self._decoders = decoders
        self._out = out
        self._text = StreamText(options.redactor)
        self._resampler = StreamResampler(IN_RATE, RATE, options.resampler)
        self._ep = self._endpointer()
        self._ep_offset = 0.0  # the stream's time when the endpointer started (it counts from 0)
        self._pending = bytearray()  # 16 kHz audio short of one endpointer frame
        self._decoder: Any = None
        self._utterance_start = 0.0
        self._speech_bytes = 0  # of the utterance under way, for the partials' pace
        self._next_partial = 0
        self._heard = 0.0  # seconds of 16 kHz audio processed
        self._last_speech = 0.0

    def _endpointer(self) -> Any:
        from pocketsphinx import Endpointer

        return Endpointer(window=self._options.window, vad_mode=self._options.vad_mode, sample_rate=RATE)

    # -- input -------------------------------------------------------------------------------------
    def audio(self, pcm8k: bytes) -> None:
        self._pending.extend(self._resampler.feed(pcm8k))
        size = self._ep.frame_bytes
        while len(self._pending) >= size:
            frame = bytes(self._pending[:size])
            del self._pending[:size]
            self._heard += size / 2 / RATE
            self._frame(self._ep.process(frame))
        if (
            self._decoder is None
            and self._text.holding
            and self._heard - self._last_speech >= self._options.hold_seconds
        ):
            self._send(True, self._text.flush())

    def pause(self) -> None:
        """Nothing more until the resume: the utterance under way ends here, held words go out."""
        self._end_utterance()
        self._send(True, self._text.flush())
        self._pending.clear()
        self._resampler.reset()
        # After the gap, speech starts afresh (the endpointer would still think it in speech).
        self._ep = self._endpointer()
        self._ep_offset = self._heard

    def close(self) -> None:
        self.pause()

    # -- recognition -------------------------------------------------------------------------------
    def _frame(self, speech: bytes | None) -> None:
        if speech is None:
            return
        if self._decoder is None:
            self._decoder = self._decoders.borrow(self._options.model, self._options.engine)
            self._decoder.start()
            self._utterance_start = self._ep_offset + float(self._ep.speech_start)
            self._speech_bytes = 0
            self._next_partial = int(self._options.partial_seconds * RATE * 2)
        self._decoder.feed(speech)
        self._speech_bytes += len(speech)
        self._last_speech = self._heard
        if not self._ep.in_speech:
            self._end_utterance()
        elif self._next_partial and self._speech_bytes >= self._next_partial:
            self._next_partial += int(self._options.partial_seconds * RATE * 2)
            said = self._decoder.partial()
            if said:
                at = self._utterance_start
                self._send(False, self._text.partial([Word(w, at, at, 0.0) for w in said]))

    def _end_utterance(self) -> None:
        decoder, self._decoder = self._decoder, None
        if decoder is None:
            return
        try:
            offset = self._utterance_start
            words = [
                Word(text, round(offset + start, 3), round(offset + end, 3), round(confidence, 4))
                for text, start, end, confidence in decoder.finish()
            ]
        finally:
            self._decoders.give_back(self._options.model, decoder, self._options.engine)
        self._send(True, self._text.final(words))

    def _send(self, final: bool, words: tuple[Word, ...]) -> None:
        if not words and final:
            return
        out: tuple[WordTuple, ...] = tuple((w.text, w.start, w.end, w.confidence) for w in words)
        self._out(("text", self.id, final, out, round(self._heard, 3)))


def serve(
    index: int, inbox: Any, outbox: Any, preload: int = 1, options: StreamOptions | None = None
) -> None:
    """The worker process's loop (the target of the pool's processes). ``preload``: recognizers of
    ``options``' engine and model made before the first call (a pocketsphinx decoder takes a second
    or two and about 90 MB, a Vosk model longer: made during a call, it would stall every stream of
    the worker that long). Vosk's recognizers share the worker's one copy of the model: one is
    enough to load it."""
    decoders = Decoders()
    streams: dict[str, LiveStream] = {}
    engine, model = (options.engine, options.model) if options is not None else ("pocketsphinx", None)
    try:
        made = [decoders.borrow(model, engine) for _ in range(1 if engine == "vosk" else max(1, preload))]
        for decoder in made:
            decoders.give_back(model, decoder, engine)
    except Exception as err:  # reported; streams then fail one by one with the same error
        outbox.put(("error", "", type(err).__name__))
    outbox.put(("ready", index))
    while True:
        try:
            message = inbox.get()
        except (EOFError, OSError, queue.Empty):
            return
        kind = message[0]
        if kind == "stop":
            return
        stream_id = message[1]
        try:
            if kind == "open":
                streams[stream_id] = LiveStream(stream_id, message[2], decoders, outbox.put)
            elif kind == "audio":
                stream = streams.get(stream_id)
                if stream is not None:
                    stream.audio(message[2])
            elif kind == "pause":
                stream = streams.get(stream_id)
                if stream is not None:
                    stream.pause()
            elif kind == "close":
                stream = streams.pop(stream_id, None)
                if stream is not None:
                    stream.close()
                outbox.put(("closed", stream_id))
        except Exception as err:  # one stream's failure is its own: the others go on
            # The type only: a recognizer's message may quote audio text.
            streams.pop(stream_id, None)
            outbox.put(("error", stream_id, type(err).__name__))

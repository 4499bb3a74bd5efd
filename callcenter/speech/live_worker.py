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

    model: str | None = None  # a pocketsphinx model directory; None: the bundled US English model
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


class Decoders:
    """The worker's decoders, by model: borrowed for an utterance, given back after it."""

    def __init__(self) -> None:
        self._free: dict[str | None, list[Any]] = {}
        self.made = 0

    def borrow(self, model: str | None) -> Any:
        free = self._free.setdefault(model, [])
        if free:
            return free.pop()
        self.made += 1
        return _decoder(model)

    def give_back(self, model: str | None, decoder: Any) -> None:
        self._free.setdefault(model, []).append(decoder)


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
            self._decoder = self._decoders.borrow(self._options.model)
            self._decoder.start_utt()
            self._utterance_start = self._ep_offset + float(self._ep.speech_start)
            self._speech_bytes = 0
            self._next_partial = int(self._options.partial_seconds * RATE * 2)
        self._decoder.process_raw(speech, False, False)
        self._speech_bytes += len(speech)
        self._last_speech = self._heard
        if not self._ep.in_speech:
            self._end_utterance()
        elif self._next_partial and self._speech_bytes >= self._next_partial:
            self._next_partial += int(self._options.partial_seconds * RATE * 2)
            hyp = self._decoder.hyp()
            if hyp is not None and hyp.hypstr:
                at = self._utterance_start
                words = [Word(w, at, at, 0.0) for w in hyp.hypstr.split() if w not in _FILLER]
                self._send(False, self._text.partial(words))

    def _end_utterance(self) -> None:
        decoder, self._decoder = self._decoder, None
        if decoder is None:
            return
        try:
            decoder.end_utt()
            offset = self._utterance_start
            words = [
                Word(
                    seg.word.split("(", 1)[0],
                    round(offset + seg.start_frame / FRAME_RATE, 3),
                    round(offset + (seg.end_frame + 1) / FRAME_RATE, 3),
                    round(min(1.0, max(0.0, float(seg.prob))), 4),
                )
                for seg in decoder.seg() or ()
                if seg.word not in _FILLER
            ]
        finally:
            self._decoders.give_back(self._options.model, decoder)
        self._send(True, self._text.final(words))

    def _send(self, final: bool, words: tuple[Word, ...]) -> None:
        if not words and final:
            return
        out: tuple[WordTuple, ...] = tuple((w.text, w.start, w.end, w.confidence) for w in words)
        self._out(("text", self.id, final, out, round(self._heard, 3)))


def serve(index: int, inbox: Any, outbox: Any, preload: int = 1) -> None:
    """The worker process's loop (the target of the pool's processes). ``preload``: decoders made
    before the first call (one takes a second or two and about 90 MB: made during a call, it would
    stall every stream of the worker that long)."""
    decoders = Decoders()
    streams: dict[str, LiveStream] = {}
    try:
        made = [decoders.borrow(None) for _ in range(max(1, preload))]
        for decoder in made:
            decoders.give_back(None, decoder)
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

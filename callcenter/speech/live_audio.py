"""Resampling a stream in chunks, continuous across them (live transcription).

Two kinds, as offline (speech/audio.py): ``linear`` — the same interpolation as
:func:`callcenter.speech.audio.resample`, sample for sample, the last sample of a chunk held until the
next one arrives so the chunk boundaries leave no seam — and ``soxr``, libsoxr's band-limited
streaming resampler (python-soxr's ``ResampleStream``). Live uses what offline uses by default
(``linear``: see speech/audio.py for the measurement behind that choice).
"""

from __future__ import annotations

import numpy
import soxr

RESAMPLERS = ("linear", "soxr")


class StreamResampler:
    """Signed 16-bit little-endian mono PCM at ``rate_in`` in, at ``rate_out`` out, chunk by chunk."""

    def __init__(self, rate_in: int, rate_out: int, kind: str = "linear") -> None:
        if kind not in RESAMPLERS:
            raise ValueError(f"unknown resampler {kind!r}: use one of {', '.join(RESAMPLERS)}")
        if kind == "linear" and rate_out not in (rate_in, 2 * rate_in):
            raise ValueError("the linear resampler only doubles the rate")
        self._in, self._out, self._kind = rate_in, rate_out, kind
        self._last: int | None = None
        self._soxr: soxr.ResampleStream | None = None
        self.reset()

    def reset(self) -> None:
        """A gap in the stream (a pause): the next chunk does not continue the last one."""
        self._last = None
        if self._kind == "soxr":
            self._soxr = soxr.ResampleStream(self._in, self._out, 1, dtype="int16", quality="HQ")

    def feed(self, pcm: bytes) -> bytes:
        if not pcm or self._in == self._out:
            return pcm
        samples = numpy.frombuffer(pcm, dtype="<i2")
        if self._soxr is not None:
            return numpy.asarray(self._soxr.resample_chunk(samples), dtype="<i2").tobytes()
        if self._last is not None:
            samples = numpy.concatenate((numpy.array([self._last], dtype="<i2"), samples))
        self._last = int(samples[-1])
        if len(samples) < 2:
            return b""
        body = samples[:-1].astype(numpy.int32)
        after = samples[1:].astype(numpy.int32)
        out = numpy.empty(2 * len(body), dtype="<i2")
        out[0::2] = body
        out[1::2] = (body + after) >> 1
        return out.tobytes()

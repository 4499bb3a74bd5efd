"""WAV files in, 16-bit mono PCM tracks at the rate an engine wants out.

Phone recordings are 8 kHz; the engines' models are 16 kHz. Two resamplers: :func:`resample`
(linear interpolation, what the recognizers get: see its docstring for the measurement) and
:func:`resample_hq` (libsoxr's band-limited conversion, python-soxr: IVR prompts, and the comparison
in bench/wer.py).
"""

from __future__ import annotations

import io
import itertools
import sys
import wave
from array import array
from dataclasses import dataclass
from pathlib import Path

import numpy
import soxr


class AudioError(Exception):
    """A recording cannot be read (not a WAV file, unsupported sample format)."""


@dataclass(frozen=True, slots=True)
class Track:
    """Mono signed 16-bit little-endian PCM."""

    pcm: bytes
    rate: int

    @property
    def seconds(self) -> float:
        return len(self.pcm) / 2 / self.rate


def read_wav(path: str | Path, data: bytes | None = None) -> list[Track]:
    """One :class:`Track` per channel of a PCM WAV file (8/16/32-bit samples). ``data``: the
    file's bytes, already read (and decrypted); ``path`` then only names it in errors."""
    try:
        with wave.open(io.BytesIO(data) if data is not None else str(path), "rb") as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            frames = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as err:
        raise AudioError(f"{path}: not a PCM WAV file ({err})") from err
    except OSError as err:
        raise AudioError(f"{path}: cannot read: {err.strerror}") from err
    samples = _to_int16(frames, width, path)
    return [Track(_le(samples[channel::channels]), rate) for channel in range(channels)]


def _to_int16(frames: bytes, width: int, path: str | Path) -> array[int]:
    if width == 2:
        samples = array("h", frames)
        if sys.byteorder == "big":  # pragma: no cover - WAV is little-endian
            samples.byteswap()
        return samples
    if width == 1:  # unsigned 8-bit
        return array("h", ((b - 128) << 8 for b in frames))
    if width == 4:
        wide = array("i", frames)
        if sys.byteorder == "big":  # pragma: no cover
            wide.byteswap()
        return array("h", (s >> 16 for s in wide))
    raise AudioError(f"{path}: unsupported sample width {width * 8} bits")


def _le(samples: array[int]) -> bytes:
    if sys.byteorder == "big":  # pragma: no cover
        samples = array("h", samples)
        samples.byteswap()
    return samples.tobytes()


def resample(track: Track, rate: int) -> Track:
    """What the recognizers get: linear interpolation (8 -> 16 kHz: every other sample is the mean of
    its neighbours). It leaves images of the 0-4 kHz band above 4 kHz; :func:`resample_hq` does not,
    but on the phone-channel set (bench/wer.py) it scored no better (22.6 % vs 22.7 % WER) and with it
    pocketsphinx heard fewer of a spoken card number's digits, so the spoken-card redaction tests
    let digits through (a guess: the bundled 16 kHz model takes the images for the high band it was
    trained with).
    """
    if track.rate == rate or not track.pcm:
        return Track(track.pcm, rate)
    source = array("h", track.pcm)
    if sys.byteorder == "big":  # pragma: no cover
        source.byteswap()
    if rate == 2 * track.rate:
        # The common case (8 -> 16 kHz), done with slices: fast even in pure Python.
        out = array("h", bytes(4 * len(source)))
        out[0::2] = source
        mid = array("h", ((a + b) >> 1 for a, b in itertools.pairwise(source)))
        mid.append(source[-1])
        out[1::2] = mid
        return Track(_le(out), rate)
    ratio = track.rate / rate
    count = int(len(source) / ratio)
    last = len(source) - 1
    values = array("h")
    if ratio > 1:
        # Reducing the rate: average the input samples each output sample stands for.
        for i in range(count):
            begin, end = int(i * ratio), max(int(i * ratio) + 1, int((i + 1) * ratio))
            chunk = source[begin:end]
            values.append(sum(chunk) // len(chunk))
    else:
        for i in range(count):
            position = i * ratio
            left = int(position)
            right = min(left + 1, last)
            frac = position - left
            values.append(int(source[left] * (1 - frac) + source[right] * frac))
    return Track(_le(values), rate)


def resample_hq(track: Track, rate: int) -> Track:
    """``track`` at ``rate`` Hz, band-limited by libsoxr (python-soxr, "HQ"): a steep low-pass at the
    lower of the two Nyquist frequencies, so nothing above it folds back as aliasing (a plain
    interpolation leaves images of the 8 kHz band that cost the recognizers about 40% more errors).
    """
    if track.rate == rate or not track.pcm:
        return Track(track.pcm, rate)
    if rate <= 0:
        raise AudioError(f"cannot resample to {rate} Hz")
    source = numpy.frombuffer(track.pcm, dtype="<i2")
    out = soxr.resample(source, track.rate, rate, quality="HQ")
    return Track(numpy.asarray(out, dtype="<i2").tobytes(), rate)

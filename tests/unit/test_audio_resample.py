"""The band-limited resampler (libsoxr): rates, lengths, and no aliasing left behind."""

from __future__ import annotations

import math

import numpy
import pytest

from callcenter.speech.audio import AudioError, Track
from callcenter.speech.audio import resample_hq as resample


def tone(frequency: float, rate: int, seconds: float, amplitude: float = 10000.0) -> Track:
    t = numpy.arange(int(rate * seconds)) / rate
    return Track(
        numpy.round(amplitude * numpy.sin(2 * math.pi * frequency * t)).astype("<i2").tobytes(), rate
    )


def samples(track: Track) -> numpy.ndarray:
    return numpy.frombuffer(track.pcm, dtype="<i2").astype(numpy.float64)


def rms(track: Track) -> float:
    middle = samples(track)[len(track.pcm) // 8 : -len(track.pcm) // 8]  # away from the edges
    return float(numpy.sqrt(numpy.mean(middle**2)))


def level_at(track: Track, frequency: float) -> float:
    """Amplitude of the spectrum's component at ``frequency`` (Hann window, independent of length)."""
    x = samples(track)
    window = numpy.hanning(len(x))
    spectrum = 2 * numpy.abs(numpy.fft.rfft(x * window)) / window.sum()
    bins = numpy.fft.rfftfreq(len(x), 1 / track.rate)
    near = numpy.abs(bins - frequency) < 20
    return float(spectrum[near].max())


@pytest.mark.parametrize(("source", "target"), [(8000, 16000), (16000, 8000), (44100, 8000), (8000, 11025)])
def test_rate_and_length(source: int, target: int) -> None:
    track = tone(440, source, 1.5)
    out = resample(track, target)
    assert out.rate == target
    assert abs(out.seconds - track.seconds) < 0.002
    # A tone well inside both bands keeps its level.
    assert rms(out) == pytest.approx(rms(track), rel=0.02)


def test_a_tone_above_the_new_nyquist_is_removed_not_folded() -> None:
    # 6 kHz at 16 kHz, down to 8 kHz (Nyquist 4 kHz): a naive decimator folds it to 2 kHz.
    high = tone(6000, 16000, 1.0)
    out = resample(high, 8000)
    assert rms(out) < 0.01 * rms(high)
    assert level_at(out, 2000) < 0.01 * level_at(high, 6000)
    # A 1 kHz tone mixed in survives: the filter is a low-pass, not a mute.
    both = Track((samples(high) + samples(tone(1000, 16000, 1.0))).astype("<i2").tobytes(), 16000)
    mixed = resample(both, 8000)
    assert level_at(mixed, 1000) > 0.9 * level_at(both, 1000)
    assert level_at(mixed, 2000) < 0.01 * level_at(mixed, 1000)


def test_upsampling_leaves_no_image_above_the_old_band() -> None:
    # 8 -> 16 kHz: the 1 kHz tone's image at 7 kHz (what interpolation leaves) must be gone.
    out = resample(tone(1000, 8000, 1.0), 16000)
    assert level_at(out, 7000) < 0.001 * level_at(out, 1000)


def test_round_trip_8k_16k_8k() -> None:
    track = tone(700, 8000, 1.0)
    back = resample(resample(track, 16000), 8000)
    assert back.rate == 8000 and len(back.pcm) == len(track.pcm)
    error = samples(back) - samples(track)
    middle = slice(800, -800)
    assert float(numpy.sqrt(numpy.mean(error[middle] ** 2))) < 0.01 * rms(track)


def test_same_rate_empty_and_bad_rate() -> None:
    track = tone(440, 8000, 0.1)
    assert resample(track, 8000) == track
    assert resample(Track(b"", 8000), 16000) == Track(b"", 16000)
    with pytest.raises(AudioError, match="cannot resample to 0 Hz"):
        resample(track, 0)

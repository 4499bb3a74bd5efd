"""Transcription as recordings close: the persisted queue, the worker pool, redaction and QA.

``submit()`` persists a job and wakes a consumer; consumers (as many as worker processes) claim
jobs, have them transcribed (and redacted) in the pool, score them against the QA rules and store
both. A failed job is retried up to ``max_attempts``. Emergency words found by QA are handed to
``on_alert`` (the supervisor notification) as soon as the job is scored.

Where results go: the job row keeps its JSON (the queue's own record), and ``results`` (the QA
store, :class:`~callcenter.storage.qa_store.QaStore`) gets the transcript, score, flags and
evidence for search and review. The job is marked done only after ``results`` has them: if that
write fails, the job stays ``running`` and the next start queues it again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from callcenter.aio import within
from callcenter.core.qa.scoring import Alert, QaResult, QaRules, score
from callcenter.core.qa.transcript import Transcript
from callcenter.qa.sentiment import anger_measure
from callcenter.settings import TranscriptionSettings
from callcenter.speech.pool import TranscriptionPool
from callcenter.speech.transcribe import qa_json, request_for, to_json
from callcenter.storage.db import DatabaseError
from callcenter.storage.transcription_jobs import Job, JobStore

if TYPE_CHECKING:
    from callcenter.storage.recordings import Keyring

log = logging.getLogger("callcenter.transcription")

AlertHandler = Callable[[str, Alert], Awaitable[None]]


class ResultSink(Protocol):
    """Where finished transcripts and scores are kept (QaStore)."""

    async def save_result(
        self, interaction_id: str, transcript: Transcript, result: QaResult | None, at: datetime
    ) -> None: ...


POLL_SECONDS = 5.0  # also look for jobs another server queued


class TranscriptionService:
    def __init__(
        self,
        settings: TranscriptionSettings,
        store: JobStore,
        pool: TranscriptionPool,
        rules: QaRules | None = None,
        on_alert: AlertHandler | None = None,
        key: Keyring | None = None,
        results: ResultSink | None = None,
        adapted: Callable[[], Path | None] | None = None,
    ) -> None:
        """``key``: the recordings' encryption key (RecordingStore.key), to read encrypted files.
        ``adapted``: the adapted model to use now (AdaptationService.model), asked for each job."""
        self._settings = settings
        self._store = store
        self._pool = pool
        self._rules = rules
        self._on_alert = on_alert
        self._key = key
        self._results = results
        self._adapted = adapted
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def store(self) -> JobStore:
        return self._store

    async def start(self) -> None:
        requeued = await self._store.start()
        if requeued:
            log.info("transcription.requeued", extra={"jobs": requeued})
        self._pool.start()
        self._tasks = [
            asyncio.create_task(self._consume(), name=f"transcription-{n}")
            for n in range(self._settings.workers)
        ]

    async def stop(self, kill: bool = False) -> None:
        """Stop consuming. Jobs being transcribed stay ``running`` in the store and are queued
        again by the next start."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.to_thread(self._pool.stop, kill)
        await self._store.stop()

    async def submit(self, interaction_id: str, files: tuple[Path, ...], language: str | None = None) -> int:
        """Queue a closed recording (one stereo/mono file, or caller and agent files); ``language``
        (the call's, e.g. from the IVR) picks the model (``transcription.languages``)."""
        job_id = await self._store.enqueue(interaction_id, tuple(str(f) for f in files), language)
        self._wake.set()
        return job_id

    async def _consume(self) -> None:
        while True:
            self._wake.clear()  # before looking: a submit from now on is not missed
            try:
                job = await self._store.claim()
                if job is not None:
                    await self._run(job)
                    continue
            except DatabaseError as err:
                # A job whose result could not be stored stays "running": the next start requeues it.
                log.warning("transcription.database_error", extra={"error": str(err)})
            try:
                await within(self._wake.wait(), POLL_SECONDS)
            except TimeoutError:
                pass

    async def _run(self, job: Job) -> None:
        try:
            adapted = self._adapted() if self._adapted is not None else None
            request = request_for(self._settings, job.files, self._key, job.language, adapted)
            transcript = await self._pool.transcribe(request)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # any failure of a job is recorded on the job, not fatal
            # The message names the error type only: a recogniser's message may quote audio text.
            status = await self._store.fail(job.id, type(err).__name__, self._settings.max_attempts)
            log.warning(
                "transcription.failed",
                extra={
                    "job": job.id,
                    "interaction": job.interaction_id,
                    "error": type(err).__name__,
                    "status": status,
                },
            )
            return
        result = None
        if self._rules is not None:
            result = score(self._rules, transcript, anger_measure(transcript.language))
        if self._results is not None:
            await self._results.save_result(job.interaction_id, transcript, result, datetime.now(UTC))
        await self._store.finish(job.id, to_json(transcript), qa_json(result) if result else None)
        log.info(
            "transcription.done",
            extra={
                "job": job.id,
                "interaction": job.interaction_id,
                "score": None if result is None else result.score,
            },
        )
        if result is not None and self._on_alert is not None:
            for alert in result.alerts:
                try:
                    await self._on_alert(job.interaction_id, alert)
                except Exception:  # a broken notifier must not stop transcription
                    log.exception("transcription.alert_failed", extra={"interaction": job.interaction_id})

"""Retention applied by the server itself: recordings and their transcripts, per business line.

Every ``recordings.retention_sweep_seconds`` the sweeper deletes the recording files past their
expiry (the expiry was fixed when each was stored, from ``recordings.retention_days`` per business
line) and the transcripts, scores and search entries of calls past the same retention (a
transcript is the recording's words: it does not outlive it). Reviews and the audit trail stay.
``callcenter recordings purge`` does the recordings' half by hand. A failed sweep is logged and
tried again at the next one; deleting twice is harmless, so several nodes may each sweep.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from callcenter import metrics
from callcenter.aio import cancel_and_wait
from callcenter.errors import RecordingError, StorageError
from callcenter.storage.recordings import RecordingStore, RetentionPolicy

log = logging.getLogger(__name__)


class Transcripts(Protocol):
    async def purge(self, expiry: Callable[[str, datetime], datetime | None], now: datetime) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class Swept:
    recordings: int  # files (one per track)
    transcripts: int


class RetentionSweeper:
    def __init__(
        self,
        recordings: RecordingStore,
        transcripts: Transcripts,
        policy: RetentionPolicy,
        clock: Callable[[], float],
        every: float,
    ) -> None:
        self._recordings = recordings
        self._transcripts = transcripts
        self._policy = policy
        self._clock = clock
        self._every = every
        self._task: asyncio.Task[None] | None = None

    async def sweep(self) -> Swept:
        now = datetime.fromtimestamp(self._clock(), UTC)
        files = await asyncio.to_thread(self._recordings.purge, now)
        transcripts = await self._transcripts.purge(self._policy.expiry, now)
        metrics.RETENTION_DELETED.labels(kind="recording").inc(len(files))
        metrics.RETENTION_DELETED.labels(kind="transcript").inc(len(transcripts))
        if files or transcripts:
            log.info("retention.swept", extra={"recordings": len(files), "transcripts": len(transcripts)})
        return Swept(len(files), len(transcripts))

    async def start(self) -> None:
        if self._every > 0:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.sweep()
            except (StorageError, RecordingError, OSError) as err:
                log.warning("retention.sweep_failed", extra={"detail": str(err)})
            await asyncio.sleep(self._every)

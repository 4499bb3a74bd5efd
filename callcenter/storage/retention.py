"""Retention applied by the server itself: recordings and their transcripts, and messages, per
business line.

Every ``recordings.retention_sweep_seconds`` a sweeper runs each of its purges:

- recordings: the files past their expiry (fixed when each was stored, from
  ``recordings.retention_days`` per business line), then the transcripts, scores and search entries
  of calls past the same retention (a transcript is the recording's words: it does not outlive it).
  Reviews and the audit trail stay. ``callcenter recordings purge`` does the recordings' half by hand.
- messages: closed conversations past ``messaging.retention_days`` of their customer's business
  line, with their messages and finished outbox rows.

A failed purge is logged and tried again at the next sweep, the others still run; deleting twice is
harmless, so several nodes may each sweep.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Protocol

from callcenter import metrics
from callcenter.aio import cancel_and_wait
from callcenter.errors import RecordingError, StorageError
from callcenter.storage.recordings import RecordingStore, RetentionPolicy

log = logging.getLogger(__name__)


class Transcripts(Protocol):
    async def purge(self, expiry: Callable[[str, datetime], datetime | None], now: datetime) -> list[str]: ...


# A purge deletes what is past retention at ``now`` and says how many things went.
Purge = Callable[[datetime], Awaitable[int]]


def recording_purges(
    recordings: RecordingStore, transcripts: Transcripts, policy: RetentionPolicy
) -> dict[str, Purge]:
    """The recordings' purges, in order: files first, then the transcripts of the same calls."""

    async def files(now: datetime) -> int:
        return len(await asyncio.to_thread(recordings.purge, now))

    async def words(now: datetime) -> int:
        return len(await transcripts.purge(policy.expiry, now))

    return {"recording": files, "transcript": words}


class RetentionSweeper:
    def __init__(self, purges: dict[str, Purge], clock: Callable[[], float], every: float) -> None:
        self._purges = purges
        self._clock = clock
        self._every = every
        self._task: asyncio.Task[None] | None = None

    async def sweep(self) -> dict[str, int]:
        """Run every purge once; what each deleted (a failed one is logged and left out)."""
        now = datetime.fromtimestamp(self._clock(), UTC)
        swept: dict[str, int] = {}
        for kind, purge in self._purges.items():
            try:
                swept[kind] = await purge(now)
            except (StorageError, RecordingError, OSError) as err:
                log.warning("retention.sweep_failed", extra={"kind": kind, "detail": str(err)})
                continue
            metrics.RETENTION_DELETED.labels(kind=kind).inc(swept[kind])
        if any(swept.values()):
            log.info("retention.swept", extra={"deleted": swept})
        return swept

    async def start(self) -> None:
        if self._every > 0 and self._purges:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

    async def _run(self) -> None:
        while True:
            await self.sweep()
            await asyncio.sleep(self._every)

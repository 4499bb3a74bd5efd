"""Speech recognition in worker processes, so the event loop never waits for it.

Each worker process makes its engine once (first job) and keeps it. Processes are spawned, not
forked: the server's process has threads (database drivers) that a fork would copy mid-flight.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from callcenter.core.qa.transcript import Transcript
from callcenter.speech import transcribe
from callcenter.speech.transcribe import Request


class TranscriptionPool:
    def __init__(self, workers: int = 1) -> None:
        self._workers = workers
        self._executor: ProcessPoolExecutor | None = None

    def start(self) -> None:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                self._workers, mp_context=multiprocessing.get_context("spawn")
            )

    async def transcribe(self, request: Request) -> Transcript:
        if self._executor is None:
            raise RuntimeError("the transcription pool is not started")
        return await asyncio.get_running_loop().run_in_executor(self._executor, transcribe.run, request)

    def stop(self, kill: bool = False) -> None:
        """Stop the workers: after their current job, or at once (``kill``: the job is lost and
        will be run again from the persisted queue)."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        if kill:
            # The executor has no public way to end running work; its processes are known to it.
            for process in list(getattr(executor, "_processes", {}).values()):
                process.kill()
        executor.shutdown(wait=True, cancel_futures=True)

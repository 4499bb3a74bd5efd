"""The server keeps its adapted language model current (callcenter/speech/adaptation.py).

Every ``transcription.adaptation.check_seconds`` it reads the centre's text (files in a thread,
database sources on the loop), hashes it, and when it changed builds the new model in a spawned
worker process — a minute of CPU that must not hold the event loop or the GIL. Until the first
model is ready, and whenever a build fails (a bad edit of a text file, logged as
``adaptation.failed`` with the file and the problem), transcription goes on with the model it had
(none: the general model). :attr:`current` is what :class:`TranscriptionService` asks for each job.

Several nodes: each node that transcribes builds its own copy from the same files and database,
and the build is deterministic, so all use the same model; nothing here needs the routing owner.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Awaitable, Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from callcenter.aio import cancel_and_wait
from callcenter.settings import Settings
from callcenter.speech import adaptation

log = logging.getLogger("callcenter.speech.adaptation")

AsyncTextSource = Callable[[], Awaitable[Iterable[str]]]  # reviewed transcripts, knowledge base...


class AdaptationService:
    def __init__(self, settings: Settings, sources: Sequence[tuple[str, AsyncTextSource]] = ()) -> None:
        self._settings = settings
        self._conf = settings.transcription.adaptation
        self._sources = tuple(sources)
        self._task: asyncio.Task[None] | None = None
        self._executor: ProcessPoolExecutor | None = None
        self._lock = asyncio.Lock()
        self.current: adaptation.AdaptedModel | None = None
        self.last_error: str | None = None
        self.changed = asyncio.Event()  # set after each new model is put in use (tests wait on it)

    def model(self) -> Path | None:
        """The adapted model's directory to transcribe with now (None: the general model)."""
        return self.current.directory if self.current is not None else None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="speech-adaptation")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        executor, self._executor = self._executor, None
        if executor is not None:
            # A build under way is abandoned; its hidden working directory goes with a later prune.
            for process in list(getattr(executor, "_processes", {}).values()):
                process.kill()
            await asyncio.to_thread(executor.shutdown, True, cancel_futures=True)

    async def check(self) -> bool:
        """Build and use a new model if the centre's text changed; True when the model changed."""
        async with self._lock:
            texts = await asyncio.to_thread(adaptation.center_texts, adaptation.sources_from(self._settings))
            for name, source in self._sources:
                texts[name] = list(await source())
            recipe = await asyncio.to_thread(adaptation.recipe_from, self._settings, texts)
            key = await asyncio.to_thread(recipe.key)
            if self.current is not None and self.current.key == key:
                return False
            directory = self._conf.directory
            found = await asyncio.to_thread(adaptation.existing, directory, key)
            if found is None:
                log.info("adaptation.building", extra={"key": key, "sources": sorted(texts)})
                if self._executor is None:
                    self._executor = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
                loop = asyncio.get_running_loop()
                found = await loop.run_in_executor(self._executor, adaptation.build, recipe, directory)
            self.current = found
            self.last_error = None
            await asyncio.to_thread(adaptation.prune, directory, [key])
            log.info("adaptation.in_use", extra={"key": key})
            self.changed.set()
            return True

    async def _loop(self) -> None:
        while True:
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception as err:  # the last good model stays in use
                self.last_error = f"{type(err).__name__}: {err}"
                log.error(
                    "adaptation.failed", extra={"error": self.last_error, "kept": self.current is not None}
                )
            await asyncio.sleep(self._conf.check_seconds)

"""Call recording: which calls Asterisk records, and taking the closed files into the store.

The voice adapter asks :meth:`Recorder.base_for` when it originates an agent leg; a path comes back
when the call should be recorded (recordings on, the interaction's queue does not opt out), and the
dialplan (``cc-record``) runs MixMonitor with three files: ``<id>.mixed.wav``, ``<id>.caller.wav``
and ``<id>.agent.wav`` in the spool directory.

When the interaction ends (a ``SaveInteraction`` with an outcome, after an agent answered) the
recorder waits until the files stop growing (Asterisk closes them after the hang-up), moves them into
the :class:`~callcenter.storage.recordings.RecordingStore` (checksummed, encrypted when a key is
set) and queues them for transcription. Nothing is lost across a restart: at start, and every
``spool_sweep_seconds`` after, files left in the spool by calls that have ended are taken in the
same way (a store that failed is tried again). The spool copy is unencrypted: it does not outlive
the call, and files of calls no database of ours knows are deleted after ``spool_orphan_hours``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from callcenter import metrics
from callcenter.aio import cancel_and_wait
from callcenter.core.acd.engine import Acd
from callcenter.core.business_lines import queue_line
from callcenter.core.commands import Command, SaveInteraction
from callcenter.core.interaction import Channel, Interaction
from callcenter.errors import StorageError
from callcenter.settings import Settings
from callcenter.storage.recordings import RecordingError, RecordingStore, Track

log = logging.getLogger(__name__)

TRACK_FILES: tuple[Track, ...] = ("mixed", "caller", "agent")
_SPOOLED = re.compile(r"^(?P<id>[A-Za-z0-9][A-Za-z0-9_-]{0,127})\.(?P<track>mixed|caller|agent)\.wav$")
APPEAR_SECONDS = 10.0  # a recorded call whose files do not appear by then is reported missing
MAX_SETTLE_SECONDS = 120.0
STORED_KEPT = 1000  # the latest recordings taken in, remembered (``Recorder.stored``); older ones forgotten

Submit = Callable[[str, tuple[Path, ...], str | None], Awaitable[object]]
Lookup = Callable[[str], Awaitable[Interaction | None]]


def spool_dirs(settings: Settings) -> tuple[Path, PurePosixPath]:
    """Where Asterisk writes recordings: as this server sees it, and as Asterisk sees it."""
    rec = settings.recordings
    if rec.spool_dir is not None:
        host = rec.spool_dir.absolute()
        return host, rec.asterisk_spool_dir or PurePosixPath(host.as_posix())
    ast = settings.asterisk
    if ast.sandbox_root.is_dir():
        from callcenter.asterisk.sandbox import INSTANCES_DIR

        inside = INSTANCES_DIR / ast.sandbox_instance / "spool" / "monitor"
        return ast.sandbox_root.absolute().joinpath(*inside.parts[1:]), inside
    default = PurePosixPath("/var/spool/asterisk/monitor")  # Asterisk's own default
    return Path(str(default)), rec.asterisk_spool_dir or default


def record_base(
    settings: Settings, engine: Acd, asterisk_spool: PurePosixPath, interaction_id: str
) -> str | None:
    """Where Asterisk records this call (a path without extension, as Asterisk sees it), or None
    when it is not recorded (recording off, not a call, or its queue says not to)."""
    if not settings.recordings.enabled:
        return None
    interaction = engine.interactions.get(interaction_id)
    if interaction is None or interaction.channel != Channel.VOICE:
        return None
    if interaction.queue is not None and not engine.queue(interaction.queue).record:
        return None
    return str(asterisk_spool / interaction_id)


class Recorder:
    def __init__(
        self,
        settings: Settings,
        engine: Acd,
        store: RecordingStore,
        *,
        lookup: Lookup,
        transcribe: Submit | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._engine = engine
        self._store = store
        self._lookup = lookup
        self._transcribe = transcribe
        self._clock = clock
        self.spool, self.asterisk_spool = spool_dirs(settings)
        self._recorded: set[str] = set()  # interactions Asterisk was asked to record
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._sweeper: asyncio.Task[None] | None = None
        # The latest recordings taken in (for tests and logs), at most STORED_KEPT: a dict that kept
        # every call grew the server's memory with each recorded call (the soak's growth).
        self.stored: dict[str, tuple[Track, ...]] = {}
        self.stored_kept = STORED_KEPT
        self.appear_seconds = APPEAR_SECONDS

    # -- the voice adapter's question ----------------------------------------------------------
    def base_for(self, interaction_id: str) -> str | None:
        base = record_base(self._settings, self._engine, self.asterisk_spool, interaction_id)
        if base is not None:
            self._recorded.add(interaction_id)
        return base

    # -- life ----------------------------------------------------------------------------------
    async def start(self) -> None:
        """Take in what an earlier run left in the spool (calls that ended meanwhile), then look
        again every ``recordings.spool_sweep_seconds``."""
        recovered = await self.sweep_spool()
        if recovered:
            log.info("recording.recovered", extra={"calls": recovered})
        every = self._settings.recordings.spool_sweep_seconds
        if every > 0:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_every(every))

    async def sweep_spool(self) -> int:
        """The spool holds unencrypted audio: it must not outlive the call. Files of ended calls
        not being taken in (left by a crash, or by a store that failed) are taken in; files of
        calls our database does not know are deleted once older than ``spool_orphan_hours``
        (younger ones may be another server's, which takes them in). How many calls were
        scheduled."""
        try:
            spooled: dict[str, list[Path]] = {}
            for p in self.spool.iterdir():
                if m := _SPOOLED.match(p.name):
                    spooled.setdefault(m["id"], []).append(p)
        except FileNotFoundError:
            spooled = {}
        scheduled = ended_files = 0
        orphan_age = self._settings.recordings.spool_orphan_hours * 3600
        for interaction_id, paths in sorted(spooled.items()):
            if interaction_id in self._tasks:
                continue
            if interaction_id in self._engine.interactions:
                self._recorded.add(interaction_id)  # still going on: taken in when it ends
                continue
            interaction = await self._lookup(interaction_id)
            if interaction is None:
                self._delete_if_old(interaction_id, paths, orphan_age)
            elif interaction.outcome is not None:
                ended_files += len(paths)
                self._schedule(interaction_id, interaction)
                scheduled += 1
        metrics.SPOOL_ENDED.set(ended_files)
        return scheduled

    def _delete_if_old(self, interaction_id: str, paths: list[Path], age: float) -> None:
        now = time.time()
        try:
            if all(now - p.stat().st_mtime > age for p in paths):
                for p in paths:
                    p.unlink(missing_ok=True)
                extra = {"interaction": interaction_id, "files": len(paths)}
                log.warning("recording.orphan_deleted", extra=extra)
                metrics.RECORDINGS.labels(result="orphan").inc()
        except FileNotFoundError:
            pass  # taken in or deleted meanwhile

    async def _sweep_every(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await self.sweep_spool()
            except (OSError, StorageError) as err:
                log.warning("recording.spool_sweep_failed", extra={"detail": str(err)})

    async def stop(self) -> None:
        """Stop waiting; files not taken in yet stay in the spool for the next start."""
        if self._sweeper is not None:
            await cancel_and_wait(self._sweeper)
            self._sweeper = None
        tasks, self._tasks = list(self._tasks.values()), {}
        for task in tasks:
            await cancel_and_wait(task)

    async def idle(self) -> None:
        """Wait until every pending recording is taken in (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    # -- the service's commands ----------------------------------------------------------------
    def on_command(self, command: Command) -> None:
        if not isinstance(command, SaveInteraction):
            return
        i = command.interaction
        if i.outcome is None or i.id not in self._recorded:
            return
        self._recorded.discard(i.id)
        # Not answered: MixMonitor (bridged only) may have written nothing; files, if any, are kept.
        self._schedule(i.id, i, expected=i.answered_at is not None)

    def _schedule(self, interaction_id: str, interaction: Interaction | None, expected: bool = True) -> None:
        if interaction_id in self._tasks:
            return
        task = asyncio.get_running_loop().create_task(
            self._take_in(interaction_id, interaction, expected), name=f"recording-{interaction_id}"
        )
        self._tasks[interaction_id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(interaction_id, None))

    async def _take_in(self, interaction_id: str, interaction: Interaction | None, expected: bool) -> None:
        try:
            files = await self._settled(interaction_id, self.appear_seconds if expected else 0.0)
            if not files and not expected:
                return
            if not files:
                log.warning("recording.missing", extra={"interaction": interaction_id})
                metrics.RECORDINGS.labels(result="missing").inc()
                return
            line = self._business_line(interaction)
            started = interaction.answered_at if interaction is not None else None
            recorded_at = datetime.fromtimestamp(started or self._clock(), UTC)
            tracks: list[Track] = []
            for track, path in files.items():
                await asyncio.to_thread(self._store.store, interaction_id, path, line, recorded_at, track)
                tracks.append(track)
            self.stored[interaction_id] = tuple(tracks)
            while len(self.stored) > self.stored_kept:
                del self.stored[next(iter(self.stored))]
            metrics.RECORDINGS.labels(result="stored").inc()
            log.info("recording.stored", extra={"interaction": interaction_id, "tracks": tracks})
            if self._transcribe is not None:
                language = interaction.language if interaction is not None else None
                await self._transcribe(interaction_id, self._store.files_of(interaction_id), language)
        except asyncio.CancelledError:
            raise
        except (RecordingError, OSError) as err:
            metrics.RECORDINGS.labels(result="failed").inc()
            log.error("recording.store_failed", extra={"interaction": interaction_id, "error": str(err)})

    def _business_line(self, interaction: Interaction | None) -> str:
        """What the retention policy is per: the queue's business line, else the queue's name."""
        queue = interaction.queue if interaction is not None else None
        if queue is None:
            return "default"
        return queue_line(queue, self._engine.queue(queue).line) or "default"

    async def _settled(self, interaction_id: str, appear: float) -> dict[Track, Path]:
        """The call's files once none has grown for ``settle_seconds`` (Asterisk has closed them);
        none if none has appeared within ``appear`` seconds."""
        settle = self._settings.recordings.settle_seconds
        paths = {t: self.spool / f"{interaction_id}.{t}.wav" for t in TRACK_FILES}
        began = time.monotonic()
        last: dict[Track, int] = {}
        stable_since = time.monotonic()
        while True:
            sizes = {t: p.stat().st_size for t, p in paths.items() if p.exists()}
            if sizes != last:
                last, stable_since = sizes, time.monotonic()
            waited = time.monotonic() - began
            if not sizes and waited >= appear:
                return {}
            if sizes and time.monotonic() - stable_since >= settle:
                return {t: paths[t] for t in sizes}
            if waited > MAX_SETTLE_SECONDS:
                log.warning("recording.still_growing", extra={"interaction": interaction_id})
                return {t: paths[t] for t in sizes}
            await asyncio.sleep(min(0.25, settle / 2))

"""Definitions files edited while the server runs (queues, agents): polled, validated, applied.

A :class:`FileWatcher` checks the file's modification time and size every ``interval`` seconds; a
change is loaded with ``load`` (which raises :class:`~callcenter.settings.ConfigError` with
``file:line: key: problem``), and only valid definitions reach ``on_change``. A bad edit is logged
and kept in ``last_error``; the last valid definitions stay in force.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Generic, TypeVar

from callcenter.aio import cancel_and_wait
from callcenter.settings import ConfigError

log = logging.getLogger(__name__)

T = TypeVar("T")


class FileWatcher(Generic[T]):
    def __init__(
        self,
        path: Path,
        load: Callable[[Path], Mapping[str, T]],
        on_change: Callable[[Mapping[str, T]], object],
        interval: float,
        *,
        what: str,
        loaded: bool,
    ) -> None:
        """``what`` names the definitions in logs ("queues"); ``loaded``: the file as it is now
        was already applied at start (only later edits are loaded)."""
        self.path, self._load, self._on_change, self._interval = path, load, on_change, interval
        self._what = what
        self._stamp = self._stat() if loaded else None
        self._task: asyncio.Task[None] | None = None
        self.last_error: str | None = None

    def _stat(self) -> tuple[float, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime, st.st_size)

    def check(self) -> bool:
        """Reload if the file changed; True when new definitions were applied."""
        stamp = self._stat()
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            found = self._load(self.path)
        except ConfigError as err:
            self.last_error = str(err)
            log.error(f"{self._what}.reload_failed", extra={"error": str(err), "kept": "last valid"})
            return False
        self.last_error = None
        self._on_change(found)
        log.info(f"{self._what}.reloaded", extra={self._what: sorted(found)})
        return True

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=f"{self._what}-watcher")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                self.check()
            except Exception:
                log.exception(f"{self._what}.watch_failed")

"""The flows the server runs: loaded from ``ivr.flows_dir``, swapped only for a valid set.

Invariant: :attr:`FlowStore.flows` is always a flow set that validated (or None before the first
valid load). A bad edit leaves the running flows in place, logs every problem
(``ivr.flows_invalid``, file:line:column) and keeps them in :attr:`problems`; the next good save is
picked up by :meth:`watch`, which polls the files' modification times (a new dependency for
inotify would buy nothing at one check a second).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from pathlib import Path

from callcenter import metrics
from callcenter.core.ivr import model as m
from callcenter.ivr import loader, prompts
from callcenter.settings import IvrSettings

log = logging.getLogger(__name__)

Signature = tuple[tuple[str, int, int], ...]


class FlowStore:
    def __init__(self, settings: IvrSettings, directory: Path) -> None:
        self._settings = settings
        self._directory = directory
        self._namer = functools.partial(_name, settings.tts_voice)
        self._seen: Signature | None = None
        self.flows: m.FlowSet | None = None
        self.problems: list[m.Problem] = []

    @property
    def entry(self) -> str:
        return self._settings.entry_flow

    def signature(self) -> Signature:
        files = loader.flow_files([self._directory]) if self._directory.is_dir() else []
        out = []
        for path in files:
            try:
                stat = path.stat()
            except OSError:
                continue
            out.append((str(path), stat.st_mtime_ns, stat.st_size))
        return tuple(out)

    def reload(self) -> bool:
        """Load the files if they changed since the last look; True when new flows are in use."""
        signature = self.signature()
        if signature == self._seen:
            return False
        self._seen = signature
        flows, problems = loader.load([self._directory], self._namer)
        if not problems and self.entry not in flows.flows:
            where = m.Pos(str(self._directory), 1, 1)
            problems = [
                m.Problem(where, f"no flow named {self.entry!r} (ivr.entry_flow) in {self._directory}")
            ]
        if not problems and self._settings.render_prompts:
            try:
                rendered = prompts.render_all(flows, self._settings.prompts_dir, self._settings.tts_voice)
            except (prompts.PromptError, OSError) as err:
                problems = [m.Problem(m.Pos(str(self._directory), 1, 1), f"prompts not rendered: {err}")]
            else:
                if rendered:
                    log.info("ivr.prompts_rendered", extra={"count": rendered})
        if not problems and self._settings.check_audio:
            problems = prompts.missing_audio(flows, self._settings.prompts_dir, self._settings.sound_dirs)
        if problems:
            self.problems = problems
            metrics.IVR_FLOWS_INVALID.set(1)
            log.error(
                "ivr.flows_invalid",
                extra={
                    "kept": "previous flows" if self.flows is not None else "none loaded",
                    "problems": [str(p) for p in problems],
                },
            )
            return False
        self.flows, self.problems = flows, []
        metrics.IVR_FLOWS_INVALID.set(0)
        log.info("ivr.flows_loaded", extra={"flows": sorted(flows.flows), "directory": str(self._directory)})
        return True

    async def watch(self) -> None:
        """Reload on change, forever (cancel to stop). Loading and rendering run off the loop."""
        while True:
            await asyncio.sleep(self._settings.reload_interval)
            try:
                await asyncio.to_thread(self.reload)
            except Exception:  # a bug in loading must not stop watching; the old flows stay
                log.exception("ivr.reload_failed")


def _name(voice: str, text: str, language: str) -> str:
    return prompts.sound_name(text, language, voice)

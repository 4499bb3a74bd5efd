"""Queue definitions from YAML, edited by administrators like IVR flows, reloaded without restart.

``load_queues(path)`` turns the file into immutable :class:`~callcenter.core.acd.queues.Queue` objects or
raises :class:`~callcenter.settings.ConfigError` whose lines read ``file:line: key: problem``.
:class:`QueueWatcher` polls the file; a bad edit is logged and the last valid definitions stay.

The format (every key but the queue name optional)::

    queues:
      billing:
        skills: {billing: 3}                      # minimum level per skill
        strategy: longest_idle                    # least_occupied, skills_weighted, round_robin
        service_level: {seconds: 20, target: 0.8} # 80 % answered within 20 s
        short_abandon_seconds: 5                  # reports: hang-ups this quick (docs/reports.md)
        max_wait: 600                             # then the exit:
        exit: {kind: queue, target: general}      # voicemail | callback | queue (+ target)
        overflow:                                 # widen as the wait grows (total wait)
          - {after: 60, skills: {billing: 2}}
          - {after: 120, queue: general}
        announce_every: 45                        # position and estimated wait
        wrap_up_seconds: 10
        callback: {attempts: 3, retry_delay: 300, ring_timeout: 30}
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from callcenter.core.acd import queues as qs
from callcenter.settings import ConfigError, line_of, parse_yaml, textfile, validation_problems
from callcenter.settings.file_watch import FileWatcher

log = logging.getLogger(__name__)
# A business line's name (also in accounts: callcenter.accounts.model.LINE_PATTERN).
LINE_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"

_Level = Annotated[int, Field(ge=1, le=10)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _ServiceLevel(_Model):
    seconds: float = Field(20.0, gt=0, le=3600)
    target: float = Field(0.8, gt=0, le=1)


class _Exit(_Model):
    kind: Literal["voicemail", "callback", "queue"]
    target: str | None = None

    @model_validator(mode="after")
    def _target(self) -> _Exit:
        if (self.kind == "queue") != (self.target is not None):
            raise ValueError("target is required for kind 'queue', and only for it")
        return self


class _Overflow(_Model):
    after: float = Field(gt=0, le=86400)
    skills: dict[str, _Level] | None = None
    queue: str | None = None

    @model_validator(mode="after")
    def _something(self) -> _Overflow:
        if self.skills is None and self.queue is None:
            raise ValueError("a step needs skills (a wider requirement) or queue (more agents)")
        return self


class _Callback(_Model):
    attempts: int = Field(3, ge=1, le=20)
    retry_delay: float = Field(300.0, ge=0, le=86400)
    ring_timeout: float = Field(30.0, gt=0, le=300)


class _Queue(_Model):
    skills: dict[str, _Level] = Field(default_factory=dict)
    strategy: qs.Strategy = qs.Strategy.LONGEST_IDLE
    service_level: _ServiceLevel = _ServiceLevel()
    short_abandon_seconds: float = Field(5.0, ge=0, le=600)  # reports: abandons this quick
    max_wait: float | None = Field(None, gt=0, le=86400)
    exit: _Exit | None = None
    overflow: tuple[_Overflow, ...] = ()
    announce_every: float | None = Field(None, ge=10, le=3600)
    wrap_up_seconds: float | None = Field(None, ge=0, le=3600)
    callback: _Callback = _Callback()
    record: bool = True  # record answered calls of this queue (recordings.enabled must be on too)
    line: str | None = Field(None, pattern=LINE_PATTERN)
    live: int | None = Field(None, ge=0, le=10000)  # calls transcribed live at once; None: the default

    @model_validator(mode="after")
    def _coherent(self) -> _Queue:
        if (self.max_wait is None) != (self.exit is None):
            raise ValueError("max_wait and exit go together")
        afters = [s.after for s in self.overflow]
        if afters != sorted(set(afters)):
            raise ValueError("overflow steps must be in increasing order of 'after'")
        return self


class _File(_Model):
    queues: dict[str, _Queue] = Field(default_factory=dict)


def _references(parsed: _File, root: yaml.Node | None, source: str) -> None:
    problems = []
    for name, q in parsed.queues.items():
        refs: list[tuple[tuple[str | int, ...], str]] = [
            (("overflow", n, "queue"), s.queue) for n, s in enumerate(q.overflow) if s.queue
        ]
        if q.exit is not None and q.exit.target is not None:
            refs.append((("exit", "target"), q.exit.target))
        for loc, ref in refs:
            if ref not in parsed.queues:
                full = ("queues", name, *loc)
                line = line_of(root, full)
                key = ".".join(str(p) for p in full)
                problems.append(f"{source}:{line}: {key}: undefined queue {ref!r}")
    if problems:
        raise ConfigError("\n".join(problems))


def _to_core(name: str, q: _Queue) -> qs.Queue:
    return qs.Queue(
        name=name,
        skills=dict(q.skills),
        strategy=q.strategy,
        service_level_seconds=q.service_level.seconds,
        service_level_target=q.service_level.target,
        short_abandon_seconds=q.short_abandon_seconds,
        max_wait=q.max_wait,
        exit=None if q.exit is None else qs.QueueExit(qs.ExitKind(q.exit.kind), q.exit.target),
        overflow=tuple(qs.Overflow(s.after, s.skills, s.queue) for s in q.overflow),
        announce_every=q.announce_every,
        wrap_up_seconds=q.wrap_up_seconds,
        callback=qs.CallbackPolicy(q.callback.attempts, q.callback.retry_delay, q.callback.ring_timeout),
        record=q.record,
        line=q.line,
        live=q.live,
    )


def parse_queues(text: str, source: str) -> dict[str, qs.Queue]:
    data, root = parse_yaml(text, source, "the file (with a 'queues' key)")
    try:
        parsed = _File.model_validate(data)
    except ValidationError as err:
        raise ConfigError(validation_problems(err, root, source)) from err
    _references(parsed, root, source)
    return {name: _to_core(name, q) for name, q in parsed.queues.items()}


def load_queues(path: str | os.PathLike[str]) -> dict[str, qs.Queue]:
    try:
        text = textfile.read_text(path, "queues")
    except textfile.TextFileError as err:
        raise ConfigError(str(err)) from err
    return parse_queues(text, str(path))


class QueueWatcher(FileWatcher[qs.Queue]):
    """Polls the queue file; calls ``on_change`` with new valid definitions, logs bad edits."""

    def __init__(
        self,
        path: Path,
        on_change: Callable[[Mapping[str, qs.Queue]], object],
        interval: float = 2.0,
    ) -> None:
        super().__init__(path, load_queues, on_change, interval, what="queues", loaded=True)

"""The demand a plan is made for: expected contacts, handle time and patience per queue and
interval. Read from a YAML file (``callcenter staffing|simulate --demand``), written by
``callcenter forecast --format demand``. Errors read ``file:line: key: problem``::

    interval_minutes: 15          # 15, 30 or 60
    start: 2026-12-07T08:00       # the first interval (UTC; labels only)
    intervals: 4                  # how many, when every ``calls`` is one number
    queues:
      support:
        calls: [40, 55, 60, 48]   # per interval, or one number for each interval
        aht: 180                  # seconds on the contact (one number, or one per interval)
        patience: 120             # mean seconds a caller waits before hanging up (absent: forever)
        skills: [billing:2]       # what the callers need beyond the queue's skills
        language: en
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from callcenter.settings import ConfigError, parse_yaml, textfile, validation_problems

_Count = Annotated[float, Field(ge=0, le=1_000_000)]
_Seconds = Annotated[float, Field(gt=0, le=86_400)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Queue(_Model):
    calls: _Count | list[_Count]
    aht: _Seconds | list[_Seconds]
    patience: _Seconds | None = None
    skills: tuple[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")], ...] = ()
    language: Annotated[str, Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")] | None = None


class _File(_Model):
    interval_minutes: Literal[15, 30, 60] = 15
    start: datetime | None = None
    intervals: Annotated[int, Field(ge=1, le=35_136)] | None = None  # a year of quarters, at most
    queues: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")], _Queue] = Field(min_length=1)

    @model_validator(mode="after")
    def _lengths(self) -> _File:
        lists = {len(v) for q in self.queues.values() for v in (q.calls, q.aht) if isinstance(v, list)}
        if self.intervals is not None:
            lists.add(self.intervals)
        if len(lists) > 1:
            raise ValueError(
                f"every list of calls and aht needs the same length (intervals): found {sorted(lists)}"
            )
        if not lists:
            raise ValueError("say how many intervals: 'intervals: N', or give 'calls' as a list")
        if 0 in lists:
            raise ValueError("at least one interval")
        return self


@dataclass(frozen=True, slots=True)
class QueueDemand:
    queue: str
    calls: tuple[float, ...]  # per interval
    aht: tuple[float, ...]  # per interval, seconds
    patience: float | None = None
    skills: tuple[str, ...] = ()
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Demand:
    interval_seconds: int
    intervals: int
    queues: tuple[QueueDemand, ...]
    start: int = 0  # epoch seconds of the first interval (labels)

    def label(self, k: int) -> str:
        return datetime.fromtimestamp(self.start + k * self.interval_seconds, UTC).strftime("%Y-%m-%dT%H:%MZ")

    @property
    def total_calls(self) -> float:
        return sum(sum(q.calls) for q in self.queues)


def _spread(value: float | list[float], n: int) -> tuple[float, ...]:
    return tuple(value) if isinstance(value, list) else (value,) * n


def parse_demand(text: str, source: str) -> Demand:
    data, root = parse_yaml(text, source, "the demand file (with a 'queues' key)")
    try:
        parsed = _File.model_validate(data)
    except ValidationError as err:
        raise ConfigError(validation_problems(err, root, source)) from err
    n = parsed.intervals or next(
        len(v) for q in parsed.queues.values() for v in (q.calls, q.aht) if isinstance(v, list)
    )
    start = parsed.start
    epoch = 0 if start is None else int((start if start.tzinfo else start.replace(tzinfo=UTC)).timestamp())
    queues = tuple(
        QueueDemand(name, _spread(q.calls, n), _spread(q.aht, n), q.patience, q.skills, q.language)
        for name, q in parsed.queues.items()
    )
    return Demand(parsed.interval_minutes * 60, n, queues, epoch)


def load_demand(path: str | Path) -> Demand:
    try:
        text = textfile.read_text(Path(path), "demand")
    except textfile.TextFileError as err:
        raise ConfigError(str(err)) from err
    return parse_demand(text, str(path))


def dump_demand(demand: Demand) -> str:
    """The demand as its YAML file (what ``parse_demand`` reads back)."""
    import yaml

    queues: dict[str, object] = {}
    for q in demand.queues:
        entry: dict[str, object] = {
            "calls": [round(c, 2) for c in q.calls],
            "aht": [round(a, 1) for a in q.aht],
        }
        if q.patience is not None:
            entry["patience"] = q.patience
        if q.skills:
            entry["skills"] = list(q.skills)
        if q.language:
            entry["language"] = q.language
        queues[q.queue] = entry
    data = {
        "interval_minutes": demand.interval_seconds // 60,
        "start": datetime.fromtimestamp(demand.start, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "queues": queues,
    }
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=120)

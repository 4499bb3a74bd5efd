"""The tickets' workflow file (YAML) -> :class:`~callcenter.core.tickets.model.Workflow`, every
problem as ``file:line: key: problem``; :class:`WorkflowWatcher` reloads it while the server runs and
keeps the last valid workflow on a bad edit (like the queues file and the IVR flows).

The format is in docs/tickets.md; ``tickets.example.yaml`` is a complete example.
"""

from __future__ import annotations

import itertools
import os
import re
import typing
from collections.abc import Callable, Mapping
from datetime import date, time
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from callcenter.core.tickets import model as m
from callcenter.settings import ConfigError, line_of, parse_yaml, textfile, validation_problems
from callcenter.settings.file_watch import FileWatcher

NAME = r"^[a-z0-9][a-z0-9_-]{0,31}$"
_Name = Annotated[str, Field(pattern=NAME)]
_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")
_DURATION = re.compile(r"^(\d{1,6})([smh])$")
_UNIT = {"s": 1, "m": 60, "h": 3600}
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _seconds(value: object) -> int:
    match = _DURATION.match(str(value))
    if match is None:
        raise ValueError("a duration like 90s, 30m or 8h (business time)")
    seconds = int(match.group(1)) * _UNIT[match.group(2)]
    if seconds <= 0:
        raise ValueError("must be more than 0")
    return seconds


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Field(_Model):
    kind: m.FieldKind
    required: bool = False
    label: str = ""
    choices: tuple[str, ...] = ()
    max_length: int = Field(2000, ge=1, le=100_000)
    min: float | None = None
    max: float | None = None


class _Type(_Model):
    label: str = ""
    fields: dict[_Name, _Field] = Field(default_factory=dict)
    statuses: tuple[_Name, ...] = Field(min_length=1)
    initial: str
    transitions: dict[str, tuple[str, ...]]
    closed: tuple[str, ...]
    resolved: tuple[str, ...] = ()
    paused: tuple[str, ...] = ()
    reopen_to: str


class _Team(_Model):
    line: str | None = Field(None, pattern=NAME)
    transfers: tuple[str, ...] = ()
    members: tuple[str, ...] = ()
    # The team's mailbox for e-mail notifications (docs/tickets.md), and their language.
    email: str | None = Field(None, pattern=r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$", max_length=254)
    language: Literal["en", "zh-CN"] = "en"


class _Rule(_Model):
    when: dict[str, str | tuple[str, ...]] = Field(default_factory=dict)
    team: str
    priority: str

    @field_validator("when")
    @classmethod
    def _keys(cls, value: dict[str, object]) -> dict[str, object]:
        for key in value:
            if key not in ("type", "tier", "language", "line") and not key.startswith("field."):
                raise ValueError(f"unknown condition {key!r} (type, tier, language, line, field.<name>)")
        return value


class _Step(_Model):
    action: Literal["notify", "reassign", "raise_priority"]
    team: str = ""


class _Policy(_Model):
    priority: str
    type: str = ""
    first_response: str | None = None
    resolution: str | None = None
    warn_before: str | None = None
    on_breach: tuple[Literal["notify", "raise_priority"] | _Step, ...] = ("notify",)

    @field_validator("first_response", "resolution", "warn_before")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            _seconds(value)
        return value


_Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _always() -> dict[_Day, tuple[str, ...]]:
    return {d: ("00:00-24:00",) for d in typing.get_args(_Day)}


class _Calendar(_Model):
    timezone: str = "UTC"
    hours: dict[_Day, tuple[str, ...]] = Field(default_factory=_always)
    holidays: tuple[date, ...] = ()

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError) as err:  # OSError: a name too long for a file
            raise ValueError(f"unknown time zone {value!r}") from err
        return value

    @field_validator("hours")
    @classmethod
    def _windows(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for day, windows in value.items():
            spans = [_window(w) for w in windows]
            ends = [(s.hour * 60 + s.minute, (e.hour * 60 + e.minute) or 1440) for s, e in spans]
            for (_, e1), (s2, _) in itertools.pairwise(ends):
                if s2 < e1:
                    raise ValueError(f"{day}: windows must be in order and not overlap")
            if any(e <= s for s, e in ends):
                raise ValueError(f"{day}: a window must end after it starts")
        return value


def _window(text: str) -> tuple[time, time]:
    match = _WINDOW.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a window like 09:00-17:30")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h2 == 24 and m2:
        raise ValueError(f"{text!r}: 24:00 is the latest end")
    return time(h1, m1), time(0) if h2 == 24 else time(h2, m2)


class _Trigger(_Model):
    when: dict[str, str | tuple[str, ...]]
    type: str
    title: str = Field(min_length=1, max_length=200)
    team: str | None = None
    priority: str | None = None

    @field_validator("when")
    @classmethod
    def _keys(cls, value: dict[str, object]) -> dict[str, object]:
        for key in value:
            if key not in ("qa_flag", "line", "queue"):
                raise ValueError(f"unknown condition {key!r} (qa_flag, line, queue)")
        return value


class _EmailCopy(_Model):
    email: str = Field(pattern=r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$", max_length=254)
    language: Literal["en", "zh-CN"] = "en"
    kinds: tuple[Literal["assigned", "mention", "sla_warning", "sla_breached"], ...] = (
        "assigned", "mention", "sla_warning", "sla_breached",
    )  # fmt: skip


class _Email(_Model):
    type: str  # inbound e-mail that continues no ticket opens one of this type


class _File(_Model):
    calendar: _Calendar = _Calendar()
    priorities: tuple[_Name, ...] = Field(min_length=1)
    default_priority: str
    teams: dict[_Name, _Team] = Field(min_length=1)
    default_team: str
    types: dict[_Name, _Type] = Field(min_length=1)
    routing: tuple[_Rule, ...] = ()
    sla: tuple[_Policy, ...] = ()
    email: _Email | None = None
    triggers: tuple[_Trigger, ...] = ()
    # Who asked for e-mail copies of their panel notifications (a user name or an agent id).
    email_notifications: dict[
        Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")], _EmailCopy
    ] = Field(default_factory=dict)


def _type(name: str, t: _Type) -> m.TicketType:
    return m.TicketType(
        name=name,
        label=t.label or name,
        fields=tuple(
            m.FieldSpec(fname, f.kind, f.required, f.label or fname, f.choices, f.max_length, f.min, f.max)
            for fname, f in t.fields.items()
        ),
        statuses=t.statuses,
        initial=t.initial,
        transitions={src: frozenset(dst) for src, dst in t.transitions.items()},
        closed=frozenset(t.closed),
        resolved=frozenset(t.resolved) | frozenset(t.closed),
        paused=frozenset(t.paused),
        reopen_to=t.reopen_to,
    )


def _to_core(parsed: _File, source: str) -> m.Workflow:
    types = {name: _type(name, t) for name, t in parsed.types.items()}
    teams = {
        name: m.Team(name, frozenset(t.transfers), t.line, frozenset(t.members), t.email, t.language)
        for name, t in parsed.teams.items()
    }
    rules = tuple(
        m.RoutingRule(
            {k: frozenset((v,) if isinstance(v, str) else v) for k, v in r.when.items()}, r.team, r.priority
        )
        for r in parsed.routing
    )
    policies = tuple(
        m.SlaPolicy(
            priority=p.priority,
            type=p.type,
            first_response=_seconds(p.first_response) if p.first_response else None,
            resolution=_seconds(p.resolution) if p.resolution else None,
            warn_before=_seconds(p.warn_before) if p.warn_before else 0,
            on_breach=tuple(
                m.EscalationStep(m.Escalation(s))
                if isinstance(s, str)
                else m.EscalationStep(m.Escalation(s.action), s.team)
                for s in p.on_breach
            ),
        )
        for p in parsed.sla
    )
    cal = parsed.calendar
    calendar = m.Calendar(
        zone=ZoneInfo(cal.timezone),
        hours={DAYS.index(d): tuple(_window(w) for w in ws) for d, ws in cal.hours.items()},
        holidays=frozenset(cal.holidays),
    )
    return m.Workflow(
        types=types,
        teams=teams,
        priorities=parsed.priorities,
        rules=rules,
        policies=policies,
        calendar=calendar,
        default_team=parsed.default_team,
        default_priority=parsed.default_priority,
        source=source,
        email_type=parsed.email.type if parsed.email is not None else None,
        email_copies={
            name: m.EmailCopy(c.email, c.language, frozenset(c.kinds))
            for name, c in parsed.email_notifications.items()
        },
        triggers=tuple(
            m.Trigger(
                {k: frozenset((v,) if isinstance(v, str) else v) for k, v in t.when.items()},
                t.type,
                t.title,
                t.team,
                t.priority,
            )
            for t in parsed.triggers
        ),
    )


def parse_workflow(text: str, source: str) -> m.Workflow:
    data, root = parse_yaml(text, source, "the tickets file")
    try:
        parsed = _File.model_validate(data)
    except ValidationError as err:
        raise ConfigError(validation_problems(err, root, source)) from err
    workflow = _to_core(parsed, source)
    problems = m.check(workflow)
    if problems:
        lines = []
        for p in problems:
            line = line_of(root, p.where)
            key = ".".join(str(part) for part in p.where)
            lines.append(f"{source}:{line}: {key}: {p.message}")
        raise ConfigError("\n".join(lines))
    return workflow


def load_workflow(path: str | os.PathLike[str]) -> m.Workflow:
    try:
        text = textfile.read_text(path, "the tickets file")
    except textfile.TextFileError as err:
        raise ConfigError(str(err)) from err
    return parse_workflow(text, str(path))


def _load(path: Path) -> Mapping[str, m.Workflow]:
    return {"workflow": load_workflow(path)}


class WorkflowWatcher(FileWatcher[m.Workflow]):
    """Polls the tickets file; ``on_change`` gets each new valid workflow; a bad edit is logged
    (``tickets.reload_failed``, file:line) and the running workflow stays."""

    def __init__(self, path: Path, on_change: Callable[[m.Workflow], object], interval: float) -> None:
        super().__init__(
            path, _load, lambda found: on_change(found["workflow"]), interval, what="tickets", loaded=True
        )

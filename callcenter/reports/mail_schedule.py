"""Schedules of reports sent by e-mail (docs/reports.md, "Reports by e-mail"): the file and when
each run is due. No I/O but reading the file; time is given.

The file (``report_mail.schedules_file``); errors read ``file:line: key: problem``::

    schedules:
      billing-daily:
        report: queues              # queues, agents, adherence, conversations or fcr
        every: day                  # day or week
        at: "07:00"                 # local time of the run, in ``timezone``
        weekday: monday             # every: week
        timezone: Europe/Paris
        interval: hour              # the report's rows (15m, hour, day, week, month; UTC)
        by: queue                   # queues, conversations, fcr: rows per ...
        queue: [billing]            # filters (queue, agent, channel, line), as the API's
        format: xlsx                # csv or xlsx, attached to the e-mail
        language: en                # of the e-mail's text: en or zh-CN
        recipients: [boss@example.com]

A run is due at ``at`` local time every day (or every ``weekday``); it reports the local day before
it (every day) or the seven local days before it (every week). A run is named by its schedule and
its due time, so a run is sent once whatever restarts happen (reports/mailer.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from callcenter.settings import ConfigError, parse_yaml, textfile, validation_problems

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
REPORTS = ("queues", "agents", "adherence", "conversations", "fcr")
_Names = list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:@+-]{1,64}$")]]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Schedule(_Model):
    report: Literal["queues", "agents", "adherence", "conversations", "fcr"]
    every: Literal["day", "week"] = "day"
    at: str = Field("07:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    weekday: Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"] = "monday"
    timezone: str = "UTC"
    interval: Literal["15m", "hour", "day", "week", "month"] = "hour"
    by: Literal["queue", "agent", "channel", "line", "all"] = "queue"
    days: int = Field(7, ge=1, le=90)
    format: Literal["csv", "xlsx"] = "csv"
    language: Literal["en", "zh-CN"] = "en"  # of the e-mail's subject and text
    recipients: list[Annotated[str, Field(pattern=r"^[^@\s<>,;]{1,64}@[^@\s<>,;]{1,255}$")]] = Field(
        min_length=1, max_length=50
    )
    queue: _Names | None = None
    agent: _Names | None = None
    channel: _Names | None = None
    line: _Names | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError) as err:  # OSError: a name too long for a file
            raise ValueError(f"{value!r} is not a time zone (e.g. Europe/Paris, UTC)") from err
        return value

    @model_validator(mode="after")
    def _groups(self) -> _Schedule:
        if self.by == "agent" and self.report not in ("conversations", "fcr"):
            raise ValueError("by: agent is for the conversations and fcr reports")
        return self


class _File(_Model):
    schedules: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")], _Schedule] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class MailSchedule:
    name: str
    report: str
    every: str  # day or week
    at: time
    weekday: int  # 0 = Monday (every: week)
    timezone: str
    interval: str
    by: str
    days: int
    format: str
    recipients: tuple[str, ...]
    language: str = "en"
    queues: tuple[str, ...] | None = None
    agents: tuple[str, ...] | None = None
    channels: tuple[str, ...] | None = None
    lines: tuple[str, ...] | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def _at(self, day: date) -> int:
        return int(datetime.combine(day, self.at, self.zone).timestamp())

    def dues(self, after: float, until: float) -> list[int]:
        """Every due time in ``(after, until]``, in order."""
        if until <= after:
            return []
        first = datetime.fromtimestamp(after, UTC).astimezone(self.zone).date() - timedelta(days=1)
        last = datetime.fromtimestamp(until, UTC).astimezone(self.zone).date()
        found = []
        day = first
        while day <= last:
            if self.every == "day" or day.weekday() == self.weekday:
                t = self._at(day)
                if after < t <= until:
                    found.append(t)
            day += timedelta(days=1)
        return found

    def latest_due(self, now: float) -> int | None:
        """The last due time at or before ``now`` (within the last eight days)."""
        found = self.dues(now - 8 * 86400, now)
        return found[-1] if found else None

    def period(self, due: int) -> tuple[int, int]:
        """The period a run due at ``due`` reports: the local day before it, or the seven local days
        before it (every week), as epoch seconds ``[start, end)``."""
        day = datetime.fromtimestamp(due, UTC).astimezone(self.zone).date()
        back = 1 if self.every == "day" else 7
        midnight = time(0, 0)
        start = datetime.combine(day - timedelta(days=back), midnight, self.zone)
        return int(start.timestamp()), int(datetime.combine(day, midnight, self.zone).timestamp())


def _tuple(values: list[str] | None) -> tuple[str, ...] | None:
    return None if values is None else tuple(values)


def parse_schedules(text: str, source: str) -> tuple[MailSchedule, ...]:
    data, root = parse_yaml(text, source, "the report schedules (with a 'schedules' key)")
    try:
        parsed = _File.model_validate(data)
    except ValidationError as err:
        raise ConfigError(validation_problems(err, root, source)) from err
    out = []
    for name, s in parsed.schedules.items():
        hours, minutes = (int(p) for p in s.at.split(":"))
        out.append(
            MailSchedule(
                name,
                s.report,
                s.every,
                time(hours, minutes),
                WEEKDAYS.index(s.weekday),
                s.timezone,
                s.interval,
                s.by,
                s.days,
                s.format,
                tuple(s.recipients),
                s.language,
                _tuple(s.queue),
                _tuple(s.agent),
                _tuple(s.channel),
                _tuple(s.line),
            )
        )
    return tuple(out)


def load_schedules(path: str | Path) -> tuple[MailSchedule, ...]:
    try:
        text = textfile.read_text(Path(path), "report schedules")
    except textfile.TextFileError as err:
        raise ConfigError(str(err)) from err
    return parse_schedules(text, str(path))

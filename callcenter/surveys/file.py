"""The surveys file (YAML) -> :class:`~callcenter.core.surveys.model.Surveys`, every problem as
``file:line: key: problem``; :class:`SurveysWatcher` reloads it while the server runs and keeps the
last valid definitions on a bad edit (like the queues file and the tickets' workflow).

Example (``surveys.example.yaml``)::

    surveys:
      default:
        question: csat
        text: "How satisfied were you with us today? Reply 1 (not at all) to 5 (very)."
        prompt: survey-csat
      money:
        question: nps
        lines: [money]
        channels: [voice, sms, whatsapp]
        text: "How likely are you to recommend us to a friend? Reply 0 to 10."
        low: 6
      after-calls:
        question: csat
        queues: [sales]
        channels: [voice]
        call_by: sms           # a text to the caller's number instead of the IVR survey
        text: "How did we do on the phone? Reply 1 to 5."
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from callcenter.core.surveys.model import SCALE, Question, Survey, Surveys
from callcenter.settings import ConfigError, line_of, parse_yaml, textfile, validation_problems
from callcenter.settings.file_watch import FileWatcher

NAME = r"^[a-z0-9][a-z0-9_-]{0,31}$"
_Name = Annotated[str, Field(pattern=NAME)]
CHANNELS = ("voice", "webchat", "sms", "whatsapp", "wechat", "email")


class SurveyFileError(ConfigError):
    """The surveys file cannot be used; each line of the message is ``file:line: key: problem``."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Survey(_Model):
    question: Question
    text: str = Field(min_length=1, max_length=600)
    prompt: str = Field("", pattern=r"^[A-Za-z0-9_/-]{0,100}$")
    queues: tuple[str, ...] = ()
    lines: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    low: int | None = None
    reply_minutes: int = Field(1440, ge=1, le=60 * 24 * 14)
    call_by: Literal["ivr", "sms"] = "ivr"


class _File(_Model):
    surveys: dict[_Name, _Survey] = Field(default_factory=dict)


def _problems(model: _File, root: yaml.Node | None, source: str) -> list[str]:
    """What the schema cannot say: scales, channels, one survey per queue or line, one default,
    a prompt for the IVR survey."""
    problems: list[str] = []

    def problem(loc: tuple[str | int, ...], message: str) -> None:
        problems.append(f"{source}:{line_of(root, loc)}: {'.'.join(map(str, loc))}: {message}")

    owner: dict[tuple[str, str], str] = {}
    defaults: list[str] = []
    for name, s in model.surveys.items():
        loc = ("surveys", name)
        low, high = SCALE[s.question]
        if s.low is not None and not low <= s.low < high:
            problem((*loc, "low"), f"{s.low}: a low score is from {low} to {high - 1} for {s.question.value}")
        for n, channel in enumerate(s.channels):
            if channel not in CHANNELS:
                problem((*loc, "channels", n), f"{channel!r} is not one of {', '.join(CHANNELS)}")
        for what in ("queues", "lines"):
            for n, value in enumerate(getattr(s, what)):
                other = owner.setdefault((what, value), name)
                if other != name:
                    problem((*loc, what, n), f"{value!r} already has the survey {other!r}")
        if not s.queues and not s.lines:
            defaults.append(name)
        asks_voice = not s.channels or "voice" in s.channels
        if asks_voice and s.call_by == "ivr" and not s.prompt:
            problem(loc, "a survey asked on voice needs a prompt (the sound the IVR survey plays)")
    if len(defaults) > 1:
        problem(
            ("surveys", defaults[1]),
            f"only one survey may have no queues nor lines ({defaults[0]!r} has none)",
        )
    return problems


def parse_surveys(text: str, source: str = "<surveys>") -> Surveys:
    try:
        data, root = parse_yaml(text, source, "surveys")
    except SurveyFileError:
        raise
    except ConfigError as err:
        raise SurveyFileError(str(err)) from err
    try:
        model = _File.model_validate(data if data is not None else {})
    except ValidationError as err:
        raise SurveyFileError(validation_problems(err, root, source)) from err
    problems = _problems(model, root, source)
    if problems:
        raise SurveyFileError("\n".join(problems))
    return Surveys(
        {
            name: Survey(
                name,
                s.question,
                s.text,
                s.prompt,
                frozenset(s.queues),
                frozenset(s.lines),
                frozenset(s.channels),
                s.low,
                s.reply_minutes * 60,
                line_of(root, ("surveys", name)) or 0,
                s.call_by,
            )
            for name, s in model.surveys.items()
        }
    )


def load_surveys(path: str | os.PathLike[str]) -> Surveys:
    try:
        text = textfile.read_text(path, "surveys")
    except textfile.TextFileError as err:
        raise SurveyFileError(str(err)) from err
    return parse_surveys(text, str(path))


def _load(path: Path) -> Mapping[str, Surveys]:
    return {"surveys": load_surveys(path)}


class SurveysWatcher(FileWatcher[Surveys]):
    """Polls the surveys file; ``on_change`` gets each new valid set; a bad edit is logged
    (``surveys.reload_failed``, file:line) and the surveys in force stay."""

    def __init__(self, path: Path, on_change: Callable[[Surveys], object], interval: float) -> None:
        super().__init__(
            path, _load, lambda found: on_change(found["surveys"]), interval, what="surveys", loaded=True
        )

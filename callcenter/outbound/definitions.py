"""Campaign definitions: YAML in, :class:`~callcenter.core.outbound.campaign.Campaign` out.

Why the database and not a watched file like the queues: a campaign has a life the file cannot
hold (started, paused, stopped; its first start fixes its abandonment windows), its lists and
ledgers are rows beside it, and every node must see the same state at once (the command line and
the API run on any node, the dialler on the routing owner). So definitions are *imported* from
YAML (``callcenter campaign import``, ``POST /api/campaigns``) into the database: the whole file
is checked first, every problem as ``file:line: key: problem``, and a file with any problem
changes nothing, running campaigns included. The stored definition is the validated JSON, read
back through the same model.

The format (every key but ``queue`` and ``windows`` optional)::

    campaigns:
      renewals:
        mode: predictive                 # preview | progressive | predictive | agentless
        queue: sales                     # the ACD queue whose agents take the calls
        line: sales                      # business line: who may see and run it
        caller_id: "+15550100"           # a number that can be called back
        windows:                         # in the callee's local time
          - {days: [mon, tue, wed, thu, fri], from: "09:00", to: "21:00"}
          - {days: [sat], from: "10:00", to: "18:00"}
        max_attempts: 5
        retries:                         # per outcome: wait, and the attempts it allows
          busy: {delay: 600, max_attempts: 5}
          no_answer: {delay: 3600, max_attempts: 4}
        abandonment: {cap: 0.03, window: us}   # cap at most 0.03; us (30 days), uk (24 h)
        predictive: {max_ratio: 3, min_samples: 20, handle_seconds: 180}
        ring_seconds: 20
        script: "Hello {name}: your contract ends on {renewal_date}."
        dispositions: [renewed, not interested, call back later]   # at the wrap-up of its calls
        message: callcenter/outbound-no-agent   # played when a person answers and no agent is free
        amd: {on_machine: message, message: callcenter/outbound-machine}   # retry | message | hangup
        flow: reminder                   # agentless: an IVR flow of ivr_flows/ (none: the message)
        opt_out_key: "9"                 # agentless: this key puts the number on do-not-call
        callbacks: true                  # the queue's callbacks campaign (preview or progressive)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from callcenter.core.outbound import campaign as cp
from callcenter.settings import ConfigError, parse_yaml, validation_problems

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
LINE_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"
DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Window(_Model):
    days: tuple[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], ...] = Field(min_length=1)
    start: str = Field(alias="from")
    end: str = Field(alias="to")

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if value != "24:00" and not _HHMM.match(value):
            raise ValueError("a time of day as HH:MM (00:00 to 24:00)")
        return value

    @model_validator(mode="after")
    def _order(self) -> _Window:
        if self.start >= self.end:
            raise ValueError("'from' must be before 'to' (a window cannot cross midnight: write two)")
        return self


class _Retry(_Model):
    delay: float = Field(ge=0, le=30 * 86400)
    max_attempts: int = Field(ge=0, le=20)


class _Abandonment(_Model):
    cap: float = Field(cp.MAX_ABANDON_CAP, gt=0, le=cp.MAX_ABANDON_CAP)
    window: Literal["us", "uk"] | float | None = None


class _Predictive(_Model):
    max_ratio: float = Field(3.0, ge=1, le=10)
    min_samples: int = Field(20, ge=1, le=10000)
    handle_seconds: float = Field(180.0, gt=0, le=7200)


class _Amd(_Model):
    on_machine: Literal["retry", "message", "hangup"] = "retry"
    message: str = Field("", pattern=r"^[A-Za-z0-9_./-]{0,200}$")

    @model_validator(mode="after")
    def _message(self) -> _Amd:
        if self.on_machine == "message" and not self.message:
            raise ValueError("on_machine: message needs the message to leave (a sound name)")
        return self


class _Campaign(_Model):
    mode: cp.Mode = cp.Mode.PROGRESSIVE
    queue: str = Field(min_length=1, max_length=64)
    line: str | None = Field(None, pattern=LINE_PATTERN)
    caller_id: str = Field("", max_length=32)
    windows: tuple[_Window, ...] = Field(min_length=1)
    max_attempts: int = Field(5, ge=1, le=20)
    retries: dict[Literal["abandoned", "busy", "no_answer", "machine", "failed", "callback"], _Retry] = Field(
        default_factory=dict
    )
    abandonment: _Abandonment = _Abandonment()
    predictive: _Predictive = _Predictive()
    ring_seconds: float = Field(20.0, ge=5, le=120)
    agentless_lines: int = Field(10, ge=1, le=500)
    # Preview: a card not answered within this is passed as if skipped (0: no limit).
    preview_seconds: float = Field(120.0, ge=0, le=3600)
    script: str = Field("", max_length=4000)
    # Offered at the wrap-up of the campaign's calls, stored with the attempt (none: the server's).
    dispositions: tuple[Annotated[str, Field(min_length=1, max_length=64)], ...] = Field((), max_length=50)
    # An Asterisk sound (e.g. callcenter/outbound-no-agent, or an absolute path without extension).
    message: str = Field(cp.DEFAULT_MESSAGE, pattern=r"^[A-Za-z0-9_./-]{1,200}$")
    amd: _Amd | None = None  # answering-machine detection; absent: off
    # Agentless: the IVR flow (ivr_flows/) the person runs instead of hearing ``message``, and the
    # key that puts the number on the do-not-call list.
    flow: str = Field("", pattern=r"^[A-Za-z0-9_-]{0,64}$")
    opt_out_key: str = Field("", pattern=r"^[0-9*#]?$")
    # The queue's callbacks campaign: callbacks at a time the customer picks become its records.
    callbacks: bool = False

    @model_validator(mode="after")
    def _agentless(self) -> _Campaign:
        if (self.flow or self.opt_out_key) and self.mode != cp.Mode.AGENTLESS:
            raise ValueError("flow and opt_out_key are for agentless campaigns (mode: agentless)")
        if self.callbacks and self.mode not in (cp.Mode.PREVIEW, cp.Mode.PROGRESSIVE):
            raise ValueError("a callbacks campaign is preview or progressive (an agent takes each call)")
        return self

    @field_validator("dispositions")
    @classmethod
    def _distinct(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("each disposition once")
        return value

    @field_validator("abandonment")
    @classmethod
    def _window(cls, value: _Abandonment) -> _Abandonment:
        w = value.window
        if isinstance(w, float) and not 3600 <= w <= 31 * 86400:
            raise ValueError("window: us, uk, or seconds between 3600 and 31 days")
        return value


class _File(_Model):
    campaigns: dict[str, _Campaign] = Field(default_factory=dict)


def _time(text: str) -> time:
    if text == "24:00":
        return time(23, 59, 59, 999999)
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def to_core(name: str, definition: Mapping[str, Any], default_window: str = "us") -> cp.Campaign:
    """A stored (or just parsed) definition as the core's campaign."""
    c = _Campaign.model_validate(definition)
    window = c.abandonment.window or default_window
    seconds = {"us": cp.US_WINDOW, "uk": cp.UK_WINDOW}.get(window) if isinstance(window, str) else window
    assert seconds is not None
    retries = dict(cp.DEFAULT_RETRIES)
    retries.update({cp.Outcome(k): cp.RetryRule(v.delay, v.max_attempts) for k, v in c.retries.items()})
    on_machine = cp.OnMachine(c.amd.on_machine) if c.amd is not None else cp.OnMachine.OFF
    if on_machine == cp.OnMachine.HANGUP:
        retries[cp.Outcome.MACHINE] = cp.RetryRule(0.0, 0)  # never again, whatever the rules say
    return cp.Campaign(
        name=name,
        mode=c.mode,
        queue=c.queue,
        windows=tuple(
            cp.CallingWindow(_time(w.start), _time(w.end), frozenset(DAYS[d] for d in w.days))
            for w in c.windows
        ),
        retries=retries,
        max_attempts=c.max_attempts,
        abandon_cap=c.abandonment.cap,
        abandon_window=float(seconds),
        caller_id=c.caller_id,
        line=c.line,
        max_ratio=c.predictive.max_ratio,
        min_samples=c.predictive.min_samples,
        handle_seconds=c.predictive.handle_seconds,
        ring_seconds=c.ring_seconds,
        agentless_lines=c.agentless_lines,
        preview_seconds=c.preview_seconds,
        script=c.script,
        dispositions=c.dispositions,
        message=c.message,
        on_machine=on_machine,
        machine_message=c.amd.message if c.amd is not None else "",
        flow=c.flow,
        opt_out_key=c.opt_out_key,
        callbacks=c.callbacks,
    )


def parse_definitions(text: str, source: str) -> dict[str, dict[str, Any]]:
    """The campaigns of a YAML file as validated JSON documents, by name; ConfigError with every
    problem (``file:line: key: problem``) otherwise."""
    data, root = parse_yaml(text, source, "the file (with a 'campaigns' key)")
    try:
        parsed = _File.model_validate(data)
    except ValidationError as err:
        raise ConfigError(validation_problems(err, root, source)) from err
    from callcenter.settings import line_of

    bad = [n for n in parsed.campaigns if not re.match(NAME_PATTERN, n)]
    if bad:
        raise ConfigError(
            "\n".join(
                f"{source}:{line_of(root, ('campaigns', n))}: campaigns.{n[:64]}: a name is lower-case "
                "letters, digits, '-' and '_' (at most 64)"
                for n in bad
            )
        )
    by_queue: dict[str, str] = {}
    twice = []
    for n, c in parsed.campaigns.items():
        if c.callbacks:
            if c.queue in by_queue:
                twice.append(
                    f"{source}:{line_of(root, ('campaigns', n, 'callbacks'))}: campaigns.{n}.callbacks: "
                    f"queue {c.queue!r} already has a callbacks campaign ({by_queue[c.queue]})"
                )
            by_queue.setdefault(c.queue, n)
    if twice:
        raise ConfigError("\n".join(twice))
    return {
        n: c.model_dump(mode="json", by_alias=True, exclude_unset=True) for n, c in parsed.campaigns.items()
    }

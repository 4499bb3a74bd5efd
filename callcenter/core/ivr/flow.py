"""IVR flows as pure step machines: given the result of the last action, return the next action.

A flow never awaits and never touches Asterisk. The FastAGI adapter performs each action and feeds
the result back. This module holds the seam (:class:`Flow`, the actions and results) and the
foundation's fixed one-level menu; the YAML flow engine implements the same :class:`Flow` protocol.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

# -- actions (flow -> adapter) ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    pass


@dataclass(frozen=True, slots=True)
class Play:
    prompt: str  # a sound name Asterisk knows, e.g. "callcenter/goodbye"
    text: str = ""  # what it says, when known (text-to-speech prompts): for logs and simulation


@dataclass(frozen=True, slots=True)
class GetDigit:
    """Play ``prompt`` (interruptible by a key) then wait up to ``timeout`` seconds for one digit."""

    prompt: str
    timeout: float


@dataclass(frozen=True, slots=True)
class CollectDigits:
    """Play ``prompt`` (interruptible) then collect up to ``max_digits`` keys; each key must come
    within ``timeout`` seconds. ``#`` ends the input early (Asterisk's GET DATA terminator)."""

    prompt: str
    max_digits: int
    timeout: float
    text: str = ""


@dataclass(frozen=True, slots=True)
class HttpLookup:
    """Ask an outside system; the answer comes back as :class:`HttpResult`."""

    method: str
    url: str
    timeout: float
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Mapping[str, str] | None = None  # sent as JSON when set


@dataclass(frozen=True, slots=True)
class ScheduleCallback:
    """File a callback for ``number`` with ``queue``'s callbacks campaign at the time the caller
    picked: ``minutes`` from now, or ``day`` days after today at ``at`` (HH:MM), the caller's local
    time. The answer comes back as :class:`CallbackResult`."""

    queue: str
    number: str
    minutes: int | None = None
    day: int = 0
    at: str = ""
    timezone: str = ""  # the zone when the number's own is not one zone (empty: refused then)


@dataclass(frozen=True, slots=True)
class CallbackResult:
    """Filed (``local``: the time in the caller's zone) or refused (``error``: why)."""

    filed: bool
    local: str = ""
    error: str = ""


@dataclass(frozen=True, slots=True)
class Voicemail:
    """Let the caller leave a message in ``mailbox`` (``box@context``)."""

    mailbox: str
    # Asterisk's own "the person at ... is unavailable" greeting; off when the flow greeted already.
    greeting: bool = True


@dataclass(frozen=True, slots=True)
class Finish:
    """The flow is done: ``queue`` set sends the caller there; ``None`` ends the call.

    ``outcome`` says how the flow ended ("queue", "hangup", "voicemail", "callback", "no_input",
    "error"); ``data`` is what the flow collected, travelling with the interaction.
    """

    choice: str | None
    queue: str | None
    priority: int = 0
    skills: tuple[str, ...] = ()
    language: str | None = None
    data: Mapping[str, str] = field(default_factory=dict)
    outcome: str = ""


Action = Answer | Play | GetDigit | CollectDigits | HttpLookup | ScheduleCallback | Voicemail | Finish

# -- results (adapter -> flow) ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Done:
    """The action completed (Answer, Play)."""


@dataclass(frozen=True, slots=True)
class Digit:
    digit: str | None  # None: no key pressed before the timeout


@dataclass(frozen=True, slots=True)
class Digits:
    digits: str  # '' : nothing pressed before the timeout


@dataclass(frozen=True, slots=True)
class HttpResult:
    """``status`` None: no answer (timeout, refused, unreadable); ``error`` says why."""

    status: int | None
    body: object = None  # the parsed JSON answer
    error: str = ""


Result = Done | Digit | Digits | HttpResult | CallbackResult


@dataclass(frozen=True, slots=True)
class Opening:
    """What every call of a flow starts with, whatever its caller and its time: the prompts played
    (``Play``) and then the first question (``CollectDigits`` or ``GetDigit``), in ``language``.

    Asterisk's dialplan plays it itself, at once, and keeps the keys pressed during it, so the
    caller's first seconds do not wait for the server (docs/ivr.md, "The opening menu"). Empty when
    the start depends on the caller, the time or an outside system (a branch, hours, a lookup).
    """

    actions: tuple[Play | CollectDigits | GetDigit, ...] = ()
    language: str | None = None


class Flow(Protocol):
    def start(self) -> Action: ...

    def next(self, result: Result) -> Action: ...


class FlowError(Exception):
    """The adapter fed a result the flow did not ask for."""


@dataclass(frozen=True, slots=True)
class MenuConfig:
    choices: Mapping[str, str]  # digit -> queue
    prompt: str
    timeout: float = 6.0
    attempts: int = 2
    invalid_prompt: str = "callcenter/invalid"
    goodbye_prompt: str = "callcenter/goodbye"


class MenuFlow:
    """Answer, offer the menu up to ``attempts`` times, then queue the caller or say goodbye."""

    def __init__(self, config: MenuConfig) -> None:
        self._config = config
        self._tries = 0
        self._last: Action | None = None
        self._chosen: str | None = None

    def start(self) -> Action:
        return self._emit(Answer())

    def next(self, result: Result) -> Action:
        last = self._last
        if isinstance(last, Answer):
            return self._ask()
        if isinstance(last, GetDigit):
            if not isinstance(result, Digit):
                raise FlowError(f"expected a digit result, got {result!r}")
            if result.digit is not None and result.digit in self._config.choices:
                queue = self._config.choices[result.digit]
                return self._emit(Finish(choice=result.digit, queue=queue))
            self._chosen = result.digit
            if self._tries >= self._config.attempts:
                return self._emit(Play(self._config.goodbye_prompt))
            if result.digit is None:
                return self._ask()
            return self._emit(Play(self._config.invalid_prompt))
        if isinstance(last, Play):
            if last.prompt == self._config.goodbye_prompt:
                return self._emit(Finish(choice=self._chosen, queue=None))
            return self._ask()
        raise FlowError(f"flow already finished or not started (last action {last!r})")

    def opening(self) -> Opening:
        """Every call starts with the menu (the first of its attempts)."""
        return Opening((GetDigit(self._config.prompt, self._config.timeout),))

    def _ask(self) -> Action:
        self._tries += 1
        return self._emit(GetDigit(self._config.prompt, self._config.timeout))

    def _emit(self, action: Action) -> Action:
        self._last = action
        return action

"""The YAML IVR's model: flows of named nodes, already parsed, each piece knowing where it was written.

Everything here is plain data (frozen dataclasses). The loader (``callcenter.ivr.loader``) builds it
from YAML; the validator (:mod:`callcenter.core.ivr.check`) and the runner
(:mod:`callcenter.core.ivr.runner`) read it. Time zones arrive as ``tzinfo`` objects, so this module
never looks anything up.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, tzinfo


@dataclass(frozen=True, slots=True, order=True)
class Pos:
    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


NOWHERE = Pos("<flow>", 1, 1)


@dataclass(frozen=True, slots=True)
class Problem:
    pos: Pos
    message: str

    def __str__(self) -> str:
        return f"{self.pos}: {self.message}"


@dataclass(frozen=True, slots=True)
class PromptVariant:
    sound: str  # the sound name Asterisk plays (a file, or the rendered text-to-speech)
    text: str = ""  # the words, for text-to-speech prompts


@dataclass(frozen=True, slots=True)
class Prompt:
    """One prompt in every language it exists in. ``any`` holds a variant for all languages (a file
    Asterisk localises itself)."""

    variants: Mapping[str, PromptVariant]
    pos: Pos
    any: PromptVariant | None = None

    def for_language(self, language: str) -> PromptVariant | None:
        return self.variants.get(language, self.any)


@dataclass(frozen=True, slots=True)
class Target:
    """A reference to a node: ``node`` in this flow, or ``flow`` (its start, or ``node`` in it)."""

    node: str
    pos: Pos
    flow: str | None = None


@dataclass(frozen=True, slots=True)
class Condition:
    """``var`` compared with ``op`` (equals, not_equals, in, matches, starts_with, exists)."""

    var: str
    op: str
    value: str | tuple[str, ...] | bool
    pos: Pos


@dataclass(frozen=True, slots=True)
class Case:
    when: Condition
    goto: Target


@dataclass(frozen=True, slots=True)
class Retry:
    """How an input node re-asks: ``attempts`` in all; what to say when nothing or a wrong
    input came; where to go when the attempts are used up."""

    timeout: float
    attempts: int
    no_input: Target
    invalid: Target | None = None  # None: same as no_input
    invalid_prompt: Prompt | None = None
    no_input_prompt: Prompt | None = None


@dataclass(frozen=True, slots=True)
class Node:
    name: str
    pos: Pos

    def targets(self) -> tuple[Target, ...]:
        return ()

    def prompts(self) -> tuple[Prompt, ...]:
        return ()


def _prompts(*prompts: Prompt | None) -> tuple[Prompt, ...]:
    return tuple(p for p in prompts if p is not None)


def _retry_targets(retry: Retry) -> tuple[Target, ...]:
    return (retry.no_input,) + ((retry.invalid,) if retry.invalid is not None else ())


class _Asks:
    """What an input node (menu, language menu, collect) shares: its prompt, said again with the
    retry prompts under ``retry``."""

    __slots__ = ()
    prompt: Prompt
    retry: Retry

    def prompts(self) -> tuple[Prompt, ...]:
        return _prompts(self.prompt, self.retry.invalid_prompt, self.retry.no_input_prompt)


@dataclass(frozen=True, slots=True)
class PlayNode(Node):
    prompt: Prompt
    next: Target

    def targets(self) -> tuple[Target, ...]:
        return (self.next,)

    def prompts(self) -> tuple[Prompt, ...]:
        return (self.prompt,)


@dataclass(frozen=True, slots=True)
class MenuNode(_Asks, Node):
    prompt: Prompt
    choices: Mapping[str, Target]  # one key -> target
    retry: Retry
    # On chat a choice is also taken by words: key -> words (any language) that pick it.
    words: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def targets(self) -> tuple[Target, ...]:
        return (*self.choices.values(), *_retry_targets(self.retry))


@dataclass(frozen=True, slots=True)
class LanguageNode(_Asks, Node):
    """A menu whose choices set the language; no choice keeps the flow's default."""

    prompt: Prompt
    choices: Mapping[str, str]  # key -> language
    retry: Retry
    next: Target

    def targets(self) -> tuple[Target, ...]:
        return (self.next, *_retry_targets(self.retry))


@dataclass(frozen=True, slots=True)
class CollectNode(_Asks, Node):
    prompt: Prompt
    variable: str
    max_digits: int
    min_digits: int
    pattern: str | None  # must match the whole input
    pattern_pos: Pos
    retry: Retry
    next: Target
    text: bool = False  # chat only: free text (``pattern``, at most ``max_length`` characters)
    max_length: int = 200

    def targets(self) -> tuple[Target, ...]:
        return (self.next, *_retry_targets(self.retry))


@dataclass(frozen=True, slots=True)
class CallbackTime:
    """A time a caller may pick for a callback: ``minutes`` from now, or ``day`` days after today
    at ``at`` (HH:MM) in the caller's local time (the adapter knows the caller's zone)."""

    minutes: int | None = None
    day: int = 0
    at: str = ""


@dataclass(frozen=True, slots=True)
class ScheduleCallbackNode(_Asks, Node):
    """The caller picks a time by key press; the callback is filed for ``number`` with the
    queue's callbacks campaign, then ``next`` (or ``refused``: do-not-call, outside the calling
    hours... with ``callback_error`` set)."""

    prompt: Prompt
    queue: str
    number: str  # template
    choices: Mapping[str, CallbackTime]
    retry: Retry
    next: Target
    refused: Target
    timezone: str = ""  # the caller's zone when the number spans several (IANA; empty: refused)

    def targets(self) -> tuple[Target, ...]:
        return (self.next, self.refused, *_retry_targets(self.retry))


@dataclass(frozen=True, slots=True)
class HoursNode(Node):
    zone: tzinfo
    week: tuple[tuple[tuple[int, int], ...], ...]  # Monday..Sunday: (start, end) minutes of the day
    holidays: frozenset[date]
    open: Target
    closed: Target

    def targets(self) -> tuple[Target, ...]:
        return (self.open, self.closed)


@dataclass(frozen=True, slots=True)
class SetNode(Node):
    variables: Mapping[str, str]  # name -> template
    next: Target

    def targets(self) -> tuple[Target, ...]:
        return (self.next,)


@dataclass(frozen=True, slots=True)
class BranchNode(Node):
    cases: tuple[Case, ...]
    otherwise: Target

    def targets(self) -> tuple[Target, ...]:
        return (*(c.goto for c in self.cases), self.otherwise)


@dataclass(frozen=True, slots=True)
class HttpNode(Node):
    method: str
    url: str  # template: {variable} is replaced, URL-encoded
    timeout: float
    headers: Mapping[str, str]
    body: Mapping[str, str] | None
    result: Mapping[str, str]  # variable -> dotted path in the JSON answer
    next: Target
    failure: Target

    def targets(self) -> tuple[Target, ...]:
        return (self.next, self.failure)


@dataclass(frozen=True, slots=True)
class GotoNode(Node):
    target: Target

    def targets(self) -> tuple[Target, ...]:
        return (self.target,)


@dataclass(frozen=True, slots=True)
class QueueNode(Node):
    queue: str
    skills: tuple[str, ...] = ()
    priority: int = 0
    prompt: Prompt | None = None

    def prompts(self) -> tuple[Prompt, ...]:
        return _prompts(self.prompt)


@dataclass(frozen=True, slots=True)
class VoicemailNode(Node):
    mailbox: str
    prompt: Prompt | None = None
    chat: Target | None = None  # where a chat goes instead (voicemail is voice only)

    def targets(self) -> tuple[Target, ...]:
        return (self.chat,) if self.chat is not None else ()

    def prompts(self) -> tuple[Prompt, ...]:
        return _prompts(self.prompt)


@dataclass(frozen=True, slots=True)
class CallbackNode(Node):
    queue: str
    number: str = "{caller}"  # template
    prompt: Prompt | None = None
    chat: Target | None = None  # where a chat goes instead (a callback is voice only)

    def targets(self) -> tuple[Target, ...]:
        return (self.chat,) if self.chat is not None else ()

    def prompts(self) -> tuple[Prompt, ...]:
        return _prompts(self.prompt)


@dataclass(frozen=True, slots=True)
class HangupNode(Node):
    prompt: Prompt | None = None

    def prompts(self) -> tuple[Prompt, ...]:
        return _prompts(self.prompt)


@dataclass(frozen=True, slots=True)
class KbNode(Node):
    """Chat only: answer ``question`` (a template) from the knowledge base's public articles."""

    question: str
    answered: Target  # the answer was sent
    unanswered: Target  # not confident, nothing found

    def targets(self) -> tuple[Target, ...]:
        return (self.answered, self.unanswered)


@dataclass(frozen=True, slots=True)
class TicketNode(Node):
    """Chat only: an ending that opens a ticket of ``ticket_type`` with what the flow collected."""

    ticket_type: str
    title: str  # template
    prompt: Prompt | None = None
    fields: Mapping[str, str] = field(default_factory=dict)  # the ticket's field -> template

    def prompts(self) -> tuple[Prompt, ...]:
        return _prompts(self.prompt)


@dataclass(frozen=True, slots=True)
class AgentsNode(Node):
    """Chat only: whether a person could take the conversation now — an agent logged in (available
    or busy, not paused) who is a member of ``queue``, has ``skills`` and takes chats — to ``available``,
    else to ``unavailable`` (the offline form: collect a way to answer later, open a ticket)."""

    queue: str
    skills: tuple[str, ...]
    available: Target
    unavailable: Target

    def targets(self) -> tuple[Target, ...]:
        return (self.available, self.unavailable)


@dataclass(frozen=True, slots=True)
class Idle:
    """Chat: a customer who stops answering. ``after`` seconds without an answer to a question: one
    nudge (``prompt``, else the built-in "Are you still there?" in the customer's language); ``then``
    seconds more: the flow ends with outcome ``abandoned`` — the conversation closed, or handed to
    ``queue`` when one is given."""

    after: float
    then: float
    pos: Pos
    prompt: Prompt | None = None
    queue: str | None = None


@dataclass(frozen=True, slots=True)
class UnparsedNode(Node):
    """Stands for a node whose definition had errors (already reported), so that references to it
    do not add "missing target" noise. A flow set holding one is never run."""


TERMINALS = (QueueNode, VoicemailNode, CallbackNode, HangupNode, TicketNode, UnparsedNode)
VOICE_ONLY = (VoicemailNode, CallbackNode)  # on chat they need ``chat:``, where to go instead
CHAT_ONLY = (KbNode, TicketNode, AgentsNode)
CHANNELS = ("voice", "chat")


@dataclass(frozen=True, slots=True)
class FlowDef:
    name: str
    pos: Pos
    start: Target
    nodes: Mapping[str, Node]
    language: str = "en"  # the default language
    languages: tuple[str, ...] = ("en",)  # every prompt must exist in each
    channels: tuple[str, ...] = ("voice",)  # voice (calls), chat (web chat and messaging)
    agent: Target | None = None  # chat: where "agent" / "人工" goes (default: the conversation's queue)
    idle: Idle | None = None  # chat: a customer who stops answering (None: the flow waits for ever)


@dataclass(frozen=True, slots=True)
class FlowSet:
    flows: Mapping[str, FlowDef] = field(default_factory=dict)


# -- templates -------------------------------------------------------------------------------------

_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_URL_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def template_names(template: str) -> list[str]:
    return _FIELD.findall(template)


def render(template: str, variables: Mapping[str, str], *, url: bool = False) -> str:
    """Replace ``{name}`` by the variable (empty when unset); ``url``: percent-encode the values."""

    def value(match: re.Match[str]) -> str:
        text = variables.get(match.group(1), "")
        return quote(text) if url else text

    return _FIELD.sub(value, template)


def quote(text: str) -> str:
    return "".join(chr(b) if chr(b) in _URL_SAFE else f"%{b:02X}" for b in text.encode("utf-8"))

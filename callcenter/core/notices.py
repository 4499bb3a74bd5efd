"""Notices: what happened to an interaction, for its event log (audit, reporting, the routing's
explanation) and for the listeners of the service (the panel, the supervisor).

One frozen dataclass per kind of notice. Consumers match on the types, never on strings. Each
class names the ``kind`` its log rows have carried since before notices were typed, and its fields
say how they map to the row's keys (``row_key`` for a key that is not the field's name, such as
``from``; ``omit`` for a key written only when set; a ``group`` of keys written together). The one
conversion to and from rows is storage's (``adapters/event_log.py``), driven by that description,
so a new notice class (in this module or another core module) plugs in by subclassing
:class:`Notice` (frozen, slots) and nothing else; classes sharing a kind must differ in their keys
(a row is read back as the first class, by name, whose keys fit it). Stored rows keep their
historic kinds and keys: old databases stay readable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from callcenter.core.interaction import EndedBy, Outcome

# Field metadata keys (read by storage's conversion).
ROW_KEY = "row_key"  # the row's key, when it is not the field's name
OMIT = "omit"  # the key is written only when the value is not None
GROUP = "group"  # keys of one group are written together, or (all None) not at all
DECODE = "decode"  # turns the stored value back into the field's type


def row_key(
    key: str | None = None,
    *,
    omit: bool = False,
    group: str | None = None,
    decode: Callable[[Any], object] | None = None,
) -> Mapping[str, object]:
    """Field metadata describing how a notice's field is stored (``field(metadata=row_key(...))``)."""
    meta: dict[str, object] = {}
    if key is not None:
        meta[ROW_KEY] = key
    if omit:
        meta[OMIT] = True
    if group is not None:
        meta[GROUP] = group
    if decode is not None:
        meta[DECODE] = decode
    return meta


@dataclass(frozen=True, slots=True)
class Notice:
    """Base of every notice: which interaction, when. Subclasses (frozen, slots) set ``kind``, the
    log row's kind; several classes may share a kind when their keys tell them apart."""

    kind: ClassVar[str] = ""

    interaction_id: str
    at: float


def notice_types() -> list[type[Notice]]:
    """Every notice class defined so far (imported), by name: what storage can read back."""
    found: dict[str, type[Notice]] = {}
    todo = list(Notice.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        # A slots dataclass replaces the class it was made from: keep the final one.
        if "__slots__" in vars(cls) and vars(cls).get("kind"):
            found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return [found[name] for name in sorted(found)]


def _none(key: str | None = None) -> Any:
    return field(default=None, metadata=row_key(key, omit=True))


# -- arrival, IVR, queue --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Arrived(Notice):
    kind: ClassVar[str] = "arrived"
    caller: str


@dataclass(frozen=True, slots=True)
class IvrFinished(Notice):
    """How the IVR ended and what the flow collected (``data``: its variables)."""

    kind: ClassVar[str] = "ivr_finished"
    outcome: str
    data: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Queued(Notice):
    """A call put in line by its IVR; ``callback``: the number to call back, when asked."""

    kind: ClassVar[str] = "queued"
    queue: str
    choice: str | None
    skills: Mapping[str, int] | None = field(default=None, metadata=row_key(group="needs"))
    language: str | None = field(default=None, metadata=row_key(group="needs"))
    callback: str | None = _none()


@dataclass(frozen=True, slots=True)
class ConversationQueued(Notice):
    """A conversation put in line; ``sticky``: the agent it waits for first (the last one)."""

    kind: ClassVar[str] = "queued"
    queue: str
    channel: str
    customer: str
    conversation: str
    skills: Mapping[str, int] | None = field(default=None, metadata=row_key(group="needs"))
    language: str | None = field(default=None, metadata=row_key(group="needs"))
    sticky: str | None = _none()


@dataclass(frozen=True, slots=True)
class MaxWait(Notice):
    """The queue's maximum wait was reached; ``kept``: why the interaction stays in line anyway."""

    kind: ClassVar[str] = "max_wait"
    queue: str
    exit: str
    wait: float
    kept: str | None = _none()


@dataclass(frozen=True, slots=True)
class Overflowed(Notice):
    kind: ClassVar[str] = "overflowed"
    queue: str
    exit: str
    wait: float
    to: str


# -- offers ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Offered(Notice):
    """The engine chose an agent; ``reason`` says why, in words."""

    kind: ClassVar[str] = "offered"
    agent: str
    reason: str


@dataclass(frozen=True, slots=True)
class OfferFailed(Notice):
    """Not answered, declined, timed out or withdrawn: back in line."""

    kind: ClassVar[str] = "offer_failed"
    agent: str
    reason: str


@dataclass(frozen=True, slots=True)
class Answered(Notice):
    kind: ClassVar[str] = "answered"
    agent: str


@dataclass(frozen=True, slots=True)
class CallbackConnected(Notice):
    kind: ClassVar[str] = "callback_connected"
    agent: str


# -- callbacks ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CallbackRequested(Notice):
    kind: ClassVar[str] = "callback_requested"
    number: str


@dataclass(frozen=True, slots=True)
class CallbackFailed(Notice):
    kind: ClassVar[str] = "callback_failed"
    agent: str
    reason: str
    attempt: int


# -- after the answer -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Transferred(Notice):
    """An interaction sent to an agent (``to_agent``) and/or a queue by the agent holding it (the
    row of a conversation's transfer; a call's transfer to an agent or a queue has the same keys)."""

    kind: ClassVar[str] = "transferred"
    from_agent: str = field(metadata=row_key("from"))
    to_agent: str | None
    to_queue: str


@dataclass(frozen=True, slots=True)
class WrappedUp(Notice):
    kind: ClassVar[str] = "wrap_up"
    agent: str
    disposition: str
    notes: str


@dataclass(frozen=True, slots=True)
class Ended(Notice):
    kind: ClassVar[str] = "ended"
    outcome: Outcome = field(metadata=row_key(decode=Outcome))
    by: EndedBy = field(metadata=row_key(decode=EndedBy))


# -- from call control (core/calls/machine.py) and from outside the engine --------------------------
@dataclass(frozen=True, slots=True)
class RecordingPaused(Notice):
    """The call's recording was paused (PCI), by whom (``by``: a user name; ``role``). Emitted by
    core/calls/machine.py once Asterisk muted it."""

    kind: ClassVar[str] = "recording_paused"
    by: str
    role: str


@dataclass(frozen=True, slots=True)
class RecordingResumed(Notice):
    kind: ClassVar[str] = "recording_resumed"
    by: str
    role: str


@dataclass(frozen=True, slots=True)
class ChatRated(Notice):
    """The visitor's satisfaction at the end of a web chat (1..5, a comment)."""

    kind: ClassVar[str] = "chat.rating"
    score: int
    comment: str
    customer_id: str


# -- agents (for reports) ---------------------------------------------------------------------------
#: The event log's interaction id for an agent's own rows: ``agent:<agent id>``.
AGENT_LOG_PREFIX = "agent:"


@dataclass(frozen=True, slots=True)
class AgentStateLogged(Notice):
    """An agent's state changed (the engine's ``AgentStateChanged``), kept in the event log for the
    historical reports. ``interaction_id`` is ``agent:<agent>``; ``state`` an ``AgentState`` value,
    ``reason`` the pause reason (or why the state changed)."""

    kind: ClassVar[str] = "agent_state"
    agent: str
    state: str
    reason: str

"""Interactions: one customer contact (a phone call, a chat, an SMS, WhatsApp, WeChat or email
conversation) and its record.

An :class:`Interaction` is an immutable snapshot. The core produces a new snapshot at each step of the
contact's life and hands it out in a :class:`~callcenter.core.commands.SaveInteraction` command; the
database adapter upserts it, so the stored row is always the latest snapshot. Times are POSIX seconds
(floats) given to the core by its caller; the core never reads a clock.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace


class Channel(enum.StrEnum):
    VOICE = "voice"
    WEBCHAT = "webchat"
    SMS = "sms"
    WHATSAPP = "whatsapp"
    WECHAT = "wechat"
    EMAIL = "email"


class Outcome(enum.StrEnum):
    """How an interaction ended. ``None`` on a snapshot means it has not ended yet."""

    ANSWERED = "answered"  # an agent talked to the caller (ended_by says who ended it)
    ABANDONED = "abandoned"  # the caller hung up while waiting in a queue
    IVR_HANGUP = "ivr_hangup"  # the caller hung up before choosing a queue
    IVR_NO_INPUT = "ivr_no_input"  # the menu got no valid choice; the call was ended
    LOST = "lost"  # cut by the system before an agent answered (Asterisk stopped, channel vanished)
    FAILED = "failed"  # an error on our side ended the call
    EXITED = "exited"  # the queue's maximum wait sent the caller to its exit (voicemail)
    CALLED_BACK = "called_back"  # a callback reached the customer and an agent talked to them
    CALLBACK_FAILED = "callback_failed"  # every callback attempt failed
    VOICEMAIL = "voicemail"  # the IVR took a message (a flow's voicemail node)
    IVR_ENDED = "ivr_ended"  # the IVR ended the call on purpose (a flow's hangup node)


class EndedBy(enum.StrEnum):
    CALLER = "caller"
    AGENT = "agent"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Interaction:
    id: str
    channel: Channel
    caller_number: str
    started_at: float
    caller_name: str = ""
    caller_channel: str | None = None  # Asterisk channel name of the caller's leg
    dialed_number: str = ""
    ivr_choice: str | None = None
    queue: str | None = None
    queued_at: float | None = None
    priority: int = 0  # higher is served first
    offered_to: str | None = None  # agent currently being rung (a call) or shown the offer
    # Agent who answered (a conversation: who holds it now; None again while a transfer waits).
    agent_id: str | None = None
    answered_at: float | None = None  # the first answer (a transfer keeps it)
    ended_at: float | None = None
    outcome: Outcome | None = None
    ended_by: EndedBy | None = None
    hangup_cause: str | None = None
    offer_attempts: int = 0
    routing_reason: str | None = None  # why this agent got this call, in words
    # What the caller needs beyond the queue's own requirement (e.g. from the IVR), and language.
    skills: Mapping[str, int] = field(default_factory=dict)
    language: str | None = None
    # Callback in queue: the number to call; the caller's leg is gone but the place is kept.
    callback_number: str | None = None
    callback_attempts: int = 0  # dials of the customer so far
    callback_due_at: float | None = None  # not before this time (a retry after a failed attempt)
    overflowed_from: str | None = None  # the queue this caller left for ``queue`` (max-wait exit)
    # Messaging: the customer and the conversation this interaction serves (None for calls).
    customer_id: str | None = None
    conversation_id: str | None = None
    # Offered first to this agent (sticky routing, transfer to an agent) until ``preferred_until``;
    # after that, to anyone the queue allows.
    preferred_agent: str | None = None
    preferred_until: float | None = None
    # Where an agent sent it: "agent:<id>", "queue:<name>" or "number:<dial>" (the last transfer).
    transferred_to: str | None = None
    # The agent's wrap-up: a disposition code from ``acd.dispositions`` and free notes.
    disposition: str | None = None
    notes: str = ""

    @property
    def wait_seconds(self) -> float | None:
        """Time in queue: until an agent answered, or until the caller left the queue."""
        if self.queued_at is None:
            return None
        end = self.answered_at if self.answered_at is not None else self.ended_at
        return None if end is None else max(0.0, end - self.queued_at)

    @property
    def talk_seconds(self) -> float | None:
        if self.answered_at is None or self.ended_at is None:
            return None
        return max(0.0, self.ended_at - self.answered_at)

    @property
    def is_messaging(self) -> bool:
        return self.channel != Channel.VOICE

    @property
    def is_callback(self) -> bool:
        return self.callback_number is not None

    @property
    def is_ended(self) -> bool:
        return self.outcome is not None

    @property
    def talking_agent(self) -> str | None:
        """The agent talking on this call now (a voice call answered and not ended), else None."""
        if self.is_messaging or self.is_ended or self.answered_at is None:
            return None
        return self.agent_id

    def with_(self, **changes: object) -> Interaction:
        return replace(self, **changes)  # type: ignore[arg-type]

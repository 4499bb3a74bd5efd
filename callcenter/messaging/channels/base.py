"""What every messaging adapter produces and consumes (frozen dataclasses crossing the boundary)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from callcenter.core.omni.conversations import Delivery, Media, MessagingChannel
from callcenter.core.omni.customers import Identity

# Webhook bodies are small; anything larger is refused before it is read in full.
MAX_WEBHOOK_BODY = 64 * 1024

# Times from outside (a provider's timestamp, an e-mail's Date) are kept only between these bounds
# (1970-01-01 and 2100-01-01 UTC): a time the database cannot store (year 10000, NaN) must never
# reach the books, where it would fail every later save of the records saved with it.
EARLIEST_TIME = 0.0
LATEST_TIME = 4_102_444_800.0


class WebhookError(ValueError):
    """The request is malformed or not what the provider documents (HTTP 400)."""


class SignatureError(WebhookError):
    """The request is not signed by the provider (HTTP 403)."""


def sane_time(at: float) -> bool:
    """A finite time between ``EARLIEST_TIME`` and ``LATEST_TIME`` (seconds since the epoch)."""
    return math.isfinite(at) and EARLIEST_TIME <= at < LATEST_TIME


def provider_time(value: str, what: str) -> float:
    """A provider's timestamp (seconds since the epoch, as text); WebhookError if it is not a
    number or not a sane time (``nan``, ``inf``, year 10000...)."""
    try:
        at = float(value)
    except ValueError as err:
        raise WebhookError(f"{what} is not a number") from err
    if not sane_time(at):
        raise WebhookError(f"{what} is out of range (1970-2099)")
    return at


@dataclass(frozen=True, slots=True)
class InboundMessage:
    channel: MessagingChannel
    provider_id: str  # for deduplication: MessageSid, wamid, MsgId, Message-ID
    sender: Identity  # the identity the provider vouches for
    recipient: str  # our number / phone-number id / official account
    body: str
    at: float
    media: tuple[Media, ...] = ()
    name: str = ""  # the sender's display name, if the provider gives one
    subject: str = ""
    message_id: str | None = None  # email threading
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    channel: MessagingChannel
    provider_id: str  # the id the provider gave our outbound message
    status: Delivery
    at: float
    detail: str = ""


@dataclass(frozen=True, slots=True)
class OutboundRequest:
    """One HTTP request to a provider, fully built (the sender only carries it out)."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Reply:
    """What the outbox must send: channel-neutral, persisted as JSON (``to_json``/``from_json``)."""

    message_id: str
    channel: MessagingChannel
    to: str  # E.164 phone, wa_id, openid or email address
    body: str
    reply_to: str | None = None  # provider id of the message answered (WhatsApp context)
    subject: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)  # email threading headers
    author: str = ""  # "bot": the virtual agent's (web chat shows it as the assistant's)

    def to_json(self) -> dict[str, object]:
        return {
            "message_id": self.message_id,
            "channel": self.channel.value,
            "to": self.to,
            "body": self.body,
            "reply_to": self.reply_to,
            "subject": self.subject,
            "headers": dict(self.headers),
            "author": self.author,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Reply:
        headers = data.get("headers") or {}
        assert isinstance(headers, Mapping)
        reply_to = data.get("reply_to")
        return cls(
            message_id=str(data["message_id"]),
            channel=MessagingChannel(str(data["channel"])),
            to=str(data["to"]),
            body=str(data["body"]),
            reply_to=None if reply_to is None else str(reply_to),
            subject=str(data.get("subject", "")),
            headers={str(k): str(v) for k, v in headers.items()},
            author=str(data.get("author", "")),
        )

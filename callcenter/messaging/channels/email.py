"""Email: RFC 5322 messages in (our SMTP server, aiosmtpd) and out (a relay, aiosmtplib).

Threading uses the standard headers (RFC 5322 §3.6.4): a reply carries ``In-Reply-To`` (the
parent's Message-ID) and ``References`` (the parent's References plus its Message-ID); the
conversation book files a message under the conversation of the first id it knows. Our replies get
a Message-ID of our domain, so the customer's answer to them threads back.

The SMTP server runs on the server's own event loop (``loop.create_server``), not in aiosmtpd's
thread-based Controller. Answers: 550 for recipients that are not our mailbox, 554 for a message
we cannot parse, 451 when storage is down (the sending server retries: nothing is lost). A Date
header we cannot use (unparsable, out of 1970-2099) gives way to the time of receipt (logged as
``email.bad_date``): the sender's clock is not a reason to refuse its mail.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import re
from collections.abc import Awaitable, Callable
from email import policy
from email.errors import MessageError
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formatdate, parsedate_to_datetime
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from callcenter import smtp
from callcenter.core.omni.conversations import Media, MessagingChannel
from callcenter.messaging import identity
from callcenter.messaging.channels.base import InboundMessage, Reply, WebhookError, sane_time
from callcenter.messaging.outbox import SendFailed
from callcenter.settings import EmailSettings
from callcenter.storage.db import DatabaseError

log = logging.getLogger(__name__)
_MSG_ID = re.compile(r"<([^<>\s]+)>")


def message_ids(value: str | None) -> tuple[str, ...]:
    """The ids of a Message-ID/In-Reply-To/References header, angle brackets removed, in order."""
    return tuple(_MSG_ID.findall(value or ""))


def parse(raw: bytes, at: float) -> InboundMessage:
    """An email as an inbound message; WebhookError when it has no usable sender or its headers
    cannot be read (the parser is lenient: header objects fail only when read, e.g. a Message-ID
    of ``<>>`` raised HeaderParseError — found by the fuzzer)."""
    try:
        return _parse(raw, at)
    except WebhookError:
        raise
    except (MessageError, ValueError, LookupError, TypeError, AttributeError, IndexError) as err:
        raise WebhookError(f"unreadable headers: {type(err).__name__}") from err


def _parse(raw: bytes, at: float) -> InboundMessage:
    try:
        msg = BytesParser(policy=policy.default).parsebytes(raw)
        sender = identity.email(str(msg.get("From", "")))
    except identity.InvalidIdentity as err:
        raise WebhookError(f"no usable From: {err}") from err
    except Exception as err:  # the parser is lenient; header objects can still fail on garbage
        raise WebhookError(f"unparsable message: {type(err).__name__}") from err
    own = message_ids(str(msg.get("Message-ID", "")))
    # Without a Message-ID, the content itself is the identity of the message (for deduplication).
    message_id = own[0] if own else f"sha256-{hashlib.sha256(raw).hexdigest()}@missing"
    in_reply_to = message_ids(str(msg.get("In-Reply-To", "")))
    references = message_ids(str(msg.get("References", "")))
    when = at
    if msg.get("Date"):
        # The sender's clock: a Date we cannot use (unparsable, before 1970, after 2099) is
        # replaced by the time we received the mail, and the mail is kept.
        try:
            when = parsedate_to_datetime(str(msg["Date"])).timestamp()
        except (TypeError, ValueError, OverflowError):
            when = math.nan
        if not sane_time(when):
            log.warning("email.bad_date", extra={"date": str(msg["Date"])[:64]})
            when = at
    body_part = msg.get_body(preferencelist=("plain", "html"))
    body = ""
    if body_part is not None:
        try:
            body = str(body_part.get_content())
        except (LookupError, ValueError):
            body = ""
        if body_part.get_content_type() == "text/html":
            body = re.sub(r"<[^>]+>", "", body)
    media = tuple(
        Media("document", part.get_filename() or "attachment", part.get_content_type())
        for part in msg.iter_attachments()
    )
    name = ""
    if msg.get("From") is not None:
        addresses = getattr(msg["From"], "addresses", ())
        name = addresses[0].display_name if addresses else ""
    return InboundMessage(
        MessagingChannel.EMAIL,
        message_id,
        sender,
        str(msg.get("To", "")),
        body.strip(),
        when,
        media,
        name,
        str(msg.get("Subject", "")),
        message_id,
        in_reply_to[0] if in_reply_to else None,
        references,
    )


def build(settings: EmailSettings, reply: Reply, now: float | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.address
    msg["To"] = reply.to
    msg["Subject"] = reply.subject or "(no subject)"
    msg["Date"] = formatdate(now, localtime=False) if now is not None else formatdate()
    for name in ("Message-ID", "In-Reply-To", "References"):
        if reply.headers.get(name):
            msg[name] = reply.headers[name]
    msg.set_content(reply.body)
    return msg


class SmtpSender:
    def __init__(self, settings: EmailSettings) -> None:
        self._s = settings

    async def send(self, reply: Reply) -> str:
        s = self._s
        msg = build(s, reply)
        try:
            await smtp.send(s, msg)
        except smtp.MailFailed as err:
            raise SendFailed(str(err), permanent=err.permanent) from err
        ids = message_ids(reply.headers.get("Message-ID"))
        return ids[0] if ids else reply.message_id


Deliver = Callable[[InboundMessage], Awaitable[object]]


class _Handler:
    def __init__(self, settings: EmailSettings, deliver: Deliver, clock: Callable[[], float]) -> None:
        self._mailbox = identity.email_address(settings.address)
        self._deliver = deliver
        self._clock = clock

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        try:
            ours = identity.email_address(address) == self._mailbox
        except identity.InvalidIdentity:
            ours = False
        if not ours:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content
        raw = content if isinstance(content, bytes) else str(content).encode()
        try:
            message = parse(raw, self._clock())
            await self._deliver(message)
        except WebhookError as err:
            log.warning("email.malformed", extra={"detail": str(err)})
            return f"554 5.6.0 {str(err)[:100]}"
        except DatabaseError as err:
            log.error("email.storage", extra={"detail": str(err)})
            return "451 4.3.0 cannot store the message now, try again later"
        return "250 OK"


class SmtpInbound:
    """Our SMTP server, on the caller's event loop. ``port`` is the bound port (after ``start``)."""

    def __init__(self, settings: EmailSettings, deliver: Deliver, clock: Callable[[], float]) -> None:
        self._settings = settings
        self._handler = _Handler(settings, deliver, clock)
        self._server: asyncio.Server | None = None
        self.port = settings.listen_port

    async def start(self) -> None:
        s = self._settings

        def protocol() -> Any:
            return SMTP(self._handler, data_size_limit=s.max_message_size, hostname=None, timeout=60)

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(protocol, s.listen_host, s.listen_port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()

"""Twilio Programmable Messaging: inbound SMS/MMS webhooks, status callbacks, the REST send request.

Signature (``X-Twilio-Signature``, twilio.com/docs/usage/webhooks/webhooks-security): base64 of
HMAC-SHA1 keyed with the auth token over the full URL Twilio requested (query string included)
followed by every POST parameter's name and value, URL-decoded, sorted by name (a repeated name's
values sorted too). Twilio's own validator accepts the URL with or without the scheme's default
port; so do we. Behind a proxy the URL is the public one (``messaging.public_url``), not ours.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from urllib.parse import urlencode, urlsplit, urlunsplit

from callcenter.core.omni.conversations import Delivery, Media, MessagingChannel
from callcenter.messaging import identity
from callcenter.messaging.channels.base import (
    InboundMessage,
    OutboundRequest,
    Reply,
    SignatureError,
    StatusUpdate,
    WebhookError,
)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
API_PATH = "/2010-04-01/Accounts/{account}/Messages.json"

_STATUS = {
    "accepted": Delivery.QUEUED,
    "scheduled": Delivery.QUEUED,
    "queued": Delivery.QUEUED,
    "sending": Delivery.QUEUED,
    "sent": Delivery.SENT,
    "delivered": Delivery.DELIVERED,
    "read": Delivery.READ,
    "undelivered": Delivery.FAILED,
    "failed": Delivery.FAILED,
}


def signature(url: str, params: Iterable[tuple[str, str]], auth_token: str) -> str:
    data = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _port_variants(url: str) -> list[str]:
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    host = parts.hostname or ""
    if default is None:
        return [url]
    with_port = urlunsplit(parts._replace(netloc=f"{host}:{default}"))
    without = urlunsplit(parts._replace(netloc=host))
    return [url, without if parts.port else with_port]


def verify(url: str, params: list[tuple[str, str]], header: str | None, auth_token: str) -> None:
    if not header:
        raise SignatureError("missing X-Twilio-Signature")
    for candidate in _port_variants(url):
        if hmac.compare_digest(signature(candidate, params, auth_token).encode(), header.encode()):
            return
    raise SignatureError("X-Twilio-Signature does not match")


def parse(params: list[tuple[str, str]], at: float, region: str = "US") -> InboundMessage | StatusUpdate:
    """An inbound message or a status callback (``MessageStatus`` present) from the form fields."""
    form: dict[str, str] = {}
    for name, value in params:
        form.setdefault(name, value)
    sid = form.get("MessageSid") or form.get("SmsSid")
    if not sid or not sid.isalnum() or len(sid) > 64:
        raise WebhookError("MessageSid is missing or malformed")
    if "MessageStatus" in form:
        status = _STATUS.get(form["MessageStatus"])
        if status is None:
            raise WebhookError(f"unknown MessageStatus {form['MessageStatus'][:32]!r}")
        detail = f"ErrorCode {form['ErrorCode']}" if form.get("ErrorCode") else ""
        return StatusUpdate(MessagingChannel.SMS, sid, status, at, detail)
    if "From" not in form or "To" not in form:
        raise WebhookError("From and To are required")
    try:
        sender = identity.phone(form["From"], region)
    except identity.InvalidIdentity as err:
        raise WebhookError(str(err)) from err
    try:
        count = int(form.get("NumMedia", "0"))
    except ValueError as err:
        raise WebhookError("NumMedia is not a number") from err
    if not 0 <= count <= 10:
        raise WebhookError("NumMedia out of range")
    media = []
    for n in range(count):
        url = form.get(f"MediaUrl{n}")
        if not url:
            raise WebhookError(f"MediaUrl{n} is missing")
        mime = form.get(f"MediaContentType{n}", "")
        media.append(Media(mime.partition("/")[0] or "file", url, mime))
    return InboundMessage(
        MessagingChannel.SMS, sid, sender, form["To"], form.get("Body", ""), at, tuple(media)
    )


def send_request(
    base_url: str, account_sid: str, auth_token: str, sender: str, reply: Reply, status_callback: str | None
) -> OutboundRequest:
    """POST .../Accounts/{AccountSid}/Messages.json, form-encoded, HTTP Basic AccountSid:AuthToken."""
    fields = [("To", reply.to), ("From", sender), ("Body", reply.body)]
    if status_callback:
        fields.append(("StatusCallback", status_callback))
    basic = base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
    return OutboundRequest(
        "POST",
        base_url.rstrip("/") + API_PATH.format(account=account_sid),
        {"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
        urlencode(fields).encode(),
    )


def sent_id(body: object) -> str:
    """The message's sid from the 201 response of the send request."""
    sid = body.get("sid") if isinstance(body, dict) else None
    if isinstance(sid, str):
        return sid
    raise WebhookError("Twilio's response has no sid")

"""WhatsApp Cloud API: the verify-token handshake, signed webhooks (messages, statuses), sending.

Signature: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body bytes)>``, over the
bytes as received: Meta signs its unicode-escaped serialisation, so re-serialising breaks it.
Delivery can repeat (at-least-once): the message id (``wamid``) deduplicates.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from callcenter import bounded_json
from callcenter.core.omni.conversations import Delivery, Media, MessagingChannel
from callcenter.messaging import identity
from callcenter.messaging.channels.base import (
    InboundMessage,
    OutboundRequest,
    Reply,
    SignatureError,
    StatusUpdate,
    WebhookError,
    provider_time,
)

_STATUS = {
    "sent": Delivery.SENT,
    "delivered": Delivery.DELIVERED,
    "read": Delivery.READ,
    "failed": Delivery.FAILED,
}
_MEDIA = ("image", "audio", "video", "document", "sticker")


def handshake(mode: str | None, token: str | None, challenge: str | None, verify_token: str) -> str:
    """The challenge to echo, or :class:`SignatureError` (never echo on a wrong token)."""
    if mode != "subscribe" or not challenge or token is None:
        raise SignatureError("not a subscription handshake")
    if not hmac.compare_digest(token.encode(), verify_token.encode()):
        raise SignatureError("verify token does not match")
    return challenge


def signature(body: bytes, app_secret: str) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, header: str | None, app_secret: str) -> None:
    if not header or not header.startswith("sha256="):
        raise SignatureError("missing or malformed X-Hub-Signature-256")
    if not hmac.compare_digest(signature(body, app_secret).encode(), header.encode()):
        raise SignatureError("X-Hub-Signature-256 does not match")


def _obj(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise WebhookError(f"{what} is not an object")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise WebhookError(f"{what} is not a list")
    return value


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise WebhookError(f"{what} is missing or not a string")
    return value


def _time(value: Any) -> float:
    return provider_time(_str(value, "timestamp"), "timestamp")


def parse(body: bytes) -> list[InboundMessage | StatusUpdate]:
    """Every message and status of a notification; unknown message types become a note."""
    try:
        doc = bounded_json.loads(body)
    except (ValueError, UnicodeDecodeError) as err:
        raise WebhookError(f"body is not JSON: {err}") from err
    doc = _obj(doc, "body")
    if doc.get("object") != "whatsapp_business_account":
        raise WebhookError("not a whatsapp_business_account notification")
    found: list[InboundMessage | StatusUpdate] = []
    for entry in _list(doc.get("entry"), "entry"):
        for change in _list(_obj(entry, "entry").get("changes"), "changes"):
            value = _obj(_obj(change, "change").get("value"), "value")
            metadata = _obj(value.get("metadata", {}), "metadata")
            recipient = str(metadata.get("phone_number_id", ""))
            names = {
                str(c.get("wa_id")): str(_obj(c.get("profile", {}), "profile").get("name", ""))
                for c in map(lambda c: _obj(c, "contact"), _list(value.get("contacts"), "contacts"))
            }
            for raw in _list(value.get("messages"), "messages"):
                found.append(_message(_obj(raw, "message"), recipient, names))
            for raw in _list(value.get("statuses"), "statuses"):
                status = _obj(raw, "status")
                state = _STATUS.get(str(status.get("status")))
                if state is None:
                    raise WebhookError(f"unknown status {str(status.get('status'))[:32]!r}")
                errors = _list(status.get("errors"), "errors")
                detail = ""
                if errors:
                    first = _obj(errors[0], "error")
                    detail = f"{first.get('code', '')} {first.get('title', '')}".strip()
                found.append(
                    StatusUpdate(
                        MessagingChannel.WHATSAPP,
                        _str(status.get("id"), "status id"),
                        state,
                        _time(status.get("timestamp")),
                        detail,
                    )
                )
    return found


def _message(raw: dict[str, Any], recipient: str, names: dict[str, str]) -> InboundMessage:
    sender_id = _str(raw.get("from"), "from")
    try:
        sender = identity.whatsapp(sender_id)
    except identity.InvalidIdentity as err:
        raise WebhookError(str(err)) from err
    kind = _str(raw.get("type"), "type")
    body = ""
    media: tuple[Media, ...] = ()
    if kind == "text":
        body = _str(_obj(raw.get("text"), "text").get("body"), "text body")
    elif kind in _MEDIA:
        m = _obj(raw.get(kind), kind)
        caption = str(m.get("caption", ""))
        media = (Media(kind, _str(m.get("id"), "media id"), str(m.get("mime_type", "")), caption),)
        body = caption
    else:
        body = f"[{kind[:32]} message]"
    return InboundMessage(
        MessagingChannel.WHATSAPP,
        _str(raw.get("id"), "message id"),
        sender,
        recipient,
        body,
        _time(raw.get("timestamp")),
        media,
        names.get(sender_id, ""),
    )


def send_request(
    base_url: str, api_version: str, phone_number_id: str, access_token: str, reply: Reply
) -> OutboundRequest:
    """POST {base}/{version}/{phone-number-id}/messages, JSON, bearer token."""
    payload: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": reply.to,
        "type": "text",
        "text": {"preview_url": False, "body": reply.body},
    }
    if reply.reply_to:
        payload["context"] = {"message_id": reply.reply_to}
    return OutboundRequest(
        "POST",
        f"{base_url.rstrip('/')}/{api_version}/{phone_number_id}/messages",
        {"Authorization": f"Bearer {access_token}", "Content-Type": "application/json"},
        json.dumps(payload, separators=(",", ":")).encode(),
    )


def sent_id(body: object) -> str:
    messages = body.get("messages") if isinstance(body, dict) else None
    if isinstance(messages, list) and messages and isinstance(messages[0], dict):
        mid = messages[0].get("id")
        if isinstance(mid, str):
            return mid
    raise WebhookError("WhatsApp's response has no message id")

"""WeChat Official Account (plaintext mode): signed XML pushes, the echostr check, customer-service send.

Signature: lower-case hex SHA-1 of the sorted [token, timestamp, nonce] joined without separator,
given as the ``signature`` query parameter; the body is not signed. The URL check (GET) echoes
``echostr`` when it matches. WeChat retries a push three times without a reply within 5 s: we reply
``success`` at once and deduplicate on ``MsgId``. Encrypted (AES) mode is not supported.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

from callcenter import identity
from callcenter.channels.base import (
    InboundMessage,
    OutboundRequest,
    Reply,
    SignatureError,
    WebhookError,
    provider_time,
)
from callcenter.core.conversations import Media, MessagingChannel

ACK = "success"


def signature(token: str, timestamp: str, nonce: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()


def verify(query: dict[str, str], token: str) -> None:
    given, timestamp, nonce = (query.get(k) for k in ("signature", "timestamp", "nonce"))
    if not given or not timestamp or not nonce:
        raise SignatureError("signature, timestamp and nonce are required")
    if not hmac.compare_digest(signature(token, timestamp, nonce).encode(), given.lower().encode()):
        raise SignatureError("signature does not match")


def parse(body: bytes) -> InboundMessage | None:
    """A text or media message; ``None`` for what is not a message (subscribe events...)."""
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise WebhookError("DTDs are not accepted")  # no entity expansion tricks
    try:
        root = ET.fromstring(body)
    except ET.ParseError as err:
        raise WebhookError(f"body is not XML: {err}") from err
    if root.tag != "xml":
        raise WebhookError("root element must be <xml>")

    def text(name: str) -> str:
        return (root.findtext(name) or "").strip()

    kind = text("MsgType")
    if not kind:
        raise WebhookError("MsgType is missing")
    if kind == "event":
        return None
    msg_id, openid, created = text("MsgId"), text("FromUserName"), text("CreateTime")
    if not msg_id.isdigit():
        raise WebhookError("MsgId is missing or not a number")
    try:
        sender = identity.wechat(openid)
    except identity.InvalidIdentity as err:
        raise WebhookError(f"bad FromUserName: {err}") from err
    at = provider_time(created, "CreateTime")
    body_text = ""
    media: tuple[Media, ...] = ()
    if kind == "text":
        body_text = root.findtext("Content") or ""
    elif kind in ("image", "voice", "video", "shortvideo"):
        media = (Media(kind, text("MediaId") or text("PicUrl"), text("Format")),)
        if kind == "image" and text("PicUrl"):
            media = (Media("image", text("MediaId"), "", text("PicUrl")),)
    else:
        body_text = f"[{kind[:32]} message]"
    return InboundMessage(MessagingChannel.WECHAT, msg_id, sender, text("ToUserName"), body_text, at, media)


def token_request(base_url: str, app_id: str, app_secret: str) -> OutboundRequest:
    """GET /cgi-bin/token: the access token the send API needs (valid ``expires_in`` seconds)."""
    query = urlencode({"grant_type": "client_credential", "appid": app_id, "secret": app_secret})
    return OutboundRequest("GET", f"{base_url.rstrip('/')}/cgi-bin/token?{query}", {}, b"")


def send_request(base_url: str, access_token: str, reply: Reply) -> OutboundRequest:
    """POST /cgi-bin/message/custom/send?access_token=...: a text message to an openid."""
    payload = {"touser": reply.to, "msgtype": "text", "text": {"content": reply.body}}
    return OutboundRequest(
        "POST",
        f"{base_url.rstrip('/')}/cgi-bin/message/custom/send?{urlencode({'access_token': access_token})}",
        {"Content-Type": "application/json"},
        json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode(),
    )


def check_response(body: object) -> None:
    """WeChat answers HTTP 200 with ``errcode``; non-zero is a failure."""
    if not isinstance(body, dict) or body.get("errcode", 0) != 0:
        raise WebhookError(f"WeChat refused: {json.dumps(body)[:200]}")

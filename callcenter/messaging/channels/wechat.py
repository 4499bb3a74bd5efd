"""WeChat Official Account: signed XML pushes, the echostr check, customer-service send.

Signature: lower-case hex SHA-1 of the sorted [token, timestamp, nonce] joined without separator,
given as the ``signature`` query parameter. In plaintext mode the body is not signed: a signed
query could be replayed with any body. So every push must be fresh (``timestamp`` within
``max_clock_skew`` of our clock) and its nonce unused (the webhook remembers nonces for twice that
long, in Redis when several nodes share one). The encrypted ("safe") mode signs the body too: the
query carries ``encrypt_type=aes`` and ``msg_signature`` = SHA-1 of the sorted [token, timestamp,
nonce, Encrypt], and the body is ``<xml><ToUserName/><Encrypt>base64</Encrypt></xml>``; Encrypt is
AES-256-CBC (key = base64 of the 43-character EncodingAESKey plus "=", IV = its first 16 bytes,
PKCS#7 padding to 32 bytes) of 16 random bytes, the message's length (4 bytes, big-endian), the
message XML and the AppID (WeChat's WXBizMsgCrypt). With ``encoding_aes_key`` configured, only
encrypted pushes are accepted. The URL check (GET) echoes ``echostr`` when it matches. WeChat
retries a push three times without a reply within 5 s: we reply ``success`` at once and
deduplicate on ``MsgId``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import struct
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml import ElementTree as SafeET

from callcenter.core.omni.conversations import Media, MessagingChannel
from callcenter.messaging import identity
from callcenter.messaging.channels.base import (
    InboundMessage,
    OutboundRequest,
    Reply,
    SignatureError,
    WebhookError,
    provider_time,
)

ACK = "success"
_BLOCK = 32  # WeChat pads to 32 bytes (PKCS#7 with k = 32)


def signature(token: str, *parts: str) -> str:
    """SHA-1 hex of the sorted [token, *parts] (``timestamp, nonce`` for ``signature``;
    ``timestamp, nonce, Encrypt`` for ``msg_signature``)."""
    return hashlib.sha1("".join(sorted([token, *parts])).encode()).hexdigest()


def verify(query: dict[str, str], token: str) -> None:
    given, timestamp, nonce = (query.get(k) for k in ("signature", "timestamp", "nonce"))
    if not given or not timestamp or not nonce:
        raise SignatureError("signature, timestamp and nonce are required")
    if not hmac.compare_digest(signature(token, timestamp, nonce).encode(), given.lower().encode()):
        raise SignatureError("signature does not match")


def check_fresh(query: dict[str, str], now: float, max_skew: float) -> None:
    """The signed timestamp is within ``max_skew`` seconds of ``now`` (SignatureError if not: a
    replayed or forged old query)."""
    try:
        at = float(query.get("timestamp", ""))
    except ValueError as err:
        raise SignatureError("timestamp is not a number") from err
    if not abs(at - now) <= max_skew:  # NaN fails too
        raise SignatureError(f"timestamp is more than {max_skew:.0f} s from our clock")
    nonce = query.get("nonce", "")
    if not 1 <= len(nonce) <= 64 or not nonce.isascii() or not nonce.isprintable():
        raise SignatureError("nonce is missing or malformed")


def aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte key of a 43-character EncodingAESKey (ValueError if it is not one)."""
    if len(encoding_aes_key) != 43:
        raise ValueError("an EncodingAESKey has 43 characters")
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except binascii.Error as err:
        raise ValueError("an EncodingAESKey is base64 (letters and digits)") from err
    if len(key) != 32:
        raise ValueError("an EncodingAESKey decodes to 32 bytes")
    return key


def encrypt(plain: bytes, key: bytes, app_id: str, random16: bytes | None = None) -> str:
    """The base64 ``Encrypt`` of a message (what WeChat sends; used for passive replies and tests)."""
    data = (random16 or os.urandom(16)) + struct.pack(">I", len(plain)) + plain + app_id.encode()
    pad = _BLOCK - len(data) % _BLOCK
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(data + bytes([pad]) * pad) + encryptor.finalize()).decode()


def decrypt(encrypted: str, key: bytes, app_id: str) -> bytes:
    """The message XML of an ``Encrypt`` value; WebhookError if it is not one of ours (wrong key,
    corrupt, another AppID)."""
    try:
        data = base64.b64decode(encrypted, validate=True)
    except binascii.Error as err:
        raise WebhookError("Encrypt is not base64") from err
    if not data or len(data) % 16:
        raise WebhookError("Encrypt is not a whole number of AES blocks")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(data) + decryptor.finalize()
    pad = plain[-1]
    if not 1 <= pad <= _BLOCK or plain[-pad:] != bytes([pad]) * pad or len(plain) < 20 + pad:
        raise WebhookError("Encrypt does not decrypt with this EncodingAESKey")
    content = plain[16:-pad]
    (length,) = struct.unpack(">I", content[:4])
    message, sender = content[4 : 4 + length], content[4 + length :]
    if len(message) != length or not hmac.compare_digest(sender, app_id.encode()):
        raise SignatureError("the encrypted message is not for this AppID")
    return message


def open_safe(query: dict[str, str], body: bytes, token: str, key: bytes, app_id: str) -> bytes:
    """The message XML of an encrypted push, its ``msg_signature`` checked over the body's
    ``Encrypt`` (SignatureError: missing or wrong; WebhookError: malformed)."""
    if query.get("encrypt_type") != "aes":
        raise SignatureError("only encrypted pushes (encrypt_type=aes) are accepted")
    given = query.get("msg_signature")
    if not given:
        raise SignatureError("msg_signature is required")
    encrypted = _root(body).findtext("Encrypt") or ""
    if not encrypted:
        raise WebhookError("Encrypt is missing")
    expected = signature(token, query.get("timestamp", ""), query.get("nonce", ""), encrypted)
    if not hmac.compare_digest(expected.encode(), given.lower().encode()):
        raise SignatureError("msg_signature does not match")
    return decrypt(encrypted.strip(), key, app_id)


def _root(body: bytes) -> ET.Element:
    # defusedxml, not a byte filter: a DTD or an entity is refused in any encoding (a UTF-16 body
    # slipped past a search for "<!DOCTYPE"), and nothing is expanded or fetched.
    try:
        root: ET.Element = SafeET.fromstring(body, forbid_dtd=True, forbid_entities=True)
    except DefusedXmlException as err:
        raise WebhookError("DTDs and entities are not accepted") from err
    except ET.ParseError as err:
        raise WebhookError(f"body is not XML: {err}") from err
    except ValueError as err:  # expat: a declared encoding it cannot read (utf-16-le...)
        raise WebhookError(f"body is not XML we can read: {err}") from err
    if root.tag != "xml":
        raise WebhookError("root element must be <xml>")
    return root


def parse(body: bytes) -> InboundMessage | None:
    """A text or media message; ``None`` for what is not a message (subscribe events...)."""
    root = _root(body)

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

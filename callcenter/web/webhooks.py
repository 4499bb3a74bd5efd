"""Provider webhooks: Twilio SMS, WhatsApp Cloud API, WeChat Official Account.

These routes are PUBLIC for our token middleware: providers cannot present our API tokens. Each
request is authenticated by the provider's own signature instead, checked before anything is
parsed or stored (Twilio: X-Twilio-Signature; WhatsApp: X-Hub-Signature-256 over the raw body and
the verify-token handshake; WeChat: the signature query parameter, fresh and used once with one
body, and ``msg_signature`` over the encrypted body in safe mode). Unsigned or wrongly signed:
403. Malformed: 400. Too large: 413. A channel that is not configured: 404. Storage down: 503
(every provider retries). Duplicates are acknowledged (2xx) and ignored.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import parse_qsl

from aiohttp import web

from callcenter.errors import StorageError
from callcenter.messaging.channels import twilio, wechat, whatsapp
from callcenter.messaging.channels.base import (
    MAX_WEBHOOK_BODY,
    InboundMessage,
    SignatureError,
    StatusUpdate,
    WebhookError,
)
from callcenter.messaging.channels.nonces import Nonces
from callcenter.messaging.service import Messaging
from callcenter.settings import Settings
from callcenter.web.api import SETTINGS
from callcenter.web.auth import PUBLIC, allow
from callcenter.web.openapi import doc

log = logging.getLogger(__name__)
# What the signed provider routes answer besides 200 (the provider retries on a 503).
_HOOK_ERRORS = {
    400: "malformed",
    403: "signature missing or wrong",
    404: "channel not configured",
    413: "body too large",
    503: "storage unavailable: the provider retries",
}

MESSAGING = web.AppKey("messaging", Messaging)
# Nonces of WeChat pushes already used (in Redis when several nodes share one).
WECHAT_NONCES = web.AppKey("wechat_nonces", Nonces)


def _fail(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _raw_body(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_WEBHOOK_BODY:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_WEBHOOK_BODY, actual_size=request.content_length)
    chunks, size = [], 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > MAX_WEBHOOK_BODY:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_WEBHOOK_BODY, actual_size=size)
        chunks.append(chunk)
    return b"".join(chunks)


def messaging_of(request: web.Request) -> Messaging:
    messaging = request.app.get(MESSAGING)
    if messaging is None:
        raise web.HTTPServiceUnavailable(
            text='{"error": "messaging is not running"}', content_type="application/json"
        )
    return messaging


def _settings(request: web.Request) -> Settings:
    return request.app[SETTINGS]


async def _deliver(messaging: Messaging, items: list[InboundMessage | StatusUpdate]) -> None:
    for item in items:
        if isinstance(item, InboundMessage):
            result = await messaging.receive(item)
            if result.duplicate:
                log.info("webhook.duplicate", extra={"channel": item.channel.value})
        else:
            await messaging.status(item)


Hook = Callable[[web.Request], Awaitable[web.StreamResponse]]
S = TypeVar("S")


class _NotConfigured(Exception):
    """A provider calls the webhook of a channel this server has not configured (404)."""


def _configured(section: S | None, channel: str) -> S:
    if section is None:
        raise _NotConfigured(f"{channel} is not configured")
    return section


def _hook(summary: str, who: str, content: str | None = None) -> Callable[[Hook], Hook]:
    """A provider's webhook route: PUBLIC for our token middleware (``who``: the provider's own
    signature, which the handler checks before it parses or stores anything), documented with the
    answers every hook shares, and its errors mapped: unsigned 403, malformed 400, channel not
    configured 404, storage 503."""
    details = {"content": content} if content is not None else {}

    def wrap(handle: Hook) -> Hook:
        async def route(request: web.Request) -> web.StreamResponse:
            try:
                return await handle(request)
            except SignatureError as err:
                log.warning("webhook.unsigned", extra={"path": request.path, "detail": str(err)})
                return _fail(403, str(err))
            except _NotConfigured as err:
                return _fail(404, str(err))
            except WebhookError as err:
                log.warning("webhook.malformed", extra={"path": request.path, "detail": str(err)[:200]})
                return _fail(400, str(err)[:200])
            except StorageError as err:
                log.error("webhook.storage", extra={"detail": str(err)})
                return _fail(503, "cannot store the message now; please retry")

        return allow(PUBLIC)(doc(summary, who=who, responses=_HOOK_ERRORS, **details)(route))

    return wrap


@_hook(
    "Twilio inbound SMS/MMS and status callbacks (form-encoded)",
    who="authenticated by X-Twilio-Signature",
)
async def twilio_sms(request: web.Request) -> web.StreamResponse:
    settings = _settings(request).messaging
    sms = _configured(settings.twilio, "SMS")
    body = await _raw_body(request)
    if request.content_type != "application/x-www-form-urlencoded":
        raise WebhookError("expected a form-encoded body")
    try:
        params = parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=bool(body))
    except (ValueError, UnicodeDecodeError) as err:
        raise WebhookError(f"bad form body: {err}") from err
    url = settings.public_url.rstrip("/") + request.path_qs
    twilio.verify(
        url,
        params,
        request.headers.get("X-Twilio-Signature"),
        sms.auth_token.get_secret_value(),
    )
    messaging = messaging_of(request)
    item = twilio.parse(params, messaging.clock(), settings.phone_region)
    await _deliver(messaging, [item])
    return web.Response(text=twilio.EMPTY_TWIML, content_type="text/xml")


@_hook(
    "WhatsApp verify-token handshake: echoes hub.challenge",
    who="authenticated by hub.verify_token",
    content="text/plain",
)
async def whatsapp_verify(request: web.Request) -> web.StreamResponse:
    settings = _configured(_settings(request).messaging.whatsapp, "WhatsApp")
    q = request.query
    challenge = whatsapp.handshake(
        q.get("hub.mode"),
        q.get("hub.verify_token"),
        q.get("hub.challenge"),
        settings.verify_token.get_secret_value(),
    )
    return web.Response(text=challenge, content_type="text/plain")


@_hook(
    "WhatsApp Cloud API notifications (messages, statuses)",
    who="authenticated by X-Hub-Signature-256",
)
async def whatsapp_notify(request: web.Request) -> web.StreamResponse:
    settings = _configured(_settings(request).messaging.whatsapp, "WhatsApp")
    body = await _raw_body(request)
    whatsapp.verify(body, request.headers.get("X-Hub-Signature-256"), settings.app_secret.get_secret_value())
    items = whatsapp.parse(body)
    await _deliver(messaging_of(request), list(items))
    return web.json_response({"ok": True})


@_hook(
    "WeChat server URL check: echoes echostr",
    who="authenticated by signature, timestamp, nonce",
    content="text/plain",
)
async def wechat_verify(request: web.Request) -> web.StreamResponse:
    settings = _configured(_settings(request).messaging.wechat, "WeChat")
    wechat.verify(dict(request.query), settings.token.get_secret_value())
    echostr = request.query.get("echostr")
    if not echostr:
        raise WebhookError("echostr is missing")
    return web.Response(text=echostr, content_type="text/plain")


@_hook(
    "WeChat Official Account pushes (XML, plaintext or encrypted safe mode)",
    who="authenticated by signature, timestamp, nonce",
    content="text/plain",
)
async def wechat_notify(request: web.Request) -> web.StreamResponse:
    settings = _configured(_settings(request).messaging.wechat, "WeChat")
    query, token = dict(request.query), settings.token.get_secret_value()
    wechat.verify(query, token)
    messaging = messaging_of(request)
    wechat.check_fresh(query, messaging.clock(), settings.max_clock_skew)
    body = await _raw_body(request)
    if settings.encoding_aes_key is not None:
        key = wechat.aes_key(settings.encoding_aes_key.get_secret_value())
        body = wechat.open_safe(query, body, token, key, settings.app_id)
    # A signed query is usable once, with one body: WeChat's own retry (the same body) passes.
    nonces = request.app[WECHAT_NONCES]
    used = f"wechat:{query['timestamp']}:{query['nonce']}"
    if not await nonces.claim(used, hashlib.sha256(body).hexdigest(), 2 * settings.max_clock_skew):
        raise SignatureError("this signed query was already used with another body")
    try:
        message = wechat.parse(body)
        if message is not None:
            await _deliver(messaging, [message])
    except StorageError:
        await nonces.release(used)  # not stored: WeChat's retry must get through
        raise
    # "success" tells WeChat not to retry; the agent answers later through the send API.
    return web.Response(text=wechat.ACK, content_type="text/plain")


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/webhooks/twilio/sms", twilio_sms)
    app.router.add_get("/webhooks/whatsapp", whatsapp_verify)
    app.router.add_post("/webhooks/whatsapp", whatsapp_notify)
    app.router.add_get("/webhooks/wechat", wechat_verify)
    app.router.add_post("/webhooks/wechat", wechat_notify)

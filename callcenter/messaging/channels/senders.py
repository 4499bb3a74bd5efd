"""Senders over HTTP (Twilio, WhatsApp, WeChat): carry a built request out and classify the result.

Timeouts, connection failures, 408, 429 and 5xx are temporary (the outbox retries); other 4xx are
permanent. Provider base URLs come from the configuration (tests point them at local servers).
"""

from __future__ import annotations

import json
from collections.abc import Callable

import aiohttp

from callcenter.messaging.channels import twilio, wechat, whatsapp
from callcenter.messaging.channels.base import OutboundRequest, Reply, WebhookError
from callcenter.messaging.outbox import SendFailed
from callcenter.settings import TwilioSettings, WeChatSettings, WhatsAppSettings

_TEMPORARY_STATUS = {408, 425, 429}


async def perform(session: aiohttp.ClientSession, request: OutboundRequest, timeout: float) -> object:
    """The JSON answer of a 2xx response; SendFailed otherwise (permanent for plain 4xx)."""
    try:
        async with session.request(
            request.method,
            request.url,
            headers=dict(request.headers),
            data=request.body or None,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            text = await response.text()
            if response.status >= 300:
                permanent = response.status < 500 and response.status not in _TEMPORARY_STATUS
                raise SendFailed(f"HTTP {response.status}: {text[:200]}", permanent=permanent)
    except (TimeoutError, aiohttp.ClientError) as err:
        raise SendFailed(f"{type(err).__name__}: {err}") from err
    try:
        return json.loads(text) if text else {}
    except ValueError as err:
        raise SendFailed("the provider's answer is not JSON") from err


class TwilioSender:
    def __init__(
        self, session: aiohttp.ClientSession, settings: TwilioSettings, public_url: str, timeout: float
    ) -> None:
        self._session, self._s, self._timeout = session, settings, timeout
        self._callback = f"{public_url.rstrip('/')}/webhooks/twilio/sms" if settings.status_callback else None

    async def send(self, reply: Reply) -> str:
        s = self._s
        request = twilio.send_request(
            s.base_url, s.account_sid, s.auth_token.get_secret_value(), s.from_number, reply, self._callback
        )
        return _id(twilio.sent_id, await perform(self._session, request, self._timeout))


class WhatsAppSender:
    def __init__(self, session: aiohttp.ClientSession, settings: WhatsAppSettings, timeout: float) -> None:
        self._session, self._s, self._timeout = session, settings, timeout

    async def send(self, reply: Reply) -> str:
        s = self._s
        request = whatsapp.send_request(
            s.base_url, s.api_version, s.phone_number_id, s.access_token.get_secret_value(), reply
        )
        return _id(whatsapp.sent_id, await perform(self._session, request, self._timeout))


# WeChat error codes: -1 system busy (retry); 40001/40014/42001 the access token is bad or expired.
_WECHAT_BUSY = {-1}
_WECHAT_TOKEN = {40001, 40014, 42001}


class WeChatSender:
    """Fetches and caches the access token (``expires_in``), refreshing it when WeChat rejects it."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        settings: WeChatSettings,
        timeout: float,
        clock: Callable[[], float],
    ) -> None:
        self._session, self._s, self._timeout, self._clock = session, settings, timeout, clock
        self._token: tuple[str, float] | None = None

    async def _access_token(self) -> str:
        if self._token is not None and self._token[1] > self._clock():
            return self._token[0]
        s = self._s
        answer = await perform(
            self._session,
            wechat.token_request(s.base_url, s.app_id, s.app_secret.get_secret_value()),
            self._timeout,
        )
        if not isinstance(answer, dict) or not isinstance(answer.get("access_token"), str):
            raise SendFailed(f"no access token from WeChat: {json.dumps(answer)[:200]}")
        expires = float(answer.get("expires_in", 7200))
        self._token = (answer["access_token"], self._clock() + max(0.0, expires - 300))
        return self._token[0]

    async def send(self, reply: Reply) -> str:
        request = wechat.send_request(self._s.base_url, await self._access_token(), reply)
        answer = await perform(self._session, request, self._timeout)
        code = answer.get("errcode", 0) if isinstance(answer, dict) else None
        if code in _WECHAT_TOKEN:
            self._token = None
            raise SendFailed(f"WeChat access token rejected ({code})")
        if code in _WECHAT_BUSY:
            raise SendFailed("WeChat is busy")
        try:
            wechat.check_response(answer)
        except WebhookError as err:
            raise SendFailed(str(err), permanent=True) from err
        return str(answer.get("msgid", "")) if isinstance(answer, dict) else ""


def _id(parse: Callable[[object], str], answer: object) -> str:
    try:
        return parse(answer)
    except WebhookError as err:
        raise SendFailed(str(err)) from err

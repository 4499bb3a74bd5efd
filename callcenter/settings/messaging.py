"""Messaging channels: Twilio SMS, WhatsApp, WeChat, email, and the outbox that sends replies."""

from __future__ import annotations

import re
from collections.abc import Mapping

from pydantic import Field, SecretStr, field_validator

from callcenter.settings.base import RetentionDays, Section
from callcenter.settings.smtp import SmtpRelay
from callcenter.settings.telephony import MessagingChannelName


class TwilioSettings(Section):
    """SMS through Twilio. Webhook: POST <public_url>/webhooks/twilio/sms (inbound and statuses)."""

    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    auth_token: SecretStr
    from_number: str  # our Twilio number, E.164
    base_url: str = "https://api.twilio.com"
    status_callback: bool = True  # ask Twilio to report delivery to our webhook


class WhatsAppSettings(Section):
    """WhatsApp Cloud API. Webhook: GET/POST <public_url>/webhooks/whatsapp."""

    verify_token: SecretStr  # chosen by us, typed into Meta's App Dashboard
    app_secret: SecretStr  # signs the webhooks (X-Hub-Signature-256)
    access_token: SecretStr  # for sending
    phone_number_id: str = Field(pattern=r"^[0-9]{1,32}$")
    api_version: str = Field("v23.0", pattern=r"^v[0-9]+\.[0-9]+$")
    base_url: str = "https://graph.facebook.com"


class WeChatSettings(Section):
    """WeChat Official Account. Webhook: GET/POST <public_url>/webhooks/wechat."""

    token: SecretStr  # the Token of the account's server configuration
    app_id: str
    app_secret: SecretStr
    base_url: str = "https://api.weixin.qq.com"
    # The account's EncodingAESKey (43 characters): encrypted ("safe") mode, whose signature
    # covers the body; then plaintext pushes are refused. None: plaintext mode.
    encoding_aes_key: SecretStr | None = None
    # A push whose signed timestamp is further than this from our clock is refused (replays).
    max_clock_skew: float = Field(300.0, gt=0, le=86400)

    @field_validator("encoding_aes_key")
    @classmethod
    def _encoding_aes_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9+/]{43}", value.get_secret_value()):
            raise ValueError("an EncodingAESKey is 43 characters of base64 (letters, digits, + and /)")
        return value


class EmailSettings(SmtpRelay):
    """Email: our SMTP server receives, a smarthost sends (``SmtpRelay``'s settings)."""

    address: str  # our mailbox, e.g. support@example.com (From of replies)
    listen_host: str = "127.0.0.1"
    listen_port: int = Field(2525, ge=0, le=65535)  # 0: any free port (tests)
    max_message_size: int = Field(10 * 1024 * 1024, gt=0)


class OutboxSettings(Section):
    """Replies wait in the database until the provider takes them; retried with backoff."""

    retry_min_delay: float = Field(2.0, gt=0)
    retry_max_delay: float = Field(600.0, gt=0)
    max_attempts: int = Field(200, ge=1)  # at the maximum delay, about a day and a half
    request_timeout: float = Field(15.0, gt=0)
    batch: int = Field(20, ge=1, le=1000)


class MessagingSettings(Section):
    """Omnichannel messaging (docs/omnichannel.md). A channel without its section is disabled."""

    # How providers reach us (scheme://host[:port], no path): Twilio signs this URL.
    public_url: str = "http://127.0.0.1:8080"
    phone_region: str = Field("US", pattern=r"^[A-Z]{2}$")  # for numbers written without +country
    # Shared with the company's site: web-chat visitors present HMAC-SHA256(secret, user id).
    web_identity_secret: SecretStr | None = None
    conversation_idle_seconds: float = Field(24 * 3600, gt=0)
    # Group commit (docs/performance.md): while messages keep coming, the first of a write waits
    # this long for company, so that several share one commit (one fsync) instead of one each;
    # a message after a quiet spell is written at once. 0: never wait.
    group_commit_ms: float = Field(5.0, ge=0, le=100)
    # The web-chat widget asks the knowledge base's virtual agent first (public articles; a person
    # whenever the visitor asks or the answer is not confident: docs/knowledge-base.md).
    webchat_assistant: bool = False
    # The virtual agent's dialogue flows (docs/knowledge-base.md): a new conversation runs the chat
    # flow (of ivr.flows_dir) named for its customer's business line ("line:<name>"), else for its
    # queue ("<queue>"), else for its channel ("channel:<name>") before it is queued.
    bot_flows: Mapping[str, str] = Field(default_factory=dict)
    # Routing: the queue a new conversation goes to, per channel, else ``default_queue``; the
    # priority of a VIP customer's conversations.
    default_queue: str = Field("support", min_length=1)
    queues: Mapping[MessagingChannelName, str] = Field(default_factory=dict)
    vip_priority: int = Field(10, ge=0)
    outbox: OutboxSettings = OutboxSettings()
    # Retention (days after a closed conversation's last message) per customer's business line,
    # "default" for customers without one, else default_retention_days (None: kept until deleted).
    # Applied by the server's retention sweep (recordings.retention_sweep_seconds).
    retention_days: RetentionDays = Field(default_factory=dict)
    default_retention_days: int | None = Field(None, ge=1)
    twilio: TwilioSettings | None = None
    whatsapp: WhatsAppSettings | None = None
    wechat: WeChatSettings | None = None
    email: EmailSettings | None = None

    @field_validator("bot_flows")
    @classmethod
    def _bot_flows(cls, value: Mapping[str, str]) -> Mapping[str, str]:
        for key, flow in value.items():
            if not re.fullmatch(r"(line:|channel:)?[A-Za-z0-9_.:-]+", key):
                raise ValueError(f"{key!r} is not a queue, line:<business line> or channel:<channel>")
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", flow):
                raise ValueError(f"{flow!r} is not a flow name")
        return value

    @field_validator("public_url")
    @classmethod
    def _origin(cls, value: str) -> str:
        if not re.fullmatch(r"https?://[^/\s?#]+/?", value):
            raise ValueError(
                f"{value!r} must be scheme://host[:port] with no path (e.g. https://cc.example.com)"
            )
        return value.rstrip("/")

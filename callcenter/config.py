"""Configuration: one YAML file plus environment overrides, loaded once into a typed, frozen object.

Source order (later wins): built-in defaults < YAML file < environment < command-line overrides.
Environment variables are ``CALLCENTER_<SECTION>__<KEY>`` (double underscore between levels), e.g.
``CALLCENTER_ASTERISK__AMI_PORT=15038``. Only this module reads ``os.environ``; everything else is
handed a :class:`Settings`.

An invalid file stops start-up with :class:`ConfigError`, whose message names the file, the line when
it is known, the dotted key and the problem.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from callcenter.text_files import TextFileError, read_text_file

ENV_PREFIX = "CALLCENTER_"


class ConfigError(Exception):
    """The configuration cannot be used; the message says where and why."""


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


_HOSTNAME = re.compile(
    r"(?=.{1,253}\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?"
)


def ip_network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """An IPv4/IPv6 network from "10.0.0.0/8", "10.0.0.0/255.0.0.0", "fd00::/8" or an address.

    Raises ValueError with a readable message (also for host bits set: "10.0.0.5/8").
    """
    try:
        return ipaddress.ip_network(value.strip(), strict=True)
    except ValueError as err:
        detail = "" if "does not appear to be" in str(err) else f" ({err})"
        raise ValueError(f"{value!r} is not an IPv4 or IPv6 network{detail}") from None


def _check_network(value: str) -> str:
    ip_network(value)
    return value.strip()


#: A string that :func:`ip_network` accepts (validated item by item: errors name the index).
_Network = Annotated[str, AfterValidator(_check_network)]


class AsteriskSettings(_Section):
    """Where Asterisk is and how we reach it. All ports are configuration so instances can coexist."""

    host: str = "127.0.0.1"
    sip_port: int = Field(5060, ge=1, le=65535)
    rtp_port_start: int = Field(10000, ge=1024, le=65535)
    rtp_port_end: int = Field(10999, ge=1024, le=65535)
    ami_port: int = Field(5038, ge=1, le=65535)
    ami_username: str = "callcenter"
    ami_secret: SecretStr = SecretStr("callcenter-ami-secret")
    # Test credentials for the sandbox endpoints; production templates its own (see docs).
    agent_password: SecretStr = SecretStr("agentpass")
    trunk_username: str = "caller"
    trunk_password: SecretStr = SecretStr("callerpass")
    inbound_number: str = "5000"
    # Sandbox: a Debian sid root with Asterisk, cached outside the clone.
    sandbox_root: Path = Path("/var/cache/callcenter/asterisk-root")
    sandbox_instance: str = Field("default", pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    # AMI connection behaviour.
    action_timeout: float = Field(10.0, gt=0)
    reconnect_min_delay: float = Field(0.5, gt=0)
    reconnect_max_delay: float = Field(30.0, gt=0)
    # --- Asterisk's network configuration (rendered into manager.conf / pjsip.conf) ---------------
    # The address AMI listens on (manager.conf bindaddr): an IP address, not a name. None: ``host``.
    # In a container, bind it to the address on the network the server shares with Asterisk only.
    ami_bind_host: str | None = None
    # Networks allowed to log in to AMI (manager.conf permit=, after denying everything). Each is an
    # IPv4/IPv6 address or network: "10.0.0.5", "10.0.0.0/8" or "10.0.0.0/255.0.0.0" (host bits
    # must be zero). From the environment also as a comma-separated list. At least one.
    ami_permit: tuple[_Network, ...] = ("127.0.0.1/255.255.255.255",)
    # NAT (Asterisk in a container, or behind a router): the address phones and carriers reach
    # Asterisk at (an IP address or a DNS name), rendered into the PJSIP transport as
    # external_media_address and external_signaling_address; and the networks Asterisk reaches
    # without that NAT (local_net=: SIP and SDP towards them keep the local address). Each is
    # rendered only when set.
    external_address: str | None = None
    local_nets: tuple[_Network, ...] = ()

    @field_validator("ami_bind_host", "external_address", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        # An empty environment variable (CALLCENTER_ASTERISK__EXTERNAL_ADDRESS=) means "not set".
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("ami_permit", "local_nets", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        # "10.0.0.0/8, 192.168.0.0/16" (an environment variable) -> a list.
        if isinstance(value, str):
            return [part for part in re.split(r"[,\s]+", value) if part]
        return value

    @field_validator("ami_bind_host")
    @classmethod
    def _ip_address(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ipaddress.ip_address(value)
            except ValueError:
                raise ValueError(f"{value!r} is not an IPv4 or IPv6 address") from None
        return value

    @field_validator("ami_permit")
    @classmethod
    def _some_permit(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("at least one network must be permitted (else no one can log in)")
        return value

    @field_validator("external_address")
    @classmethod
    def _address_or_name(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            ipaddress.ip_address(value)
        except ValueError:
            if not _HOSTNAME.fullmatch(value) or value.rstrip(".").rsplit(".", 1)[-1].isdigit():
                raise ValueError(f"{value!r} is neither an IP address nor a DNS name") from None
        return value

    @model_validator(mode="after")
    def _rtp_range(self) -> AsteriskSettings:
        if self.rtp_port_end <= self.rtp_port_start:
            raise ValueError("rtp_port_end must be greater than rtp_port_start")
        return self


class AgiSettings(_Section):
    """Our FastAGI server; Asterisk's dialplan connects to it."""

    host: str = "127.0.0.1"
    port: int = Field(4573, ge=1, le=65535)


class HttpSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)


class DatabaseSettings(_Section):
    # SQLAlchemy async URL. SQLite file by default; postgresql+asyncpg://... for production.
    url: str = "sqlite+aiosqlite:///callcenter.db"


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "console"] = "json"


MessagingChannelName = Literal["webchat", "sms", "whatsapp", "wechat", "email"]


class AgentSettings(_Section):
    """An agent known to the server. ``extension`` is the PJSIP endpoint the agent's phone registers as."""

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    name: str = ""
    extension: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    queues: tuple[str, ...] = ("support",)
    # Logged in (and available) as soon as the phone registers; otherwise only through the API.
    auto_login: bool = True
    # Skill -> level (1 to 10) and spoken languages (codes such as "en", "fr"): routing needs.
    skills: Mapping[str, Annotated[int, Field(ge=1, le=10)]] = Field(default_factory=dict)
    languages: tuple[str, ...] = ()
    # Messaging (docs/acd.md, "Conversations"): how many conversations the agent holds at once, all
    # channels together (0: none); a lower limit for some channels (e.g. {email: 1}); whether new
    # chats are offered during a call, and calls while chats are open.
    max_chats: int = Field(3, ge=0, le=50)
    chat_capacity: Mapping[MessagingChannelName, Annotated[int, Field(ge=0, le=50)]] = Field(
        default_factory=dict
    )
    chat_while_on_call: bool = False
    call_while_chatting: bool = True


class AcdSettings(_Section):
    ring_timeout: float = Field(20.0, gt=0, le=300)
    wrap_up_seconds: float = Field(0.0, ge=0, le=3600)
    # A fixed IVR for the foundation: digit -> queue. The YAML IVR engine replaces this.
    menu: Mapping[str, str] = Field(default_factory=lambda: {"1": "support", "2": "sales"})
    menu_prompt: str = "callcenter/welcome-menu"
    menu_timeout: float = Field(6.0, gt=0)
    menu_attempts: int = Field(2, ge=1, le=10)
    # Queue definitions (skills, strategy, overflow, exits...), reloaded when the file changes.
    # None: every queue named in the menu or by agents routes longest-idle with no skill needed.
    queues_file: Path | None = None
    queues_reload_seconds: float = Field(2.0, gt=0, le=3600)
    # What agents serve, edited at runtime (docs/admin.md): queues, skills, languages and chat
    # capacity per agent id, over the values of ``agents``; written by /admin/agents, reloaded when
    # it changes (same interval as the queues file). None: agents are edited here only.
    agents_file: Path | None = None
    # How Asterisk dials a customer for a callback: {number} is the number they called from.
    # The sandbox's callers are its trunk's registered phones; production goes out through the
    # carrier trunk, e.g. "PJSIP/{number}@carrier".
    callback_dial: str = Field("PJSIP/{number}", pattern=r"^[A-Za-z0-9/@._:{}+-]+$")
    # Where a queue's voicemail exit (max wait reached) leaves the caller's message: box@context.
    exit_mailbox: str = Field("100@default", pattern=r"^[A-Za-z0-9_-]+@[A-Za-z0-9_-]+$")
    # Conversations (chats, SMS, WhatsApp, WeChat, email): seconds an offer stays on the agent's
    # screen; whether letting it time out pauses the agent; seconds an agent who declined is not
    # offered that conversation again; seconds a returning customer waits for their last agent;
    # the priority of a conversation transferred to a queue, and how long one transferred to an
    # agent waits for that agent before anyone in its queue may take it.
    offer_timeout: float = Field(30.0, gt=0, le=3600)
    pause_on_offer_timeout: bool = True
    decline_seconds: float = Field(60.0, ge=0, le=86400)
    sticky_seconds: float = Field(30.0, ge=0, le=86400)
    transfer_priority: int = Field(100, ge=0)
    transfer_agent_seconds: float = Field(60.0, ge=0, le=86400)
    # The agent panel: the reasons an agent picks from to pause; the disposition codes of the
    # wrap-up form (empty: the form asks for none and any code is taken).
    pause_reasons: tuple[str, ...] = ("break", "lunch", "training", "back office")
    dispositions: tuple[str, ...] = ("resolved", "follow-up", "escalated", "wrong number")
    # Blind transfer to an outside number: how Asterisk dials it ({number}), like callback_dial.
    transfer_dial: str = Field("PJSIP/{number}", pattern=r"^[A-Za-z0-9/@._:{}+-]+$")


class IvrSettings(_Section):
    """The YAML IVR. Without ``flows_dir`` the server runs the fixed menu of ``acd.menu``."""

    flows_dir: Path | None = None  # directory of flow files (*.yaml); e.g. "ivr_flows"
    entry_flow: str = Field("main", pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$")  # the flow calls start in
    # Our prompts: text-to-speech renders under <prompts_dir>/cc-tts/, recorded files beside. Asterisk
    # must be able to read this directory (sounds found here are played by absolute path).
    prompts_dir: Path = Path("prompts")
    # The same directory as Asterisk sees it, when that differs (the sandbox's chroot, a container):
    # e.g. prompts_dir /var/cache/callcenter/asterisk-root/var/lib/callcenter/prompts is
    # /var/lib/callcenter/prompts for the sandbox Asterisk. Unset: the same path.
    asterisk_prompts_dir: PurePosixPath | None = None
    # More directories a prompt's sound file may be in (Asterisk's own sounds) for the audio check.
    sound_dirs: tuple[Path, ...] = ()
    tts_voice: str = ""  # an espeak-ng voice variant (e.g. "f3"); "" is the language's default
    render_prompts: bool = True  # render missing text-to-speech prompts when flows are (re)loaded
    check_audio: bool = True  # refuse flows whose prompts have no audio file (see sound_dirs)
    reload_interval: float = Field(1.0, gt=0, le=3600)  # seconds between checks for edited flows


class ApiToken(_Section):
    name: str
    role: Literal["agent", "supervisor", "qa", "admin"]
    token: SecretStr = Field(min_length=16)
    # For role "agent": the agent this token acts as (an agent may only change its own state).
    agent_id: str | None = None
    # Business lines this token sees (see docs/security.md); unset: every line.
    lines: tuple[str, ...] | None = None


class SessionSettings(_Section):
    """Browser sessions (docs/security.md): server-side, in the database, behind a cookie."""

    idle_minutes: float = Field(30.0, gt=0, le=24 * 60)  # signed out after this long without a request
    absolute_hours: float = Field(12.0, gt=0, le=30 * 24)  # signed out this long after signing in
    # "auto": the cookie is Secure when the request came over https; "always" behind a TLS proxy.
    cookie_secure: Literal["auto", "always", "never"] = "auto"


class LoginThrottleSettings(_Section):
    """Failed sign-ins: some free attempts, then a lockout that doubles with each further failure."""

    free_attempts_per_user: int = Field(5, ge=1, le=100)
    free_attempts_per_address: int = Field(20, ge=1, le=10_000)
    first_lockout_seconds: float = Field(2.0, gt=0, le=3600)
    max_lockout_seconds: float = Field(900.0, gt=0, le=86400)
    forget_after_seconds: float = Field(3600.0, gt=0, le=7 * 86400)  # a quiet spell resets the count


class SecuritySettings(_Section):
    api_tokens: tuple[ApiToken, ...] = ()
    metrics_public: bool = True
    sessions: SessionSettings = SessionSettings()
    login_throttle: LoginThrottleSettings = LoginThrottleSettings()


class TwilioSettings(_Section):
    """SMS through Twilio. Webhook: POST <public_url>/webhooks/twilio/sms (inbound and statuses)."""

    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    auth_token: SecretStr
    from_number: str  # our Twilio number, E.164
    base_url: str = "https://api.twilio.com"
    status_callback: bool = True  # ask Twilio to report delivery to our webhook


class WhatsAppSettings(_Section):
    """WhatsApp Cloud API. Webhook: GET/POST <public_url>/webhooks/whatsapp."""

    verify_token: SecretStr  # chosen by us, typed into Meta's App Dashboard
    app_secret: SecretStr  # signs the webhooks (X-Hub-Signature-256)
    access_token: SecretStr  # for sending
    phone_number_id: str = Field(pattern=r"^[0-9]{1,32}$")
    api_version: str = Field("v23.0", pattern=r"^v[0-9]+\.[0-9]+$")
    base_url: str = "https://graph.facebook.com"


class WeChatSettings(_Section):
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


class EmailSettings(_Section):
    """Email: our SMTP server receives, a smarthost sends."""

    address: str  # our mailbox, e.g. support@example.com (From of replies)
    listen_host: str = "127.0.0.1"
    listen_port: int = Field(2525, ge=0, le=65535)  # 0: any free port (tests)
    max_message_size: int = Field(10 * 1024 * 1024, gt=0)
    smtp_host: str = "127.0.0.1"  # outbound relay
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_timeout: float = Field(30.0, gt=0)


class OutboxSettings(_Section):
    """Replies wait in the database until the provider takes them; retried with backoff."""

    retry_min_delay: float = Field(2.0, gt=0)
    retry_max_delay: float = Field(600.0, gt=0)
    max_attempts: int = Field(200, ge=1)  # at the maximum delay, about a day and a half
    request_timeout: float = Field(15.0, gt=0)
    batch: int = Field(20, ge=1, le=1000)


class MessagingSettings(_Section):
    """Omnichannel messaging (docs/omnichannel.md). A channel without its section is disabled."""

    # How providers reach us (scheme://host[:port], no path): Twilio signs this URL.
    public_url: str = "http://127.0.0.1:8080"
    phone_region: str = Field("US", pattern=r"^[A-Z]{2}$")  # for numbers written without +country
    # Shared with the company's site: web-chat visitors present HMAC-SHA256(secret, user id).
    web_identity_secret: SecretStr | None = None
    conversation_idle_seconds: float = Field(24 * 3600, gt=0)
    # Routing: the queue a new conversation goes to, per channel, else ``default_queue``; the
    # priority of a VIP customer's conversations.
    default_queue: str = Field("support", min_length=1)
    queues: Mapping[MessagingChannelName, str] = Field(default_factory=dict)
    vip_priority: int = Field(10, ge=0)
    outbox: OutboxSettings = OutboxSettings()
    twilio: TwilioSettings | None = None
    whatsapp: WhatsAppSettings | None = None
    wechat: WeChatSettings | None = None
    email: EmailSettings | None = None

    @field_validator("public_url")
    @classmethod
    def _origin(cls, value: str) -> str:
        if not re.fullmatch(r"https?://[^/\s?#]+/?", value):
            raise ValueError(
                f"{value!r} must be scheme://host[:port] with no path (e.g. https://cc.example.com)"
            )
        return value.rstrip("/")


class RedactPattern(_Section):
    """An identifier masked in transcripts before they are stored, as ``[LABEL]``."""

    label: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,31}$")
    regex: str

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as err:
            raise ValueError(f"invalid regular expression: {err}") from None
        return value


class LanguageModel(_Section):
    """The engine and model for calls in one language (``transcription.languages``)."""

    engine: Literal["pocketsphinx", "vosk"] = "vosk"
    model: Path | None = None  # vosk needs one; pocketsphinx's own model is US English


class TranscriptionSettings(_Section):
    """Offline transcription of recordings (``callcenter transcribe``, the transcription workers)."""

    enabled: bool = False  # transcribe recordings as they close (the server's worker pool)
    engine: Literal["pocketsphinx", "vosk"] = "pocketsphinx"
    model: Path | None = None  # a model directory; vosk needs one, pocketsphinx has its own
    language: str | None = None  # reported in transcripts; default: the engine's/model's
    # Per call language (the IVR's choice, the customer's record): {ko: {engine: vosk, model: DIR}}.
    # Calls in other languages, or with none, get the engine and model above.
    languages: Mapping[str, LanguageModel] = Field(default_factory=dict)
    workers: int = Field(1, ge=1, le=64)  # worker processes (each holds one engine)
    max_attempts: int = Field(3, ge=1, le=20)  # a job failing this often is marked failed
    phrases: tuple[str, ...] = ()  # domain words and phrases ("acme", "anything else")
    redact_cards: bool = True  # mask Luhn-valid card numbers, written or spoken
    # Also mask any run of this many digits or more, Luhn or not (recognisers drop digits); 0: off.
    redact_digit_runs: int = Field(14, ge=0, le=64)
    redact_patterns: tuple[RedactPattern, ...] = ()
    qa_rules: Path | None = None  # QA rules YAML (docs/qa.md); none: transcripts are not scored


class QaSettings(_Section):
    """Manual QA review (docs/qa.md)."""

    scorecards: Path | None = None  # scorecards YAML, e.g. scorecards.example.yaml; none: no reviews


class RecordingSettings(_Section):
    """Where recordings are kept, encrypted or not, and for how long."""

    directory: Path = Path("recordings")
    # Record answered calls (MixMonitor, caller and agent as separate tracks plus the mix); a queue
    # may opt out with ``record: false`` in the queues file.
    enabled: bool = True
    # Where Asterisk writes the files while a call is recorded, as this server sees the directory
    # and as Asterisk sees it (they differ for the sandbox's chroot or a container; the server must
    # be able to read it: same host or a shared volume). Unset with the sandbox: the instance's
    # spool/monitor.
    spool_dir: Path | None = None
    asterisk_spool_dir: PurePosixPath | None = None
    # After a call ends, wait until the files have not grown for this long before storing them.
    settle_seconds: float = Field(1.0, gt=0, le=60)
    # base64 of a 16, 24 or 32 byte key: recordings are encrypted at rest with AES-GCM.
    encryption_key: SecretStr | None = None
    # Days a recording is kept, per business line (the queue's `line`, else its name); others: the default.
    retention_days: Mapping[str, int] = Field(default_factory=dict)
    default_retention_days: int | None = Field(None, ge=1)  # None: kept until deleted

    @field_validator("encryption_key")
    @classmethod
    def _aes_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        import base64
        import binascii

        try:
            key = base64.b64decode(value.get_secret_value(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("must be base64 (e.g. from: openssl rand -base64 32)") from None
        if len(key) not in (16, 24, 32):
            raise ValueError(f"must decode to 16, 24 or 32 bytes, not {len(key)}")
        return value

    @field_validator("retention_days")
    @classmethod
    def _positive_days(cls, value: Mapping[str, int]) -> Mapping[str, int]:
        for line, days in value.items():
            if days < 1:
                raise ValueError(f"{line}: retention must be at least 1 day")
        return value


class RealtimeSettings(_Section):
    """Socket.IO (web chat and the agent panel): limits, the widget's origins, the node fan-out."""

    # Several server nodes: a Redis URL ("redis://127.0.0.1:6379/0") through which every node
    # reaches every socket and counts failed sign-ins. None: one node.
    redis_url: str | None = None
    channel: str = Field("callcenter-socketio", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")  # Redis pub/sub
    # Sites allowed to open the widget's socket ("https://www.example.com"). Empty: same origin only.
    cors_origins: tuple[str, ...] = ()
    # One event's payload; the transport drops a connection sending a packet over 4x this.
    max_message_bytes: int = Field(16 * 1024, ge=1024, le=1024 * 1024)
    max_text_chars: int = Field(4000, ge=1, le=100_000)  # one chat message
    events_per_second: float = Field(5.0, gt=0)  # per socket, sustained...
    burst: int = Field(20, ge=1, le=10_000)  # ...and in a burst
    # The widget's look (the embedding tag's data-* attributes override the title).
    widget_title: str = "Chat with us"

    @field_validator("redis_url", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("redis_url")
    @classmethod
    def _redis(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^rediss?://", value):
            raise ValueError(f"{value[:40]!r} must be a redis:// or rediss:// URL")
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part for part in re.split(r"[,\s]+", value) if part]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for origin in value:
            if origin != "*" and not re.fullmatch(r"https?://[^/\s?#]+", origin):
                raise ValueError(f"{origin!r} must be scheme://host[:port] with no path, or *")
        return value


class RuntimeSettings(_Section):
    """The Python runtime under the server (docs/performance.md, "Garbage collector")."""

    # Freeze long-lived objects so full collections scan only new ones (their pauses were the tail
    # of chat delivery); False: CPython's stock behaviour.
    gc_freeze: bool = True
    # With gc_freeze: how often everything is unfrozen and collected once (frees frozen garbage).
    gc_full_collection_seconds: float = Field(3600.0, ge=10.0)


def _default_agents() -> tuple[AgentSettings, ...]:
    return tuple(
        AgentSettings(id=str(n), name=f"Agent {n}", extension=str(n)) for n in range(1001, 1011)
    )


class Settings(_Section):
    asterisk: AsteriskSettings = AsteriskSettings()
    agi: AgiSettings = AgiSettings()
    http: HttpSettings = HttpSettings()
    database: DatabaseSettings = DatabaseSettings()
    logging: LoggingSettings = LoggingSettings()
    acd: AcdSettings = AcdSettings()
    agents: tuple[AgentSettings, ...] = Field(default_factory=_default_agents)
    security: SecuritySettings = SecuritySettings()
    ivr: IvrSettings = IvrSettings()
    messaging: MessagingSettings = MessagingSettings()
    transcription: TranscriptionSettings = TranscriptionSettings()
    recordings: RecordingSettings = RecordingSettings()
    qa: QaSettings = QaSettings()
    realtime: RealtimeSettings = RealtimeSettings()
    runtime: RuntimeSettings = RuntimeSettings()

    @model_validator(mode="after")
    def _unique_agents(self) -> Settings:
        seen: set[str] = set()
        for agent in self.agents:
            if agent.id in seen:
                raise ValueError(f"duplicate agent id {agent.id!r}")
            seen.add(agent.id)
        return self


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """``CALLCENTER_A__B=v`` -> ``{"a": {"b": "v"}}``. YAML-parsed so lists and numbers work."""
    tree: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name == ENV_PREFIX + "CONFIG":
            continue
        path = [part.lower() for part in name[len(ENV_PREFIX) :].split("__") if part]
        if not path:
            continue
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"environment {name}: conflicts with another override")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        # Secrets, identifiers and addresses stay strings even when they look like numbers (or,
        # like "::", like YAML mappings).
        keep_raw = isinstance(value, (int, float, list, dict)) and path[-1] in _STRING_KEYS
        node[path[-1]] = raw if keep_raw else value
    return tree


_STRING_KEYS = {
    "ami_secret",
    "agent_password",
    "trunk_password",
    "inbound_number",
    "token",
    "id",
    "extension",
    "host",
    "ami_bind_host",
    "external_address",
    "auth_token",
    "verify_token",
    "app_secret",
    "access_token",
    "phone_number_id",
    "app_id",
    "from_number",
    "smtp_password",
    "web_identity_secret",
    "encryption_key",
    "encoding_aes_key",
    "redis_url",
}


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the YAML node at ``loc`` (or of its nearest existing parent)."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == part:
                    line = key_node.start_mark.line + 1
                    node = value_node
                    break
            else:
                return line
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line



def parse_yaml(text: str, source: str, what: str) -> tuple[dict[str, Any], yaml.Node | None]:
    """Parse a YAML mapping, keeping its node tree so later errors can name a line.

    Raises ConfigError as ``source:line: invalid YAML: ...`` or ``source:1: <what> must be a mapping``.
    """
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        raise ConfigError(f"{where}: invalid YAML: {getattr(err, 'problem', err)}") from err
    except (ValueError, OverflowError, RecursionError) as err:
        # A scalar YAML cannot turn into a value (an integer over 4,300 digits, 2024-02-30, a
        # nesting too deep): name the first such node's line.
        line, stack = 1, [root] if isinstance(root, yaml.Node) else []
        while stack:
            node = stack.pop()
            if isinstance(node, yaml.ScalarNode):
                try:
                    yaml.SafeLoader("").construct_object(node)
                except (ValueError, OverflowError, yaml.YAMLError):
                    line = node.start_mark.line + 1
                    break
            elif isinstance(node, yaml.MappingNode):
                stack.extend(n for pair in reversed(node.value) for n in reversed(pair))
            elif isinstance(node, yaml.SequenceNode):
                stack.extend(reversed(node.value))
        problem = str(err).split("\n")[0][:120] or type(err).__name__
        raise ConfigError(f"{source}:{line}: invalid value: {problem}") from err
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}:1: {what} must be a mapping")
    return data, root


def validation_problems(err: ValidationError, root: yaml.Node | None, source: str) -> str:
    """A pydantic error as lines of ``source:line: dotted.key: problem``."""
    problems = []
    for error in err.errors():
        loc = tuple(error["loc"])
        key = ".".join(str(p) for p in loc) or "(top level)"
        line = line_of(root, loc) if root is not None else None
        where = f"{source}:{line}" if line else source
        problems.append(f"{where}: {key}: {error['msg'].removeprefix('Value error, ')}")
    return "\n".join(problems)


def load_settings(
    path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Load settings from ``path`` (optional), the environment and explicit overrides."""
    environ = os.environ if environ is None else environ
    if path is None and environ.get(ENV_PREFIX + "CONFIG"):
        path = environ[ENV_PREFIX + "CONFIG"]
    data: dict[str, Any] = {}
    root_node: yaml.Node | None = None
    source = "<defaults>"
    if path is not None:
        source = str(path)
        try:
            text = read_text_file(path, "the configuration")
        except TextFileError as err:
            raise ConfigError(str(err)) from err
        data, root_node = parse_yaml(text, source, "the configuration (sections)")
    data = _merge(data, _env_overrides(environ))
    if overrides:
        data = _merge(data, overrides)
    try:
        return Settings.model_validate(data)
    except ValidationError as err:
        raise ConfigError(validation_problems(err, root_node, source)) from err

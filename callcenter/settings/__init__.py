"""Configuration: one YAML file plus environment overrides, loaded once into a typed, frozen
:class:`Settings` (see :mod:`callcenter.settings.loader` for the source order and the errors).

One module per section: ``telephony`` (Asterisk, FastAGI, agents, ACD, IVR), ``server`` (HTTP,
database, logs, real-time, runtime), ``security``, ``messaging``, ``recording`` (recordings,
transcription, QA); ``settings`` puts them together; ``loader`` reads the file and the environment.
"""

from callcenter.settings.base import ENV_PREFIX, ConfigError, Network, Section, ip_network
from callcenter.settings.live import LiveSettings
from callcenter.settings.loader import line_of, load_settings, parse_yaml, validation_problems
from callcenter.settings.messaging import (
    EmailSettings,
    MessagingSettings,
    OutboxSettings,
    TwilioSettings,
    WeChatSettings,
    WhatsAppSettings,
)
from callcenter.settings.recording import (
    AdaptationSettings,
    LanguageModel,
    QaSettings,
    RecordingSettings,
    RedactPattern,
    TranscriptionSettings,
)
from callcenter.settings.report_mail import ReportMailSettings
from callcenter.settings.security import ApiToken, LoginThrottleSettings, SecuritySettings, SessionSettings
from callcenter.settings.server import (
    DatabaseSettings,
    HttpSettings,
    LoggingSettings,
    RealtimeSettings,
    RuntimeSettings,
)
from callcenter.settings.settings import Settings
from callcenter.settings.telephony import (
    AcdSettings,
    AgentSettings,
    AgiSettings,
    AsteriskServer,
    AsteriskSettings,
    IvrSettings,
    MessagingChannelName,
)

__all__ = [
    "ENV_PREFIX",
    "AcdSettings",
    "AdaptationSettings",
    "AgentSettings",
    "AgiSettings",
    "ApiToken",
    "AsteriskServer",
    "AsteriskSettings",
    "ConfigError",
    "DatabaseSettings",
    "EmailSettings",
    "HttpSettings",
    "IvrSettings",
    "LanguageModel",
    "LiveSettings",
    "LoggingSettings",
    "LoginThrottleSettings",
    "MessagingChannelName",
    "MessagingSettings",
    "Network",
    "OutboxSettings",
    "QaSettings",
    "RealtimeSettings",
    "RecordingSettings",
    "RedactPattern",
    "ReportMailSettings",
    "RuntimeSettings",
    "Section",
    "SecuritySettings",
    "SessionSettings",
    "Settings",
    "TranscriptionSettings",
    "TwilioSettings",
    "WeChatSettings",
    "WhatsAppSettings",
    "ip_network",
    "line_of",
    "load_settings",
    "parse_yaml",
    "validation_problems",
]

"""Configuration: one YAML file plus environment overrides, loaded once into a typed, frozen
:class:`Settings` (see :mod:`callcenter.config.loader` for the source order and the errors).

One module per section: ``telephony`` (Asterisk, FastAGI, agents, ACD, IVR), ``server`` (HTTP,
database, logs, real-time, runtime), ``security``, ``messaging``, ``recording`` (recordings,
transcription, QA); ``settings`` puts them together; ``loader`` reads the file and the environment.
"""

from callcenter.config.base import ENV_PREFIX, ConfigError, Network, Section, ip_network
from callcenter.config.loader import line_of, load_settings, parse_yaml, validation_problems
from callcenter.config.messaging import (
    EmailSettings,
    MessagingSettings,
    OutboxSettings,
    TwilioSettings,
    WeChatSettings,
    WhatsAppSettings,
)
from callcenter.config.recording import (
    LanguageModel,
    QaSettings,
    RecordingSettings,
    RedactPattern,
    TranscriptionSettings,
)
from callcenter.config.security import ApiToken, LoginThrottleSettings, SecuritySettings, SessionSettings
from callcenter.config.server import (
    DatabaseSettings,
    HttpSettings,
    LoggingSettings,
    RealtimeSettings,
    RuntimeSettings,
)
from callcenter.config.settings import Settings
from callcenter.config.telephony import (
    AcdSettings,
    AgentSettings,
    AgiSettings,
    AsteriskSettings,
    IvrSettings,
    MessagingChannelName,
)

__all__ = [
    "ENV_PREFIX",
    "AcdSettings",
    "AgentSettings",
    "AgiSettings",
    "ApiToken",
    "AsteriskSettings",
    "ConfigError",
    "DatabaseSettings",
    "EmailSettings",
    "HttpSettings",
    "IvrSettings",
    "LanguageModel",
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

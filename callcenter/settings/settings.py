"""The whole configuration: one frozen :class:`Settings` of every section."""

from __future__ import annotations

from pydantic import Field, model_validator

from callcenter.settings.base import Section
from callcenter.settings.live import LiveSettings
from callcenter.settings.messaging import MessagingSettings
from callcenter.settings.outbound import OutboundSettings
from callcenter.settings.recording import QaSettings, RecordingSettings, TranscriptionSettings
from callcenter.settings.report_mail import ReportMailSettings
from callcenter.settings.security import SecuritySettings
from callcenter.settings.server import (
    DatabaseSettings,
    HttpSettings,
    LoggingSettings,
    RealtimeSettings,
    RuntimeSettings,
)
from callcenter.settings.surveys import SurveysSettings
from callcenter.settings.telephony import (
    AcdSettings,
    AgentSettings,
    AgiSettings,
    AsteriskSettings,
    IvrSettings,
)
from callcenter.settings.tickets import TicketsSettings
from callcenter.settings.webhooks import WebhooksSettings


def _default_agents() -> tuple[AgentSettings, ...]:
    return tuple(AgentSettings(id=str(n), name=f"Agent {n}", extension=str(n)) for n in range(1001, 1011))


class Settings(Section):
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
    tickets: TicketsSettings = TicketsSettings()
    outbound: OutboundSettings = OutboundSettings()
    live: LiveSettings = LiveSettings()
    surveys: SurveysSettings = SurveysSettings()
    report_mail: ReportMailSettings = ReportMailSettings()
    webhooks: WebhooksSettings = WebhooksSettings()

    @model_validator(mode="after")
    def _unique_agents(self) -> Settings:
        seen: set[str] = set()
        for agent in self.agents:
            if agent.id in seen:
                raise ValueError(f"duplicate agent id {agent.id!r}")
            seen.add(agent.id)
        return self

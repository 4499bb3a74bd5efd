"""Settings of the server itself: HTTP, database, logs, real-time (Socket.IO, Redis), the runtime."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator

from callcenter.settings.base import Section, split_list


class HttpSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)


class DatabaseSettings(Section):
    # SQLAlchemy async URL. SQLite file by default; postgresql+asyncpg://... for production.
    url: str = "sqlite+aiosqlite:///callcenter.db"
    # Several nodes on one PostgreSQL: "auto" makes this node a candidate for routing owner
    # (docs/cluster.md); "off": it routes from the start, alone. SQLite: always its own owner.
    election: Literal["auto", "off"] = "auto"
    election_check_seconds: float = Field(1.0, ge=0.1, le=30.0)  # a slower check deposes the owner
    node: str = Field("", max_length=200)  # this node's name for the others; "" = host:http port
    # How often the routing owner brings the report tables up to date from the event log (docs/reports.md).
    reports_update_seconds: float = Field(60.0, ge=0.5, le=3600.0)


class LoggingSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "console"] = "json"


class RealtimeSettings(Section):
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
    # "Call me back" in the widget: callbacks go to this queue's callbacks campaign (docs/outbound.md,
    # "Scheduled callbacks"); empty: the widget does not offer it.
    widget_callback_queue: str = Field("", max_length=64)

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
        return split_list(value)

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for origin in value:
            if origin != "*" and not re.fullmatch(r"https?://[^/\s?#]+", origin):
                raise ValueError(f"{origin!r} must be scheme://host[:port] with no path, or *")
        return value


class RuntimeSettings(Section):
    """The Python runtime under the server (docs/performance.md, "Garbage collector")."""

    # Freeze long-lived objects so full collections scan only new ones (their pauses were the tail
    # of chat delivery); False: CPython's stock behaviour.
    gc_freeze: bool = True
    # With gc_freeze: how often everything is unfrozen and collected once (frees frozen garbage).
    gc_full_collection_seconds: float = Field(3600.0, ge=10.0)
    # With gc_freeze: a sweep also runs, at most once a minute, when the frozen objects have grown by
    # this fraction since the last one (garbage frozen in reference cycles stays proportional to
    # the live heap, as CPython's own full-collection rule keeps it).
    gc_sweep_growth: float = Field(0.25, gt=0.0)

"""The ``webhooks`` section: CRM webhook subscriptions and how deliveries are retried
(docs/webhooks.md)."""

from __future__ import annotations

import re

from pydantic import Field, SecretStr, field_validator, model_validator

from callcenter.core.webhooks.delivery import EVENTS
from callcenter.settings.base import Section

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class Subscription(Section):
    # Shown in the delivery log and the API; lower case letters, digits, '-' and '_'.
    name: str
    url: str = Field(pattern=r"^https?://[^\s]+$", max_length=2000)
    # Signs every body (HMAC-SHA256); never logged nor shown by the API.
    secret: SecretStr = Field(min_length=16)
    # Which events (core/webhooks/delivery.py EVENTS); "ticket.*" / "interaction.*" / "*" for all.
    events: tuple[str, ...] = ("*",)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError("use lower case letters, digits, '-' and '_' (at most 40)")
        return value

    @field_validator("events")
    @classmethod
    def _events(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        known = set(EVENTS) | {"*"} | {e.split(".")[0] + ".*" for e in EVENTS}
        unknown = [e for e in value if e not in known]
        if unknown:
            raise ValueError(f"unknown events {unknown}; known: {', '.join(EVENTS)}")
        return value

    def wants(self, event: str) -> bool:
        return any(e in ("*", event) or (e.endswith(".*") and event.startswith(e[:-1])) for e in self.events)


class WebhooksSettings(Section):
    subscriptions: tuple[Subscription, ...] = ()
    max_attempts: int = Field(8, ge=1, le=50)
    retry_min_delay: float = Field(5.0, gt=0, le=3600)  # doubling after each failed attempt...
    retry_max_delay: float = Field(3600.0, gt=0, le=86400)  # ...up to this
    timeout: float = Field(10.0, gt=0, le=120)  # one attempt's whole request
    poll_seconds: float = Field(1.0, gt=0, le=600)  # the owner looks for due deliveries this often
    # Delivered and failed deliveries (and their attempts) are deleted this long after they finished.
    keep_days: float = Field(30.0, gt=0, le=3650)

    @model_validator(mode="after")
    def _unique(self) -> WebhooksSettings:
        names = [s.name for s in self.subscriptions]
        if len(names) != len(set(names)):
            raise ValueError(f"duplicate subscription names in {names}")
        return self

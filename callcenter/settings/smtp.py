"""The relay that outgoing e-mail goes through; the sections that send e-mail extend it."""

from __future__ import annotations

from pydantic import Field, SecretStr

from callcenter.settings.base import Section


class SmtpRelay(Section):
    """Where outgoing e-mail goes (the settings sections that send e-mail extend this)."""

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_timeout: float = Field(30.0, gt=0)

"""Security settings: API tokens, browser sessions, sign-in throttling."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from callcenter.settings.base import Section


class ApiToken(Section):
    name: str
    # "crm": a CRM's token, which may only update mapped fields (docs/webhooks.md).
    role: Literal["agent", "supervisor", "qa", "admin", "crm"]
    token: SecretStr = Field(min_length=16)
    # For role "agent": the agent this token acts as (an agent may only change its own state).
    agent_id: str | None = None
    # Business lines this token sees (see docs/security.md); unset: every line.
    lines: tuple[str, ...] | None = None


class SessionSettings(Section):
    """Browser sessions (docs/security.md): server-side, in the database, behind a cookie."""

    idle_minutes: float = Field(30.0, gt=0, le=24 * 60)  # signed out after this long without a request
    absolute_hours: float = Field(12.0, gt=0, le=30 * 24)  # signed out this long after signing in
    # "auto": the cookie is Secure when the request came over https; "always" behind a TLS proxy.
    cookie_secure: Literal["auto", "always", "never"] = "auto"


class LoginThrottleSettings(Section):
    """Failed sign-ins: some free attempts, then a lockout that doubles with each further failure."""

    free_attempts_per_user: int = Field(5, ge=1, le=100)
    free_attempts_per_address: int = Field(20, ge=1, le=10_000)
    first_lockout_seconds: float = Field(2.0, gt=0, le=3600)
    max_lockout_seconds: float = Field(900.0, gt=0, le=86400)
    forget_after_seconds: float = Field(3600.0, gt=0, le=7 * 86400)  # a quiet spell resets the count


class SecuritySettings(Section):
    api_tokens: tuple[ApiToken, ...] = ()
    metrics_public: bool = True
    sessions: SessionSettings = SessionSettings()
    login_throttle: LoginThrottleSettings = LoginThrottleSettings()

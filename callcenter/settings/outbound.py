"""The ``outbound:`` section: campaigns' defaults and the dialler's rhythm (docs/outbound.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from callcenter.settings.base import Section


class OutboundSettings(Section):
    # Numbers in lists without a country code are read in this region (ISO 3166 code).
    phone_region: str = Field("US", pattern=r"^[A-Z]{2}$")
    # The regulation whose abandonment window a campaign uses unless it names one:
    # us (30 days, the TSR) or uk (24 hours, Ofcom).
    abandon_window: Literal["us", "uk"] = "us"
    pace_seconds: float = Field(1.0, gt=0, le=10)  # how often the owner's dialler paces
    poll_seconds: float = Field(2.0, gt=0, le=60)  # how often it reads campaigns, lists, DNC
    # How Asterisk dials a campaign's number: {number} is the E.164 number, {digits} the same
    # without "+", {trunk} the carrier's PJSIP endpoint (asterisk.trunk_username).
    dial: str = Field("PJSIP/{number}@{trunk}", pattern=r"^[A-Za-z0-9/@._:{}+-]+$")
    # An answered campaign call whose FastAGI session never reached the server within this long
    # (the server was unreachable) is counted as failed.
    answer_grace: float = Field(30.0, gt=0, le=300)
    # SMS bodies that put the sender's number on the do-not-call list (case-insensitive, trimmed).
    stop_words: tuple[str, ...] = ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT")
    # A callback at a time the customer picks may be at most this far ahead (docs/outbound.md).
    callback_max_days: float = Field(30.0, gt=0, le=365)

"""Live transcription settings (docs/qa.md, "Live transcription")."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from callcenter.settings.base import Section


class LiveSettings(Section):
    """Answered calls' audio forked to recognizer workers while the call runs. The recognizer's
    model, redaction and the QA rules are transcription's (``transcription.model``,
    ``redact_*``, ``qa_rules``)."""

    enabled: bool = False
    # The AudioSocket server Asterisk streams to (on the routing owner, which forks the calls).
    host: str = "127.0.0.1"
    port: int = Field(4575, ge=0, le=65535)  # 0: any free port (tests)
    # The address Asterisk connects to (host:port), when it is not host:port (a container, NAT).
    advertise: str | None = None
    workers: int = Field(1, ge=1, le=64)  # recognizer processes
    # Streams one worker takes (two per call: caller and agent); it holds a recognizer (about
    # 90 MB) per stream. Measured: bench/live_speech.py, docs/performance.md.
    streams_per_worker: int = Field(4, ge=1, le=256)
    # Calls of one queue transcribed live at once, unless the queue says (``live:`` in the queues
    # file); 0: none.
    calls_per_queue: int = Field(10, ge=0, le=10000)
    resampler: Literal["linear", "soxr"] = "linear"  # 8 -> 16 kHz, as offline by default
    partial_seconds: float = Field(0.5, ge=0, le=10)  # a partial result every so much speech; 0: none
    hold_seconds: float = Field(2.0, gt=0, le=30)  # a number still being said is shown after this silence

    @field_validator("advertise")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_.-]{1,200}:[0-9]{1,5}", value):
            raise ValueError(f"{value!r} is not host:port")
        return value

"""The ``surveys`` section (docs/reports.md, "Customer satisfaction")."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from callcenter.settings.base import Section


class SurveysSettings(Section):
    # The surveys file (questions per queue or business line: surveys.example.yaml); None: no
    # post-call or post-message surveys (the web chat's own rating is still stored).
    file: Path | None = None
    reload_seconds: float = Field(2.0, gt=0, le=3600)  # how often the file is checked for edits
    # The IVR survey after a call (the caller stays on the line when the agent hangs up).
    ivr_timeout_seconds: float = Field(8.0, gt=0, le=60)  # waiting for the caller's digit

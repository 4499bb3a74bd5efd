"""The ``report_mail:`` section: reports sent by e-mail on a schedule (docs/reports.md, "Reports by
e-mail"). The schedules themselves are in their own file (``schedules_file``), read at start."""

from __future__ import annotations

from pydantic import Field

from callcenter.settings.smtp import SmtpRelay


class ReportMailSettings(SmtpRelay):
    schedules_file: str | None = None  # None: no report is mailed
    from_address: str = "reports@localhost"
    check_seconds: float = Field(60.0, ge=0.05, le=3600)  # how often the routing owner looks for due runs
    max_attempts: int = Field(5, ge=1, le=100)  # a run whose mail keeps failing is given up after these
    catch_up: int = Field(7, ge=1, le=100)  # missed runs of one schedule sent after a stop, at most

"""When e-mailed reports are due and which period each reports (callcenter/reports/mail_schedule.py),
with the clock given: local times in a time zone with summer time, weekly runs, catch-up after a
stop; and the schedules file's errors as ``file:line: key: problem``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from callcenter.reports.mail_schedule import parse_schedules
from callcenter.settings import ConfigError


def ts(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


FILE = """\
schedules:
  paris-daily:
    report: queues
    at: "07:00"
    timezone: Europe/Paris
    recipients: [boss@example.com]
  weekly:
    report: adherence
    every: week
    weekday: monday
    at: "06:30"
    format: xlsx
    language: zh-CN
    recipients: [a@example.com, b@example.com]
    agent: ["1001"]
"""


def test_a_daily_run_follows_local_time_across_summer_time() -> None:
    daily, _ = parse_schedules(FILE, "mail.yaml")
    # Paris moves to summer time on 2026-03-29: 07:00 is 06:00Z before, 05:00Z after.
    dues = daily.dues(ts("2026-03-27T12:00"), ts("2026-03-31T12:00"))
    assert dues == [
        ts("2026-03-28T06:00"),
        ts("2026-03-29T05:00"),
        ts("2026-03-30T05:00"),
        ts("2026-03-31T05:00"),
    ]
    # The run of the 30th reports the local 29th, a day of 23 hours.
    assert daily.period(ts("2026-03-30T05:00")) == (ts("2026-03-28T23:00"), ts("2026-03-29T22:00"))
    assert daily.latest_due(ts("2026-03-30T04:59")) == ts("2026-03-29T05:00")
    assert daily.latest_due(ts("2026-03-30T05:00")) == ts("2026-03-30T05:00")
    assert daily.dues(ts("2026-03-30T05:00"), ts("2026-03-30T05:00")) == []
    assert daily.dues(ts("2026-03-30T05:00"), ts("2026-03-31T04:59")) == []  # due times are not repeated


def test_a_weekly_run_reports_the_seven_days_before_it() -> None:
    _, weekly = parse_schedules(FILE, "mail.yaml")
    assert (weekly.every, weekly.weekday, weekly.format, weekly.language) == ("week", 0, "xlsx", "zh-CN")
    assert weekly.agents == ("1001",) and weekly.recipients == ("a@example.com", "b@example.com")
    dues = weekly.dues(ts("2026-11-01T00:00"), ts("2026-12-01T00:00"))
    assert dues == [ts(f"2026-11-{d:02d}T06:30") for d in (2, 9, 16, 23, 30)]
    assert weekly.period(ts("2026-11-30T06:30")) == (ts("2026-11-23T00:00"), ts("2026-11-30T00:00"))
    assert weekly.latest_due(ts("2026-11-29T23:00")) == ts("2026-11-23T06:30")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("schedules:\n  x:\n    report: queues\n    timezone: Mars/Olympus\n    recipients: [a@b.c]\n",
         "mail.yaml:4: schedules.x.timezone: 'Mars/Olympus' is not a time zone (e.g. Europe/Paris, UTC)"),
        ("schedules:\n  x:\n    report: queues\n    timezone: " + "a" * 300 + "\n    recipients: [a@b.c]\n",
         "mail.yaml:4: schedules.x.timezone: '" + "a" * 300 + "' is not a time zone"),
        ("schedules:\n  x:\n    report: queues\n    at: '25:00'\n    recipients: [a@b.c]\n",
         "mail.yaml:4: schedules.x.at: String should match pattern"),
        ("schedules:\n  x:\n    report: queues\n    recipients: []\n",
         "mail.yaml:4: schedules.x.recipients: List should have at least 1 item"),
        ("schedules:\n  x:\n    report: queues\n    recipients: [not-an-address]\n",
         "mail.yaml:4: schedules.x.recipients.0: String should match pattern"),
        ("schedules:\n  x:\n    report: queues\n    by: agent\n    recipients: [a@b.c]\n",
         "mail.yaml:2: schedules.x: by: agent is for the conversations and fcr reports"),
        ("schedules:\n  x:\n    report: calls\n    recipients: [a@b.c]\n",
         "mail.yaml:3: schedules.x.report: Input should be"),
    ],
)  # fmt: skip
def test_bad_schedules_are_refused_with_file_line_and_key(text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_schedules(text, "mail.yaml")
    assert str(err.value).startswith(problem), str(err.value)

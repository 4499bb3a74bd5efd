"""Reports sent by e-mail (callcenter/reports/mailer.py) through a real SMTP exchange (aiosmtpd as
the relay, aiosmtplib sending), the runs recorded in SQLite and PostgreSQL: a due run sent once
with its CSV or XLSX attached, not again after a restart, a refused mail tried again, two nodes
looking at once sending one mail, the runs missed during a stop caught up; and the server sending
at start-up from its schedules file."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import Message
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from aiohttp.test_utils import TestClient, TestServer

from callcenter.app import DATABASE, create_app
from callcenter.core import notices as nt
from callcenter.core.interaction import EndedBy, Outcome
from callcenter.reports.mail_schedule import parse_schedules
from callcenter.reports.mailer import Mailer
from callcenter.settings import ReportMailSettings
from callcenter.storage.db import Database
from callcenter.storage.report_runs_store import ReportRunsStore
from callcenter.storage.reports_store import ReportsStore
from callcenter.storage.schedule_store import ScheduleStore
from tests.integration.test_api import auth, make_settings
from tests.integration.test_email import Relay
from tests.pg import new_database

DAY = 1_796_083_200  # 2026-12-01 00:00 UTC
SCHEDULES = """\
schedules:
  billing-daily:
    report: queues
    at: "07:00"
    interval: hour
    queue: [billing]
    recipients: [boss@acme.example, sup@acme.example]
  weekly-agents:
    report: agents
    every: week
    weekday: monday
    at: "06:00"
    interval: day
    format: xlsx
    language: zh-CN
    recipients: [hr@acme.example]
"""


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


@pytest.fixture
async def relay() -> AsyncIterator[Relay]:
    r = Relay()
    await r.start()
    yield r
    await r.stop()


class Node:
    """One server node's stores over the shared database, and its mailer."""

    def __init__(self, url: str, relay: Relay) -> None:
        self.reports = ReportsStore(url)
        self.shifts = ScheduleStore(url)
        self.runs = ReportRunsStore(url)
        settings = ReportMailSettings(
            from_address="reports@acme.example", smtp_port=relay.port, smtp_timeout=5
        )
        self.mailer = Mailer(
            settings, parse_schedules(SCHEDULES, "mail.yaml"), self.runs, self.reports, self.shifts
        )

    async def __aenter__(self) -> Node:
        for store in (self.reports, self.shifts, self.runs):
            await store.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        for store in (self.runs, self.shifts, self.reports):
            await store.stop()


def _attachment(message: Message) -> tuple[str, bytes]:
    parts = [p for p in message.walk() if p.get_filename()]
    assert len(parts) == 1
    payload = parts[0].get_payload(decode=True)
    assert isinstance(payload, bytes)
    return str(parts[0].get_filename()), payload


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_each_due_run_is_mailed_once(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, relay: Relay
) -> None:
    if backend == "postgresql":
        url = await new_database(request.getfixturevalue("postgres_url"), "mail")
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}"
    database = Database(url)
    await database.start()
    try:
        await database.write_batch(
            [
                nt.Queued("b1", DAY + 36000, "billing", "1", None, None),
                nt.Answered("b1", DAY + 36010, "1001"),
                nt.Ended("b1", DAY + 36130, Outcome.ANSWERED, EndedBy.AGENT),
                nt.Queued("s1", DAY + 36100, "support", "2", None, None),
                nt.AgentStateLogged("agent:1001", DAY + 35000, "1001", "available", ""),
            ]
        )
    finally:
        await database.stop()
    async with Node(url, relay) as node:
        await node.reports.rebuild(DAY, DAY + 86400, DAY + 86400)
        # 2026-12-02 07:30: the daily run of 07:00 is due (the 1st); the weekly one (Mondays) last
        # came on 2026-11-30 06:00: also due, for the week of 23-29 November.
        now = ts("2026-12-02T07:30")
        sent = await node.mailer.run_once(now)
        assert sent == [
            ("billing-daily", int(ts("2026-12-02T07:00")), "sent"),
            ("weekly-agents", int(ts("2026-11-30T06:00")), "sent"),
        ]
        assert len(relay.received) == 2
        daily = relay.received[0]
        assert daily["To"] == "boss@acme.example, sup@acme.example"
        assert daily["From"] == "reports@acme.example"
        assert daily["Subject"] == "Report billing-daily: queues, 2026-12-01"
        name, data = _attachment(daily)
        rows = list(csv.DictReader(io.StringIO(data.decode())))
        assert name == "billing-daily-2026-12-01.csv"
        assert [(r["start"], r["queue"], r["offered"], r["answered"]) for r in rows] == [
            ("2026-12-01T10:00Z", "billing", "1", "1")
        ]
        weekly = relay.received[1]
        subject = str(make_header(decode_header(weekly["Subject"])))
        assert subject == "报表 weekly-agents：坐席，2026-11-23/2026-11-29"  # noqa: RUF001
        name, data = _attachment(weekly)
        assert name == "weekly-agents-2026-11-23.xlsx"
        sheet = openpyxl.load_workbook(io.BytesIO(data)).active
        assert sheet is not None and sheet["A1"].value == "start"
        # Again, and after a restart: nothing more.
        assert await node.mailer.run_once(now + 60) == []
    async with Node(url, relay) as restarted:
        assert await restarted.mailer.run_once(now + 120) == []
        assert len(relay.received) == 2
        # The next day's run: the relay refuses it once; it is tried again at the next look.
        relay.refuse = 1
        tomorrow = ts("2026-12-03T07:00")
        failed = await restarted.mailer.run_once(tomorrow)
        assert failed == [("billing-daily", int(tomorrow), "SMTP 451: 4.3.0 busy")]
        assert await restarted.mailer.run_once(tomorrow + 60) == [("billing-daily", int(tomorrow), "sent")]
        runs = {(r.schedule, r.due): (r.status, r.attempts) for r in await restarted.runs.runs()}
        assert runs[("billing-daily", int(tomorrow))] == ("sent", 2)
        assert len(relay.received) == 3
    # Two nodes look at once (a change of routing owner): one mail.
    async with Node(url, relay) as one, Node(url, relay) as two:
        after = ts("2026-12-04T07:00")
        both = await asyncio.gather(one.mailer.run_once(after), two.mailer.run_once(after))
        assert sorted(len(b) for b in both) == [0, 1]
        assert len(relay.received) == 4
        # Down from the 4th to the 8th: the missed daily runs (5th to 8th) and Monday's weekly one.
        later = await one.mailer.run_once(ts("2026-12-08T09:00"))
        assert [(s, datetime.fromtimestamp(d, UTC).strftime("%m-%d")) for s, d, _ in later] == [
            ("billing-daily", "12-05"),
            ("billing-daily", "12-06"),
            ("billing-daily", "12-07"),
            ("billing-daily", "12-08"),
            ("weekly-agents", "12-07"),
        ]
        assert len(relay.received) == 9


async def test_the_server_mails_a_due_report_from_its_schedules_file(tmp_path: Path, relay: Relay) -> None:
    (tmp_path / "mail.yaml").write_text(
        "schedules:\n  nightly:\n    report: queues\n    at: '00:00'\n    recipients: [boss@acme.example]\n"
    )
    mail = {"schedules_file": str(tmp_path / "mail.yaml"), "smtp_port": relay.port, "check_seconds": 0.2}
    settings: Any = make_settings(tmp_path, report_mail=mail)
    async with TestClient(TestServer(create_app(settings))) as client:
        assert client.app[DATABASE] is not None
        for _ in range(100):  # at start the owner's job sends the run due at the last midnight
            if relay.received:
                break
            await asyncio.sleep(0.1)
        assert len(relay.received) == 1 and relay.received[0]["Subject"].startswith(
            "Report nightly: queues, "
        )
        await asyncio.sleep(0.5)  # a few more looks: no second mail
        assert len(relay.received) == 1
        metrics = await (await client.get("/metrics", headers=auth("admin"))).text()
        sent = re.search(r'^callcenter_report_mails_total\{outcome="sent"\} (\S+)$', metrics, re.MULTILINE)
        assert sent is not None and float(sent.group(1)) >= 1

"""``callcenter report backfill|queues|agents|fcr|conversations`` as a user runs it, on an SQLite
event log."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

from callcenter.core import notices as nt
from callcenter.core.interaction import Channel, EndedBy, Interaction, Outcome
from callcenter.storage.db import Database
from tests.tools import run_callcenter as run

DAY = 1_796_083_200  # 2026-12-01 00:00 UTC


async def _log(url: str) -> None:
    database = Database(url)
    await database.start()
    try:
        await database.write_batch(
            [
                nt.Queued("c1", DAY + 3600, "support", "1", None, None),  # 01:00
                nt.Answered("c1", DAY + 3612, "1001"),
                nt.Ended("c1", DAY + 3700, Outcome.ANSWERED, EndedBy.AGENT),
                nt.Queued("c2", DAY + 86400 + 7200, "support", "1", None, None),  # the next day, 02:00
                nt.Ended("c2", DAY + 86400 + 7230, Outcome.ABANDONED, EndedBy.CALLER),
                nt.AgentStateLogged("agent:1001", DAY + 3000, "1001", "available", ""),
                nt.AgentStateLogged("agent:1001", DAY + 6600, "1001", "logged_out", ""),
            ]
        )
    finally:
        await database.stop()


def test_backfill_then_reports_as_table_and_csv(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/cc.db"
    db = f"database.url={url}"
    asyncio.run(_log(url))
    result = run(
        "--set", db, "report", "backfill", "--from", "2026-12-01", "--to", "2026-12-02", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "2 day(s): 2 queue rows" in result.stdout and "backfill" in result.stderr  # the progress bar
    args = ["report", "queues", "--from", "2026-12-01", "--to", "2026-12-02", "--interval", "day"]
    table = run("--set", db, *args, cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:4] == ["start", "queue", "offered", "answered"]
    assert [line.split()[:4] for line in lines[1:]] == [
        ["2026-12-01T00:00Z", "support", "1", "1"],
        ["2026-12-02T00:00Z", "support", "1", "0"],
    ]
    rows = list(csv.DictReader(io.StringIO(run("--set", db, *args, "--format", "csv", cwd=tmp_path).stdout)))
    assert [(r["start"], r["asa"], r["abandoned"]) for r in rows] == [
        ("2026-12-01T00:00Z", "12.0", "0"),
        ("2026-12-02T00:00Z", "", "1"),
    ]
    agents = run(
        "--set",
        db,
        "report",
        "agents",
        "--from",
        "2026-12-01",
        "--to",
        "2026-12-01",
        "--interval",
        "hour",
        "--format",
        "csv",
        cwd=tmp_path,
    )
    seconds = {r["start"]: float(r["logged_in"]) for r in csv.DictReader(io.StringIO(agents.stdout))}
    assert seconds == {"2026-12-01T00:00Z": 600.0, "2026-12-01T01:00Z": 3000.0}  # 00:50 to 01:50


def test_a_report_written_as_an_excel_workbook(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    url = f"sqlite+aiosqlite:///{tmp_path}/cc.db"
    db = f"database.url={url}"
    asyncio.run(_log(url))
    assert run("--set", db, "report", "backfill", cwd=tmp_path).returncode == 0
    args = ["report", "queues", "--from", "2026-12-01", "--to", "2026-12-02", "--interval", "day"]
    refused = run("--set", db, *args, "--format", "xlsx", cwd=tmp_path)
    assert refused.returncode == 2 and "give --output FILE" in refused.stderr
    written = run("--set", db, *args, "--format", "xlsx", "--output", "q.xlsx", cwd=tmp_path)
    assert written.returncode == 0 and "2 row(s) written to q.xlsx" in written.stdout, written.stderr
    sheet = load_workbook(tmp_path / "q.xlsx").active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("start", "queue", "offered", "answered")
    assert [r[:4] for r in rows[1:]] == [
        ("2026-12-01T00:00Z", "support", 1, 1),
        ("2026-12-02T00:00Z", "support", 1, 0),
    ]


def test_bad_arguments_exit_2_with_the_reason(tmp_path: Path) -> None:
    db = f"database.url=sqlite+aiosqlite:///{tmp_path}/cc.db"
    result = run("--set", db, "report", "queues", "--from", "2026-13-01", "--to", "2026-12-01", cwd=tmp_path)
    assert result.returncode == 2 and "from:" in result.stderr and "Traceback" not in result.stderr
    result = run(
        "--set",
        db,
        "report",
        "fcr",
        "--from",
        "2026-12-01",
        "--to",
        "2026-12-01",
        "--days",
        "0",
        cwd=tmp_path,
    )
    assert result.returncode == 2 and "--days" in result.stderr and "Traceback" not in result.stderr
    result = run("--set", db, "report", "backfill", cwd=tmp_path)  # an empty log: nothing to do
    assert result.returncode == 0 and "empty" in result.stdout


async def _contacts(url: str) -> None:
    database = Database(url)
    await database.start()
    try:
        for interaction in (
            Interaction("v1", Channel.VOICE, "", DAY + 3600, queue="support", agent_id="1001",
                        answered_at=DAY + 3610, ended_at=DAY + 3700, customer_id="cust-1"),
            Interaction("w1", Channel.WHATSAPP, "", DAY + 7200, queue="support", agent_id="1002",
                        answered_at=DAY + 7260, ended_at=DAY + 9000, customer_id="cust-1",
                        conversation_id="conv-1"),
        ):  # fmt: skip
            await database.save_interaction(interaction)
    finally:
        await database.stop()


def test_first_contact_resolution_and_conversations(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/cc.db"
    db = f"database.url={url}"
    asyncio.run(_contacts(url))
    period = ["--from", "2026-12-01", "--to", "2026-12-01", "--interval", "day", "--format", "csv"]
    fcr = run("--set", db, "report", "fcr", *period, "--by", "channel", "--days", "1", cwd=tmp_path)
    assert fcr.returncode == 0, fcr.stderr
    rows = {r["channel"]: r for r in csv.DictReader(io.StringIO(fcr.stdout))}
    # The call was followed by a WhatsApp conversation an hour later: repeated on another channel.
    assert (rows["voice"]["repeated"], rows["voice"]["repeated_elsewhere"], rows["voice"]["fcr"]) == (
        "1",
        "1",
        "0.0",
    )
    assert (rows["whatsapp"]["resolved"], rows["whatsapp"]["fcr"]) == ("1", "1.0")
    talks = run("--set", db, "report", "conversations", *period, "--by", "agent", cwd=tmp_path)
    assert talks.returncode == 0, talks.stderr
    (row,) = csv.DictReader(io.StringIO(talks.stdout))
    assert (row["agent"], row["conversations"], row["resolved"], row["average_resolution"]) == (
        "1002", "1", "1", "1800.0"
    )  # fmt: skip


async def _surveys(url: str) -> None:
    from callcenter.core.surveys.model import Question, Response, Source
    from callcenter.storage.surveys_store import SurveyStore

    store = SurveyStore(url)
    await store.start()
    try:
        for n, (q, score) in enumerate([(Question.NPS, 10), (Question.NPS, 3), (Question.NPS, 8)]):
            asked = Response(
                f"r{n}", f"i{n}", "nps", q, Source.IVR, "voice", DAY + 3600 + n, "1001", "support"
            )
            await store.ask(asked, 6)
            await store.answer(asked.answered(score, DAY + 3700, 6))
    finally:
        await store.stop()


def test_survey_report(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/cc.db"
    asyncio.run(_surveys(url))
    period = ["--from", "2026-12-01", "--to", "2026-12-01", "--interval", "day", "--format", "csv"]
    shown = run("--set", f"database.url={url}", "report", "surveys", *period, "--by", "agent", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    (row,) = csv.DictReader(io.StringIO(shown.stdout))
    # One promoter, one passive, one detractor: NPS 0; the detractor (3 <= 6) is a low score.
    names = ("agent", "nps_answers", "promoters", "detractors", "nps", "low")
    assert [row[n] for n in names] == ["1001", "3", "1", "1", "0.0", "1"]

"""``callcenter schedule`` as a user runs it (a demand file, the configured roster, a real SQLite
database), and the schedule store on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path

import pytest

from callcenter.cli import main as cli
from callcenter.core import notices as nt
from callcenter.core.reports.adherence import Shift
from callcenter.storage.db import Database
from callcenter.storage.schedule_store import ScheduleStore
from tests.integration.test_planning_cli import _files
from tests.pg import new_database
from tests.tools import run_callcenter as run

MONDAY = 1_796_601_600  # 2026-12-07 00:00 UTC
HOUR = 3600


def test_schedule_a_demand_assign_it_to_the_roster_save_and_show_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    files = _files(tmp_path)  # billing 60/80 calls, support 40/40 calls, 08:00-10:00
    made = run(
        *files, "schedule", "--demand", "demand.yaml", "--shift-minutes", "240", "--break-minutes", "0",
        "--assign", "--save", "--format", "json", cwd=tmp_path,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    shifts_json, coverage_json = made.stdout.strip().splitlines()
    shifts = json.loads(shifts_json)
    coverage = [
        dict(zip(["start", "required", "scheduled", "difference"], r, strict=True))
        for r in json.loads(coverage_json)["rows"]
    ]
    needed = [c for c in coverage if c["required"]]
    assert [c["start"] for c in needed] == ["2026-12-07T08:00", "2026-12-07T09:00"]
    assert all(c["scheduled"] >= c["required"] for c in coverage)
    assert len(coverage) == 4  # a 4-hour shift covering 08:00-10:00 also works 2 hours nobody needs
    peak = max(c["required"] for c in coverage)
    assert len(shifts["rows"]) == peak  # 4-hour shifts with no break: the busiest hour's agents
    # The roster serving billing or support: 1001-1010 (agents file + settings); in id order.
    agents = [r[4] for r in shifts["rows"]]
    assert agents == sorted(agents) and agents[0] == "1001"
    assert "shift(s) stored for 1 day(s) from 2026-12-07" in made.stderr
    # The rest in-process (the same entry point; a process each costs seconds of imports).
    monkeypatch.chdir(tmp_path)
    code, out, _ = _call(capsys, *files, "schedule", "--show", "--from", "2026-12-07", "--to", "2026-12-07",
                         "--agent", "1001")  # fmt: skip
    assert code == 0 and len(out.strip().splitlines()) == 2 and "1001" in out.splitlines()[1]
    rules = ["--shift-minutes", "240", "--break-minutes", "0"]
    assert _call(capsys, *files, "schedule", "--demand", "demand.yaml", *rules, "--save")[0] == 0
    code, out, _ = _call(capsys, *files, "schedule", "--show", "--from", "2026-12-07", "--to", "2026-12-07",
                         "--format", "json")  # fmt: skip
    rows = json.loads(out)["rows"]
    assert len(rows) == peak and {r[4] for r in rows} == {None}  # replaced, not added; unassigned now


def _call(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli(["--set", "logging.level=WARNING", *argv])
    said = capsys.readouterr()
    return code, said.out, said.err


def test_schedule_refuses_bad_input_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # In-process (the command's own entry point; a process each costs seconds of imports).
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.yaml").write_text("queues:\n  q:\n    calls: [1, 2]\n    aht: fast\n")
    (tmp_path / "mail.yaml").write_text("schedules:\n  x:\n    report: queues\n    recipients: [nobody]\n")
    start = ["--start", "2026-12-07T08:00"]
    for argv, said in [
        (["schedule", "--required", "1,2", *start, "--shift-minutes", "50"],
         "schedule: shift_minutes: 50 is not a multiple of the 60-minute interval"),
        (["schedule", "--required", "1,two", *start],
         "schedule: --required '1,two': whole numbers of agents"),
        (["schedule"], "schedule: give --demand FILE, or --required N,N,... with --start"),
        (["schedule", "--demand", "bad.yaml"], "bad.yaml:4: queues.q.aht"),
        # A report schedules file that cannot be used stops `config check` (and `serve`) with file:line.
        (["--set", "report_mail.schedules_file=mail.yaml", "config", "check"],
         "mail.yaml:4: schedules.x.recipients.0: String should match"),
    ]:  # fmt: skip
        assert cli(["--set", "logging.level=WARNING", *argv]) == 2, argv
        assert said in capsys.readouterr().err, argv


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_the_store_replaces_a_period_and_reads_overlapping_shifts(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if backend == "postgresql":
        url = await new_database(request.getfixturevalue("postgres_url"), "schedules")
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}"
    store = ScheduleStore(url)
    await store.start()
    try:
        monday = [
            Shift(MONDAY + 8 * HOUR, MONDAY + 16 * HOUR, MONDAY + 12 * HOUR, MONDAY + 13 * HOUR, "1001"),
            Shift(MONDAY + 20 * HOUR, MONDAY + 24 * HOUR, agent=None),
        ]
        tuesday = [Shift(MONDAY + 32 * HOUR, MONDAY + 40 * HOUR, agent="1002")]
        assert await store.replace(MONDAY, MONDAY + 2 * 86400, monday + tuesday, "test") == 3
        assert await store.shifts(MONDAY, MONDAY + 2 * 86400) == monday + tuesday
        assert await store.shifts(MONDAY + 15 * HOUR, MONDAY + 21 * HOUR) == monday  # overlapping
        assert await store.shifts(MONDAY, MONDAY + 2 * 86400, ["1002"]) == tuesday
        other = [Shift(MONDAY + 9 * HOUR, MONDAY + 17 * HOUR, agent="1003")]
        await store.replace(MONDAY, MONDAY + 86400, other, "again")
        assert await store.shifts(MONDAY, MONDAY + 2 * 86400) == other + tuesday
        with pytest.raises(ValueError, match="outside the period replaced"):
            await store.replace(MONDAY, MONDAY + HOUR, other, "outside")
        with pytest.raises(ValueError, match="not on 15-minute boundaries"):
            await store.replace(MONDAY, MONDAY + 86400, [Shift(MONDAY + 60, MONDAY + HOUR)], "odd")
        assert await store.shifts(MONDAY, MONDAY + 2 * 86400) == other + tuesday  # nothing changed
    finally:
        await store.stop()


PAST = MONDAY - 7 * 86400  # 2026-11-30: adherence judges only what has happened


async def _states(url: str) -> None:
    database = Database(url)
    await database.start()
    try:
        await database.write_batch(
            [
                nt.AgentStateLogged("agent:1001", PAST + 8 * HOUR, "1001", "available", ""),
                nt.AgentStateLogged("agent:1001", PAST + 10 * HOUR, "1001", "paused", "coffee"),
                nt.AgentStateLogged("agent:1001", PAST + 10 * HOUR + 1800, "1001", "logged_out", ""),
            ]
        )
    finally:
        await database.stop()


def test_report_adherence_from_the_saved_schedule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    db = ["--set", f"database.url=sqlite+aiosqlite:///{tmp_path}/cc.db"]
    asyncio.run(_states(f"sqlite+aiosqlite:///{tmp_path}/cc.db"))
    # 1001 on 08:00-12:00 with no break: open 08:00-10:00, paused, then gone: 2 of 4 hours.
    rules = ["--shift-minutes", "240", "--break-minutes", "0", "--agents", "1001", "--save"]
    assert (
        _call(capsys, *db, "schedule", "--required", "1,1,1,1", "--start", "2026-11-30T08:00", *rules)[0] == 0
    )
    period = ["--from", "2026-11-30", "--to", "2026-11-30"]
    assert _call(capsys, *db, "report", "backfill", *period)[0] == 0
    code, out, err = _call(
        capsys, *db, "report", "adherence", *period, "--interval", "hour", "--format", "csv"
    )
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["start"][11:16], r["in_adherence_minutes"], r["adherence"]) for r in rows] == [
        ("08:00", "60.0", "1.0"),
        ("09:00", "60.0", "1.0"),
        ("10:00", "0.0", "0.0"),
        ("11:00", "0.0", "0.0"),
    ]

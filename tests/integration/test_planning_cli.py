"""``callcenter staffing``, ``callcenter simulate`` and ``callcenter forecast`` as a user runs them:
the real configuration files, a real SQLite database with report tables built by backfill."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import random
from pathlib import Path

from callcenter.core import notices as nt
from callcenter.core.interaction import EndedBy, Outcome
from callcenter.planning.demand import parse_demand
from callcenter.storage.db import Database
from tests.tools import run_callcenter as run

MONDAY = 1_796_601_600  # 2026-12-07 00:00 UTC

QUEUES = """\
queues:
  billing:
    skills: {billing: 3}
    service_level: {seconds: 20, target: 0.8}
  support:
    service_level: {seconds: 30, target: 0.8}
"""
AGENTS = """\
agents:
  "1001": {queues: [billing], skills: {billing: 3}}
  "1002": {queues: [billing], skills: {billing: 3}}
  "1003": {queues: [support, billing], skills: {billing: 1}}
"""
DEMAND = """\
interval_minutes: 60
start: 2026-12-07T08:00
queues:
  billing: {calls: [60, 80], aht: 180}
  support: {calls: [40, 40], aht: [200, 150], patience: 90}
"""


def test_staffing_for_one_load_and_for_a_demand_file(tmp_path: Path) -> None:
    one = run(
        "staffing",
        "--calls",
        "100",
        "--aht",
        "180",
        "--interval",
        "30m",
        "--shrinkage",
        "30%",
        "--format",
        "json",
        cwd=tmp_path,
    )
    assert one.returncode == 0, one.stderr
    table = json.loads(one.stdout)
    row = dict(zip(table["columns"], table["rows"][0], strict=True))
    assert (row["model"], row["agents"], row["scheduled"], row["service_level"]) == (
        "erlang_c",
        14,
        20,
        0.888,
    )
    (tmp_path / "demand.yaml").write_text(DEMAND)
    per = run("staffing", "--demand", "demand.yaml", "--format", "csv", cwd=tmp_path)
    assert per.returncode == 0, per.stderr
    rows = list(csv.DictReader(io.StringIO(per.stdout)))
    assert [(r["start"], r["queue"], r["model"]) for r in rows] == [
        ("2026-12-07T08:00Z", "billing", "erlang_c"),
        ("2026-12-07T09:00Z", "billing", "erlang_c"),
        ("2026-12-07T08:00Z", "support", "erlang_a"),
        ("2026-12-07T09:00Z", "support", "erlang_a"),
    ]
    assert int(rows[1]["agents"]) > int(rows[0]["agents"])  # 80 calls need more than 60
    assert all(float(r["service_level"]) >= 0.8 for r in rows)


def test_staffing_refuses_bad_input_with_the_reason(tmp_path: Path) -> None:
    half = run("staffing", "--calls", "100", cwd=tmp_path)
    assert half.returncode == 2 and "give --calls and --aht" in half.stderr
    (tmp_path / "bad.yaml").write_text("queues:\n  q:\n    calls: [1, 2]\n    aht: fast\n")
    bad = run("staffing", "--demand", "bad.yaml", cwd=tmp_path)
    assert bad.returncode == 2 and "bad.yaml:4: queues.q.aht" in bad.stderr, bad.stderr
    share = run("staffing", "--calls", "10", "--aht", "60", "--sl", "180%", cwd=tmp_path)
    assert share.returncode == 2 and "a share from 0 to 1" in share.stderr


def _files(tmp_path: Path) -> list[str]:
    (tmp_path / "queues.yaml").write_text(QUEUES)
    (tmp_path / "agents.yaml").write_text(AGENTS)
    (tmp_path / "demand.yaml").write_text(DEMAND)
    return ["--set", "acd.queues_file=queues.yaml", "--set", "acd.agents_file=agents.yaml"]


def test_simulate_the_configured_roster_and_add_agents(tmp_path: Path) -> None:
    files = _files(tmp_path)
    base = run(*files, "simulate", "--demand", "demand.yaml", "--format", "json", cwd=tmp_path)
    assert base.returncode == 0, base.stderr
    table = json.loads(base.stdout)
    rows = {r[0]: dict(zip(table["columns"], r, strict=True)) for r in table["rows"]}
    # 1001-1003 serve billing (the file's profiles); 1003-1010 serve support (1004-1010 keep the
    # settings' default queue).
    assert (rows["billing"]["agents"], rows["support"]["agents"]) == (3, 8)
    assert rows["billing"]["target"] == "0.8/20s" and rows["support"]["target"] == "0.8/30s"
    assert rows["billing"]["offered"] > 100 and rows["billing"]["service_level"] < 0.8
    assert "contact-hours simulated" in base.stderr
    more = run(
        *files,
        "simulate",
        "--demand",
        "demand.yaml",
        "--add",
        "billing:3=4",
        "--format",
        "json",
        cwd=tmp_path,
    )
    bigger = {r[0]: r for r in json.loads(more.stdout)["rows"]}
    assert bigger["billing"][1] == 7 and bigger["billing"][2] == rows["billing"]["offered"]  # same callers
    found = run(
        *files,
        "simulate",
        "--demand",
        "demand.yaml",
        "--search",
        "billing:3",
        "--intervals",
        "--format",
        "csv",
        cwd=tmp_path,
    )
    assert found.returncode == 0, found.stderr
    assert "agent(s) with billing:3 (joining billing) bring every queue to its target" in found.stderr
    lines = list(csv.DictReader(io.StringIO(found.stdout)))
    assert {r["start"] for r in lines} == {"all", "2026-12-07T08:00Z", "2026-12-07T09:00Z"}
    assert all(float(r["service_level"]) >= 0.8 for r in lines if r["start"] == "all")


def test_simulate_refuses_bad_arguments(tmp_path: Path) -> None:
    files = _files(tmp_path)
    for args, message in [
        (["--add", "billing"], "expected SKILL[:LEVEL]=N"),
        (["--search", "billing:99"], "a level from 1 to 10"),
        (["--target", "fast"], "expected SL/SECONDS"),
    ]:
        result = run(*files, "simulate", "--demand", "demand.yaml", *args, cwd=tmp_path)
        assert result.returncode == 2 and message in result.stderr, (args, result.stderr)


async def _log(url: str, days: int) -> None:
    rng = random.Random(3)
    notices: list[nt.Notice] = []
    n = 0
    for d in range(days):
        for _ in range(40 if d % 7 < 5 else 10):  # weekdays busier than weekends
            n += 1
            at = MONDAY + d * 86400 + rng.uniform(9 * 3600, 17 * 3600)
            notices += [
                nt.Queued(f"c{n}", at, "support", "1", None, None),
                nt.Answered(f"c{n}", at + 5, "1001"),
                nt.Ended(f"c{n}", at + 5 + rng.uniform(60, 300), Outcome.ANSWERED, EndedBy.AGENT),
            ]
    database = Database(url)
    await database.start()
    try:
        await database.write_batch(notices)
    finally:
        await database.stop()


def test_forecast_from_the_report_tables(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/cc.db"
    db = ["--set", f"database.url={url}"]
    asyncio.run(_log(url, 21))
    built = run(*db, "report", "backfill", "--from", "2026-12-07", "--to", "2026-12-27", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    args = ["forecast", "--start", "2026-12-28", "--days", "7", "--holdout-weeks", "1", "--interval", "hour"]
    summary = run(*db, *args, cwd=tmp_path)
    assert summary.returncode == 0, summary.stderr
    header, line = summary.stdout.splitlines()[:2]
    assert header.split() == [
        "queue",
        "method",
        "calls",
        "mean_aht",
        "backtest_weeks",
        "wape",
        "daily_wape",
        "aht_wape",
    ]
    queue, method, calls, *_rest = line.split()
    assert (queue, method) == ("support", "holt-winters") and 180 < float(calls) < 280
    demand_text = run(*db, *args, "--format", "demand", "--patience", "60", cwd=tmp_path).stdout
    assert "backtest on 1 held-back week(s): WAPE" in demand_text
    demand = parse_demand(demand_text, "forecast")
    assert demand.intervals == 7 * 24 and demand.queues[0].patience == 60
    night, morning = demand.queues[0].calls[2], demand.queues[0].calls[10]
    assert night < 0.5 < morning
    empty = run(
        "--set", f"database.url=sqlite+aiosqlite:///{tmp_path}/none.db", "db", "upgrade", cwd=tmp_path
    )
    assert empty.returncode == 0
    nothing = run("--set", f"database.url=sqlite+aiosqlite:///{tmp_path}/none.db", *args, cwd=tmp_path)
    assert nothing.returncode == 2 and "no history" in nothing.stderr

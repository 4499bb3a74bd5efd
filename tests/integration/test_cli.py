"""The command line as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "callcenter", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )


def test_invalid_configuration_stops_serve_with_file_line_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("http:\n  port: 99999\nasterisk:\n  ami_secret: s3cret-value\n  bogus: 1\n")
    result = run("--config", str(bad), "serve", cwd=tmp_path)
    assert result.returncode == 2
    assert f"{bad}:2: http.port:" in result.stderr
    assert f"{bad}:5: asterisk.bogus: Extra inputs are not permitted" in result.stderr
    assert "s3cret-value" not in result.stderr + result.stdout


def test_config_check_and_overrides(tmp_path: Path) -> None:
    assert run("config", "check", cwd=tmp_path).returncode == 0
    result = run("--set", "http.port=notaport", "config", "check", cwd=tmp_path)
    assert result.returncode == 2 and "http.port" in result.stderr
    result = run("--set", "nonsense", "config", "check", cwd=tmp_path)
    assert result.returncode == 2 and "KEY=VALUE" in result.stderr


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    result = run("--set", f"database.url=sqlite+aiosqlite:///{tmp_path}/x.db", "db", "upgrade", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    tables = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sqlite3; print(sqlite3.connect('{tmp_path}/x.db')"
            ".execute(\"select group_concat(name) from sqlite_master where type='table'\").fetchone()[0])",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "interactions" in tables and "events" in tables


def test_serve_refuses_a_broken_queue_file_with_file_line_key(tmp_path: Path) -> None:
    queues = tmp_path / "queues.yaml"
    queues.write_text("queues:\n  support:\n    announce_every: 3\n")
    result = run("--set", f"acd.queues_file={queues}", "serve", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{queues}:3: queues.support.announce_every:" in result.stderr

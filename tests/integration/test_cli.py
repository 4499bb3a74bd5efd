"""The command line as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.tools import run_callcenter as run


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


def test_user_add_list_passwd_disable(tmp_path: Path) -> None:
    db = f"database.url=sqlite+aiosqlite:///{tmp_path}/users.db"
    secret = "first-admin-password-42"

    def user(*args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
        return run("--set", db, "user", *args, cwd=tmp_path, stdin=password)

    added = user("add", "root", "--role", "admin", "--password-stdin", password=secret + "\n")
    assert added.returncode == 0, added.stderr
    assert "user root created" in added.stdout
    sup = user(
        "add", "bea", "--role", "supervisor", "--lines", "billing,sales", "--password-stdin", password=secret
    )
    assert sup.returncode == 0, sup.stderr
    assert user("add", "root", "--role", "qa", "--password-stdin", password=secret).returncode == 1
    no_agent = user("add", "amy", "--role", "agent", "--password-stdin", password=secret)
    assert no_agent.returncode == 2 and "agent_id" in no_agent.stderr
    short = user("add", "amy", "--role", "agent", "--agent-id", "1001", "--password-stdin", password="short")
    assert short.returncode == 2 and "password must be" in short.stderr
    # No terminal and no --password-stdin: refused, never a password from the command line.
    assert "use --password-stdin" in user("add", "zed", "--role", "qa", password="").stderr
    assert user("passwd", "bea", "--password-stdin", password="another-password-43").returncode == 0
    assert user("disable", "bea").returncode == 0
    listed = user("list")
    assert listed.returncode == 0
    rows = [line.split("\t") for line in listed.stdout.splitlines()]
    assert [(r[1], r[2], r[3], r[4]) for r in rows] == [
        ("bea", "supervisor", "billing,sales", "disabled"),
        ("root", "admin", "all lines", "active"),
    ]
    assert user("disable", "nobody").returncode == 2
    # The pages' language: at creation, changed later, back to the browser's; a language the pages
    # do not have is refused.
    li = user("add", "li", "--role", "qa", "--language", "zh-CN", "--password-stdin", password=secret)
    assert li.returncode == 0, li.stderr
    assert user("language", "root", "en").returncode == 0
    assert user("language", "li", "browser").stdout.strip() == "language of li: the browser"
    assert user("language", "li", "fr").returncode == 2
    assert (
        user("add", "zoe", "--role", "qa", "--language", "fr", "--password-stdin", password=secret).returncode
        == 2
    )
    languages = {r[1]: r[-1] for r in (line.split("\t") for line in user("list").stdout.splitlines())}
    assert languages == {"bea": "browser", "li": "browser", "root": "en"}
    for result in (added, sup, listed):
        assert secret not in result.stdout + result.stderr
    stored = (tmp_path / "users.db").read_bytes()
    assert secret.encode() not in stored and b"$argon2id$" in stored


def test_unreadable_files_are_refused_with_file_line_not_a_traceback(tmp_path: Path) -> None:
    """Issue 13 item 9: each of these gave a traceback (or exhausted memory) before."""
    cases = {
        "utf8.yaml": (b"http:\n  port: 8080\n  host: caf\xe9\n", ":3: not UTF-8 text"),
        "bigint.yaml": (b"http:\n  port: " + b"9" * 5000 + b"\n", ":2: invalid value"),
        "date.yaml": (b"asterisk:\n  ami_port: 5038\nrecordings:\n  key: 2026-02-30\n", ":4: invalid value"),
        "control.yaml": (b"http:\n  host: \x07bell\n", ":2: control character U+0007"),
        "surrogate.yaml": (b'http:\n  host: "\\ud800"\n', ":2: invalid value: an escaped surrogate"),
    }
    for name, (content, expected) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        result = run("--config", str(path), "config", "check", cwd=tmp_path)
        assert result.returncode == 2, (name, result.stderr)
        assert f"{path}{expected}" in result.stderr, (name, result.stderr)
        assert "Traceback" not in result.stderr, name
    result = run("--config", "/dev/zero", "config", "check", cwd=tmp_path)
    assert result.returncode == 2
    assert "/dev/zero: cannot read configuration: not a regular file" in result.stderr
    queues = tmp_path / "queues.yaml"
    queues.write_bytes(b"queues:\n  support:\n    max_wait: " + b"1" * 4400 + b"\n")
    result = run("--set", f"acd.queues_file={queues}", "config", "check", cwd=tmp_path)
    assert result.returncode == 2 and f"{queues}:3: invalid value" in result.stderr, result.stderr


def test_a_yaml_alias_that_contains_itself_is_answered(tmp_path: Path) -> None:
    """A recursive alias (&a [*a]) made the scalar walk loop forever (the fuzzer's agents target hung)."""
    path = tmp_path / "loop.yaml"
    path.write_text("http:\n  host: &a [*a]\n")
    result = run("--config", str(path), "config", "check", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr

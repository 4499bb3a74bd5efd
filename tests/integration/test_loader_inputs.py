"""The loaders refuse bad files with ``file:line: problem``, through the real CLI (issue 13,
"Authorization" 9): invalid UTF-8, an integer over 4,300 digits, an impossible date, a control
character and a path like /dev/zero used to give tracebacks (or exhaust memory)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.test_cli import run

BAD = {
    "utf8": (b"http:\n  port: 8080\nasterisk:\n  host: caf\xe9\n", 4, "not UTF-8 text"),
    "huge_int": (b"http:\n  port: " + b"9" * 5000 + b"\n", 2, "invalid value"),
    "impossible_date": (b"http:\n  port: 8080\n  since: 2024-02-30\n", 3, "invalid value"),
    "control": (b"http:\n  port: 8080\nasterisk:\n  host: a\x07b\n", 4, "control character U+0007"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_config_check_names_the_line(tmp_path: Path, name: str) -> None:
    content, line, problem = BAD[name]
    path = tmp_path / f"{name}.yaml"
    path.write_bytes(content)
    result = run("--config", str(path), "config", "check", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{path}:{line}: " in result.stderr and problem in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_a_device_is_not_read(tmp_path: Path) -> None:
    result = run("--config", "/dev/zero", "config", "check", cwd=tmp_path)
    assert result.returncode == 2
    assert "/dev/zero: cannot read configuration: not a regular file" in result.stderr
    queues = run("--set", "acd.queues_file=/dev/zero", "config", "check", cwd=tmp_path)
    assert queues.returncode == 2 and "Traceback" not in queues.stderr
    assert "/dev/zero: cannot read queues: not a regular file" in queues.stderr


def test_ivr_validate_names_the_line(tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "main.yaml").write_bytes(b"name: main\nstart: hello\nnodes:\n  hello: {say: caf\xe9}\n")
    result = run("ivr", "validate", str(flows), cwd=tmp_path)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "main.yaml:4:" in output and "not UTF-8 text" in output and "Traceback" not in output


@pytest.mark.parametrize(
    ("yaml_text", "line", "problem"),
    [
        ("database:\n  url: mysql://cc:secret@db/cc\n", 2, "database.url: unsupported database URL scheme"),
        ("realtime:\n  redis_url: redis://cache:notaport/0\n", 2, "realtime.redis_url: not a usable URL"),
        ("realtime:\n  redis_url: redis:///x\n", 2, "realtime.redis_url: not a usable URL"),
        ("ivr:\n  flows_dir: /nonexistent/flows\n", 2, "ivr.flows_dir: /nonexistent/flows is not a dir"),
        ("messaging:\n  web_identity_secret: x\n", 2, "messaging.web_identity_secret: too short"),
    ],
)
def test_config_check_refuses_what_cannot_work(
    tmp_path: Path, yaml_text: str, line: int, problem: str
) -> None:
    path = tmp_path / "cc.yaml"
    path.write_text(yaml_text)
    result = run("--config", str(path), "config", "check", cwd=tmp_path)
    assert result.returncode == 2, result.stdout
    assert f"{path}:{line}: {problem}" in result.stderr, result.stderr
    assert "secret@" not in result.stderr  # the database password is not echoed

from __future__ import annotations

import json
import logging
from pathlib import Path

import aiosqlite
import pytest

from callcenter.logs import JsonFormatter, configure


def test_json_lines_mask_secrets() -> None:
    record = logging.makeLogRecord(
        {
            "msg": "ami.login",
            "levelname": "INFO",
            "name": "x",
            "ami_secret": "hunter2",
            "user": "cc",
            "token": "abc",
        }
    )
    line = JsonFormatter().format(record)
    data = json.loads(line)
    assert data["event"] == "ami.login" and data["user"] == "cc"
    assert "hunter2" not in line and "abc" not in line.replace('"abc', "")
    assert data["ami_secret"] == "***" and data["token"] == "***"


async def test_a_server_at_debug_level_does_not_log_what_it_stores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """aiosqlite logs each statement with its parameters at debug level; aiosmtpd each SMTP
    command line at info level."""
    configure("DEBUG")
    logging.getLogger("callcenter.test").debug("still.debug")
    async with aiosqlite.connect(tmp_path / "x.db") as db:
        await db.execute("CREATE TABLE t (v TEXT)")
        await db.execute("INSERT INTO t VALUES (?)", ("my card is 4111 1111 1111 1111",))
        await db.commit()
    logging.getLogger("mail.log").info("%r >> %r", ("127.0.0.1", 5), b"RCPT TO:<someone@example.com>")
    err = capsys.readouterr().err
    assert "still.debug" in err  # our own debug lines are there
    assert "4111" not in err and "INSERT" not in err
    assert "someone@example.com" not in err

from __future__ import annotations

import json
import logging

from callcenter.logs import JsonFormatter


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

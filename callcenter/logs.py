"""Structured logs: one JSON object per line (or a readable line on a console).

Modules log an event name plus fields: ``log.info("ami.connected", extra={"host": h})``. Fields whose
name suggests a secret are masked here, whatever the caller passed, so secrets never reach logs.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_SECRET_KEY = re.compile(r"secret|password|passwd|token|authorization|cookie|api_key", re.I)
MASK = "***"


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in vars(record).items():
        if key in _STANDARD or key.startswith("_"):
            continue
        out[key] = MASK if _SECRET_KEY.search(key) else value
    return out


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        entry.update(_fields(record))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={v!r}" for k, v in _fields(record).items())
        line = (
            f"{time.strftime('%H:%M:%S', time.localtime(record.created))} "
            f"{record.levelname:<7} {record.getMessage()} {fields}"
        ).rstrip()
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure(level: str = "INFO", fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else ConsoleFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # panoramisk logs every reconnect attempt at error level; ours says it once, with context.
    logging.getLogger("callcenter.adapters.panoramisk").setLevel(logging.CRITICAL)
    logging.getLogger("panoramisk").setLevel(logging.CRITICAL)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # aiosqlite logs every statement with its parameters at debug level: chat text, customers,
    # notes and password hashes would reach the logs of a server run at DEBUG.
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)
    # aiosmtpd echoes each SMTP command line at info level (senders and recipients), and at debug
    # its replies and AUTH exchanges; the email channel logs what it received in its own words.
    logging.getLogger("mail.log").setLevel(logging.WARNING)

"""The providers' documented examples (copied from the shared channel reference into tests/data)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

DATA = Path(__file__).parent / "data" / "channels"


@dataclass(frozen=True)
class HttpExample:
    method: str
    path: str  # with the query string
    headers: dict[str, str]
    body: bytes

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))

    @property
    def form(self) -> list[tuple[str, str]]:
        return parse_qsl(self.body.decode(), keep_blank_values=True)


def http(name: str) -> HttpExample:
    data = (DATA / name).read_bytes()
    sep = b"\r\n" if b"\r\n" in data else b"\n"
    lines = [line for line in data.split(sep) if not line.startswith(b"#")]
    while lines and not lines[0].strip():
        lines.pop(0)
    blank = lines.index(b"") if b"" in lines else len(lines)
    head = b"\n".join(lines[:blank])
    body = sep.join(lines[blank + 1 :])
    request_line, *header_lines = head.decode().split("\n")
    method, path, _ = request_line.split(" ")
    headers = dict(h.split(": ", 1) for h in header_lines if h.strip())
    if "Content-Length" in headers:
        body = body[: int(headers["Content-Length"])]
    elif method == "GET":
        body = b""
    return HttpExample(method, path, headers, body)


def raw(name: str) -> bytes:
    return (DATA / name).read_bytes()


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text())

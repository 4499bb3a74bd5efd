"""FastAGI server: Asterisk connects here from ``AGI(agi://host:port/<route>)`` in the dialplan.

Result lines are parsed with panoramisk's ``parse_agi_result``; the connection handling is ours,
because panoramisk's loops forever on a peer that closes before sending its headers. Every read is
bounded in size and time, so a port scanner or a garbage sender costs one short-lived task, never the
server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from panoramisk.utils import parse_agi_result

from callcenter.aio import within

log = logging.getLogger(__name__)

MAX_HEADER_LINES = 100
MAX_LINE = 8192
HEADER_TIMEOUT = 5.0


class AgiHangup(Exception):
    """The channel hung up (or is dead): no further command can run on it."""


class AgiError(Exception):
    """Asterisk rejected a command or answered something we cannot read."""


@dataclass(frozen=True, slots=True)
class AgiResult:
    code: int
    result: str  # the value after ``result=`` ('' on timeouts)
    data: str  # the parenthesised extra, e.g. 'timeout'


class AgiChannel(Protocol):
    """One FastAGI session as the voice adapter uses it (live: :class:`AgiSession`; recorded or
    replayed: ``adapters/session_record.py``, ``adapters/session_replay.py``)."""

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def channel(self) -> str: ...

    @property
    def uniqueid(self) -> str: ...

    async def command(self, line: str, timeout: float | None = None) -> AgiResult: ...

    async def set_variable(self, name: str, value: str) -> None: ...


class AgiHeaders:
    """``channel`` and ``uniqueid``, read from the headers Asterisk sent at the session's start."""

    headers: Mapping[str, str]

    @property
    def channel(self) -> str:
        return self.headers.get("agi_channel", "")

    @property
    def uniqueid(self) -> str:
        return self.headers.get("agi_uniqueid", "")


class AgiSession(AgiHeaders):
    def __init__(
        self,
        headers: Mapping[str, str],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        command_timeout: float,
    ) -> None:
        self.headers = headers
        self._reader = reader
        self._writer = writer
        self._timeout = command_timeout

    async def command(self, line: str, timeout: float | None = None) -> AgiResult:
        if "\n" in line or "\r" in line:
            raise ValueError("an AGI command is one line")
        self._writer.write(line.encode() + b"\n")
        try:
            await self._writer.drain()
            while True:
                raw = await within(self._reader.readline(), timeout or self._timeout)
                if not raw:
                    raise AgiHangup("Asterisk closed the AGI connection")
                text = raw.decode("utf-8", "replace").rstrip("\r\n")
                if text == "HANGUP":
                    # Sent once when the channel hangs up; the command's own answer follows.
                    continue
                try:
                    parsed = parse_agi_result(text)
                except (ValueError, TypeError) as err:
                    raise AgiError(f"unreadable AGI answer {text[:80]!r}") from err
                if parsed.get("status_code") == 100:
                    continue
                break
        except (ConnectionError, TimeoutError) as err:
            raise AgiHangup(f"AGI connection failed during {line.split()[0]}: {err}") from err
        status = parsed.get("status_code")
        error = parsed.get("error")
        if status == 511 or error in ("AGIResultHangup", "AGIAppError"):
            raise AgiHangup(f"channel gone during {line.split()[0]}")
        if error is not None:
            raise AgiError(f"{line.split()[0]}: {error} {parsed.get('msg', '')}".strip())
        value, data = parsed.get("result", ("", ""))
        return AgiResult(code=int(status or 200), result=value, data=data)

    async def set_variable(self, name: str, value: str) -> None:
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        await self.command(f'SET VARIABLE {name} "{escaped}"')


Route = Callable[[AgiChannel], Awaitable[None]]


class AgiServer:
    def __init__(
        self, host: str, port: int, routes: Mapping[str, Route], command_timeout: float = 60.0
    ) -> None:
        self._host, self._port = host, port
        self._routes = dict(routes)
        self._command_timeout = command_timeout
        self._server: asyncio.Server | None = None
        self._sessions: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self._host, self._port, limit=MAX_LINE)
        log.info("agi.listening", extra={"host": self._host, "port": self.port})

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._sessions):
            task.cancel()
        if self._sessions:
            await asyncio.gather(*self._sessions, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._sessions.add(task)
        peer = writer.get_extra_info("peername")
        try:
            headers = await within(self._read_headers(reader), HEADER_TIMEOUT)
            if headers is None:
                log.warning("agi.bad_request", extra={"peer": str(peer)})
                return
            script = headers.get("agi_network_script", "").split("?", 1)[0]
            route = self._routes.get(script)
            if route is None:
                log.error("agi.unknown_route", extra={"route": script[:64], "peer": str(peer)})
                return
            session = AgiSession(headers, reader, writer, self._command_timeout)
            await route(session)
        except (TimeoutError, ConnectionError, asyncio.LimitOverrunError, ValueError) as err:
            log.warning("agi.connection_error", extra={"peer": str(peer), "error": repr(err)})
        except Exception:
            log.exception("agi.route_failed", extra={"peer": str(peer)})
        finally:
            self._sessions.discard(task)
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass

    @staticmethod
    async def _read_headers(reader: asyncio.StreamReader) -> dict[str, str] | None:
        headers: dict[str, str] = {}
        for _ in range(MAX_HEADER_LINES):
            raw = await reader.readline()
            if not raw:
                return None
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if not line:
                return headers if "agi_network_script" in headers else None
            name, sep, value = line.partition(": ")
            if not sep or not name.startswith("agi_"):
                return None
            headers[name] = value
        return None

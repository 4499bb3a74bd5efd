"""Recording a live Asterisk session: the port, the FastAGI sessions and the minted interaction ids,
written as they happen to a JSON-lines file (format and scrubbing: ``session_codec.py``).

:class:`SessionRecorder` wraps what the voice adapter is given: ``wrap(port)`` is a port that
records every event, connection change and action with its answer; ``wrap_routes(routes)`` records
every FastAGI session; ``new_id`` records the ids it mints. ``adapters/session_replay.py`` plays
such a file back. Each line is flushed when written, so a crash loses at most the line in flight.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Mapping
from pathlib import Path
from typing import IO, Any, TypeVar

from callcenter.asterisk import session_codec as codec
from callcenter.asterisk.agi import AgiChannel, AgiResult, Route
from callcenter.asterisk.ami_events import AmiEvent
from callcenter.asterisk.asterisk_port import (
    AsteriskPort,
    ChannelInfo,
    ConnectedHandler,
    DisconnectedHandler,
    EndpointInfo,
    EventHandler,
    Move,
    OriginateRequest,
    OriginateResult,
)

T = TypeVar("T")


class SessionRecorder:
    def __init__(self, out: IO[str], note: Mapping[str, str] | None = None) -> None:
        self.path: Path | None = None
        self._out = out
        self._started = time.monotonic()
        self._ids = 0
        self._sessions = 0
        header = {"format": codec.FORMAT, "version": codec.VERSION, "started_at": time.time()}
        self._write({**header, **(note or {})})

    @classmethod
    def in_directory(cls, directory: Path, note: Mapping[str, str] | None = None) -> SessionRecorder:
        """A new file ``session-<UTC time>-<random>.jsonl`` in ``directory`` (created if needed)."""
        directory.mkdir(parents=True, exist_ok=True)
        name = f"session-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{uuid.uuid4().hex[:6]}.jsonl"
        path = directory / name
        recorder = cls(path.open("w", encoding="utf-8"), {"file": name, **(note or {})})
        recorder.path = path
        return recorder

    def close(self) -> None:
        self._out.close()

    def _write(self, record: dict[str, Any]) -> None:
        self._out.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._out.flush()

    def record(self, kind: str, **fields: Any) -> None:
        if self._out.closed:
            return
        now = time.monotonic() - self._started
        self._write({"t": round(now, 4), "at": round(time.time(), 4), "kind": kind, **fields})

    async def call(self, lane: str, method: str, args: Mapping[str, object], answer: Awaitable[T]) -> T:
        """Record one call, await its answer, record that (or its error)."""
        self._ids += 1
        number = self._ids
        self.record("call", id=number, lane=lane, method=method, args=codec.encode(args))
        try:
            result = await answer
        except Exception as err:
            self.record("return", id=number, error=codec.encode_error(err))
            raise
        self.record("return", id=number, result=codec.encode(result))
        return result

    def input(self, event: object) -> None:
        """An engine event that did not come from Asterisk (replayed as such)."""
        self.record("input", event=codec.encode(event))

    def new_id(self) -> str:
        value = uuid.uuid4().hex
        self.record("id", value=value)
        return value

    def wrap(self, port: AsteriskPort) -> RecordingPort:
        return RecordingPort(port, self)

    def wrap_routes(self, routes: Mapping[str, Route]) -> dict[str, Route]:
        return {name: self._route(name, route) for name, route in routes.items()}

    def _route(self, name: str, route: Route) -> Route:
        async def recorded(session: AgiChannel) -> None:
            self._sessions += 1
            number = self._sessions
            self.record("agi_start", session=number, route=name, headers=codec.encode(session.headers))
            try:
                await route(RecordingAgiSession(session, self, number))
            finally:
                self.record("agi_end", session=number)

        return recorded


class RecordingAgiSession:
    def __init__(self, inner: AgiChannel, recorder: SessionRecorder, number: int) -> None:
        self._inner = inner
        self._recorder = recorder
        self._lane = f"agi{number}"

    @property
    def headers(self) -> Mapping[str, str]:
        return self._inner.headers

    @property
    def channel(self) -> str:
        return self._inner.channel

    @property
    def uniqueid(self) -> str:
        return self._inner.uniqueid

    async def command(self, line: str, timeout: float | None = None) -> AgiResult:
        args = {"line": line, "timeout": timeout}
        return await self._recorder.call(self._lane, "command", args, self._inner.command(line, timeout))

    async def set_variable(self, name: str, value: str) -> None:
        answer = self._inner.set_variable(name, value)
        await self._recorder.call(self._lane, "set_variable", {"name": name, "value": value}, answer)


class RecordingPort:
    """The port, with every event, connection change and action written to the recorder."""

    def __init__(self, inner: AsteriskPort, recorder: SessionRecorder) -> None:
        self._inner = inner
        self._rec = recorder
        # Subscribed first, so each event is written before anyone acts on it.
        inner.subscribe(self._on_event, self._on_connected, self._on_disconnected)

    def _on_event(self, event: AmiEvent) -> None:
        self._rec.record("event", event=codec.encode(event))

    async def _on_connected(self) -> None:
        self._rec.record("connected")

    def _on_disconnected(self) -> None:
        self._rec.record("disconnected")

    @property
    def connected(self) -> bool:
        return self._inner.connected

    async def start(self) -> None:
        await self._inner.start()

    async def stop(self) -> None:
        await self._inner.stop()

    async def wait_connected(self, timeout: float) -> bool:
        return await self._inner.wait_connected(timeout)

    def subscribe(
        self,
        on_event: EventHandler,
        on_connected: ConnectedHandler | None = None,
        on_disconnected: DisconnectedHandler | None = None,
    ) -> None:
        self._inner.subscribe(on_event, on_connected, on_disconnected)

    def _ami(self, method: str, args: Mapping[str, object], answer: Awaitable[T]) -> Awaitable[T]:
        return self._rec.call("ami", method, args, answer)

    async def originate(self, request: OriginateRequest) -> OriginateResult:
        return await self._ami("originate", {"request": request}, self._inner.originate(request))

    async def redirect(self, move: Move, extra: Move | None = None) -> None:
        await self._ami("redirect", {"move": move, "extra": extra}, self._inner.redirect(move, extra))

    async def hangup(self, channel: str, cause: int = 16) -> None:
        await self._ami("hangup", {"channel": channel, "cause": cause}, self._inner.hangup(channel, cause))

    async def set_var(self, channel: str, name: str, value: str) -> None:
        args = {"channel": channel, "name": name, "value": value}
        await self._ami("set_var", args, self._inner.set_var(channel, name, value))

    async def get_var(self, channel: str, name: str) -> str | None:
        args = {"channel": channel, "name": name}
        return await self._ami("get_var", args, self._inner.get_var(channel, name))

    async def mix_monitor_mute(self, channel: str, muted: bool, direction: str = "both") -> None:
        args = {"channel": channel, "muted": muted, "direction": direction}
        await self._ami("mix_monitor_mute", args, self._inner.mix_monitor_mute(channel, muted, direction))

    async def reload(self, module: str) -> None:
        await self._ami("reload", {"module": module}, self._inner.reload(module))

    async def channels(self) -> list[ChannelInfo]:
        return await self._ami("channels", {}, self._inner.channels())

    async def endpoints(self) -> list[EndpointInfo]:
        return await self._ami("endpoints", {}, self._inner.endpoints())

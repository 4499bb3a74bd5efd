"""A recorded Asterisk session played back: the same port, no Asterisk, deterministic.

:meth:`ReplayPort.run` walks the recording in order. Events and connection changes are delivered
to the subscribers; a FastAGI session is started on the given routes with a replayed session; a
recorded call waits until the code under test makes a call on the same lane (the AMI port, or that
FastAGI session), which must be the same method with the same (scrubbed) arguments, or the replay
stops with :class:`ReplayDivergence` saying which call was expected; the recorded answer (or error)
is given back when the recording reaches it. Calls the recording does not have are divergences too.
Time is the recording's: :meth:`clock` is the current record's wall-clock time, and minted
interaction ids come from the recording (:meth:`new_id`).
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from callcenter.asterisk import session_codec as codec
from callcenter.asterisk.agi import AgiHeaders, AgiResult, Route
from callcenter.asterisk.asterisk_port import (
    ChannelInfo,
    EndpointInfo,
    Move,
    OriginateRequest,
    OriginateResult,
    Subscribers,
)

CALL_WAIT = 5.0  # how long a recorded call waits for the code to make it


class ReplayDivergence(Exception):
    """The code under replay did not do what the recording did."""


class RecordingError(ValueError):
    """The file is not a recording we can play (``file:line: problem``)."""


@dataclass(slots=True)
class _Made:
    method: str
    args: Any  # encoded, scrubbed
    answer: asyncio.Future[Any]


def load(path: Path) -> tuple[dict[str, Any], list[tuple[int, dict[str, Any]]]]:
    """The header and the numbered records of a recording; a clear error on anything else."""
    header: dict[str, Any] | None = None
    records: list[tuple[int, dict[str, Any]]] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except ValueError as err:
                raise RecordingError(f"{path}:{number}: not JSON ({err})") from err
            if not isinstance(data, dict):
                raise RecordingError(f"{path}:{number}: a record is a JSON object")
            if header is None:
                if data.get("format") != codec.FORMAT:
                    raise RecordingError(f"{path}:{number}: not a {codec.FORMAT} recording")
                if data.get("version") != codec.VERSION:
                    raise RecordingError(
                        f"{path}:{number}: version {data.get('version')!r}, this server reads {codec.VERSION}"
                    )
                header = data
            elif not isinstance(data.get("kind"), str) or not isinstance(data.get("at"), (int, float)):
                raise RecordingError(f"{path}:{number}: a record needs a kind and a time (at)")
            else:
                records.append((number, data))
    if header is None:
        raise RecordingError(f"{path}:1: empty recording")
    return header, records


class ReplayAgiSession(AgiHeaders):
    def __init__(self, replay: ReplayPort, lane: str, headers: Mapping[str, str]) -> None:
        self._replay = replay
        self._lane = lane
        self.headers = dict(headers)

    async def command(self, line: str, timeout: float | None = None) -> AgiResult:
        result = await self._replay.made(self._lane, "command", {"line": line, "timeout": timeout})
        assert isinstance(result, AgiResult)
        return result

    async def set_variable(self, name: str, value: str) -> None:
        await self._replay.made(self._lane, "set_variable", {"name": name, "value": value})


class ReplayPort(Subscribers):
    def __init__(
        self,
        records: list[tuple[int, dict[str, Any]]],
        source: str = "recording",
        on_time: Callable[[float], None] | None = None,
        on_input: Callable[[Any], None] | None = None,
    ) -> None:
        """``on_time(at)``: called before each record with its time (e.g. to tick the engine);
        ``on_input(event)``: an engine event that did not come from Asterisk (``input`` records)."""
        super().__init__()
        self._records = records
        self._source = source
        self._on_time = on_time
        self._on_input = on_input
        self._now = float(records[0][1]["at"]) if records else 0.0
        self._ids = deque(str(r["value"]) for _, r in records if r["kind"] == "id")
        self._connected = False
        self._made: dict[str, deque[_Made]] = {}
        self._arrived = asyncio.Event()
        self._open: dict[int, _Made] = {}
        self._sessions: dict[int, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.calls_matched = 0

    @classmethod
    def from_file(
        cls,
        path: Path,
        on_time: Callable[[float], None] | None = None,
        on_input: Callable[[Any], None] | None = None,
    ) -> ReplayPort:
        _, records = load(path)
        return cls(records, str(path), on_time, on_input)

    # -- time and ids ------------------------------------------------------------------------------
    def clock(self) -> float:
        return self._now

    def new_id(self) -> str:
        if not self._ids:
            raise ReplayDivergence(f"{self._source}: a new interaction id, but the recording minted no more")
        return self._ids.popleft()

    # -- the port ----------------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._connected

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        await self._cancel_tasks()

    async def wait_connected(self, timeout: float) -> bool:
        return self._connected

    async def originate(self, request: OriginateRequest) -> OriginateResult:
        result = await self.made("ami", "originate", {"request": request})
        assert isinstance(result, OriginateResult)
        return result

    async def redirect(self, move: Move, extra: Move | None = None) -> None:
        await self.made("ami", "redirect", {"move": move, "extra": extra})

    async def hangup(self, channel: str, cause: int = 16) -> None:
        await self.made("ami", "hangup", {"channel": channel, "cause": cause})

    async def set_var(self, channel: str, name: str, value: str) -> None:
        await self.made("ami", "set_var", {"channel": channel, "name": name, "value": value})

    async def get_var(self, channel: str, name: str) -> str | None:
        value = await self.made("ami", "get_var", {"channel": channel, "name": name})
        return None if value is None else str(value)

    async def mix_monitor_mute(self, channel: str, muted: bool, direction: str = "both") -> None:
        args = {"channel": channel, "muted": muted, "direction": direction}
        await self.made("ami", "mix_monitor_mute", args)

    async def reload(self, module: str) -> None:
        await self.made("ami", "reload", {"module": module})

    async def channels(self) -> list[ChannelInfo]:
        return list(await self.made("ami", "channels", {}))

    async def endpoints(self) -> list[EndpointInfo]:
        return list(await self.made("ami", "endpoints", {}))

    async def made(self, lane: str, method: str, args: Mapping[str, object]) -> Any:
        """The code under replay makes a call: it waits for the recording's answer."""
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._made.setdefault(lane, deque()).append(_Made(method, codec.encode(args), answer))
        self._arrived.set()
        return await answer

    # -- playing the recording ---------------------------------------------------------------------
    async def run(self, routes: Mapping[str, Route] | None = None) -> None:
        """Play every record; raises :class:`ReplayDivergence` at the first difference."""
        try:
            for number, record in self._records:
                self._now = float(record["at"])
                if self._on_time is not None:
                    self._on_time(self._now)
                await self._play(f"{self._source}:{number}", record, routes or {})
                await _settle()
            await _settle()
            extra = [(lane, m) for lane, made in self._made.items() for m in made]
            if extra:
                lane, first = extra[0]
                raise ReplayDivergence(
                    f"{self._source}: the recording ended, but the code called"
                    f" {_call(first.method, first.args)} on {lane} ({len(extra)} not in the recording)"
                )
        except ReplayDivergence as err:
            for made in [*self._open.values(), *(m for q in self._made.values() for m in q)]:
                if not made.answer.done():
                    made.answer.set_exception(ReplayDivergence(str(err)))
            raise
        finally:
            await self._cancel_tasks()

    async def _play(self, where: str, record: dict[str, Any], routes: Mapping[str, Route]) -> None:
        match record["kind"]:
            case "connected":
                self._connected = True
                for on_connected in self._on_connected:
                    self._spawn(on_connected())
            case "disconnected":
                self._connected = False
                self._disconnected()
            case "event":
                self._deliver(codec.decode(record["event"]))
            case "call":
                self._open[int(record["id"])] = await self._expect(where, record)
            case "return":
                made = self._open.pop(int(record["id"]), None)
                if made is None:
                    raise ReplayDivergence(f"{where}: an answer to call {record['id']}, which was not made")
                if "error" in record:
                    made.answer.set_exception(codec.decode_error(record["error"]))
                else:
                    made.answer.set_result(codec.decode(record.get("result")))
            case "agi_start":
                route = routes.get(str(record.get("route", "")))
                if route is None:
                    raise ReplayDivergence(f"{where}: a FastAGI session on route {record.get('route')!r}")
                number = int(record["session"])
                session = ReplayAgiSession(self, f"agi{number}", codec.decode(record.get("headers", {})))
                self._sessions[number] = self._spawn(route(session))
            case "agi_end":
                await self._session_ended(where, int(record["session"]))
            case "input":
                if self._on_input is not None:
                    self._on_input(codec.decode(record["event"]))
            case "id":
                pass
            case other:
                raise ReplayDivergence(f"{where}: unknown record kind {other!r}")

    async def _expect(self, where: str, record: dict[str, Any]) -> _Made:
        lane, method, args = str(record["lane"]), str(record["method"]), record.get("args")
        expected = _call(method, args)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CALL_WAIT
        while not self._made.get(lane):
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                raise ReplayDivergence(
                    f"{where}: expected {expected} on {lane}, but the code made no call"
                ) from None
        made = self._made[lane].popleft()
        if made.method != method or made.args != args:
            got = _call(made.method, made.args)
            made.answer.set_exception(ReplayDivergence(f"{where}: expected {expected}"))
            raise ReplayDivergence(f"{where}: expected {expected} on {lane}, got {got}")
        self.calls_matched += 1
        return made

    async def _session_ended(self, where: str, number: int) -> None:
        task = self._sessions.pop(number, None)
        if task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), CALL_WAIT)
        except TimeoutError:
            message = f"{where}: FastAGI session {number} ended in the recording, not here"
            raise ReplayDivergence(message) from None
        except ReplayDivergence:
            raise
        except Exception:  # as on the FastAGI server: a route's error ends only its session
            pass

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _cancel_tasks(self) -> None:
        pending = [t for t in self._tasks if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


async def _settle() -> None:
    """Let the tasks the last record woke run as far as they can without the recording."""
    for _ in range(20):
        await asyncio.sleep(0)


def _call(method: str, args: Any) -> str:
    text = json.dumps(args, separators=(",", ":"), sort_keys=True)
    return f"{method}({text[:300]}{'...' if len(text) > 300 else ''})"

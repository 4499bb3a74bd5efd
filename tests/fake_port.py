"""A fake of our own Asterisk port (callcenter/asterisk/asterisk_port.py) for unit tests: it keeps
what it was asked, answers from what the test put in, and refuses what the test says to refuse."""

from __future__ import annotations

from typing import Any

from callcenter.asterisk.ami_events import AmiEvent
from callcenter.asterisk.asterisk_port import (
    AmiError,
    ChannelInfo,
    EndpointInfo,
    Move,
    OriginateRequest,
    OriginateResult,
    Subscribers,
)


class FakePort(Subscribers):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, Any]] = []  # (method, arguments) of the typed methods
        self.refuse: set[str] = set()  # method names that raise AmiError
        self.live: list[ChannelInfo] = []
        self.known: list[EndpointInfo] = []
        self.originated = OriginateResult("answered")
        self.connected = True

    def _call(self, method: str, args: Any) -> None:
        self.calls.append((method, args))
        if method in self.refuse:
            raise AmiError(f"{method} refused")

    def emit(self, event: AmiEvent) -> None:
        self._deliver(event)

    async def start(self) -> None:
        for handler in self._on_connected:
            await handler()

    async def stop(self) -> None:
        pass

    async def wait_connected(self, timeout: float) -> bool:
        return self.connected

    async def originate(self, request: OriginateRequest) -> OriginateResult:
        self._call("originate", request)
        return self.originated

    async def redirect(self, move: Move, extra: Move | None = None) -> None:
        self._call("redirect", (move, extra))

    async def hangup(self, channel: str, cause: int = 16) -> None:
        self._call("hangup", channel)

    async def set_var(self, channel: str, name: str, value: str) -> None:
        self._call("set_var", (channel, name, value))

    async def get_var(self, channel: str, name: str) -> str | None:
        self._call("get_var", (channel, name))
        return None

    async def mix_monitor_mute(self, channel: str, muted: bool, direction: str = "both") -> None:
        self._call("mix_monitor_mute", (channel, muted))

    async def reload(self, module: str) -> None:
        self._call("reload", module)

    async def channels(self) -> list[ChannelInfo]:
        self._call("channels", None)
        return list(self.live)

    async def endpoints(self) -> list[EndpointInfo]:
        self._call("endpoints", None)
        return list(self.known)

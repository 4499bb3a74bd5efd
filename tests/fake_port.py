"""A fake of our own Asterisk port (callcenter/asterisk/asterisk_port.py) for unit tests: it keeps
what it was asked, answers from what the test put in, and refuses what the test says to refuse."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from callcenter.asterisk.ami_events import AmiEvent
from callcenter.asterisk.asterisk_port import (
    AmiError,
    ChannelInfo,
    ConnectedHandler,
    DisconnectedHandler,
    EndpointInfo,
    EventHandler,
    Move,
    OriginateRequest,
    OriginateResult,
)


class FakePort:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []  # (method, arguments) of the typed methods
        self.sent: list[dict[str, Any]] = []  # raw actions (the call-control section)
        self.refuse: set[str] = set()  # method names, or raw action names, that raise AmiError
        self.live: list[ChannelInfo] = []
        self.known: list[EndpointInfo] = []
        self.originated = OriginateResult("answered")
        self.connected = True
        self.on_event: list[EventHandler] = []
        self.on_connected: list[ConnectedHandler] = []
        self.on_disconnected: list[DisconnectedHandler] = []

    def _call(self, method: str, args: Any) -> None:
        self.calls.append((method, args))
        if method in self.refuse:
            raise AmiError(f"{method} refused")

    def emit(self, event: AmiEvent) -> None:
        for handler in self.on_event:
            handler(event)

    async def start(self) -> None:
        for handler in self.on_connected:
            await handler()

    async def stop(self) -> None:
        pass

    async def wait_connected(self, timeout: float) -> bool:
        return self.connected

    def subscribe(
        self,
        on_event: EventHandler,
        on_connected: ConnectedHandler | None = None,
        on_disconnected: DisconnectedHandler | None = None,
    ) -> None:
        self.on_event.append(on_event)
        if on_connected is not None:
            self.on_connected.append(on_connected)
        if on_disconnected is not None:
            self.on_disconnected.append(on_disconnected)

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

    async def channels(self) -> list[ChannelInfo]:
        self._call("channels", None)
        return list(self.live)

    async def endpoints(self) -> list[EndpointInfo]:
        self._call("endpoints", None)
        return list(self.known)

    async def action(
        self,
        fields: Mapping[str, str | list[str]],
        *,
        as_list: bool | None = None,
        timeout: float | None = None,
    ) -> Any:
        self.sent.append(dict(fields))
        if fields["Action"] in self.refuse:
            raise AmiError(f"{fields['Action']} refused")
        return [{"Response": "Success"}] if as_list else {"Response": "Success"}

    def actions(self) -> list[str]:
        return [str(f["Action"]) for f in self.sent]

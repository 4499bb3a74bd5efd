"""The Asterisk port: what the voice path asks of Asterisk, and what it hears back, typed.

Everything that crosses it is a frozen dataclass; raw AMI messages stop at its implementations:
:class:`callcenter.asterisk.ami.AmiClient` (live, over panoramisk),
:class:`callcenter.asterisk.session_record.RecordingPort` (live, and written to a file) and
:class:`callcenter.asterisk.session_replay.ReplayPort` (a recorded session played back, no Asterisk).

Errors: every method raises :class:`AmiError` (or a subclass) when Asterisk refuses or cannot be
reached; a call that Asterisk dialled and that was not answered is not an error but an
:class:`OriginateResult` with its reason.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from callcenter.asterisk.ami_events import AmiEvent
from callcenter.errors import AsteriskError


class AmiError(AsteriskError):
    """An action failed: Asterisk refused it, or could not be asked."""


class AmiNotConnected(AmiError):
    pass


class AmiAuthError(AmiError):
    pass


class AmiTimeout(AmiError):
    pass


@dataclass(frozen=True, slots=True)
class Dialplan:
    """A place in the dialplan: ``context,exten,priority``."""

    context: str
    exten: str = "s"
    priority: int = 1


@dataclass(frozen=True, slots=True)
class Application:
    """A dialplan application run on the answered channel (e.g. ``ChanSpy``)."""

    name: str
    data: str = ""


@dataclass(frozen=True, slots=True)
class OriginateRequest:
    """Ring ``endpoint`` (e.g. ``PJSIP/1001``) and, once answered, run ``target`` on it.

    ``channel_id``: the new channel's uniqueid, chosen by us, so its events map back without
    guessing. ``wait``: True waits for the outcome (answered, or why not); False returns as soon as
    Asterisk has queued the call.
    """

    endpoint: str
    target: Dialplan | Application
    ring_timeout: float
    channel_id: str | None = None
    caller_id: str = ""
    variables: Mapping[str, str] = field(default_factory=dict)
    wait: bool = True


OriginateStatus = Literal["answered", "failed", "queued"]


@dataclass(frozen=True, slots=True)
class OriginateResult:
    status: OriginateStatus
    reason: str = ""  # why it failed, in words
    code: str = ""  # Asterisk's Reason code of the OriginateResponse

    @property
    def answered(self) -> bool:
        return self.status == "answered"


@dataclass(frozen=True, slots=True)
class Move:
    """One channel sent to a place in the dialplan (half of a Redirect)."""

    channel: str
    to: Dialplan


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """A live channel, as ``CoreShowChannels`` lists it."""

    channel: str
    uniqueid: str
    context: str = ""
    exten: str = ""
    linkedid: str = ""
    state: str = ""
    application: str = ""
    duration: float = 0.0  # seconds since the channel was created
    bridge_id: str = ""  # the bridge it is in; "" when in none
    holding: bool = False  # that bridge is a holding bridge (BridgeWait: waiting, talking to nobody)


@dataclass(frozen=True, slots=True)
class EndpointInfo:
    """A PJSIP endpoint, as ``PJSIPShowEndpoints`` lists it; ``contacts``: its registered URIs."""

    name: str
    contacts: frozenset[str] = frozenset()

    @property
    def registered(self) -> bool:
        return bool(self.contacts)


EventHandler = Callable[[AmiEvent], None]
ConnectedHandler = Callable[[], Awaitable[None]]
DisconnectedHandler = Callable[[], None]


class AsteriskPort(Protocol):
    """What the server needs of Asterisk. Implementations call the subscribers' ``on_connected``
    after every (re)login, so they can rebuild their view from Asterisk itself."""

    @property
    def connected(self) -> bool: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def wait_connected(self, timeout: float) -> bool: ...

    def subscribe(
        self,
        on_event: EventHandler,
        on_connected: ConnectedHandler | None = None,
        on_disconnected: DisconnectedHandler | None = None,
    ) -> None: ...

    async def originate(self, request: OriginateRequest) -> OriginateResult: ...

    async def redirect(self, move: Move, extra: Move | None = None) -> None:
        """One Redirect; with ``extra``, both channels move at once (neither is left alone in a
        bridge)."""

    async def hangup(self, channel: str, cause: int = 16) -> None: ...

    async def set_var(self, channel: str, name: str, value: str) -> None:
        """A channel variable; with ``channel`` "", a global variable of the dialplan."""

    async def get_var(self, channel: str, name: str) -> str | None: ...

    async def mix_monitor_mute(self, channel: str, muted: bool, direction: str = "both") -> None: ...

    async def channels(self) -> list[ChannelInfo]: ...

    async def endpoints(self) -> list[EndpointInfo]: ...

    async def reload(self, module: str) -> None:
        """Reload one module's configuration (``res_pjsip.so``: endpoints added or removed while
        calls and other registrations go on)."""


class Subscribers:
    """The subscriber lists every implementation of the port keeps, and their ``subscribe``.

    Each implementation delivers connection changes its own way (the AMI client awaits
    ``on_connected`` after a login, the replay spawns it at the recorded moment)."""

    def __init__(self) -> None:
        self._on_event: list[EventHandler] = []
        self._on_connected: list[ConnectedHandler] = []
        self._on_disconnected: list[DisconnectedHandler] = []

    def subscribe(
        self,
        on_event: EventHandler,
        on_connected: ConnectedHandler | None = None,
        on_disconnected: DisconnectedHandler | None = None,
    ) -> None:
        self._on_event.append(on_event)
        if on_connected is not None:
            self._on_connected.append(on_connected)
        if on_disconnected is not None:
            self._on_disconnected.append(on_disconnected)

    def _deliver(self, event: AmiEvent) -> None:
        for on_event in list(self._on_event):
            on_event(event)

    def _disconnected(self) -> None:
        for on_disconnected in list(self._on_disconnected):
            on_disconnected()

"""The Asterisk port (``asterisk_port.py``) over AMI, on panoramisk: login, reconnect with backoff,
actions with timeouts, typed events. Raw AMI messages stop here: typed requests become AMI fields and
answers become typed results in the pure functions at the end of this module.

panoramisk frames the protocol and matches responses to actions; this module owns the connection's
life. panoramisk's own reconnect (fixed delay, and re-sending queued actions after a reconnect, which
could ring an agent twice) is switched off: a lost connection fails every pending action with
:class:`AmiNotConnected`, and a supervisor task reconnects with exponential backoff. After every
(re)login the subscribers' ``on_connected`` run, so they can rebuild their view of Asterisk from
Asterisk itself.

An Asterisk that announced its shutdown (the ``Shutdown`` event) still accepts AMI logins until
its listener closes, which under load is seconds later. A login then is not a reconnect: the
process exits right after, and the server would have reconciled against a dying Asterisk, said
it was up, and waited a backoff step longer for the new one. So every login asks ``CoreStatus``
when this Asterisk started, and a login to the instance that announced its shutdown is closed and
retried at the shortest delay (``ami.asterisk_still_stopping``).

An Asterisk still starting accepts logins too, before its modules run: an action of a module not
running yet (``PJSIPShowEndpoints`` of the reconcile) is answered "Permission denied" and Asterisk
*closes the session* (seen here 0.5 s into a start). So a login is ready only once Asterisk says
``FullyBooted`` (sent at login when it is, else when it gets there; the AMI user needs ``read``
``system``, as for ``Shutdown``). Without it within BOOT_WAIT the session is used anyway, with a
warning (``ami.not_fully_booted``).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from panoramisk import Manager

from callcenter import metrics
from callcenter.aio import cancel_and_wait, within
from callcenter.asterisk import ami_events
from callcenter.asterisk.asterisk_port import (
    AmiAuthError,
    AmiError,
    AmiNotConnected,
    AmiTimeout,
    Application,
    ChannelInfo,
    EndpointInfo,
    Move,
    OriginateRequest,
    OriginateResult,
    Subscribers,
)
from callcenter.settings import AsteriskSettings

log = logging.getLogger(__name__)


class _Manager(Manager):  # type: ignore[misc]
    """panoramisk's Manager with its auto-reconnect replaced by a callback to our supervisor."""

    def __init__(self, on_lost: Callable[[object], None], **config: Any) -> None:
        super().__init__(**config)
        self._on_lost = on_lost

    def connection_lost(self, exc: object) -> None:
        self._connected = False
        pinger: asyncio.TimerHandle | None = getattr(self, "pinger", None)
        if pinger is not None:
            pinger.cancel()
            self.pinger = None
        self.awaiting_actions.clear()
        self._on_lost(exc)


Message = Mapping[str, Any]

# How long after its Shutdown event an Asterisk instance (its start time) is taken to be going
# away. Bounds the check, so that a new instance started within the same second as the old one
# (CoreStatus has a resolution of one second) is not refused forever.
STOPPING_FOR = 60.0


# How long a login waits for FullyBooted (an Asterisk starting on a loaded machine takes seconds).
BOOT_WAIT = 30.0


class _StillStopping(Exception):
    """The login reached the Asterisk that announced its shutdown, not a new one."""


__all__ = ["AmiAuthError", "AmiClient", "AmiError", "AmiNotConnected", "AmiTimeout"]


class AmiClient(Subscribers):
    """The :class:`~callcenter.asterisk.asterisk_port.AsteriskPort` over AMI."""

    def __init__(self, settings: AsteriskSettings) -> None:
        super().__init__()
        self._settings = settings
        self._manager: _Manager | None = None
        self._lost = asyncio.Event()
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Future[Any]] = set()
        self.connects = 0  # successful logins so far (observable for tests and metrics)
        self._instance: str | None = None  # when the Asterisk we are logged in to started
        self._stopping: tuple[str, float] | None = None  # (instance, loop time) of a Shutdown
        self._down_since: float | None = None  # loop time the last session was lost

    @property
    def connected(self) -> bool:
        return self._ready.is_set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name="ami-supervisor")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)
        self._drop_connection()

    async def wait_connected(self, timeout: float) -> bool:
        try:
            await within(self._ready.wait(), timeout)
        except TimeoutError:
            return False
        return True

    # -- the typed port ----------------------------------------------------------------------------
    async def originate(self, request: OriginateRequest) -> OriginateResult:
        fields = originate_fields(request)
        if not request.wait:
            await self.action(fields, as_list=False)
            return OriginateResult("queued")
        result = await self.action(fields, as_list=True, timeout=request.ring_timeout + 10)
        return originate_result(result)

    async def redirect(self, move: Move, extra: Move | None = None) -> None:
        await self.action(redirect_fields(move, extra))

    async def hangup(self, channel: str, cause: int = 16) -> None:
        await self.action({"Action": "Hangup", "Channel": channel, "Cause": str(cause)})

    async def set_var(self, channel: str, name: str, value: str) -> None:
        await self.action({"Action": "Setvar", "Channel": channel, "Variable": name, "Value": value})

    async def get_var(self, channel: str, name: str) -> str | None:
        answer = await self.action({"Action": "Getvar", "Channel": channel, "Variable": name})
        value = answer.get("Value") if isinstance(answer, Mapping) else None
        return None if value is None or value == "(null)" else str(value)

    async def mix_monitor_mute(self, channel: str, muted: bool, direction: str = "both") -> None:
        await self.action(
            {
                "Action": "MixMonitorMute",
                "Channel": channel,
                "Direction": direction,
                "State": "1" if muted else "0",
            }
        )

    async def reload(self, module: str) -> None:
        await self.action({"Action": "Reload", "Module": module})

    async def channels(self) -> list[ChannelInfo]:
        channels = parse_channels(await self.action({"Action": "CoreShowChannels"}, as_list=True))
        if not any(c.bridge_id for c in channels):
            return channels
        # A caller waiting in cc-wait/cc-hold is in a holding bridge (BridgeWait): say which
        # bridges are those, so that a waiting channel is not taken for one in a conversation.
        holding = parse_holding_bridges(await self.action({"Action": "BridgeList"}, as_list=True))
        return [replace(c, holding=True) if c.bridge_id in holding else c for c in channels]

    async def endpoints(self) -> list[EndpointInfo]:
        return parse_endpoints(await self.action({"Action": "PJSIPShowEndpoints"}, as_list=True))

    # -- raw actions (the typed methods above are written on it) -----------------------------------
    async def action(
        self,
        fields: Mapping[str, str | list[str]],
        *,
        as_list: bool | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Send one action; return its response (a message, or a list for multi-message actions).

        Raises :class:`AmiNotConnected`, :class:`AmiTimeout`, or :class:`AmiError` when Asterisk
        answers ``Response: Error``.
        """
        manager = self._manager
        if manager is None or not self._ready.is_set():
            raise AmiNotConnected("not connected to Asterisk AMI")
        name = fields.get("Action", "?")
        future: asyncio.Future[Any] = manager.send_action(dict(fields), as_list=as_list)
        self._pending.add(future)
        try:
            result = await within(asyncio.shield(future), timeout or self._settings.action_timeout)
        except TimeoutError as err:
            future.cancel()
            raise AmiTimeout(f"AMI action {name} got no answer in time") from err
        finally:
            self._pending.discard(future)
        first = result[0] if isinstance(result, list) and result else result
        if isinstance(first, Mapping) and str(first.get("Response", "")).lower() == "error":
            raise AmiError(f"AMI action {name} failed: {first.get('Message', 'error')}")
        return result

    # -- connection life -------------------------------------------------------------------------
    async def _supervise(self) -> None:
        s = self._settings
        loop = asyncio.get_running_loop()
        delay = s.reconnect_min_delay
        attempts = 0
        self._down_since = loop.time()
        while True:
            attempts += 1
            try:
                await self._connect_once()
            except AmiAuthError as err:
                log.error("ami.login_refused", extra={"detail": str(err), "user": s.ami_username})
            except _StillStopping:
                # Not a failure of the new Asterisk: it is not there yet. Keep the shortest delay.
                log.info("ami.asterisk_still_stopping", extra={"host": s.host, "port": s.ami_port})
                self._drop_connection()
                await asyncio.sleep(s.reconnect_min_delay)
                continue
            except (OSError, AmiError, TimeoutError) as err:
                log.warning(
                    "ami.unreachable",
                    extra={
                        "host": s.host,
                        "port": s.ami_port,
                        "error": str(err) or type(err).__name__,
                    },
                )
            else:
                delay = s.reconnect_min_delay
                self.connects += 1
                down = loop.time() - self._down_since if self._down_since is not None else 0.0
                metrics.AMI_RECONNECT_SECONDS.observe(down)
                log.info(
                    "ami.connected",
                    extra={
                        "host": s.host,
                        "port": s.ami_port,
                        "attempts": attempts,
                        "down_seconds": round(down, 3),
                    },
                )
                attempts = 0
                for on_connected in list(self._on_connected):
                    try:
                        await on_connected()
                    except Exception:
                        log.exception("ami.on_connected_failed")
                await self._lost.wait()
                self._down_since = loop.time()
                log.warning("ami.connection_lost", extra={"host": s.host, "port": s.ami_port})
            self._drop_connection()
            # Jitter keeps many servers from reconnecting in lock-step after an Asterisk restart.
            await asyncio.sleep(delay * (0.8 + 0.4 * random.random()))
            delay = min(delay * 2, s.reconnect_max_delay)

    async def _connect_once(self) -> None:
        s = self._settings
        loop = asyncio.get_running_loop()
        self._lost = asyncio.Event()
        manager = _Manager(
            self._connection_lost,
            loop=loop,
            host=s.host,
            port=s.ami_port,
            username=s.ami_username,
            secret=s.ami_secret.get_secret_value(),
            ping_delay=10,
            ping_interval=10,
            log=logging.getLogger("callcenter.adapters.panoramisk"),
        )
        manager.register_event("*", self._dispatch)
        booted: asyncio.Future[None] = loop.create_future()

        def on_booted(_manager: object, _message: object) -> None:
            if not booted.done():
                booted.set_result(None)

        manager.register_event("FullyBooted", on_booted)
        connecting = loop.create_connection(manager.config["protocol_factory"], s.host, s.ami_port)
        transport, protocol = await within(connecting, s.action_timeout)
        done: asyncio.Future[Any] = loop.create_future()
        done.set_result((transport, protocol))
        self._manager = manager
        manager.connection_made(done)  # panoramisk sends Login here
        login = manager.authenticated_future
        if login is None:
            raise AmiError("AMI login was not sent")
        try:
            await within(asyncio.shield(login), s.action_timeout)
        except TimeoutError as err:
            raise AmiError("AMI login got no answer") from err
        if not manager.authenticated:
            raise AmiAuthError(
                "Asterisk refused the AMI login: check asterisk.ami_username and asterisk.ami_secret"
            )
        try:
            core = manager.send_action({"Action": "CoreStatus"})
            status = await within(asyncio.shield(core), s.action_timeout)
        except TimeoutError as err:
            raise AmiError("AMI CoreStatus got no answer") from err
        instance = asterisk_instance(status)
        if still_stopping(self._stopping, instance, loop.time()):
            raise _StillStopping()
        await self._wait_booted(booted)
        self._instance = instance
        self._ready.set()

    async def _wait_booted(self, booted: asyncio.Future[None]) -> None:
        """Until Asterisk says FullyBooted; AmiNotConnected when the session is lost meanwhile."""
        lost: asyncio.Future[Any] = asyncio.ensure_future(self._lost.wait())
        either: set[asyncio.Future[Any]] = {booted, lost}
        try:
            await asyncio.wait(either, timeout=BOOT_WAIT, return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost.cancel()
        if self._lost.is_set():
            raise AmiNotConnected("AMI connection lost before Asterisk was fully booted")
        if not booted.done():
            s = self._settings
            log.warning(
                "ami.not_fully_booted",
                extra={
                    "host": s.host,
                    "port": s.ami_port,
                    "detail": f"no FullyBooted event in {BOOT_WAIT:g} s: does the AMI user read 'system'?",
                },
            )

    def _connection_lost(self, exc: object) -> None:
        was_ready = self._ready.is_set()
        self._ready.clear()
        for future in list(self._pending):
            if not future.done():
                future.set_exception(AmiNotConnected("AMI connection lost"))
        self._lost.set()
        if was_ready:  # subscribers hear of the loss of a session they were told of, only
            self._disconnected()

    def _drop_connection(self) -> None:
        self._ready.clear()
        manager, self._manager = self._manager, None
        if manager is not None:
            manager.callbacks.clear()
            manager.patterns.clear()
            manager.close()

    def _dispatch(self, _manager: object, message: Message) -> None:
        try:
            event = ami_events.parse(message)
        except Exception:  # garbage from the network must not reach the core
            log.exception("ami.unparseable_event")
            return
        if isinstance(event, ami_events.Shutdown):
            log.warning("ami.asterisk_shutdown")
            if self._instance is not None:
                self._stopping = (self._instance, asyncio.get_running_loop().time())
        if event is not None:
            self._deliver(event)


# -- raw AMI <-> typed values (pure, unit-tested) ------------------------------------------------


def originate_fields(request: OriginateRequest) -> dict[str, str | list[str]]:
    fields: dict[str, str | list[str]] = {
        "Action": "Originate",
        "Channel": request.endpoint,
        "Async": "true",
        "Timeout": str(int(request.ring_timeout * 1000)),
    }
    target = request.target
    if isinstance(target, Application):
        fields.update({"Application": target.name, "Data": target.data})
    else:
        fields.update({"Context": target.context, "Exten": target.exten, "Priority": str(target.priority)})
    if request.channel_id is not None:
        fields["ChannelId"] = request.channel_id
    if request.caller_id:
        fields["CallerID"] = request.caller_id
    if request.variables:
        fields["Variable"] = [f"{name}={value}" for name, value in request.variables.items()]
    return fields


def originate_result(answer: object) -> OriginateResult:
    """The last message of an async Originate is its ``OriginateResponse``."""
    final = answer[-1] if isinstance(answer, list) and answer else answer
    if not isinstance(final, Mapping):
        return OriginateResult("failed", "no answer from Asterisk")
    if str(final.get("Response", "")).lower() == "success":
        return OriginateResult("answered", code=str(final.get("Reason", "4")))
    code = str(final.get("Reason", ""))
    reason = ami_events.ORIGINATE_REASONS.get(code, f"dial failed (reason {code or '?'})")
    return OriginateResult("failed", reason, code)


def redirect_fields(move: Move, extra: Move | None = None) -> dict[str, str | list[str]]:
    fields: dict[str, str | list[str]] = {
        "Action": "Redirect",
        "Channel": move.channel,
        "Context": move.to.context,
        "Exten": move.to.exten,
        "Priority": str(move.to.priority),
    }
    if extra is not None:
        fields.update(
            {
                "ExtraChannel": extra.channel,
                "ExtraContext": extra.to.context,
                "ExtraExten": extra.to.exten,
                "ExtraPriority": str(extra.to.priority),
            }
        )
    return fields


def _messages(answer: object) -> Sequence[Mapping[str, object]]:
    items = answer if isinstance(answer, list) else []
    return [m for m in items if isinstance(m, Mapping)]


def asterisk_instance(answer: object) -> str | None:
    """``CoreStatus``' answer -> when this Asterisk process started ("date time"), which tells a
    restarted Asterisk from the one before it; None when the answer does not say."""
    if not isinstance(answer, Mapping):
        return None
    date, time = answer.get("CoreStartupDate"), answer.get("CoreStartupTime")
    return f"{date} {time}" if date and time else None


def still_stopping(stopping: tuple[str, float] | None, instance: str | None, now: float) -> bool:
    """Whether a login reached the Asterisk instance that announced its shutdown (``stopping``:
    that instance and when it did, on the same clock as ``now``), within STOPPING_FOR."""
    if stopping is None or instance is None:
        return False
    gone, since = stopping
    return instance == gone and now - since < STOPPING_FOR


def parse_channels(answer: object) -> list[ChannelInfo]:
    """``CoreShowChannels``' list: one ``CoreShowChannel`` event per live channel."""
    return [
        ChannelInfo(
            channel=str(m.get("Channel", "")),
            uniqueid=str(m.get("Uniqueid", "")),
            context=str(m.get("Context", "")),
            exten=str(m.get("Exten", "")),
            linkedid=str(m.get("Linkedid", "")),
            state=str(m.get("ChannelStateDesc", "")),
            application=str(m.get("Application", "")),
            duration=_seconds(str(m.get("Duration", ""))),
            bridge_id=str(m.get("BridgeId", "")),
        )
        for m in _messages(answer)
        if m.get("Event") == "CoreShowChannel" and m.get("Channel") and m.get("Uniqueid")
    ]


def parse_holding_bridges(answer: object) -> frozenset[str]:
    """``BridgeList``'s list: the ids of the bridges whose technology is ``holding_bridge``."""
    return frozenset(
        str(m.get("BridgeUniqueid", ""))
        for m in _messages(answer)
        if m.get("Event") == "BridgeListItem" and m.get("BridgeTechnology") == "holding_bridge"
    )


def _seconds(duration: str) -> float:
    """``HH:MM:SS`` (CoreShowChannel's Duration) -> seconds; 0 when unreadable."""
    parts = duration.split(":")
    if not 1 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        return 0.0
    return float(sum(int(p) * 60**i for i, p in enumerate(reversed(parts))))


def parse_endpoints(answer: object) -> list[EndpointInfo]:
    """``PJSIPShowEndpoints``' list: one ``EndpointList`` event per endpoint; ``Contacts`` is
    ``aor/uri,aor/uri,...``."""
    return [
        EndpointInfo(
            name=str(m.get("ObjectName", "")),
            contacts=frozenset(c.split("/", 1)[-1] for c in str(m.get("Contacts", "")).split(",") if c),
        )
        for m in _messages(answer)
        if m.get("Event") == "EndpointList" and m.get("ObjectName")
    ]

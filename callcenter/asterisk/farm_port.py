"""Several Asterisk servers as one Asterisk port (issue 14; docs/asterisk.md, "Several Asterisk
servers behind Kamailio").

Kamailio spreads inbound calls over the servers of ``asterisk.servers``; the server holds one AMI
connection to each (any :class:`~callcenter.asterisk.asterisk_port.AsteriskPort`, an ``AmiClient``
live) and the voice adapter sees them as one port:

* **Channel names** are per server (each Asterisk counts ``PJSIP/caller-00000001`` from 1), so
  every name that crosses this port carries its server: ``PJSIP/caller-00000001~a``. Names going
  back to Asterisk (an action's channel, a channel named in a variable or application argument)
  lose the suffix, and the action goes to that server. Uniqueids need nothing: each server's start
  with its ``systemname`` (``AsteriskServer.uniqueid_prefix``), ours are chosen unique.
* **Agents register on their own server.** Registrations (``endpoints()``, ``ContactStatus``)
  say where each phone is; an agent leg for a caller on server A, to an agent registered on B, is
  originated on A to ``PJSIP/<extension>@peer-b``: the PJSIP trunk between the servers
  (``pjsip-peer.tmpl``), whose ``from-peer`` context on B rings the phone.
* **Each server on its own**: its own AMI connection and reconnects; ``on_connected`` runs after
  each one's login (the voice adapter's reconcile then lists every connected server), and once
  more when a server stays away ``lost_after`` seconds (reconciling without it); a global
  variable is set on every connected server; ``channels()`` lists the connected servers (a server
  that is down has no calls of ours left: its callers are gone with it).
* **FastAGI sessions** come from any server: :func:`farm_routes` gives the voice adapter
  their channel named the same way, the server found by the session's uniqueid.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from callcenter.aio import cancel_and_wait
from callcenter.asterisk.agi import AgiChannel, AgiResult, Route
from callcenter.asterisk.ami import AmiClient
from callcenter.asterisk.ami_events import (
    AmiEvent,
    BridgeEnter,
    BridgeLeave,
    ContactStatus,
    Hangup,
    HangupRequest,
    Newchannel,
    UserEvent,
)
from callcenter.asterisk.asterisk_port import (
    AmiError,
    AmiNotConnected,
    Application,
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
from callcenter.settings import AsteriskSettings

log = logging.getLogger(__name__)

SEPARATOR = "~"  # PJSIP/caller-00000001~a: never part of an Asterisk channel name
_WITH_EVENT_CHANNEL = (Newchannel, Hangup, HangupRequest, BridgeEnter, BridgeLeave)


@dataclass(frozen=True, slots=True)
class FarmServer:
    """One server of the farm: its name, the prefix of the uniqueids it mints, its port."""

    name: str
    uniqueid_prefix: str
    port: AsteriskPort


class FarmNames:
    """Channel names of the farm: ``<name on its server>~<server>``; and which server minted a
    uniqueid."""

    def __init__(self, servers: Sequence[tuple[str, str]]) -> None:
        """``servers``: (name, uniqueid prefix) of each, the first being the default."""
        if not servers:
            raise ValueError("a farm needs at least one Asterisk server")
        self.prefixes = dict(servers)
        self.first = servers[0][0]
        names = "|".join(re.escape(name) for name, _ in servers)
        self._named = re.compile(rf"([^\s,|{SEPARATOR}]+){SEPARATOR}({names})(?=$|[\s,|])")

    @classmethod
    def of(cls, settings: AsteriskSettings) -> FarmNames:
        return cls([(server.name, server.uniqueid_prefix) for server in settings.servers])

    @staticmethod
    def name(channel: str, server: str) -> str:
        return f"{channel}{SEPARATOR}{server}" if channel else channel

    def split(self, channel: str) -> tuple[str, str]:
        """``PJSIP/x-1~b`` -> (``PJSIP/x-1``, ``b``). A name without a server is refused."""
        found = self._named.fullmatch(channel)
        if found is None:
            raise AmiError(f"channel {channel!r} names none of the Asterisk servers {sorted(self.prefixes)}")
        return found.group(1), found.group(2)

    def local(self, text: str) -> tuple[str, set[str]]:
        """``text`` with every farm channel name made local again, and the servers they were on."""
        servers: set[str] = set()

        def strip(found: re.Match[str]) -> str:
            servers.add(found.group(2))
            return found.group(1)

        return self._named.sub(strip, text), servers

    def server_of_uniqueid(self, uniqueid: str) -> str | None:
        for name, prefix in self.prefixes.items():
            if uniqueid.startswith(prefix):
                return name
        return None

    def wrap_routes(self, routes: Mapping[str, Route]) -> dict[str, Route]:
        """The voice adapter's FastAGI routes, given sessions whose channel is named the farm's way
        (the server found by the session's uniqueid)."""

        def wrap(route: Route) -> Route:
            async def named(session: AgiChannel) -> None:
                server = self.server_of_uniqueid(session.uniqueid) or self.first
                await route(FarmAgiSession(session, self.name(session.channel, server)))

            return named

        return {name: wrap(route) for name, route in routes.items()}


class FarmPort:
    """:class:`AsteriskPort` over several servers; see the module's documentation."""

    def __init__(self, servers: Sequence[FarmServer], lost_after: float = 10.0) -> None:
        """``lost_after``: seconds a server may stay disconnected before the subscribers reconcile
        without it (its callers are then gone)."""
        self.names = FarmNames([(server.name, server.uniqueid_prefix) for server in servers])
        self.servers = {server.name: server for server in servers}
        self._first = servers[0].name
        self._lost_after = lost_after
        self._tasks: set[asyncio.Task[None]] = set()
        # extension -> the servers its phone is registered on (from endpoints() and ContactStatus)
        self._registered: dict[str, set[str]] = {}
        for server in servers:
            server.port.subscribe(self._noter(server.name))

    # -- the port ----------------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        """Any server connected: calls go on on the others while one is down."""
        return any(server.port.connected for server in self.servers.values())

    def connected_servers(self) -> list[str]:
        return [name for name, server in self.servers.items() if server.port.connected]

    async def start(self) -> None:
        for server in self.servers.values():
            await server.port.start()

    async def stop(self) -> None:
        for task in list(self._tasks):
            await cancel_and_wait(task)
        for server in self.servers.values():
            await server.port.stop()

    async def wait_connected(self, timeout: float) -> bool:
        """Every server connected within ``timeout``."""
        results = await asyncio.gather(
            *(server.port.wait_connected(timeout) for server in self.servers.values())
        )
        return all(results)

    def subscribe(
        self,
        on_event: EventHandler,
        on_connected: ConnectedHandler | None = None,
        on_disconnected: DisconnectedHandler | None = None,
    ) -> None:
        for name, server in self.servers.items():
            server.port.subscribe(
                self._events_of(name, on_event), on_connected, self._lost(name, on_connected, on_disconnected)
            )

    def _lost(
        self, server: str, on_connected: ConnectedHandler | None, on_disconnected: DisconnectedHandler | None
    ) -> DisconnectedHandler:
        """A server's AMI connection is lost: the subscriber is told at once, and if the server is
        still away after ``lost_after`` while another one is connected, the subscriber reconciles
        with the servers left (a dead Asterisk's callers are gone; a mere AMI hiccup costs
        nothing, the reconnect reconciles as always)."""

        def lost() -> None:
            if on_disconnected is not None:
                on_disconnected()
            if on_connected is None:
                return
            task = asyncio.get_running_loop().create_task(self._reconcile_without(server, on_connected))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        return lost

    async def _reconcile_without(self, server: str, on_connected: ConnectedHandler) -> None:
        await asyncio.sleep(self._lost_after)
        if self.servers[server].port.connected or not self.connected:
            return
        log.warning("voice.farm_server_lost", extra={"server": server, "after": self._lost_after})
        try:
            await on_connected()
        except AmiError as err:
            log.warning("voice.farm_reconcile_failed", extra={"server": server, "error": str(err)})

    def _events_of(self, server: str, on_event: EventHandler) -> EventHandler:
        def deliver(event: AmiEvent) -> None:
            on_event(self.event_from(server, event))

        return deliver

    def _noter(self, server: str) -> EventHandler:
        """Where phones register, from one server's ContactStatus events (before any subscriber
        hears of them)."""

        def note(event: AmiEvent) -> None:
            if isinstance(event, ContactStatus) and event.endpoint:
                where = self._registered.setdefault(event.endpoint, set())
                if event.registered:
                    where.add(server)
                else:
                    where.discard(server)

        return note

    def event_from(self, server: str, event: AmiEvent) -> AmiEvent:
        """An event of one server, its channel names made the farm's."""
        if isinstance(event, _WITH_EVENT_CHANNEL):
            return dataclasses.replace(event, channel=self.names.name(event.channel, server))
        if isinstance(event, UserEvent) and "Channel" in event.headers:
            headers = dict(event.headers)
            headers["Channel"] = self.names.name(headers["Channel"], server)
            return dataclasses.replace(event, headers=headers)
        return event

    def _pick(self, servers: set[str], what: str) -> str:
        if len(servers) > 1:
            raise AmiError(f"{what} names channels on several Asterisk servers ({sorted(servers)})")
        return next(iter(servers)) if servers else ""

    def _port(self, name: str) -> AsteriskPort:
        return self.servers[name].port

    async def originate(self, request: OriginateRequest) -> OriginateResult:
        """On the server of the channels the request names (the caller an agent leg bridges to);
        an agent's phone registered on another server is reached over the trunk to it."""
        variables: dict[str, str] = {}
        named: set[str] = set()
        for key, value in request.variables.items():
            variables[key], servers = self.names.local(value)
            named |= servers
        target = request.target
        if isinstance(target, Application):
            data, servers = self.names.local(target.data)
            named |= servers
            target = Application(target.name, data)
        endpoint = request.endpoint
        registered = self._registered_on(endpoint)
        server = self._pick(named, "an Originate") or (min(registered) if registered else self._first)
        if registered and server not in registered:
            peer = min(registered)
            endpoint = f"{endpoint}@peer-{peer}"
            log.info(
                "voice.farm_trunk",
                extra={"endpoint": request.endpoint, "on": server, "registered_on": peer},
            )
        local = dataclasses.replace(request, endpoint=endpoint, target=target, variables=variables)
        return await self._port(server).originate(local)

    def _registered_on(self, endpoint: str) -> set[str]:
        if not endpoint.startswith("PJSIP/") or "@" in endpoint:
            return set()
        return set(self._registered.get(endpoint.removeprefix("PJSIP/"), ()))

    async def redirect(self, move: Move, extra: Move | None = None) -> None:
        channel, server = self.names.split(move.channel)
        local_extra = None
        if extra is not None:
            extra_channel, extra_server = self.names.split(extra.channel)
            if extra_server != server:
                raise AmiError(
                    f"cannot move {move.channel} and {extra.channel} at once: different Asterisk servers"
                )
            local_extra = Move(extra_channel, extra.to)
        await self._port(server).redirect(Move(channel, move.to), local_extra)

    async def hangup(self, channel: str, cause: int = 16) -> None:
        local, server = self.names.split(channel)
        await self._port(server).hangup(local, cause)

    async def set_var(self, channel: str, name: str, value: str) -> None:
        if channel == "":
            # A global variable: on every connected server (each sets it again at its login).
            connected = self.connected_servers()
            if not connected:
                raise AmiNotConnected("no Asterisk server is connected")
            for server in connected:
                await self._port(server).set_var("", name, value)
            return
        local, server = self.names.split(channel)
        local_value, servers = self.names.local(value)
        if servers - {server}:
            raise AmiError(f"{name}={value} names a channel on another Asterisk server than {channel}")
        await self._port(server).set_var(local, name, local_value)

    async def get_var(self, channel: str, name: str) -> str | None:
        local, server = self.names.split(channel)
        return await self._port(server).get_var(local, name)

    async def mix_monitor_mute(self, channel: str, muted: bool, direction: str = "both") -> None:
        local, server = self.names.split(channel)
        await self._port(server).mix_monitor_mute(local, muted, direction)

    async def reload(self, module: str) -> None:
        """On every connected server (each reads its own copy of the configuration)."""
        connected = self.connected_servers()
        if not connected:
            raise AmiNotConnected("no Asterisk server is connected")
        for server in connected:
            await self._port(server).reload(module)

    async def channels(self) -> list[ChannelInfo]:
        out: list[ChannelInfo] = []
        connected = self.connected_servers()
        if not connected:
            raise AmiNotConnected("no Asterisk server is connected")
        for server in connected:
            for info in await self._port(server).channels():
                out.append(dataclasses.replace(info, channel=self.names.name(info.channel, server)))
        return out

    async def endpoints(self) -> list[EndpointInfo]:
        """Every endpoint once, with its contacts on all connected servers; where each is
        registered is remembered for originate."""
        contacts: dict[str, set[str]] = {}
        where: dict[str, set[str]] = {}
        connected = self.connected_servers()
        if not connected:
            raise AmiNotConnected("no Asterisk server is connected")
        for server in connected:
            for info in await self._port(server).endpoints():
                contacts.setdefault(info.name, set()).update(info.contacts)
                if info.registered:
                    where.setdefault(info.name, set()).add(server)
        for server in connected:
            for name, servers in self._registered.items():
                if server in servers and server not in where.get(name, set()):
                    servers.discard(server)
        for name, servers in where.items():
            self._registered.setdefault(name, set()).update(servers)
        return [EndpointInfo(name, frozenset(uris)) for name, uris in contacts.items()]


class FarmAgiSession:
    """A FastAGI session whose ``channel`` carries its server (``agi_channel`` in ``headers``
    too)."""

    def __init__(self, inner: AgiChannel, channel: str) -> None:
        self._inner = inner
        self._channel = channel
        self._headers = {**inner.headers, "agi_channel": channel}

    @property
    def headers(self) -> Mapping[str, str]:
        return self._headers

    @property
    def channel(self) -> str:
        return self._channel

    @property
    def uniqueid(self) -> str:
        return self._inner.uniqueid

    async def command(self, line: str, timeout: float | None = None) -> AgiResult:
        return await self._inner.command(line, timeout)

    async def set_variable(self, name: str, value: str) -> None:
        await self._inner.set_variable(name, value)


def build_asterisk_port(settings: AsteriskSettings) -> AsteriskPort:
    """The port the composition root drives: one AMI client, or with ``asterisk.servers`` one per
    server (each with the shared login and timeouts, its own host and AMI port) behind a FarmPort."""
    if not settings.servers:
        return AmiClient(settings)
    return FarmPort(
        [
            FarmServer(
                server.name,
                server.uniqueid_prefix,
                AmiClient(settings.model_copy(update={"host": server.host, "ami_port": server.ami_port})),
            )
            for server in settings.servers
        ],
        lost_after=settings.server_lost_seconds,
    )


def farm_routes(settings: AsteriskSettings, routes: Mapping[str, Route]) -> dict[str, Route]:
    """FastAGI routes named the farm's way with ``asterisk.servers``; else as they are."""
    return FarmNames.of(settings).wrap_routes(routes) if settings.servers else dict(routes)

"""Every node serves sockets (docs/cluster.md): the Socket.IO namespaces a browser connects to are
*fronts*, registered on every node; what their events do is decided by the *backs* (the chat,
panel and supervisor namespaces), which live in the routing half of the routing owner only.

A front accepts a connection on its own node (authentication, the role, the rooms the socket joins:
deny by default, as before), keeps the socket's rate limit, refuses undeclared events and events
its role may not send, then hands the event to the back through :class:`Relay`: in-process when
this node owns the routing, else over the Redis stream ``cc:sockets`` (``socket_forwarding.py``).
The back's emits reach the socket on whatever node it is, through python-socketio's Redis manager
(rooms are joined on the socket's node; a back joining a remote socket to a room is published too).

Invariants:

- The back checks the role again (``GuardedNamespace.trigger_event``): a forged front cannot widen
  what a principal may do on the owner. The principal travels with each event; the back *adopts* a
  socket it does not know (a socket of another node, or of this node before it owned) from it.
- Per-socket state a back keeps (the visitor of a ``/customer`` socket) is rebuilt from the
  front's *context* (the last ``start``), so a new owner serves sockets that stayed connected.
- An event that stores something carries an id (the front adds one when the client did not), so
  an event carried out twice (a retry after a failover) is stored and sent once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import socketio
from aiohttp import web

from callcenter.accounts.principal import Principal
from callcenter.settings import ApiToken, RealtimeSettings
from callcenter.web.realtime import Ack, BadRequest, GuardedNamespace, TokenBucket, screen

log = logging.getLogger(__name__)

# (front, sid, environ, auth, tokens) -> the socket's principal (None: anonymous); raises
# ConnectionRefusedError to refuse it. Rooms the socket needs are joined here, on its own node.
Admit = Callable[
    [socketio.AsyncNamespace, str, Mapping[str, Any], object, tuple[ApiToken, ...]],
    Awaitable[Principal | None],
]


def _anyone(
    front: socketio.AsyncNamespace,
    sid: str,
    environ: Mapping[str, Any],
    auth: object,
    tokens: tuple[ApiToken, ...],
) -> Awaitable[Principal | None]:
    async def none() -> Principal | None:
        return None

    return none()


def _as_is(name: str, payload: dict[str, Any]) -> dict[str, Any]:
    return payload


def _nothing(name: str, payload: Mapping[str, Any], ack: Ack, context: dict[str, Any]) -> None:
    return None


@dataclass(frozen=True, slots=True)
class Rules:
    """What a front needs to know of its namespace, without its back."""

    namespace: str
    events: Mapping[str, frozenset[str]]  # declared events -> roles (``realtime.handlers_of``)
    admit: Admit = _anyone
    # Before an event leaves the front: ids added to events that store something.
    prepare: Callable[[str, dict[str, Any]], dict[str, Any]] = _as_is
    # After the back's ack: what the back needs to rebuild this socket's state (``context``).
    remember: Callable[[str, Mapping[str, Any], Ack, dict[str, Any]], None] = _nothing
    # On a node that does not own the routing: an event this node may carry out itself (sid, name,
    # payload, context -> the ack; None: the owner's, as any other). web/chat_holds.py.
    # The context is the socket's own (the shortcut may note what it learnt in it).
    shortcut: Callable[[str, str, Mapping[str, Any], dict[str, Any]], Awaitable[Ack | None]] | None = None


def with_id(*events: str) -> Callable[[str, dict[str, Any]], dict[str, Any]]:
    """A ``prepare`` that gives these events an ``id`` when the client sent none."""

    def prepare(name: str, payload: dict[str, Any]) -> dict[str, Any]:
        if name in events and not payload.get("id"):
            return {**payload, "id": uuid.uuid4().hex}
        return payload

    return prepare


def principal_to_json(principal: Principal | None) -> dict[str, Any] | None:
    if principal is None:
        return None
    return {
        "name": principal.name,
        "role": principal.role,
        "agent_id": principal.agent_id,
        "lines": None if principal.lines is None else sorted(principal.lines),
        "user_id": principal.user_id,
        "language": principal.language,
    }


def principal_from_json(data: object) -> Principal | None:
    if data is None:
        return None
    if not isinstance(data, Mapping):
        raise ValueError("a principal must be an object")
    lines = data.get("lines")
    return Principal(
        str(data["name"]),
        str(data["role"]),
        None if data.get("agent_id") is None else str(data["agent_id"]),
        None if lines is None else frozenset(str(line) for line in lines),
        None if data.get("user_id") is None else int(data["user_id"]),
        None if data.get("language") is None else str(data["language"]),
    )


@dataclass(frozen=True, slots=True)
class SocketEvent:
    """One event of a socket, for the back (in-process, or through ``cc:sockets``). ``name`` is
    the event's, or ``connect`` / ``disconnect`` for the socket's arrival and departure."""

    namespace: str
    sid: str
    name: str
    principal: Principal | None
    context: Mapping[str, Any] = field(default_factory=dict)
    payload: Mapping[str, Any] = field(default_factory=dict)


class Remote(Protocol):
    """The follower's way to the owner's backs (``socket_forwarding.SocketForwarder``)."""

    async def call(self, event: SocketEvent) -> Ack | None: ...  # None: nobody answered in time

    async def tell(self, event: SocketEvent) -> None: ...  # no answer awaited


NOT_ROUTING: Ack = {"error": "the server is changing over: try again in a moment"}


class Relay:
    """Where a front's events go: the local back while this node owns, else the owner."""

    def __init__(self, sio: socketio.AsyncServer, remote: Remote | None) -> None:
        self.sio = sio
        self.remote = remote
        self.backs: dict[str, GuardedNamespace] = {}
        self.fronts: list[Front] = []

    async def announce(self) -> int:
        """A new routing owner: every socket of this node's fronts is told to it again (its back
        adopts them now, not at their next event: a supervisor's wallboard goes on at once)."""
        told = 0
        for front in self.fronts:
            for sid, socket in list(front.sockets.items()):
                await self.tell(front._event(sid, "connect", socket))
                told += 1
        return told

    def attach(self, back: GuardedNamespace) -> None:
        """A back of the routing half: its emits and room changes go through this server."""
        back._set_server(self.sio)
        self.backs[back.namespace] = back

    def detach(self, back: GuardedNamespace) -> None:
        if self.backs.get(back.namespace) is back:
            del self.backs[back.namespace]

    async def local(self, event: SocketEvent) -> Ack:
        """Carried out by this node's back (the owner's side of ``cc:sockets`` too)."""
        back = self.backs.get(event.namespace)
        if back is None:
            return NOT_ROUTING
        return await back.remote(event.sid, event.principal, event.context, event.name, dict(event.payload))

    async def call(self, event: SocketEvent) -> Ack:
        if event.namespace in self.backs or self.remote is None:
            return await self.local(event)
        answer = await self.remote.call(event)
        return NOT_ROUTING if answer is None else answer

    async def tell(self, event: SocketEvent) -> None:
        try:
            if event.namespace in self.backs or self.remote is None:
                await self.local(event)
            else:
                await self.remote.tell(event)
        except Exception:  # a socket's arrival or departure: the owner learns it at its next event
            log.warning("sockets.tell_failed", extra={"namespace": event.namespace, "event": event.name})


RELAY = web.AppKey("socket_relay", Relay)


@dataclass
class _Socket:
    principal: Principal | None
    bucket: TokenBucket
    context: dict[str, Any] = field(default_factory=dict)


class Front(socketio.AsyncNamespace):  # type: ignore[misc]  # (python-socketio is untyped)
    """A namespace as every node serves it: the checks of ``GuardedNamespace``, the work elsewhere."""

    def __init__(
        self, rules: Rules, settings: RealtimeSettings, tokens: tuple[ApiToken, ...], relay: Relay
    ) -> None:
        super().__init__(rules.namespace)
        self.rules = rules
        self.settings = settings
        self.tokens = tokens
        self.relay = relay
        self.sockets: dict[str, _Socket] = {}

    def _event(
        self, sid: str, name: str, socket: _Socket, payload: Mapping[str, Any] | None = None
    ) -> SocketEvent:
        return SocketEvent(self.namespace, sid, name, socket.principal, dict(socket.context), payload or {})

    async def trigger_event(self, name: str, *args: Any) -> Any:
        if name == "connect":
            sid, environ = args[0], args[1]
            auth = args[2] if len(args) > 2 else None
            principal = await self.rules.admit(self, sid, environ, auth, self.tokens)
            arrived = _Socket(principal, TokenBucket(self.settings.events_per_second, self.settings.burst))
            self.sockets[sid] = arrived
            await self.relay.tell(self._event(sid, "connect", arrived))
            return True
        if name == "disconnect":
            gone = self.sockets.pop(args[0], None)
            if gone is not None:
                await self.relay.tell(self._event(args[0], "disconnect", gone))
            return None
        sid = args[0]
        socket = self.sockets.get(sid)
        if socket is None:
            return {"error": "not connected"}
        if not socket.bucket.take():
            return {"error": "too many events: slow down"}
        roles = self.rules.events.get(name)
        if roles is None:
            return {"error": f"unknown event {str(name)[:40]!r}"}
        try:
            payload = screen(roles, socket.principal, args, self.settings)
        except BadRequest as err:
            return {"error": str(err)}
        payload = self.rules.prepare(name, payload)
        ack: Ack | None = None
        if (
            self.rules.shortcut is not None
            and self.relay.remote is not None
            and self.namespace not in self.relay.backs
        ):
            try:
                ack = await self.rules.shortcut(sid, name, payload, socket.context)
            except BadRequest as err:
                return {"error": str(err)}
            except Exception:  # the owner's way then
                log.exception("sockets.shortcut_failed", extra={"namespace": self.namespace, "event": name})
        if ack is None:
            try:
                ack = await self.relay.call(self._event(sid, name, socket, payload))
            except Exception:
                log.exception("sockets.relay_failed", extra={"namespace": self.namespace, "event": name})
                return {"error": "internal error"}
        if isinstance(ack, dict):
            if "error" not in ack:
                self.rules.remember(name, payload, ack, socket.context)
            if any(key.startswith("_") for key in ack):  # the front's, never the browser's
                return {key: value for key, value in ack.items() if not key.startswith("_")}
        return ack

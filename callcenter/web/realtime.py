"""The real-time layer: one Socket.IO server (python-socketio on aiohttp) for the web-chat widget
(``/customer``) and the agent panel (``/agent``).

Invariants:

- Deny by default, like HTTP routes: a namespace handles only the events declared with
  :func:`event` and the roles each allows; any other event name gets ``{"error": ...}`` back.
- A handler never kills a socket: bad input (:class:`BadRequest`) and unexpected errors become an
  ``{"error": ...}`` acknowledgement; nothing is stored for a refused event.
- Every socket has a rate limit (token bucket); an event whose payload is over
  ``realtime.max_message_bytes`` gets an error ack, and the transport drops a connection that
  sends a packet over four times that (the client reconnects).
- Who a socket is comes from ONE function, :func:`authenticate_socket`.
- With ``realtime.redis_url`` every emit goes through Redis, so a socket on any node gets it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import socketio
from aiohttp import web

from callcenter import bounded_json
from callcenter.accounts.principal import Principal
from callcenter.aio import cancel_and_wait
from callcenter.core.errors import DomainError
from callcenter.settings import ApiToken, RealtimeSettings
from callcenter.web import domain_errors
from callcenter.web.auth import AUTH_KEY, PUBLIC, ROLES, TokenAuthenticator, allow
from callcenter.web.openapi import doc

log = logging.getLogger(__name__)

SOCKETIO_PATH = "/socket.io/"
REDIS_CONNECTIONS = 1024  # the fan-out's pool (Redis accepts 10,000 clients by default)
TRANSPORT_FACTOR = 4  # packets up to 4x max_message_bytes are read (and refused with an ack)
_EVENT_ATTR = "_callcenter_event"

Ack = dict[str, Any]
# A declared handler: (namespace, sid, payload) -> acknowledgement.
_Handler = Callable[[Any, str, Any], Awaitable[Ack]]
H = TypeVar("H", bound=_Handler)


class BadRequest(ValueError):
    """The payload is not what the event takes; the message goes back to the client as is."""


@dataclass(frozen=True, slots=True)
class Realtime:
    sio: socketio.AsyncServer
    settings: RealtimeSettings
    tokens: tuple[ApiToken, ...]


REALTIME = web.AppKey("realtime", Realtime)


class _Server(socketio.AsyncServer):  # type: ignore[misc]  # (python-socketio is untyped)
    """A packet that does not decode (bad JSON, nested deeper than ``bounded_json.MAX_DEPTH``)
    closes its connection with a logged warning, not a traceback."""

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        try:
            await super()._handle_eio_message(eio_sid, data)
        except (ValueError, RecursionError) as err:
            log.warning("realtime.bad_packet", extra={"detail": str(err)[:120]})
            await self.eio.disconnect(eio_sid)


class _Fanout:
    """The JSON of the nodes' Redis channel (python-socketio's manager calls ``dumps`` to publish
    and ``loads`` on what it hears). Every node hears every node's messages, its own included,
    which python-socketio decodes only to drop them: a node's own messages start with its host
    id, so :class:`_NodeRedisManager` drops them undecoded. The channel carries only what our
    nodes published on our Redis, so it is parsed with the standard library's ``json``, not
    :mod:`bounded_json`'s walk of every value (that is for what arrives from outside)."""

    def __init__(self, host_id: str) -> None:
        self.own = ('{"host_id": ' + json.dumps(host_id)).encode()

    @staticmethod
    def dumps(data: dict[str, Any], **options: Any) -> str:
        if data.get("method") == "callback":  # its host_id is the node it is for, not the sender
            return json.dumps(data, **options)
        return json.dumps({"host_id": data.get("host_id"), **data}, **options)

    loads = staticmethod(json.loads)


class _NodeRedisManager(socketio.AsyncRedisManager):  # type: ignore[misc]  # (untyped library)
    """python-socketio's Redis manager without decoding a node's own messages (:class:`_Fanout`).
    What it publishes stays what older nodes read (host_id first is still the same JSON object)."""

    def set_server(self, server: socketio.AsyncServer) -> None:
        super().set_server(server)
        self.json = _Fanout(self.host_id)

    async def _listen(self) -> AsyncIterator[bytes]:
        own = self.json.own
        async for message in super()._listen():
            if not (isinstance(message, bytes) and message.startswith(own)):
                yield message


def build_server(settings: RealtimeSettings) -> socketio.AsyncServer:
    manager = None
    if settings.redis_url is not None:
        # Each emit publishes on a pooled connection; redis-py's pool refuses past its size (100 by
        # default), and a burst of emits on a busy node lost messages ("Cannot publish to redis").
        options = {"max_connections": REDIS_CONNECTIONS}
        manager = _NodeRedisManager(settings.redis_url, channel=settings.channel, redis_options=options)
    return _Server(
        json=bounded_json,
        async_mode="aiohttp",
        client_manager=manager,
        # None: python-engineio accepts the server's own origin only.
        cors_allowed_origins=list(settings.cors_origins) or None,
        # The transport drops a connection over this; up to it, events get an error ack instead.
        max_http_buffer_size=TRANSPORT_FACTOR * settings.max_message_bytes,
        logger=False,
        engineio_logger=False,
    )


async def authenticate_socket(
    environ: Mapping[str, Any], auth: object, tokens: Iterable[ApiToken]
) -> Principal | None:
    """Who opens this socket: an API token (``auth={"token": ...}`` or an ``Authorization: Bearer``
    header), else the signed-in browser's session cookie; None when it proves nothing."""
    presented = ""
    if isinstance(auth, Mapping) and isinstance(auth.get("token"), str):
        presented = auth["token"]
    else:
        scheme, _, value = str(environ.get("HTTP_AUTHORIZATION", "")).partition(" ")
        if scheme.lower() == "bearer":
            presented = value.strip()
    if presented:
        return TokenAuthenticator(tokens).principal(presented)
    request = environ.get("aiohttp.request")
    if not isinstance(request, web.Request):
        return None
    authenticator = request.app.get(AUTH_KEY)
    cookie = request.headers.get("Cookie", "")
    if authenticator is None or not cookie:
        return None
    return await authenticator.principal_from_cookie(cookie)


def event(name: str, *roles: str) -> Callable[[H], H]:
    """Declare a namespace method as the handler of ``name`` for these roles (``PUBLIC``: any
    socket the namespace accepted)."""
    unknown = set(roles) - set(ROLES) - {PUBLIC}
    if unknown or not roles:
        raise ValueError(f"bad roles {sorted(unknown) or roles}")

    def mark(handler: H) -> H:
        setattr(handler, _EVENT_ATTR, (name, frozenset(roles)))
        return handler

    return mark


class TokenBucket:
    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate, self._burst, self._clock = rate, float(burst), clock
        self._tokens = float(burst)
        self._at = clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True


class _Unlimited(TokenBucket):
    def __init__(self) -> None:
        super().__init__(1.0, 1)

    def take(self) -> bool:
        return True


@dataclass
class Peer:
    """What a namespace knows of one of its sockets."""

    principal: Principal | None
    bucket: TokenBucket


def handlers_of(cls: type) -> dict[str, tuple[frozenset[str], _Handler]]:
    """The events a namespace class declares: name -> (roles, handler)."""
    found: dict[str, tuple[frozenset[str], _Handler]] = {}
    for attr in dir(cls):
        mark = getattr(getattr(cls, attr), _EVENT_ATTR, None)
        if mark is not None:
            if mark[0] in found:
                raise ValueError(f"{cls.__name__}: event {mark[0]!r} declared twice")
            found[mark[0]] = (mark[1], getattr(cls, attr))
    return found


class GuardedNamespace(socketio.AsyncNamespace):  # type: ignore[misc]
    """Dispatches only declared events, checks roles and the rate, turns errors into acks.

    Subclasses implement :meth:`accept` (who may connect) and may override :meth:`left`.
    """

    def __init__(self, namespace: str, settings: RealtimeSettings) -> None:
        super().__init__(namespace)
        self.settings = settings
        self.peers: dict[str, Peer] = {}
        self._events = handlers_of(type(self))

    def declared(self) -> dict[str, frozenset[str]]:
        return {name: roles for name, (roles, _) in self._events.items()}

    async def accept(self, sid: str, environ: Mapping[str, Any], auth: object) -> Principal | None:
        """The socket's principal (None: anonymous); raise ConnectionRefusedError to refuse it."""
        raise NotImplementedError

    async def left(self, sid: str, peer: Peer) -> None:
        return None

    async def adopted(self, sid: str, principal: Principal | None, context: Mapping[str, Any]) -> None:
        """A socket accepted by a front (``web/sockets.py``), here or on another node, is known now;
        ``context`` is what the front kept of it (the visitor's last ``start``)."""
        return None

    async def remote(
        self,
        sid: str,
        principal: Principal | None,
        context: Mapping[str, Any],
        name: str,
        payload: dict[str, Any],
    ) -> Ack:
        """An event of a socket a front accepted (``connect``/``disconnect``: its arrival and
        departure). The front checked who it is; the checks of :meth:`trigger_event` apply again."""
        if name == "disconnect":
            await self.trigger_event("disconnect", sid)
            return {"ok": True}
        if sid not in self.peers:
            # The front limits the socket's rate; events it let through may arrive here in a
            # burst (those that waited in cc:sockets during a failover), and are not refused again.
            self.peers[sid] = Peer(principal, _Unlimited())
            await self.adopted(sid, principal, context)
        if name == "connect":
            return {"ok": True}
        result: Ack = await self.trigger_event(name, sid, payload)
        return result

    async def trigger_event(self, name: str, *args: Any) -> Any:
        if name == "connect":
            sid, environ = args[0], args[1]
            auth = args[2] if len(args) > 2 else None
            principal = await self.accept(sid, environ, auth)
            self.peers[sid] = Peer(
                principal, TokenBucket(self.settings.events_per_second, self.settings.burst)
            )
            return True
        if name == "disconnect":
            peer = self.peers.pop(args[0], None)
            if peer is not None:
                try:
                    await self.left(args[0], peer)
                except Exception:
                    log.exception("realtime.disconnect_failed", extra={"namespace": self.namespace})
            return None
        sid = args[0]
        peer = self.peers.get(sid)
        if peer is None:
            return {"error": "not connected"}
        if not peer.bucket.take():
            return {"error": "too many events: slow down"}
        declared = self._events.get(name)
        if declared is None:
            return {"error": f"unknown event {str(name)[:40]!r}"}
        roles, handler = declared
        try:
            payload = screen(roles, peer.principal, args, self.settings)
        except BadRequest as err:
            return {"error": str(err)}
        try:
            return await handler(self, sid, payload)
        except BadRequest as err:
            return {"error": str(err)}
        except DomainError as err:  # a request the core refused: mapped in one place
            return {"error": domain_errors.message_of(err)}
        except Exception:
            log.exception("realtime.event_failed", extra={"namespace": self.namespace, "event": name})
            return {"error": "internal error"}


def screen(
    roles: frozenset[str], principal: Principal | None, args: tuple[Any, ...], settings: RealtimeSettings
) -> dict[str, Any]:
    """The checks a declared socket event passes, on the front (``web/sockets.py``) and on the
    back alike: allowed to the principal's role (``roles``: the event's), one payload object
    within the size limit. Returns the payload; raises BadRequest with the refusal."""
    role = principal.role if principal is not None else None
    if PUBLIC not in roles and role not in roles:
        raise BadRequest("your role may not do this")
    if len(args) > 2:
        raise BadRequest("send one payload object")
    payload = args[1] if len(args) == 2 else {}
    if not isinstance(payload, dict):
        raise BadRequest("the payload must be an object")
    if _size(payload) > settings.max_message_bytes:
        raise BadRequest(f"the payload is larger than {settings.max_message_bytes} bytes")
    return payload


# --- payload checks -------------------------------------------------------------------------------


def _size(payload: object) -> int:
    try:
        return len(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode())
    except (TypeError, ValueError):  # binary attachments: refused as too large to read
        return 1 << 30


def text(data: Mapping[str, Any], key: str, *, limit: int, required: bool = True) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise BadRequest(f"{key} must be a string")
    value = value.strip()
    if required and not value:
        raise BadRequest(f"{key} is required")
    if len(value) > limit:
        raise BadRequest(f"{key} is longer than {limit} characters")
    return value


def flag(data: Mapping[str, Any], key: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise BadRequest(f"{key} must be true or false")
    return value


def secret_id(value: str) -> str:
    """A stable, non-reversible id for a bearer secret (the visitor token is never stored)."""
    return hashlib.sha256(value.encode()).hexdigest()


# --- the HTTP side and the lifecycle ---------------------------------------------------------------


@doc(
    "Socket.IO (Engine.IO polling and WebSocket): namespaces /customer, /agent and /supervisor;"
    " see docs/omnichannel.md for the events and their roles",
    who="a public transport; each namespace authenticates its sockets and checks their roles",
    errors=(400,),
)
@allow(PUBLIC)
async def socketio_endpoint(request: web.Request) -> web.StreamResponse:
    """Engine.IO's polling and WebSocket endpoint; who may do what is checked per namespace/event."""
    realtime = request.app.get(REALTIME)
    if realtime is None:
        raise web.HTTPServiceUnavailable(text='{"error": "starting"}', content_type="application/json")
    response: web.StreamResponse = await realtime.sio.handle_request(request)
    return response


def setup_routes(app: web.Application) -> None:
    app.router.add_get(SOCKETIO_PATH, socketio_endpoint)
    app.router.add_post(SOCKETIO_PATH, socketio_endpoint)
    app.on_shutdown.append(_close_sockets)


async def _close_sockets(app: web.Application) -> None:
    # Open WebSockets would hold the HTTP server's graceful shutdown: close them first (clients
    # reconnect, to another node when there are several).
    realtime = app.get(REALTIME)
    if realtime is None:
        return
    for socket in list(realtime.sio.eio.sockets.values()):
        await socket.close(wait=False, abort=True)


def server_context(
    settings: RealtimeSettings, tokens: tuple[ApiToken, ...]
) -> Callable[[web.Application], AsyncIterator[None]]:
    """The cleanup_ctx of the Socket.IO server (and its Redis manager); before messaging, whose
    web-chat sender emits through it."""

    async def run(app: web.Application) -> AsyncIterator[None]:
        sio = build_server(settings)
        app[REALTIME] = Realtime(sio, settings, tokens)
        log.info("realtime.ready", extra={"redis": settings.redis_url is not None})
        yield
        await sio.shutdown()
        manager = sio.manager
        if isinstance(manager, socketio.AsyncRedisManager):
            await _stop_redis(manager)

    return run


async def _stop_redis(manager: socketio.AsyncRedisManager) -> None:
    # python-socketio starts a listening task on first use and has no stop: cancel it, close Redis.
    task = getattr(manager, "thread", None)
    if task is not None and hasattr(task, "cancel"):
        await cancel_and_wait(task)
    for attr in ("pubsub", "redis"):
        client = getattr(manager, attr, None)
        close = getattr(client, "aclose", None)
        if close is not None:
            try:
                await close()
            except Exception:  # closing a half-open connection at shutdown: nothing to save
                log.debug("realtime.redis_close_failed", exc_info=True)

"""The routing half of the composition root, run only while this node is the routing owner.

Every node serves people (pages, sign-in, QA, IVR flows, Socket.IO's fan-out); exactly one, the
*owner*, also runs the routing half: the engine restored from the database, the agents file, the
messaging service and its outbox, the chat and supervisor namespaces, the recorder and the voice
adapter (FastAGI and AMI). Invariants:

- The half starts on ``on_elected`` and stops on ``on_deposed`` (``storage/leadership.py``): each
  start is paired with its stop, in reverse order, so AMI and FastAGI stop first when the node is
  deposed — routing ends before the writer flushes what is left.
- A new owner starts the half the way a restarted server does: interactions restored from the
  database, callers adopted, AMI reconciled. Nothing is carried over from an earlier term.
- While this node is not the owner, a request that needs the half (an app key it sets is missing)
  is answered 503 with the owner's name, never a 500; it is authenticated first, like any other.
- With an election, routing writes (interactions and their events) are fenced by the term's
  token: a deposed owner's late writes are refused by the database, not merged into the new term.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from aiohttp import web
from redis.asyncio import Redis

from callcenter import metrics
from callcenter.errors import StorageError
from callcenter.forwarding import FORWARDED, Consumer, Forwarder
from callcenter.socket_forwarding import SocketConsumer, redis_client
from callcenter.storage.db import Database, parse_url
from callcenter.storage.leadership import STOPPING, Leadership, PostgresElection, SoleOwner
from callcenter.web.http import streams_its_body
from callcenter.web.sockets import RELAY

log = logging.getLogger(__name__)

Context = Callable[[web.Application], AsyncIterator[None]]
Handler = Callable[[web.Request], Any]


class RoutingHalf:
    """The routing contexts, entered in order when elected and left in reverse when deposed."""

    def __init__(self, app: web.Application, contexts: Sequence[Context]) -> None:
        self._app = app
        self._contexts = tuple(contexts)
        self._stack: contextlib.AsyncExitStack | None = None
        self._keys: frozenset[object] = frozenset()
        self.token: int | None = None
        self.leadership: Leadership | None = None
        self.database: Database | None = None
        self.forwarder: Forwarder | None = None  # with Redis: a follower's way to the owner

    @property
    def owner(self) -> bool:
        return self._stack is not None

    async def start(self, token: int) -> None:
        log.info("routing.starting", extra={"token": token})
        self._keys = frozenset(self._app)
        stack = contextlib.AsyncExitStack()
        self.token = token
        try:
            with _unfrozen(self._app):
                for context in self._contexts:
                    await stack.enter_async_context(contextlib.asynccontextmanager(context)(self._app))
        except BaseException as err:
            await self._close(stack)
            self.token = None
            if isinstance(err, Exception) and not isinstance(self.leadership, SoleOwner):
                # The election steps down and contends again; the cause is in the log.
                log.exception("routing.start_failed")
                raise StorageError(f"routing did not start: {err}") from err
            raise
        self._stack = stack
        metrics.ROUTING_OWNER.set(1)
        log.info("routing.started", extra={"token": token})

    async def stop(self, reason: str) -> None:
        """Leave the routing contexts. Deposed (any ``reason`` but "stopping"): the token goes at
        once, so nothing more is written in this term. Stopping (the node shuts down and still holds
        the lock: the election lets it go only after this): the token stays until the contexts are
        closed, so the writer flushes what routing decided last instead of dropping it."""
        stack, self._stack = self._stack, None
        if reason != STOPPING:
            self.token = None
        metrics.ROUTING_OWNER.set(0)
        if stack is None:
            self.token = None
            return
        log.warning("routing.stopping", extra={"reason": reason})
        try:
            await self._close(stack)
        finally:
            self.token = None
        log.info("routing.stopped")

    async def _close(self, stack: contextlib.AsyncExitStack) -> None:
        with _unfrozen(self._app):
            try:
                await stack.aclose()
            finally:
                for key in [k for k in self._app if k not in self._keys]:
                    del self._app[key]  # a follower answers 503 for these, not a stopped engine's view

    def fencing_token(self) -> int | None:
        return self.token


@contextlib.contextmanager
def _unfrozen(app: web.Application) -> Iterator[None]:
    # aiohttp deprecates changing a started application's state; the routing half sets (and
    # removes) its keys after start-up by design, each time this node is elected (or deposed).
    frozen = app._frozen
    app._frozen = False
    try:
        yield
    finally:
        app._frozen = frozen


HALF = web.AppKey("routing_half", RoutingHalf)


def node_name(app: web.Application) -> str:
    from callcenter.web.api import SETTINGS

    settings = app[SETTINGS]
    return settings.database.node or f"{socket.gethostname()}:{settings.http.port}"


def elects(url: str, election: str) -> bool:
    """Whether nodes on this database contend for the routing (PostgreSQL, unless turned off)."""
    return election == "auto" and parse_url(url).get_backend_name() == "postgresql"


def context(contexts: Sequence[Context], database: web.AppKey[Database]) -> Context:
    """The cleanup_ctx of the election: SoleOwner on SQLite (the half starts within start-up, as
    before), a PostgreSQL candidacy otherwise (the half starts when this node wins). With Redis,
    the half ends with the ``cc:requests`` consumer, and a follower forwards to it."""

    async def run(app: web.Application) -> AsyncIterator[None]:
        from callcenter.web.api import SETTINGS

        settings = app[SETTINGS]
        redis = None
        if settings.realtime.redis_url is not None:
            redis = redis_client(settings.realtime.redis_url)  # a burst waits for a connection
        half = RoutingHalf(app, [*contexts, _consumer(redis), _socket_consumer(redis)])
        half.database = app[database]
        half.forwarder = None if redis is None else Forwarder(redis)
        app[HALF] = half
        try:
            async with _leadership(app, half, settings.database) as leadership:
                half.leadership = leadership
                yield
        finally:
            if redis is not None:
                await redis.aclose()

    return run


@contextlib.asynccontextmanager
async def _leadership(app: web.Application, half: RoutingHalf, settings: Any) -> AsyncIterator[Leadership]:
    leadership: Leadership
    metrics.ROUTING_OWNER.set(0)
    if elects(settings.url, settings.election):
        leadership = PostgresElection(
            settings.url, node_name(app), half.start, half.stop, check_every=settings.election_check_seconds
        )
        assert half.database is not None
        half.database.fencing = half.fencing_token
        log.info("routing.candidate", extra={"node": node_name(app)})
    else:
        leadership = SoleOwner(half.start, half.stop)
    half.leadership = leadership
    await leadership.start()
    try:
        yield leadership
    finally:
        await leadership.stop()
        await half.stop(STOPPING)
        if half.database is not None:
            half.database.fencing = None


def _consumer(redis: Redis | None) -> Context:
    async def run(app: web.Application) -> AsyncIterator[None]:
        if redis is None:
            yield
            return
        from callcenter.web.api import SETTINGS

        http = app[SETTINGS].http
        host = "127.0.0.1" if http.host in ("0.0.0.0", "::", "") else http.host
        consumer = Consumer(redis, node_name(app), f"http://{host}:{http.port}")
        await consumer.start()
        try:
            yield
        finally:
            await consumer.stop()

    return run


def _socket_consumer(redis: Redis | None) -> Context:
    """``cc:sockets``: followers' socket events, carried out by this owner's namespaces."""

    async def run(app: web.Application) -> AsyncIterator[None]:
        relay = app.get(RELAY)
        if redis is None or relay is None:
            yield
            return
        consumer = SocketConsumer(redis, node_name(app), relay)
        await consumer.start()
        try:
            yield
        finally:
            await consumer.stop()

    return run


@web.middleware
async def follower_refusal(request: web.Request, handler: Handler) -> web.StreamResponse:
    """What only the routing owner serves, while this node is not it: forwarded to the owner
    through ``cc:requests`` (with Redis), else (or when nobody answers in time) 503."""
    half = request.app.get(HALF)
    forward = (
        half is not None
        and not half.owner
        and half.forwarder is not None
        and FORWARDED not in request.headers
        and not request.path.startswith("/socket.io")
        and not streams_its_body(request.match_info.handler)  # an upload: served here, never forwarded
    )
    body = await request.read() if forward else b""  # kept: the handler reads the same bytes
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except KeyError as err:
        if half is None or half.owner or not err.args or not isinstance(err.args[0], web.AppKey):
            raise
        if forward and half.forwarder is not None:
            answer = await half.forwarder.forward(request, body)
            if answer is not None:
                return answer
        refusal = {"error": "this node does not route now: try the routing owner"}
        refusal["owner"] = await _owner(half) or ""
        return web.Response(
            status=503,
            text=json.dumps(refusal),
            content_type="application/json",
            headers={"Retry-After": "1"},
        )


async def _owner(half: RoutingHalf) -> str | None:
    if half.database is None:
        return None
    try:
        return await half.database.routing_owner()
    except Exception:  # the answer is 503 either way; the owner's name is a courtesy
        return None

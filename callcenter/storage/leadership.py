"""Who routes: exactly one node at a time, elected through PostgreSQL (issue 14).

No consensus of our own: the database decides. Invariants:

- A node is the *owner* (it runs the routing engine and drives Asterisk) only while it holds the
  session advisory lock ``ROUTING_LOCK`` on a connection of its own, and has seen that connection
  answer within the last ``check_every`` seconds. When a check fails (the connection is cut, its
  backend terminated, the database away, or the answer slower than ``check_every``) the node is
  deposed at once — ``on_deposed`` runs before anything else — and becomes a candidate again.
- A node that wins the lock increments ``routing_owner.token``, the *fencing token*, then waits
  ``grace`` (longer than a deposed owner needs to notice: its next check plus that check's time
  limit) before ``on_elected``. So routing by the old owner stops before routing by the new one
  starts, as long as the old one's event loop runs.
- For when it does not (a long pause, a partition that leaves its connection half-open), writes of
  routing state call :func:`fence` in their transaction: made under an old token they are refused
  (:class:`Deposed`), and the new owner's token increment waits for those already under way.
- A node that stops (SIGTERM) steps down first — its routing half stopped — and only then gives up
  the lock, after marking the term ended (``routing_owner.since`` cleared, on the lock's own
  connection). The next owner finds the mark and starts without the grace: nothing is left to
  wait for. A term that ended any other way (a crash, a cut connection) leaves ``since`` set.

:class:`SoleOwner` is the single-node default (SQLite, or no cluster configured): the owner from
the start, with nothing to elect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from callcenter.aio import cancel_and_wait
from callcenter.errors import StorageError
from callcenter.storage.db import parse_url
from callcenter.storage.db_models import RoutingOwnerRow

log = logging.getLogger(__name__)

ROUTING_LOCK = 0x43430001  # "CC" 1: the advisory lock key every node of one database contends for

STOPPING = "stopping"  # the reason given to on_deposed when this node stops (it still holds the lock)

OnElected = Callable[[int], Awaitable[None]]
OnDeposed = Callable[[str], Awaitable[None]]


class Deposed(StorageError):
    """A routing write made under a fencing token that is no longer the owner's."""


class Leadership(Protocol):
    @property
    def token(self) -> int | None:
        """The fencing token while this node is the owner, else None."""
        ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class SoleOwner:
    """One node, nothing to elect: the owner from ``start`` to ``stop``."""

    def __init__(self, on_elected: OnElected, on_deposed: OnDeposed) -> None:
        self._on_elected, self._on_deposed = on_elected, on_deposed
        self._token: int | None = None

    @property
    def token(self) -> int | None:
        return self._token

    async def start(self) -> None:
        self._token = 1
        await self._on_elected(1)

    async def stop(self) -> None:
        if self._token is not None:
            self._token = None
            await self._on_deposed(STOPPING)


# How long a deposed owner's routing half may take to stop, beyond noticing it was deposed. Measured
# about 0.4 s on an idle 2-core machine with every routing context of 2026-12 (voice, reports, the
# report mailer, tickets, outbound and its panel, CRM webhooks); the margin is for a loaded machine.
STOP_SECONDS = 1.0


class PostgresElection:
    def __init__(
        self,
        url: str,
        node: str,
        on_elected: OnElected,
        on_deposed: OnDeposed,
        *,
        check_every: float = 1.0,
    ) -> None:
        parsed = parse_url(url)
        if parsed.get_backend_name() != "postgresql":
            raise StorageError("an election needs PostgreSQL; one node on SQLite is its own owner")
        self._url = url
        self._safe = parsed.render_as_string(hide_password=True)
        self.node = node
        self._on_elected, self._on_deposed = on_elected, on_deposed
        self.check_every = check_every
        # A deposed owner notices within one interval plus one check's time limit, then its routing
        # contexts close (the AMI session among them): STOP_SECONDS is what that may take.
        self.grace = 2.5 * check_every + STOP_SECONDS
        self._token: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._connection: AsyncConnection | None = None  # the lock's, while this node holds it
        self._busy = asyncio.Lock()  # one query at a time on that connection (checks, release)

    @property
    def token(self) -> int | None:
        return self._token

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"election-{self.node}")

    async def stop(self) -> None:
        """Step down, mark the term ended, then give up the lock (it goes with the connection)
        and stop contending: routing has stopped before another node can win the lock."""
        task, self._task = self._task, None
        token, connection = self._token, self._connection
        await self._step_down(STOPPING)
        if task is not None and token is not None and connection is not None:
            try:
                await self._query(
                    connection,
                    "UPDATE routing_owner SET since = NULL WHERE id = 1 AND token = :token RETURNING token",
                    token=token,
                )
                log.info("election.released", extra={"node": self.node, "token": token})
            except (SQLAlchemyError, OSError, TimeoutError) as err:  # the next owner waits the grace
                log.warning(
                    "election.release_unmarked", extra={"node": self.node, "detail": type(err).__name__}
                )
        if task is not None:
            await cancel_and_wait(task)
        await self._step_down(STOPPING)

    async def _run(self) -> None:
        # Its own engine without a pool: the lock lives and dies with this one connection.
        engine = create_async_engine(self._url, poolclass=NullPool)
        try:
            while True:
                reason = await self._term(engine)
                await self._step_down(reason)
                await asyncio.sleep(self.check_every)
        finally:
            await engine.dispose()

    async def _term(self, engine: AsyncEngine) -> str:
        """Connect, contend, own while checks pass; why it ended."""
        try:
            async with asyncio.timeout(max(5.0, self.check_every)):
                connection = await engine.connect()
        except (SQLAlchemyError, OSError, TimeoutError) as err:
            log.warning("election.unreachable", extra={"database": self._safe, "detail": type(err).__name__})
            return "database unreachable"
        try:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            return await self._campaign(connection)
        except (SQLAlchemyError, OSError, TimeoutError, StorageError) as err:
            return f"{type(err).__name__}: {err}"
        finally:
            with contextlib.suppress(Exception):
                await connection.invalidate()  # no goodbye needed: the lock goes with the session
            with contextlib.suppress(Exception):
                await connection.close()

    async def _query(self, connection: AsyncConnection, sql: str, **params: object) -> object:
        async with self._busy, asyncio.timeout(self.check_every):
            return (await connection.execute(sa.text(sql), params)).scalar()

    async def _campaign(self, connection: AsyncConnection) -> str:
        lock = "SELECT pg_try_advisory_lock(:key)"
        while not await self._query(connection, lock, key=ROUTING_LOCK):  # noqa: ASYNC110 - polling
            await asyncio.sleep(self.check_every)
        self._connection = connection
        try:
            return await self._own(connection)
        finally:
            self._connection = None

    async def _own(self, connection: AsyncConnection) -> str:
        # The new token, and whether the last term was marked ended (``since`` NULL: a clean stop,
        # or no term yet): then nobody can still be routing and the grace is not needed. ``last``
        # reads the row as the statement's snapshot has it, before this update (no FOR UPDATE: that
        # would follow the update to its new version); under the lock nobody else changes it.
        sql = (
            "WITH last AS (SELECT since FROM routing_owner WHERE id = 1)"
            " UPDATE routing_owner SET token = token + 1, node = :node, since = now() WHERE id = 1"
            " RETURNING token, (SELECT since IS NULL FROM last)"
        )
        async with self._busy, asyncio.timeout(self.check_every):
            won = (await connection.execute(sa.text(sql), {"node": self.node})).one_or_none()
        if won is None or not isinstance(won[0], int):
            raise StorageError("routing_owner has no row: run `callcenter db upgrade`")
        token, released = won[0], bool(won[1])
        grace = 0.0 if released else self.grace
        log.info("election.won", extra={"node": self.node, "token": token, "grace_s": grace})
        await asyncio.sleep(grace)
        await self._check(connection, token)
        self._token = token
        await self._on_elected(token)
        while True:
            await asyncio.sleep(self.check_every)
            await self._check(connection, token)

    async def _check(self, connection: AsyncConnection, token: int) -> None:
        current = await self._query(connection, "SELECT token FROM routing_owner WHERE id = 1")
        if current != token:  # cannot happen while we hold the lock; a guard, not a path
            raise StorageError(f"the fencing token moved to {current} under our lock {token}")

    async def _step_down(self, reason: str) -> None:
        if self._token is None:
            return
        token, self._token = self._token, None
        log.warning("election.deposed", extra={"node": self.node, "token": token, "reason": reason})
        await self._on_deposed(reason)


# The owner's token as a fenced transaction reads it. PostgreSQL: FOR SHARE, so a new owner's
# increment waits for that transaction (its writes land in the old term, never after the new owner
# has started); SQLite has one node.
OWNER_TOKEN = sa.select(RoutingOwnerRow.token).where(RoutingOwnerRow.id == 1).with_for_update(read=True)


def held(token: int | None) -> int:
    """The token a routing write goes under; Deposed when this node does not own."""
    if token is None:
        raise Deposed("a routing write while this node is not the routing owner")
    return token


def check_token(token: int, current: object) -> None:
    """Deposed unless ``current`` (:data:`OWNER_TOKEN`, read in the writing transaction) is ``token``."""
    if current != token:
        raise Deposed(f"routing write under token {token}, the owner's is {current}")


async def fence(connection: AsyncConnection, token: int) -> None:
    """In a transaction writing routing state: go on only if ``token`` is still the owner's."""
    check_token(token, await connection.scalar(OWNER_TOKEN))

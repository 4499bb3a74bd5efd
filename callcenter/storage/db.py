"""Database adapter: stores interaction snapshots and their event log (SQLite or PostgreSQL).

The core hands out immutable :class:`~callcenter.core.interaction.Interaction` snapshots; this
module upserts them, so a stored row is always the last snapshot saved for its id. The core's
POSIX-second floats become timezone-aware UTC datetimes in the database (microsecond precision) and
floats again on the way out.

Every SQLAlchemy or driver failure leaves this module as :class:`DatabaseError`, with the original
exception as its cause. Messages never carry the password of the URL, nor statement parameters
(caller numbers are personal data).

Supported URLs: ``sqlite+aiosqlite:///PATH`` (the default; WAL mode, a busy timeout, one real
transaction per unit of work) and ``postgresql+asyncpg://USER:PASSWORD@HOST:PORT/DBNAME``.
"""

from __future__ import annotations

import asyncio
import functools
import os
import weakref
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast, overload

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from callcenter.aio import cancel_safe
from callcenter.core import notices as nt
from callcenter.core.commands import RecordEvent, SaveInteraction
from callcenter.core.interaction import Channel, EndedBy, Interaction, Outcome
from callcenter.core.notices import Notice
from callcenter.errors import StorageError
from callcenter.storage.db_models import EventRow, InteractionRow, RoutingOwnerRow
from callcenter.storage.event_log import event_row, notice_of
from callcenter.storage.migrations import run_upgrade

SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")
URL_EXAMPLES = (
    "sqlite+aiosqlite:///var/lib/callcenter/callcenter.db or "
    "postgresql+asyncpg://USER:PASSWORD@HOST:5432/DBNAME"
)
# How long an SQLite writer waits for another connection's write to finish before failing.
SQLITE_BUSY_TIMEOUT_MS = 10_000
# Execution option: begin SQLite transactions with BEGIN IMMEDIATE (the write lock at once).
_SQLITE_IMMEDIATE = "callcenter_sqlite_immediate"
# For engines whose transactions read then write (e.g. Session.merge): in WAL mode a deferred
# transaction that read before another connection committed fails at its first write with
# "database is locked" at once, busy timeout or not; taking the write lock first makes it wait.
SQLITE_WRITE_FIRST = {_SQLITE_IMMEDIATE: True}
# The Core tables behind the ORM classes: bulk statements on them skip the ORM's per-row work.
INTERACTIONS = cast(sa.Table, InteractionRow.__table__)
EVENTS = cast(sa.Table, EventRow.__table__)
# A health check must answer even when the database hangs (e.g. a host that drops packets).
PING_TIMEOUT = 5.0
# Errors that mean "the database did not do it". TimeoutError and connection refusals are OSErrors;
# asyncpg raises some of them below SQLAlchemy's translation layer.
_FOREIGN_ERRORS = (SQLAlchemyError, OSError)


class DatabaseError(StorageError):
    """The database could not be opened, read or written; the message says what and why."""


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One entry of an interaction's event log, as stored. ``id`` grows in insertion order."""

    id: int
    interaction_id: str
    at: float
    kind: str
    data: Mapping[str, object]

    @property
    def notice(self) -> Notice | None:
        """The typed notice this row records (``None``: a kind or keys no notice class has)."""
        return notice_of(self.interaction_id, self.at, self.kind, self.data)


def parse_url(url: str) -> URL:
    """Check that ``url`` names a backend we support; raise :class:`DatabaseError` otherwise."""
    try:
        parsed = make_url(url)
    except ArgumentError as err:
        # Not echoed: an unparsable URL may still hold a password.
        raise DatabaseError(f"invalid database URL; expected e.g. {URL_EXAMPLES}") from err
    if parsed.drivername not in SUPPORTED_DRIVERS:
        raise DatabaseError(
            f"unsupported database URL scheme {parsed.drivername!r} in "
            f"{parsed.render_as_string(hide_password=True)}: the server needs an async driver; "
            f"use {URL_EXAMPLES}"
        )
    return parsed


def create_engine(url: str, *, immediate: bool = False) -> AsyncEngine:
    """An engine for ``url`` with our per-backend settings. Creates an SQLite file's directory.

    ``immediate``: SQLite transactions take the write lock when they begin. Needed where a
    transaction reads before it writes (``session.merge``): a deferred one would fail at once with
    "database is locked" when another connection wrote in between, busy timeout or not.
    """
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        _make_sqlite_directory(parsed)
        engine = create_async_engine(parsed)
        event.listen(engine.sync_engine, "connect", _on_sqlite_connect)
        event.listen(engine.sync_engine, "begin", _on_sqlite_begin)
        return engine.execution_options(**{_SQLITE_IMMEDIATE: True}) if immediate else engine
    # pre_ping: a pooled connection that died with a PostgreSQL restart is replaced, not reused.
    return create_async_engine(parsed, pool_pre_ping=True)


def open_engine(url: str, shared: AsyncEngine | None, *, immediate: bool = False) -> tuple[AsyncEngine, bool]:
    """A store's engine: the server's shared one (created, migrated and disposed once by
    :class:`Database`, in the composition root), or its own for ``url`` when none is given (the
    command line, tests); the flag says whether the store owns it (and disposes of it).

    One engine means one connection pool and one set of SQLite connection settings for every store;
    ``immediate`` only changes how this store's SQLite transactions begin (see :func:`create_engine`).
    """
    if shared is None:
        return create_engine(url, immediate=immediate), True
    return (shared.execution_options(**SQLITE_WRITE_FIRST) if immediate else shared), False


def _reason(err: BaseException) -> str:
    if isinstance(err, DBAPIError) and err.orig is not None:
        # The driver's own words, without SQLAlchemy's dump of the statement and its parameters.
        err = err.orig
    if isinstance(err, OSError) and err.errno and err.strerror != os.strerror(err.errno):
        # asyncpg says "Connect call failed"; the system's words say why.
        return f"{os.strerror(err.errno)} ({err})"
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__


class SessionStore:
    """The engine and ORM sessions of a store (accounts, messaging): the shared engine, or its own
    (:func:`open_engine`); the schema is migrated by :class:`Database`, which builds on it too.

    Subclasses name themselves in errors (``_name``) and say whether their transactions take the
    SQLite write lock when they begin (``_immediate``, for transactions that read then write)."""

    _name = "store"
    _immediate = False

    def __init__(self, url: str, engine: AsyncEngine | None = None) -> None:
        self._url = url
        self._safe_url = parse_url(url).render_as_string(hide_password=True)
        self._shared = engine
        self._engine: AsyncEngine | None = None
        self._owned = False
        self._sessions: async_sessionmaker[AsyncSession] | None = None

    async def start(self) -> None:
        self._engine, self._owned = open_engine(self._url, self._shared, immediate=self._immediate)
        self._sessions = async_sessionmaker(self._engine, expire_on_commit=False)

    async def stop(self) -> None:
        engine, self._engine, self._sessions = self._engine, None, None
        if engine is not None and self._owned:
            await engine.dispose()

    @asynccontextmanager
    async def _transaction(self, action: str) -> AsyncIterator[AsyncSession]:
        if self._sessions is None:
            raise DatabaseError(f"cannot {action}: the {self._name} is not started")
        try:
            async with self._sessions.begin() as session:
                yield session
        except _FOREIGN_ERRORS as err:
            raise DatabaseError(f"cannot {action} in {self._safe_url}: {self._why(err)}") from err

    @staticmethod
    def _why(err: BaseException) -> str:
        return type(err).__name__


class ConnectionStore:
    """The engine of a store on Core connections (QA, transcription jobs): the shared engine
    (migrated by :class:`Database`), or its own, migrated when it starts.

    Subclasses name themselves in errors (``_name``); ``_immediate``: every transaction takes the
    SQLite write lock when it begins (else only those opened with ``write=True``)."""

    _name = "store"
    _immediate = False

    def __init__(self, url: str, engine: AsyncEngine | None = None) -> None:
        self._url = url
        self._shared = engine
        self._engine: AsyncEngine | None = None
        self._owned = False

    async def _open(self) -> None:
        if self._engine is None:
            if self._shared is None:
                await upgrade(self._url)
            self._engine, self._owned = open_engine(self._url, self._shared)

    async def stop(self) -> None:
        engine, self._engine = self._engine, None
        if engine is not None and self._owned:
            await engine.dispose()

    @asynccontextmanager
    async def _begin(self, what: str, write: bool = False) -> AsyncIterator[AsyncConnection]:
        """A transaction; ``write``: on SQLite, BEGIN IMMEDIATE, so a transaction that reads and
        then writes waits for the lock at its start instead of failing at its first write."""
        if self._engine is None:
            raise DatabaseError(f"cannot {what}: the {self._name} is not started")
        try:
            async with self._engine.connect() as connection:
                await connection.execution_options(**{_SQLITE_IMMEDIATE: write or self._immediate})
                async with connection.begin():
                    yield connection
        except _FOREIGN_ERRORS as err:
            raise DatabaseError(f"cannot {what}: {type(err).__name__}") from err


async def upgrade(url: str) -> None:
    """Bring the schema at ``url`` to the newest migration (``callcenter db upgrade``)."""
    engine = create_engine(url)
    try:
        await _upgrade(engine)
    finally:
        await engine.dispose()


@cancel_safe
class Database(SessionStore):
    """Interaction and event storage. ``start()`` opens and migrates; ``stop()`` closes.

    The URL is checked when the object is made (no I/O); a database that cannot be reached or
    migrated fails ``start()``. Calls are safe to make concurrently: each is its own transaction.
    """

    _name = "database"
    _why = staticmethod(_reason)  # the driver's own words (the stores beside it give the type)

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._dialect = parse_url(url).get_backend_name()
        # With an election (docs/cluster.md): the routing owner's fencing token, None while this
        # node is not the owner; each batch of routing writes is fenced by it.
        self.fencing: Callable[[], int | None] | None = None

    @property
    def engine(self) -> AsyncEngine:
        """The engine every store of the server shares (after ``start()``)."""
        if self._engine is None:
            raise DatabaseError(f"{self._safe_url}: not started")
        return self._engine

    @property
    def safe_url(self) -> str:
        """The URL with its password masked, for logs."""
        return self._safe_url

    async def start(self) -> None:
        if self._engine is not None:
            return
        engine = create_engine(self._url)
        try:
            await _upgrade(engine)
        except BaseException:
            await engine.dispose()
            raise
        self._engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def stop(self) -> None:
        engine, self._engine, self._sessions = self._engine, None, None
        if engine is not None:
            await engine.dispose()

    async def save_interaction(self, interaction: Interaction) -> None:
        """Insert the snapshot, or replace every column of the stored one (last write wins)."""
        async with self._transaction(f"save interaction {interaction.id!r}") as session:
            values = _row_values(interaction)
            await session.execute(_upsert(self._dialect, tuple(values)), [values])

    async def write_batch(self, items: Sequence[SaveInteraction | Notice | RecordEvent]) -> None:
        """Snapshots and events in one transaction (the service's group commit): one commit for
        everything that was waiting, instead of one each.

        Two statements whatever the batch's size, each sent once with all its rows: the newest
        snapshot of each interaction (the older ones would be overwritten in the same transaction
        anyway), then the events in their order. Few round trips keep SQLite's write lock short;
        the messages of web chat wait for the same lock.
        """
        snapshots: dict[str, dict[str, object]] = {}
        events: list[dict[str, object]] = []
        for item in items:
            if isinstance(item, SaveInteraction):
                snapshots.pop(item.interaction.id, None)  # keep first-seen order of the newest
                snapshots[item.interaction.id] = _row_values(item.interaction)
            else:
                entry = event_row(item)
                events.append(
                    {
                        "interaction_id": entry.interaction_id,
                        "at": _datetime(entry.at),
                        "kind": entry.kind,
                        "data": dict(entry.data),
                    }
                )
        async with self._transaction(f"write {len(items)} interaction snapshot(s) and event(s)") as session:
            if self.fencing is not None:
                await fence_write(await session.connection(), self.fencing())
            if snapshots:
                rows = list(snapshots.values())
                await session.execute(_upsert(self._dialect, tuple(rows[0])), rows)
            if events:
                await session.execute(sa.insert(EVENTS), events)

    async def get_interaction(self, interaction_id: str) -> Interaction | None:
        async with self._transaction(f"read interaction {interaction_id!r}") as session:
            row = await session.get(InteractionRow, interaction_id)
            return None if row is None else _interaction(row)

    async def unfinished_interactions(self) -> list[Interaction]:
        """Interactions without an outcome, oldest first: after a crash, the calls it lost."""
        query = (
            sa.select(InteractionRow)
            .where(InteractionRow.outcome.is_(None))
            .order_by(InteractionRow.started_at, InteractionRow.id)
        )
        async with self._transaction("list unfinished interactions") as session:
            return [_interaction(row) for row in await session.scalars(query)]

    async def pending_wrap_ups(self, since: float, limit: int = 5000) -> list[tuple[str, Interaction]]:
        """The wrap-up forms agents still owed when the server stopped, as (agent, interaction)
        pairs, oldest first: for each answered interaction started since ``since`` that has ended
        (the newest ``limit``), its last agent and every agent who transferred it away, unless
        that agent has a ``wrap_up`` event on it. The interaction is the stored (final) record.
        (``started_at`` is indexed; the events are found by their interaction's index.)"""

        def has(kind: str) -> sa.Exists:
            return sa.exists(
                sa.select(EventRow.id).where(
                    EventRow.interaction_id == InteractionRow.id, EventRow.kind == kind
                )
            )

        query = (
            sa.select(InteractionRow)
            .where(
                InteractionRow.started_at >= _datetime(since),
                InteractionRow.outcome.is_not(None),
                InteractionRow.answered_at.is_not(None),
                # Never wrapped up, or passed between agents (each owes its own).
                sa.or_(~has(nt.WrappedUp.kind), has(nt.Transferred.kind)),
            )
            .order_by(InteractionRow.ended_at.desc(), InteractionRow.id.desc())
            .limit(max(1, limit))
        )
        async with self._transaction("list pending wrap-ups") as session:
            interactions = [_interaction(row) for row in reversed((await session.scalars(query)).all())]
            owing: dict[str, list[str]] = {i.id: [] for i in interactions}
            wrapped: set[tuple[str, str]] = set()
            ids = list(owing)
            for start in range(0, len(ids), 500):
                events = sa.select(EventRow).where(
                    EventRow.interaction_id.in_(ids[start : start + 500]),
                    EventRow.kind.in_((nt.Transferred.kind, nt.WrappedUp.kind)),
                )
                for row in await session.scalars(events.order_by(EventRow.id)):
                    # Read as rows: a call's transfer (attended, to a number) has no notice class yet.
                    agent = row.data.get("from" if row.kind == nt.Transferred.kind else "agent")
                    if isinstance(agent, str) and agent:
                        if row.kind == nt.WrappedUp.kind:
                            wrapped.add((row.interaction_id, agent))
                        else:
                            owing[row.interaction_id].append(agent)
        pairs = []
        for i in interactions:
            agents = owing[i.id] + ([i.agent_id] if i.agent_id is not None else [])
            for agent in dict.fromkeys(agents):  # in order, once each
                if (i.id, agent) not in wrapped:
                    pairs.append((agent, i))
        return pairs

    async def last_agents(self) -> dict[str, str]:
        """Per customer, the agent of their latest answered conversation (sticky routing)."""
        query = (
            sa.select(InteractionRow.customer_id, InteractionRow.agent_id)
            .where(InteractionRow.customer_id.is_not(None), InteractionRow.agent_id.is_not(None))
            .order_by(InteractionRow.started_at, InteractionRow.id)
        )
        async with self._transaction("read last agents") as session:
            return {str(c): str(a) for c, a in (await session.execute(query)).all()}

    async def recent_interactions(
        self, limit: int = 50, *, queues: Collection[str] | None = None
    ) -> list[Interaction]:
        """The latest interactions, newest first; only those of ``queues`` when given."""
        query = (
            sa.select(InteractionRow)
            .order_by(InteractionRow.started_at.desc(), InteractionRow.id.desc())
            .limit(max(1, min(limit, 500)))
        )
        if queues is not None:
            query = query.where(InteractionRow.queue.in_(sorted(queues)))
        async with self._transaction("list recent interactions") as session:
            return [_interaction(row) for row in await session.scalars(query)]

    async def interactions_of_customers(
        self, customer_ids: Collection[str], limit: int = 100
    ) -> list[Interaction]:
        """A customer's calls and conversations (every id of a merged customer), newest first."""
        query = (
            sa.select(InteractionRow)
            .where(InteractionRow.customer_id.in_(sorted(customer_ids)))
            .order_by(InteractionRow.started_at.desc(), InteractionRow.id.desc())
            .limit(max(1, min(limit, 500)))
        )
        async with self._transaction("list a customer's interactions") as session:
            return [_interaction(row) for row in await session.scalars(query)]

    async def add_event(self, interaction_id: str, at: float, kind: str, data: Mapping[str, object]) -> None:
        """Append to the event log. ``data`` must be JSON-serialisable."""
        row = EventRow(interaction_id=interaction_id, at=_datetime(at), kind=kind, data=dict(data))
        async with self._transaction(f"add {kind!r} event of {interaction_id!r}") as session:
            session.add(row)

    async def add_notice(self, notice: Notice | RecordEvent) -> None:
        """Append a notice to the event log, as its row."""
        entry = event_row(notice)
        await self.add_event(entry.interaction_id, entry.at, entry.kind, entry.data)

    async def events_for(self, interaction_id: str) -> list[StoredEvent]:
        """The interaction's events in the order they were added."""
        query = sa.select(EventRow).where(EventRow.interaction_id == interaction_id).order_by(EventRow.id)
        async with self._transaction(f"read events of {interaction_id!r}") as session:
            return [
                StoredEvent(
                    id=row.id,
                    interaction_id=row.interaction_id,
                    at=row.at.timestamp(),
                    kind=row.kind,
                    data=row.data,
                )
                for row in await session.scalars(query)
            ]

    async def routing_owner(self) -> str:
        """The name of the node that won the routing election last ("" before any)."""
        node, _token, _since = await self.routing_term()
        return node

    async def routing_term(self) -> tuple[str, int, float | None]:
        """The last winner of the routing election, its fencing token and when its term began
        (None: it ended it, stopping cleanly, and nobody has won since); ("", 0, None) before any."""
        async with self._transaction("read the routing owner") as session:
            row = await session.get(RoutingOwnerRow, 1)
            if row is None:
                return "", 0, None
            return row.node, row.token, None if row.since is None else row.since.timestamp()

    async def ping(self) -> bool:
        """Whether the database answers a trivial query, within PING_TIMEOUT (for /healthz)."""
        if self._engine is None:
            return False
        try:
            async with asyncio.timeout(PING_TIMEOUT), self._engine.connect() as connection:
                await connection.execute(sa.select(1))
        except _FOREIGN_ERRORS:
            return False
        return True


async def fence_write(connection: AsyncConnection, token: int | None) -> None:
    """In a transaction writing the routing owner's state: go on only if ``token`` (None: this
    node does not own) is still the owner's, else raise ``leadership.Deposed``."""
    from callcenter.storage.leadership import fence, held  # it builds on this module

    await fence(connection, held(token))


# Alembic keeps the running migration's context in module globals, so two upgrades in one process
# must not interleave; between processes the database's own lock orders them (see run_upgrade).
_upgrade_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


async def _upgrade(engine: AsyncEngine) -> None:
    lock = _upgrade_locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())
    try:
        async with lock, engine.connect() as connection:
            # SQLite: take the write lock before reading the schema version, so a second process
            # waits (busy timeout) and then finds nothing to do, instead of failing at its first DDL.
            await connection.execution_options(**{_SQLITE_IMMEDIATE: True})
            async with connection.begin():
                await connection.run_sync(run_upgrade)
    except _FOREIGN_ERRORS as err:
        url = engine.url.render_as_string(hide_password=True)
        raise DatabaseError(f"cannot open and migrate database {url}: {_reason(err)}") from err


def _make_sqlite_directory(url: URL) -> None:
    path = url.database
    if not path or path == ":memory:" or url.query.get("uri"):
        return
    try:
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        message = f"cannot create the directory of SQLite database {path}: {err}"
        raise DatabaseError(message) from err


def _on_sqlite_connect(dbapi_connection: Any, _record: object) -> None:
    # The driver would open transactions only before INSERT/UPDATE/DELETE, leaving DDL (migrations)
    # outside them; SQLAlchemy's recipe: switch that off and emit BEGIN in _on_sqlite_begin.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # WAL: readers (reports, /healthz) never block the writer nor wait for it.
        cursor.execute("PRAGMA journal_mode=WAL")
        # Writers queue for the lock instead of failing at once with "database is locked".
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def _on_sqlite_begin(connection: sa.Connection) -> None:
    immediate = connection.get_execution_options().get(_SQLITE_IMMEDIATE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@functools.lru_cache(maxsize=8)
def _upsert(dialect_name: str, columns: tuple[str, ...]) -> sa.Executable:
    """INSERT ... ON CONFLICT (id) DO UPDATE of ``columns``, for one or many rows of
    :func:`_row_values` (both dialects spell it the same way). On the Core table: the ORM's bulk
    machinery costs more than the statement itself. Built once per dialect."""
    insert = postgresql.insert if dialect_name == "postgresql" else sqlite.insert
    statement = insert(INTERACTIONS)
    updates: dict[str, Any] = {name: statement.excluded[name] for name in columns if name != "id"}
    updates["updated_at"] = sa.func.now()
    return statement.on_conflict_do_update(index_elements=[INTERACTIONS.c.id], set_=updates)


def _row_values(i: Interaction) -> dict[str, object]:
    return {
        "id": i.id,
        "channel": i.channel.value,
        "caller_number": i.caller_number,
        "started_at": _datetime(i.started_at),
        "caller_name": i.caller_name,
        "caller_channel": i.caller_channel,
        "dialed_number": i.dialed_number,
        "ivr_choice": i.ivr_choice,
        "queue": i.queue,
        "queued_at": _datetime(i.queued_at),
        "priority": i.priority,
        "offered_to": i.offered_to,
        "agent_id": i.agent_id,
        "answered_at": _datetime(i.answered_at),
        "ended_at": _datetime(i.ended_at),
        "outcome": None if i.outcome is None else i.outcome.value,
        "ended_by": None if i.ended_by is None else i.ended_by.value,
        "hangup_cause": i.hangup_cause,
        "offer_attempts": i.offer_attempts,
        "routing_reason": i.routing_reason,
        "skills": dict(i.skills),
        "language": i.language,
        "callback_number": i.callback_number,
        "callback_attempts": i.callback_attempts,
        "callback_due_at": _datetime(i.callback_due_at),
        "overflowed_from": i.overflowed_from,
        "customer_id": i.customer_id,
        "conversation_id": i.conversation_id,
        "preferred_agent": i.preferred_agent,
        "preferred_until": _datetime(i.preferred_until),
        "transferred_to": i.transferred_to,
        "disposition": i.disposition,
        "notes": i.notes or None,
        "wait_seconds": i.wait_seconds,
        "talk_seconds": i.talk_seconds,
    }


def _interaction(row: InteractionRow) -> Interaction:
    try:
        return Interaction(
            id=row.id,
            channel=Channel(row.channel),
            caller_number=row.caller_number,
            started_at=row.started_at.timestamp(),
            caller_name=row.caller_name,
            caller_channel=row.caller_channel,
            dialed_number=row.dialed_number,
            ivr_choice=row.ivr_choice,
            queue=row.queue,
            queued_at=_posix(row.queued_at),
            priority=row.priority,
            offered_to=row.offered_to,
            agent_id=row.agent_id,
            answered_at=_posix(row.answered_at),
            ended_at=_posix(row.ended_at),
            outcome=None if row.outcome is None else Outcome(row.outcome),
            ended_by=None if row.ended_by is None else EndedBy(row.ended_by),
            hangup_cause=row.hangup_cause,
            offer_attempts=row.offer_attempts,
            routing_reason=row.routing_reason,
            skills={str(k): int(v) for k, v in (row.skills or {}).items()},
            language=row.language,
            callback_number=row.callback_number,
            callback_attempts=row.callback_attempts,
            callback_due_at=_posix(row.callback_due_at),
            overflowed_from=row.overflowed_from,
            customer_id=row.customer_id,
            conversation_id=row.conversation_id,
            preferred_agent=row.preferred_agent,
            preferred_until=_posix(row.preferred_until),
            transferred_to=row.transferred_to,
            disposition=row.disposition,
            notes=row.notes or "",
        )
    except ValueError as err:  # an enum value this version does not know
        message = f"interaction {row.id!r} has an unreadable stored value: {err}"
        raise DatabaseError(message) from err


@overload
def _datetime(t: float) -> datetime: ...
@overload
def _datetime(t: float | None) -> datetime | None: ...
def _datetime(t: float | None) -> datetime | None:
    return None if t is None else datetime.fromtimestamp(t, UTC)


def _posix(d: datetime | None) -> float | None:
    return None if d is None else d.timestamp()

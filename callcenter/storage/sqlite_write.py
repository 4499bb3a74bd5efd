"""A hot write on SQLite in one trip to the driver's thread.

aiosqlite runs every SQLite call on the connection's own thread and hands the result back to the
event loop: each call wakes that thread and then the loop (about 30 µs of CPU here). Through
SQLAlchemy a statement takes three such trips (cursor, execute, close) and a transaction about
eleven, with SQLAlchemy's own work per statement on top: a commit of one web-chat message and its
conversation cost 1.3 ms of CPU, most of the server's cost per message (docs/performance.md).

:meth:`Lane.write` runs a whole transaction as one function on the driver's thread: ``BEGIN
IMMEDIATE``, each statement with its rows, ``COMMIT`` (``ROLLBACK`` on any failure, so the
connection is left clean), on a connection the lane keeps. The statements are SQLAlchemy Core
statements compiled once (:func:`prepare`): the dialect's SQL and its bind processors, so values
are stored exactly as the ORM path stores them (the same text for times, 0/1 for booleans).

Only for SQLite (the driver's thread is aiosqlite's), only for writes that read nothing first.
The connection is one of the shared engine's pool, with its settings (WAL, busy timeout).
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.compiler import SQLCompiler

from callcenter.storage.db import DatabaseError, _reason

_Processor = Callable[[Any], Any] | None
_VALUES = re.compile(r"((?:\$\d+::[A-Z][A-Z ]*, )*\$\d+::[A-Z][A-Z ]*)\)")


@dataclass(frozen=True, slots=True)
class Prepared:
    """A statement compiled for the SQLite driver: its SQL and, per positional parameter, the
    row's key and the bind processor of its type (None: passed as is)."""

    sql: str
    keys: tuple[str, ...]
    processors: tuple[_Processor, ...]
    # PostgreSQL's: the statement around its VALUES (``INSERT INTO t (a, b)`` and what follows,
    # e.g. ON CONFLICT), and each parameter's type: rows as arrays (``storage/pg_write.py``).
    head: str = ""
    tail: str = ""
    types: tuple[str, ...] = ()

    def parameters(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(
            row[key] if process is None else process(row[key])
            for key, process in zip(self.keys, self.processors, strict=True)
        )


def prepare(statement: sa.ClauseElement, engine: AsyncEngine, columns: Sequence[str]) -> Prepared:
    """Compile an INSERT (or upsert) of ``columns`` once, for ``engine``'s dialect: SQLite's
    (``?`` parameters) or PostgreSQL's on asyncpg (``$1``: ``storage/pg_write.py``)."""
    dialect = engine.dialect
    if (dialect.name, dialect.paramstyle) not in (("sqlite", "qmark"), ("postgresql", "numeric_dollar")):
        raise ValueError(f"prepared writes are for SQLite or PostgreSQL on asyncpg, not {dialect.name}")
    compiled = cast(SQLCompiler, statement.compile(dialect=dialect, column_keys=list(columns)))
    keys = tuple(compiled.positiontup or ())
    if set(keys) != set(columns):
        raise ValueError(f"the statement binds {keys}, not {tuple(columns)}")
    # dialect_impl: what SQLAlchemy itself runs (e.g. SQLite's text form of a datetime).
    processors = tuple(compiled.binds[key].type.dialect_impl(dialect).bind_processor(dialect) for key in keys)
    if dialect.name != "postgresql":
        return Prepared(compiled.string, keys, processors)
    # The casts the dialect gave each parameter (e.g. ``$6::VARCHAR``, a TEXT column's included).
    head, _, rest = compiled.string.partition(" VALUES (")
    values = _VALUES.match(rest)
    casts = [] if values is None else values.group(1).split(", ")
    if values is None or [c.partition("::")[0] for c in casts] != [f"${n}" for n in range(1, len(keys) + 1)]:
        raise ValueError(f"not an INSERT of one row of cast values: {compiled.string}")
    types = tuple(c.partition("::")[2] for c in casts)
    return Prepared(compiled.string, keys, processors, head, rest[values.end() :], types)


class KeptConnection:
    """One connection of the engine's pool, kept by one writer for its hot transactions: no
    checkout, no reset on return and none of SQLAlchemy's connection work per transaction; the
    driver's own connection (``_driver``) is what the writer uses. After a failure that was not
    the statements' (the connection, I/O) it is given up (:meth:`_drop`), and the next
    transaction takes another from the pool."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None
        self._driver: Any = None  # the driver's connection (aiosqlite's, asyncpg's)
        self._opening = asyncio.Lock()

    async def close(self) -> None:
        connection, self._connection, self._driver = self._connection, None, None
        if connection is not None:
            await connection.close()

    async def _open(self) -> Any:
        async with self._opening:
            if self._driver is None:
                connection = await self._engine.connect()
                try:
                    driver = (await connection.get_raw_connection()).driver_connection
                    if driver is None:
                        raise ValueError("Connection closed")
                except BaseException:
                    await connection.close()
                    raise
                self._connection, self._driver = connection, driver
            return self._driver

    async def _drop(self) -> None:
        connection, self._connection, self._driver = self._connection, None, None
        if connection is not None:
            try:
                await connection.invalidate()
                await connection.close()
            except Exception:  # already broken: nothing more to release
                pass


class Lane(KeptConnection):
    """SQLite's: outside a transaction it holds no lock and no read snapshot (the connection is
    in autocommit mode between them). Transactions given at once queue on the connection's
    thread, each whole."""

    def __init__(self, engine: AsyncEngine) -> None:
        if engine.dialect.name != "sqlite":
            raise ValueError(f"a lane is for SQLite, not {engine.dialect.name}")
        super().__init__(engine)

    async def write(self, action: str, steps: Sequence[tuple[Prepared, Sequence[Mapping[str, Any]]]]) -> None:
        """One transaction: each prepared statement run for its rows, in order; all or nothing.
        DatabaseError when it was rolled back (``action`` says what in its message), the
        driver's error as its cause (``sqlite3.IntegrityError`` for a broken unique constraint)."""
        try:
            # The parameters are made here, on the loop: the driver's thread only runs SQLite.
            work = [(p.sql, [p.parameters(row) for row in rows]) for p, rows in steps if rows]
            if not work:
                return
            driver = self._driver if self._driver is not None else await self._open()
            # aiosqlite's own way to run a function on its thread (SQLAlchemy's adapter reaches
            # into the same queue); the function touches the sqlite3 connection there only.
            await driver._execute(_transaction, driver, work)
        except (sqlite3.Error, sa.exc.SQLAlchemyError, OSError, ValueError) as err:
            # ValueError: aiosqlite's "Connection closed", or a value a bind processor refused.
            if not isinstance(err, (sqlite3.IntegrityError, sqlite3.OperationalError)):
                await self._drop()
            # The driver's own words, first line (a constraint's name, never the values).
            raise DatabaseError(f"cannot {action}: {type(err).__name__}: {_reason(err)}") from err


def _transaction(driver: Any, work: list[tuple[str, list[tuple[Any, ...]]]]) -> None:
    """On the driver's thread."""
    connection: sqlite3.Connection = driver._conn
    connection.execute("BEGIN IMMEDIATE")  # the write lock first, waiting up to the busy timeout
    try:
        for sql, rows in work:
            connection.executemany(sql, rows)
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise

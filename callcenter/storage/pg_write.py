"""A hot write on PostgreSQL in asyncpg's own terms.

Through SQLAlchemy's session a transaction of a received web-chat message and its conversation
cost about 1.9 ms of the routing owner's CPU (the session, the greenlet that adapts asyncpg to
SQLAlchemy's calls, the result machinery per statement); through asyncpg's own transaction and
``executemany`` (its prepared statements cached by the connection) about 0.54 ms, in five round
trips (begin, fence, two inserts, commit); as one statement, one round trip, less again
(``bench/pg_write.py``, docs/performance.md).

:class:`PgLane` is :class:`~callcenter.storage.sqlite_write.Lane`'s counterpart: one connection of
the engine's pool kept by one writer, each transaction whole. A transaction is one statement: the
fence (the routing owner's row read ``FOR SHARE``, ``leadership.OWNER_TOKEN``) in a ``WITH``, then
each step's INSERT of its rows given as one array per column (``unnest``), guarded by the fence,
and the owner's token as the answer, compared with this node's (``leadership.check_token``, as
``leadership.fence`` does). The statements are compiled once by SQLAlchemy
(``sqlite_write.prepare``: the dialect's SQL with its casts and ON CONFLICT, and its bind
processors), so the rows are those the session path writes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.storage.db import DatabaseError
from callcenter.storage.leadership import OWNER_TOKEN, Deposed, check_token, held
from callcenter.storage.sqlite_write import KeptConnection, Prepared

# Anything else: the connection is given up, the next transaction takes another.
_BROKEN = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, ValueError, sa.exc.SQLAlchemyError)


class PgLane(KeptConnection):
    """Transactions given at once run one after the other on the lane's connection, each whole.
    ``fencing``: this node's token now (None: it does not own), when nodes elect an owner; every
    transaction is fenced by it then."""

    def __init__(self, engine: AsyncEngine, fencing: Callable[[], int | None] | None) -> None:
        if (engine.dialect.name, engine.dialect.driver) != ("postgresql", "asyncpg"):
            raise ValueError(f"a PostgreSQL lane is for asyncpg, not {engine.dialect.name}")
        super().__init__(engine)
        self._fencing = fencing
        self._fence = str(OWNER_TOKEN.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
        self._turn = asyncio.Lock()  # asyncpg runs one operation at a time per connection

    async def close(self) -> None:
        async with self._turn:
            await super().close()

    async def write(self, action: str, steps: Sequence[tuple[Prepared, Sequence[Mapping[str, Any]]]]) -> None:
        """One transaction: fenced, then each prepared statement for its rows, in order; all or
        nothing. DatabaseError when refused or rolled back (``action`` in its message; a
        deposed owner's says "token", as the session path's).

        It is one statement, one round trip: each step's rows go as one array per column
        (``unnest``) into an INSERT in a ``WITH``, every INSERT guarded by the fence read in the
        same statement (``FOR SHARE``); the statement is its own transaction. A deposed owner's
        statement inserts nothing and answers the owner's token, which is then refused."""
        work = [(p, rows) for p, rows in steps if rows]
        if not work:
            return
        try:
            token = None if self._fencing is None else held(self._fencing())
        except Deposed as err:
            raise DatabaseError(f"cannot {action}: {err}") from err
        sql, arguments = self._statement(work, token)
        async with self._turn:
            try:
                driver = await self._open()
                current = await driver.fetchval(sql, *arguments)
            except asyncpg.IntegrityConstraintViolationError as err:  # e.g. a stored provider id
                raise DatabaseError(f"cannot {action}: {type(err).__name__}: {err.constraint_name}") from err
            except _BROKEN as err:
                await self._drop()
                raise DatabaseError(f"cannot {action}: {type(err).__name__}") from err
        if token is not None:
            try:
                check_token(token, current)
            except Deposed as err:
                raise DatabaseError(f"cannot {action}: {err}") from err

    def _statement(
        self, work: Sequence[tuple[Prepared, Sequence[Mapping[str, Any]]]], token: int | None
    ) -> tuple[str, list[Any]]:
        arguments: list[Any] = []
        ctes = [] if token is None else [f"fence AS ({self._fence})"]
        guard = "true" if token is None else "(SELECT token FROM fence) = $1"
        if token is not None:
            arguments.append(token)
        for k, (prepared, rows) in enumerate(work):
            if not prepared.types:
                raise ValueError("a statement not prepared for PostgreSQL")
            values = [prepared.parameters(row) for row in rows]
            arrays = []
            for column, kind in enumerate(prepared.types):
                arguments.append([row[column] for row in values])
                arrays.append(f"${len(arguments)}::{kind}[]")
            insert = f"{prepared.head} SELECT * FROM unnest({', '.join(arrays)}) WHERE {guard}{prepared.tail}"
            ctes.append(f"s{k} AS ({insert})")
        answer = "(SELECT token FROM fence)" if token is not None else "NULL"
        return f"WITH {', '.join(ctes)} SELECT {answer}", arguments

"""A hot write on PostgreSQL in asyncpg's own terms.

Through SQLAlchemy's session a transaction of a received web-chat message and its conversation
cost about 1.9 ms of the routing owner's CPU (the session, the greenlet that adapts asyncpg to
SQLAlchemy's calls, the result machinery per statement); the same statements through asyncpg's own
transaction and ``executemany`` (its prepared statements cached by the connection) cost about
0.54 ms, both fenced (``bench/pg_write.py``, docs/performance.md).

:class:`PgLane` is :class:`~callcenter.storage.sqlite_write.Lane`'s counterpart: one connection of
the engine's pool kept by one writer, each transaction whole: the fence first (the routing
owner's row read ``FOR SHARE`` and compared with this node's token, by ``leadership``'s
``OWNER_TOKEN`` and ``check_token`` as ``leadership.fence`` does), then each statement for its
rows, committed, or rolled back on any failure. The statements are compiled once by SQLAlchemy
(``sqlite_write.prepare``: the dialect's SQL with its casts, and its bind processors), so the rows
are those the session path writes.
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
        deposed owner's says "token", as the session path's)."""
        work = [(p.sql, [p.parameters(row) for row in rows]) for p, rows in steps if rows]
        if not work:
            return
        async with self._turn:
            try:
                driver = await self._open()
                async with driver.transaction():
                    await self._check_fence(driver)
                    for sql, rows in work:
                        await driver.executemany(sql, rows)
            except Deposed as err:
                raise DatabaseError(f"cannot {action}: {err}") from err
            except asyncpg.IntegrityConstraintViolationError as err:  # e.g. a stored provider id
                raise DatabaseError(f"cannot {action}: {type(err).__name__}: {err.constraint_name}") from err
            except _BROKEN as err:
                await self._drop()
                raise DatabaseError(f"cannot {action}: {type(err).__name__}") from err

    async def _check_fence(self, driver: asyncpg.Connection) -> None:
        if self._fencing is None:
            return
        token = held(self._fencing())
        check_token(token, await driver.fetchval(self._fence))

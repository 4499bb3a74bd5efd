"""Where the durable write of a web-chat message goes on SQLite (issue 14's CPU aim): the CPU of
one commit of received messages through the store's lane (``storage/sqlite_write.py``: one trip
to aiosqlite's thread, ``BEGIN IMMEDIATE``, the message rows, the conversation's upsert,
``COMMIT``), compared in the same run with what it is made of:

- the same transaction (the same function, statements and parameters) run on this thread: no
  trip to another thread;
- an aiosqlite round trip doing nothing (the trip alone);
- each of them with ``synchronous=FULL`` (ours: a commit is on disk before the message is
  acknowledged) and ``NORMAL`` (WAL's other setting: a power cut may lose the last commits).

    .venv/bin/python bench/sqlite_lane.py [--commits 3000] [--dir /tmp]

CPU is this process's user + system time over the commits, per message, for 1, 2 and 4 messages
per commit (the group commit's batches at 100-500 messages a second). The database is a new file
in ``--dir`` (the disk's fsync is part of the figure: run it where the server's database lives).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sqlite3
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiosqlite
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from callcenter.storage import sqlite_write
from callcenter.storage.db import create_engine
from callcenter.storage.db_models import Base
from callcenter.storage.messaging_store import _CONVERSATIONS, _MESSAGES

BATCHES = (1, 2, 4)


def cpu() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # microseconds (os.times counts ticks)
    return usage.ru_utime, usage.ru_stime


def rows(n: int, batch: int, now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "id": f"m{n}-{k}",
            "conversation_id": "c1",
            "customer_id": "u1",
            "channel": "webchat",
            "direction": "in",
            "body": "Hello, I have a question about my order",
            "at": now,
            "status": "received",
            "provider_id": f"p{n}-{k}",
            "email_message_id": None,
            "status_detail": "",
            "author": None,
        }
        for k in range(batch)
    ]


class Statements:
    """The lane's two statements, compiled as the store compiles them."""

    def __init__(self, engine: Any) -> None:
        self.insert = sqlite_write.prepare(sa.insert(_MESSAGES), engine, tuple(_MESSAGES.c.keys()))
        columns = tuple(_CONVERSATIONS.c.keys())
        upsert = sqlite.insert(_CONVERSATIONS)
        upsert = upsert.on_conflict_do_update(
            index_elements=[_CONVERSATIONS.c.id], set_={k: upsert.excluded[k] for k in columns if k != "id"}
        )
        self.upsert = sqlite_write.prepare(upsert, engine, columns)
        self.now = datetime.now(UTC)
        self.conversation = {
            "id": "c1",
            "customer_id": "u1",
            "channel": "webchat",
            "started_at": self.now,
            "last_at": self.now,
            "subject": "",
            "closed": False,
            "address": "visitor-1",
        }

    def steps(self, n: int, batch: int) -> Any:
        return ((self.insert, rows(n, batch, self.now)), (self.upsert, [self.conversation]))


async def lane(path: Path, synchronous: str, commits: int, batch: int) -> tuple[float, float]:
    engine = create_engine(f"sqlite+aiosqlite:///{path}", immediate=True)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    statements = Statements(engine)
    writer = sqlite_write.Lane(engine)
    await writer.write("warm up", statements.steps(-1, 1))
    await writer._driver.execute(f"PRAGMA synchronous={synchronous}")  # the lane's own connection
    user, system = cpu()
    for n in range(commits):
        await writer.write("bench", statements.steps(n, batch))
    u, s = cpu()
    await writer.close()
    await engine.dispose()
    messages = commits * batch
    return (u - user) / messages, (s - system) / messages


class _Driver:
    """What ``sqlite_write._transaction`` reads of aiosqlite's connection: its sqlite3 one."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn = connection


async def direct(path: Path, synchronous: str, commits: int, batch: int) -> tuple[float, float]:
    """The lane's very transaction (the same function, statements and parameters), run on this
    thread: what is left is the trip to aiosqlite's thread and back."""
    engine = create_engine(f"sqlite+aiosqlite:///{path}", immediate=True)
    statements = Statements(engine)
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(f"PRAGMA synchronous={synchronous}")
    driver = _Driver(connection)
    user, system = cpu()
    for n in range(commits):
        steps = statements.steps(commits + 1 + n, batch)  # ids the lane's run did not take
        work = [(p.sql, [p.parameters(row) for row in rows_]) for p, rows_ in steps]
        sqlite_write._transaction(driver, work)
    u, s = cpu()
    connection.close()
    await engine.dispose()
    messages = commits * batch
    return (u - user) / messages, (s - system) / messages


async def round_trip(commits: int) -> tuple[float, float]:
    connection = await aiosqlite.connect(":memory:")

    def nothing() -> None:
        pass

    user, system = cpu()
    for _ in range(commits):
        await connection._execute(nothing)
    u, s = cpu()
    await connection.close()
    return (u - user) / commits, (s - system) / commits


def show(label: str, figure: tuple[float, float]) -> None:
    user, system = figure
    print(
        f"  {label:<58} {1e6 * (user + system):6.0f} µs  (user {1e6 * user:4.0f}, system {1e6 * system:4.0f})"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--commits", type=int, default=3000)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    print(f"CPU per message, {args.commits} commits each, database in {args.dir}")
    with tempfile.TemporaryDirectory(dir=args.dir) as work:
        for synchronous in ("FULL", "NORMAL"):
            print(f"synchronous={synchronous}")
            for batch in BATCHES:
                path = Path(work) / f"lane-{synchronous}-{batch}.db"
                show(
                    f"the lane, {batch} message(s) a commit",
                    await lane(path, synchronous, args.commits, batch),
                )
                # The same database, its tables made by the lane's run: this thread, no trip.
                show(
                    f"the same, on this thread, {batch} message(s) a commit",
                    await direct(path, synchronous, args.commits, batch),
                )
        show("an aiosqlite round trip doing nothing (per trip)", await round_trip(args.commits))


if __name__ == "__main__":
    asyncio.run(main())

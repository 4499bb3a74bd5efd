"""Tamper-evident audit tables: every row chained to the one before it by a SHA-256 hash.

Each audited table (``CHAINED``) has ``prev_hash`` and ``row_hash`` columns. A row's hash covers the
previous row's hash, the table's name and the row's content (every column but ``id`` and the two
hashes, in a canonical JSON form), so changing, deleting or reordering a stored row breaks the
chain at that row, and :func:`verify` (``callcenter audit verify``) names it. ``audit_heads`` keeps
each chain's newest hash: cutting rows off the end is found too, unless the head is rewritten as
well — which is why ``verify`` prints the heads, for operators to keep elsewhere and pass back with
``--expect`` (an anchor outside the database).

Appends are serialised by the head's row: :func:`append` first updates it (SQLite then holds its
write lock, PostgreSQL a row lock, until the caller's transaction ends), then reads it, so two
writers, on one node or several, can never chain to the same row; a unique index on ``prev_hash``
guards that too. :func:`append` runs inside the audited action's own transaction: if the audit
row cannot be written, the action fails with it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from callcenter.storage.db_models import AuditHeadRow, Base

CHAINED = ("audit", "customer_audit", "playback_audit")
GENESIS = "0" * 64
_NOT_CONTENT = {"id", "prev_hash", "row_hash"}

heads = cast(sa.Table, AuditHeadRow.__table__)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):  # naive only from a raw SQLite read, where times are UTC
        aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return aware.isoformat(timespec="microseconds")
    return value


def digest(prev: str, table: str, content: Mapping[str, Any]) -> str:
    """The hash of one row: the previous row's hash, the table, the content in canonical JSON.

    A storage format, like a file format: migration 0010 chained the rows that existed before it
    with this function, and verify() recomputes it; changing it needs a migration that re-chains."""
    canonical = json.dumps(
        {"table": table, "row": {k: _plain(v) for k, v in content.items() if k not in _NOT_CONTENT}},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(prev.encode() + canonical.encode()).hexdigest()


async def append(conn: AsyncConnection, model: type[Base], values: Mapping[str, Any]) -> str:
    """Insert one audit row chained to the table's head; returns its hash. In the caller's transaction."""
    return await append_many(conn, model, [values])


async def append_many(conn: AsyncConnection, model: type[Base], rows: Sequence[Mapping[str, Any]]) -> str:
    """Insert rows chained in order to the table's head, with one read and one write of the head
    (a burst of new customers is one statement, not four per row); returns the new head's hash.
    In the caller's transaction."""
    table = cast(sa.Table, model.__table__)
    name = table.name
    if name not in CHAINED:
        raise ValueError(f"{name} is not a chained audit table")
    # The write first: it takes the lock that serialises appends (see the module's docstring).
    await conn.execute(heads.update().where(heads.c.name == name).values(rows=heads.c.rows))
    prev = await conn.scalar(sa.select(heads.c.head).where(heads.c.name == name))
    if prev is None:  # a table the migration did not seed (a new database made from the models)
        prev = GENESIS
        await conn.execute(heads.insert().values(name=name, head=GENESIS, rows=0))
    if not rows:
        return prev
    chained = []
    for values in rows:
        content = {c.name: _column_value(c, values) for c in table.columns if c.name not in _NOT_CONTENT}
        new = digest(prev, name, content)
        chained.append({**content, "prev_hash": prev, "row_hash": new})
        prev = new
    await conn.execute(table.insert(), chained)
    await conn.execute(
        heads.update().where(heads.c.name == name).values(head=prev, rows=heads.c.rows + len(chained))
    )
    return prev


def _column_value(column: sa.Column[Any], values: Mapping[str, Any]) -> Any:
    if column.name in values:
        return values[column.name]
    if column.nullable:
        return None
    raise ValueError(f"audit row for {column.table.name} lacks {column.name}")


@dataclass(frozen=True, slots=True)
class ChainReport:
    table: str
    rows: int
    head: str
    broken_at: int | None  # the id of the first row that does not chain, if any
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_at is None and not self.problem


async def rows_of(
    conn: AsyncConnection, table: sa.Table, batch: int = 1000
) -> AsyncIterator[Mapping[str, Any]]:
    """Every row in id order, read a batch at a time (an audit table can be large)."""
    last = -1
    while True:
        rows = (
            (await conn.execute(sa.select(table).where(table.c.id > last).order_by(table.c.id).limit(batch)))
            .mappings()
            .all()
        )
        if not rows:
            return
        for row in rows:
            yield dict(row)
        last = rows[-1]["id"]


async def verify(conn: AsyncConnection, table: sa.Table, on_row: Any = None) -> ChainReport:
    """Walk the table in id order, recompute every hash and compare with the stored head."""
    prev, count = GENESIS, 0
    async for row in rows_of(conn, table):
        count += 1
        if on_row is not None:
            on_row()
        if row["prev_hash"] != prev:
            return ChainReport(table.name, count, prev, row["id"], "does not follow the row before it")
        expected = digest(prev, table.name, {k: v for k, v in row.items()})
        if row["row_hash"] != expected:
            return ChainReport(table.name, count, prev, row["id"], "its content was changed")
        prev = row["row_hash"]
    stored = await conn.scalar(sa.select(heads.c.head).where(heads.c.name == table.name))
    if stored is not None and stored != prev:
        return ChainReport(
            table.name, count, prev, None, f"rows after {prev[:12]} are missing (head {stored[:12]})"
        )
    return ChainReport(table.name, count, prev, None)

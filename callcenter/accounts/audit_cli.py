"""``callcenter audit verify``: check the hash chain of every audit table (adapters/audit_chain.py).

Prints each table's rows, whether its chain holds and its head hash. Keep the heads somewhere
outside the database (a ticket, a log shipped elsewhere) and pass them back with ``--expect
TABLE=HEAD`` next time: rows cut off the end and a rewritten head are then found too. Exit status:
0 when every chain holds, 1 when one is broken, 2 when the database cannot be read.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from callcenter.settings import Settings


def add_parser(sub: Any) -> None:
    audit = sub.add_parser("audit", help="the tamper-evident audit trail")
    audit.add_argument("action", choices=["verify"])
    audit.add_argument(
        "--expect",
        action="append",
        default=[],
        metavar="TABLE=HEAD",
        help="a head hash recorded earlier: the chain must still contain it (repeatable)",
    )


def main(args: argparse.Namespace, settings: Settings) -> int:
    expected: dict[str, str] = {}
    for pair in args.expect:
        table, sep, head = pair.partition("=")
        if not sep or not head:
            print(f"--expect wants TABLE=HEAD, not {pair!r}", file=sys.stderr)
            return 2
        expected[table] = head
    return asyncio.run(_verify(settings.database.url, expected))


async def _verify(url: str, expected: dict[str, str]) -> int:
    import sqlalchemy as sa
    from sqlalchemy.exc import SQLAlchemyError
    from tqdm import tqdm

    from callcenter.storage import audit_chain
    from callcenter.storage.db import DatabaseError, create_engine
    from callcenter.storage.db_models import Base

    try:
        engine = create_engine(url)
    except DatabaseError as err:
        print(f"database: {err}", file=sys.stderr)
        return 2
    broken = 0
    try:
        async with engine.connect() as conn:
            for name in audit_chain.CHAINED:
                table = Base.metadata.tables[name]
                total = await conn.scalar(sa.select(sa.func.count()).select_from(table))
                with tqdm(total=total, desc=name, unit="row", leave=False, file=sys.stderr) as bar:
                    report = await audit_chain.verify(conn, table, on_row=lambda: bar.update(1))
                seen = await _contains(conn, table, expected.get(name))
                if report.ok and seen:
                    print(f"{name}: {report.rows} rows, chain intact, head {report.head}")
                    continue
                broken += 1
                if not report.ok:
                    where = f" at id {report.broken_at}" if report.broken_at is not None else ""
                    print(f"{name}: BROKEN{where}: {report.problem}")
                if not seen:
                    print(f"{name}: BROKEN: the expected head {expected[name][:16]}... is not in the chain")
    except SQLAlchemyError as err:
        print(
            f"database: cannot read the audit tables ({type(err).__name__}); "
            "is the schema current? run 'callcenter db upgrade'",
            file=sys.stderr,
        )
        return 2
    finally:
        await engine.dispose()
    return 1 if broken else 0


async def _contains(conn: Any, table: Any, head: str | None) -> bool:
    import sqlalchemy as sa

    if head is None:
        return True
    return bool(
        await conn.scalar(sa.select(sa.func.count()).select_from(table).where(table.c.row_hash == head))
    )

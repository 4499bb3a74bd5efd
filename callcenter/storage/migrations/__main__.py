"""Add a migration: ``python -m callcenter.storage.migrations -m "add language to interactions"``.

Alembic's own command line needs an ``alembic.ini``, which we do not ship; this is its ``revision``
command, configured in code. It upgrades a scratch SQLite database (or ``--url``) to the newest
revision, compares it with the models in ``callcenter/storage/db_models.py`` and writes the
difference as ``versions/NNNN_<message>.py``. Read and edit the result: autogenerate cannot see
renames or data moves, and it must also be right for PostgreSQL (``--url`` one to check types).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

import sqlalchemy as sa
from alembic import command

from callcenter.storage.db import create_engine, upgrade
from callcenter.storage.migrations import alembic_config, next_revision_id


def _write_revision(connection: sa.Connection, message: str, autogenerate: bool) -> None:
    command.revision(
        alembic_config(connection),
        message=message,
        autogenerate=autogenerate,
        rev_id=next_revision_id(),
    )


async def _revision(message: str, autogenerate: bool, url: str | None) -> None:
    with tempfile.TemporaryDirectory(prefix="callcenter-migration-") as scratch:
        url = url or f"sqlite+aiosqlite:///{Path(scratch) / 'scratch.db'}"
        await upgrade(url)
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                await connection.run_sync(_write_revision, message, autogenerate)
        finally:
            await engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m callcenter.storage.migrations", description=__doc__)
    parser.add_argument("-m", "--message", required=True, help="what the migration does")
    parser.add_argument("--empty", action="store_true", help="write an empty migration (e.g. to move data)")
    parser.add_argument(
        "--url", help="compare with this database instead of a scratch SQLite one (left at head)"
    )
    args = parser.parse_args(argv)
    asyncio.run(_revision(args.message, not args.empty, args.url))


if __name__ == "__main__":
    main()

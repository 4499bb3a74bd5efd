"""Alembic glue: the schema's migrations ship inside the package and need no ``alembic.ini``.

Alembic is configured here, in code, so ``callcenter db upgrade`` works from an installed package
wherever it is started. Migrations run on a connection the caller opened (Alembic's "connection
sharing" pattern), which lets the async adapter run them in its own event loop through
``AsyncConnection.run_sync`` instead of a second loop in a thread. Revision ids are sequential
four-digit numbers ("0001", "0002"...), so the order of the files is the order of the schema.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

SCRIPT_LOCATION = Path(__file__).resolve().parent
# Any constant shared by every instance works: it only has to be the same number everywhere.
_PG_MIGRATION_LOCK = 0x63616C6C  # "call"


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """An Alembic configuration for our migrations; ``env.py`` runs them on ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    """The newest revision id in ``versions/`` (``None`` before the first migration)."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def next_revision_id() -> str:
    head = head_revision()
    return "0001" if head is None else f"{int(head) + 1:04d}"


def run_upgrade(connection: sa.Connection) -> None:
    """Upgrade the schema on ``connection`` to head, inside the transaction the caller opened.

    The whole upgrade is one transaction, so a failed migration leaves no half schema. Servers
    starting together take turns instead of racing to create tables: on PostgreSQL through an
    advisory lock taken here, on SQLite because the adapter begins with ``BEGIN IMMEDIATE``.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_MIGRATION_LOCK)))
    command.upgrade(alembic_config(connection), "head")

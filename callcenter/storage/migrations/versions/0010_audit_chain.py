"""Tamper-evident audit: a hash chain over audit, customer_audit and playback_audit.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

Rows stored before this migration are chained here, in id order, with the same digest the server
uses (callcenter/storage/audit_chain.py); audit_heads gets each table's newest hash.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from callcenter.storage.audit_chain import CHAINED, GENESIS, digest

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TIME = sa.DateTime(timezone=True)
_CONTENT = {
    "audit": [
        ("at", _TIME),
        ("who", sa.String()),
        ("role", sa.String()),
        ("action", sa.String()),
        ("target", sa.String()),
        ("detail", _JSON),
        ("client", sa.String()),
    ],
    "customer_audit": [
        ("at", _TIME),
        ("kind", sa.String()),
        ("customer_id", sa.String()),
        ("by", sa.String()),
        ("detail", _JSON),
    ],
    "playback_audit": [
        ("at", _TIME),
        ("who", sa.String()),
        ("role", sa.String()),
        ("interaction_id", sa.String()),
        ("track", sa.String()),
        ("byte_range", sa.String()),
    ],
}


def upgrade() -> None:
    heads = op.create_table(
        "audit_heads",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("head", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_audit_heads")),
    )
    bind = op.get_bind()
    for name in CHAINED:
        with op.batch_alter_table(name) as batch:
            batch.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
            batch.add_column(sa.Column("row_hash", sa.String(length=64), nullable=True))
        columns: list[sa.ColumnClause[Any]] = [sa.column(c, t) for c, t in _CONTENT[name]]  # type: ignore[arg-type]
        table = sa.table(
            name, sa.column("id", sa.BigInteger()), sa.column("prev_hash"), sa.column("row_hash"), *columns
        )
        prev, count = GENESIS, 0
        for row in bind.execute(sa.select(table).order_by(table.c.id)).mappings().all():
            new = digest(prev, name, {c: row[c] for c, _ in _CONTENT[name]})
            bind.execute(table.update().where(table.c.id == row["id"]).values(prev_hash=prev, row_hash=new))
            prev, count = new, count + 1
        bind.execute(heads.insert().values(name=name, head=prev, rows=count))
        with op.batch_alter_table(name) as batch:
            batch.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
            batch.alter_column("row_hash", existing_type=sa.String(length=64), nullable=False)
            batch.create_index(f"ix_{name}_prev_hash", ["prev_hash"], unique=True)


def downgrade() -> None:
    for name in CHAINED:
        with op.batch_alter_table(name) as batch:
            batch.drop_index(f"ix_{name}_prev_hash")
            batch.drop_column("row_hash")
            batch.drop_column("prev_hash")
    op.drop_table("audit_heads")

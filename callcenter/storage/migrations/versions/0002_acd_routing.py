"""Routing needs and callbacks on interactions: skills, language, callback number and retries.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

Frozen like every migration: types are spelled out. Existing rows get an empty skill map and no
callback, which is what they were.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("interactions") as batch:
        batch.add_column(
            sa.Column(
                "skills",
                sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                nullable=False,
                server_default="{}",
            )
        )
        batch.add_column(sa.Column("language", sa.String(), nullable=True))
        batch.add_column(sa.Column("callback_number", sa.String(), nullable=True))
        batch.add_column(sa.Column("callback_attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("callback_due_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("overflowed_from", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("interactions") as batch:
        for column in (
            "overflowed_from",
            "callback_due_at",
            "callback_attempts",
            "callback_number",
            "language",
            "skills",
        ):
            batch.drop_column(column)

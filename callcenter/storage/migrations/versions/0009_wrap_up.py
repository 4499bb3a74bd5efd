"""Call controls and wrap-up: where an agent transferred an interaction, its disposition and notes.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("interactions") as batch:
        batch.add_column(sa.Column("transferred_to", sa.String(), nullable=True))
        batch.add_column(sa.Column("disposition", sa.String(), nullable=True))
        batch.add_column(sa.Column("notes", sa.Text(), nullable=True))
        batch.create_index(op.f("ix_interactions_disposition"), ["disposition"])


def downgrade() -> None:
    with op.batch_alter_table("interactions") as batch:
        batch.drop_index(op.f("ix_interactions_disposition"))
        batch.drop_column("notes")
        batch.drop_column("disposition")
        batch.drop_column("transferred_to")

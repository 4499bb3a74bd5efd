"""Messaging interactions in the ACD: the customer and conversation of an interaction, and the
agent offered it first (sticky routing, transfer to an agent).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22

Existing rows are calls: every new column is empty for them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("interactions") as batch:
        batch.add_column(sa.Column("customer_id", sa.String(), nullable=True))
        batch.add_column(sa.Column("conversation_id", sa.String(), nullable=True))
        batch.add_column(sa.Column("preferred_agent", sa.String(), nullable=True))
        batch.add_column(sa.Column("preferred_until", sa.DateTime(timezone=True), nullable=True))
        batch.create_index(op.f("ix_interactions_customer_id"), ["customer_id"])
        batch.create_index(op.f("ix_interactions_conversation_id"), ["conversation_id"])


def downgrade() -> None:
    with op.batch_alter_table("interactions") as batch:
        batch.drop_index(op.f("ix_interactions_conversation_id"))
        batch.drop_index(op.f("ix_interactions_customer_id"))
        for column in ("preferred_until", "preferred_agent", "conversation_id", "customer_id"):
            batch.drop_column(column)

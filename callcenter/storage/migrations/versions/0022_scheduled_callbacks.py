"""Scheduled callbacks: records changed outside the dialler (a callback moved or cancelled).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04

``outbound_records.revision``: bumped by whoever changes a record outside the routing owner's
dialler (a callback filed again for the same number, or cancelled); the dialler's own writes
apply only to the revision it knows. ``changed_at``: when that happened, so the owner reads the
changed records (``ix_outbound_records_campaign_changed_at``) at each poll.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("outbound_records") as batch:
        batch.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("changed_at", _TS, nullable=True))
    op.create_index("ix_outbound_records_campaign_changed_at", "outbound_records", ["campaign", "changed_at"])


def downgrade() -> None:
    op.drop_index("ix_outbound_records_campaign_changed_at", table_name="outbound_records")
    with op.batch_alter_table("outbound_records") as batch:
        batch.drop_column("changed_at")
        batch.drop_column("revision")

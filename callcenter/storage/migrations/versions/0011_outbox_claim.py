"""Outbox claims: a reply is sent by one node at a time.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

A node claims due rows (state ``sending``, ``claim`` = a fresh token, ``next_attempt_at`` = the end
of its lease) before sending; its outcome is written only while the claim is still its own. A
claim whose node died is taken over when its lease has passed (callcenter/messaging/outbox.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("claim", sa.String(), nullable=True))


def downgrade() -> None:
    op.execute("UPDATE outbox SET state = 'pending' WHERE state = 'sending'")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("claim")

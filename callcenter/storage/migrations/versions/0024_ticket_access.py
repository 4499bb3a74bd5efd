"""Tickets: temporary access, approvals of high-risk actions, attachments.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-04

``ticket_grants``: a supervisor's grant of one ticket or one team's tickets to a user, to view or
to work, until ``expires_at`` (compared with the database's clock at each request) or its
revocation; ``ticket_approvals``: a high-risk action (delete, priority override) waiting for a
supervisor, then approved (and carried out in the same transaction) or refused;
``ticket_attachments``: the files uploaded to tickets (the bytes in the attachments directory).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "ticket_grants",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("user", sa.String(), nullable=False),
        sa.Column("ticket_id", sa.String(32), nullable=True),
        sa.Column("team", sa.String(), nullable=True),
        sa.Column("level", sa.String(), nullable=False),
        sa.Column("line", sa.String(), nullable=True),
        sa.Column("granted_by", sa.String(), nullable=False),
        sa.Column("granted_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("revoked_by", sa.String(), nullable=True),
        sa.Column("revoked_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_grants")),
    )
    op.create_index("ix_ticket_grants_user_expires_at", "ticket_grants", ["user", "expires_at"])
    op.create_table(
        "ticket_approvals",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.String(32), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("params", _JSON, nullable=False),
        sa.Column("line", sa.String(), nullable=True),
        sa.Column("team", sa.String(), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("requested_by", sa.String(), nullable=False),
        sa.Column("requested_at", _TS, nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("decided_by", sa.String(), nullable=True),
        sa.Column("decided_at", _TS, nullable=True),
        sa.Column("note", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_approvals")),
    )
    op.create_index("ix_ticket_approvals_state_id", "ticket_approvals", ["state", "id"])
    op.create_table(
        "ticket_attachments",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("ticket_id", sa.String(32), nullable=False),
        sa.Column("field", sa.String(), nullable=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("content_type", sa.String(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("encrypted", sa.Boolean(), nullable=False),
        sa.Column("uploaded_by", sa.String(), nullable=False),
        sa.Column("uploaded_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_attachments")),
    )
    op.create_index("ix_ticket_attachments_ticket_id", "ticket_attachments", ["ticket_id"])


def downgrade() -> None:
    op.drop_table("ticket_attachments")
    op.drop_table("ticket_approvals")
    op.drop_table("ticket_grants")

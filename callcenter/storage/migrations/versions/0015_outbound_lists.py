"""Outbound campaigns: definitions and state, lists (records), the do-not-call list, the
abandonment ledgers and the dialler's decisions (docs/outbound.md).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "outbound_campaigns",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("definition", _JSON, nullable=False),
        sa.Column("line", sa.String(), nullable=True),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("origin", _TS, nullable=True),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_outbound_campaigns")),
    )
    op.create_table(
        "outbound_records",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("campaign", sa.String(), nullable=False),
        sa.Column("number", sa.String(), nullable=False),
        sa.Column("tz", sa.String(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=True),
        sa.Column("fields", _JSON, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("due_at", _TS, nullable=False),
        sa.Column("done", sa.String(), nullable=True),
        sa.Column("last_outcome", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_records")),
        sa.UniqueConstraint("campaign", "number", name=op.f("uq_outbound_records_campaign_number")),
    )
    op.create_index(
        "ix_outbound_records_campaign_done_due_at", "outbound_records", ["campaign", "done", "due_at"]
    )
    op.create_table(
        "outbound_dnc",
        sa.Column("number", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("added_at", _TS, nullable=False),
        sa.Column("note", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_outbound_dnc")),
    )
    op.create_table(
        "outbound_ledgers",
        sa.Column("campaign", sa.String(), nullable=False),
        sa.Column("period", sa.Integer(), nullable=False),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.Column("abandoned", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("campaign", "period", name=op.f("pk_outbound_ledgers")),
    )
    op.create_table(
        "outbound_decisions",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("campaign", sa.String(), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=True),
        sa.Column("at", _TS, nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("data", _JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_decisions")),
    )
    op.create_index("ix_outbound_decisions_campaign_id", "outbound_decisions", ["campaign", "id"])


def downgrade() -> None:
    op.drop_index("ix_outbound_decisions_campaign_id", table_name="outbound_decisions")
    op.drop_index("ix_outbound_records_campaign_done_due_at", table_name="outbound_records")
    for table in (
        "outbound_decisions",
        "outbound_ledgers",
        "outbound_dnc",
        "outbound_records",
        "outbound_campaigns",
    ):
        op.drop_table(table)

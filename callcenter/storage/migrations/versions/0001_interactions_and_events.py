"""Interactions (latest snapshot of each contact) and their append-only event log.

Revision ID: 0001
Revises:
Create Date: 2026-11-22

Written against the models of that day but, like every migration, frozen: it spells its types out
(``sa.DateTime(timezone=True)``, not the models' ``UTCDateTime``) so later model changes cannot
change what it creates.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "interactions",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("caller_number", sa.String(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("caller_name", sa.String(), nullable=False),
        sa.Column("caller_channel", sa.String(), nullable=True),
        sa.Column("dialed_number", sa.String(), nullable=False),
        sa.Column("ivr_choice", sa.String(), nullable=True),
        sa.Column("queue", sa.String(), nullable=True),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("offered_to", sa.String(), nullable=True),
        sa.Column("agent_id", sa.String(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(), nullable=True),
        sa.Column("ended_by", sa.String(), nullable=True),
        sa.Column("hangup_cause", sa.String(), nullable=True),
        sa.Column("offer_attempts", sa.Integer(), nullable=False),
        sa.Column("routing_reason", sa.Text(), nullable=True),
        sa.Column("wait_seconds", sa.Double(), nullable=True),
        sa.Column("talk_seconds", sa.Double(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interactions")),
    )
    for column in ("started_at", "queue", "agent_id", "outcome"):
        op.create_index(op.f(f"ix_interactions_{column}"), "interactions", [column])

    op.create_table(
        "events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("interaction_id", sa.String(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("data", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_index("ix_events_interaction_id_id", "events", ["interaction_id", "id"])


def downgrade() -> None:
    op.drop_table("events")
    op.drop_table("interactions")

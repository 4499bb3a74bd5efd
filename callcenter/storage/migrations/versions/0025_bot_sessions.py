"""The virtual agent's dialogue flows on chat: one row per conversation the bot runs a flow in.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-04

``bot_sessions``: the chat runner's state (JSON) after each turn, whether the flow is over and how
it ended; the routing owner reads the unfinished ones back at start (a restart, a new owner).
``messages.author``: "bot" on the virtual agent's messages (null: an agent's, as before).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "bot_sessions",
        sa.Column("conversation_id", sa.String(), nullable=False),
        sa.Column("flow", sa.String(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_bot_sessions")),
    )
    op.create_index("ix_bot_sessions_done", "bot_sessions", ["done"])
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("author", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("author")
    op.drop_index("ix_bot_sessions_done", table_name="bot_sessions")
    op.drop_table("bot_sessions")

"""Web chats an agent holds, for the node a visitor's socket is on (docs/cluster.md).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-05

``chat_holds``: one row per web-chat conversation an agent has accepted and not yet closed,
transferred or lost; written by the routing owner (fenced) whenever its desk changes. A node that
is not the owner stores a visitor's message itself only while the row of the visitor's current
conversation is there, read ``FOR SHARE`` in the statement that inserts the message: the owner's
delete of the row (a close, a transfer) and that insert cannot pass each other.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chat_holds",
        sa.Column("conversation_id", sa.String(), nullable=False),
        sa.Column("agent_id", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_chat_holds")),
    )
    op.create_index("ix_conversations_address", "conversations", ["address"])


def downgrade() -> None:
    op.drop_index("ix_conversations_address", table_name="conversations")
    op.drop_table("chat_holds")

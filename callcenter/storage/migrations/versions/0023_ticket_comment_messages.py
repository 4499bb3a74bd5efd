"""Tickets from messages and by rules: the ticket a messaging message belongs to, found by its
id; the events trigger rules considered, each claimed once.

Revision ID: 0023
Revises: 0021
Create Date: 2026-12-04

``ticket_comments.message_id`` holds the messaging message of a reply sent to the customer and,
now, of the customer's own message a ticket took (delivery 'received'); an e-mail answering one of
them (In-Reply-To, References) is looked up by it. ``ticket_triggers``: an event's key (a QA flag
on a contact) claimed with the ticket a rule opened for it, in that ticket's transaction. The lead
rechains ``down_revision`` on merge.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_ticket_comments_message_id", "ticket_comments", ["message_id"])
    op.create_table(
        "ticket_triggers",
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("ticket_id", sa.String(32), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_ticket_triggers")),
    )


def downgrade() -> None:
    op.drop_table("ticket_triggers")
    op.drop_index("ix_ticket_comments_message_id", table_name="ticket_comments")

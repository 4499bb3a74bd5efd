"""Tickets from messages and by rules: the ticket a messaging message belongs to, found by its
id; the events trigger rules considered, each claimed once.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04

``ticket_comments.message_id`` holds the messaging message of a reply sent to the customer and,
now, of the customer's own message a ticket took (delivery 'received'); an e-mail answering one of
them (In-Reply-To, References) is looked up by it. ``ticket_triggers``: an event's key (a QA flag
on a contact) claimed with the ticket a rule opened for it, in that ticket's transaction.
``ticket_notifications``: the agent panel's notifications (mentions, tickets assigned to a team,
SLA warnings and breaches), written with the ticket's change.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_index("ix_ticket_comments_message_id", "ticket_comments", ["message_id"])
    op.create_table(
        "ticket_triggers",
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("ticket_id", sa.String(32), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_ticket_triggers")),
    )
    op.create_table(
        "ticket_notifications",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("recipient", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("ticket_id", sa.String(32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("read", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_notifications")),
    )
    op.create_index("ix_ticket_notifications_recipient_id", "ticket_notifications", ["recipient", "id"])


def downgrade() -> None:
    op.drop_table("ticket_notifications")
    op.drop_table("ticket_triggers")
    op.drop_index("ix_ticket_comments_message_id", table_name="ticket_comments")

"""Tickets from messages: the ticket a messaging message belongs to, found by its id.

Revision ID: 0023
Revises: 0021
Create Date: 2026-12-04

``ticket_comments.message_id`` holds the messaging message of a reply sent to the customer and,
now, of the customer's own message a ticket took (delivery 'received'); an e-mail answering one of
them (In-Reply-To, References) is looked up by it. The lead rechains ``down_revision`` on merge.
"""

from __future__ import annotations

from alembic import op

revision = "0023"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_ticket_comments_message_id", "ticket_comments", ["message_id"])


def downgrade() -> None:
    op.drop_index("ix_ticket_comments_message_id", table_name="ticket_comments")

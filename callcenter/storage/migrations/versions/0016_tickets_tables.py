"""Tickets: the tickets, their comments (notes and replies to the customer) and their events.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03

``tickets`` keeps the columns the lists filter on and the core's whole snapshot in ``data``;
``ticket_comments`` the notes and replies (a reply's ``delivery``: pending until the routing owner
hands it to the messaging outbox); ``ticket_events`` what the core emitted. Every change is also in
the chained ``audit`` table (storage/tickets_store.py). The lead rechains ``down_revision`` on merge.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def _str(name: str, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "tickets",
        sa.Column("id", sa.String(32), nullable=False),
        *(_str(n) for n in ("type", "status", "team", "priority")),
        *(_str(n, True) for n in ("line", "customer_id", "interaction_id")),
        _str("title"),
        sa.Column("open", sa.Boolean(), nullable=False),
        _str("created_by"),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", _JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
    )
    op.create_index("ix_tickets_team_status", "tickets", ["team", "status"])
    op.create_index("ix_tickets_customer_id", "tickets", ["customer_id"])
    op.create_index("ix_tickets_open_updated_at", "tickets", ["open", "updated_at"])
    op.create_table(
        "ticket_comments",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.String(32), nullable=False),
        sa.Column("at", _TS, nullable=False),
        _str("by"),
        sa.Column("internal", sa.Boolean(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        _str("delivery"),
        _str("message_id", True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_comments")),
    )
    op.create_index("ix_ticket_comments_ticket_id_id", "ticket_comments", ["ticket_id", "id"])
    op.create_index("ix_ticket_comments_delivery", "ticket_comments", ["delivery"])
    op.create_table(
        "ticket_events",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.String(32), nullable=False),
        sa.Column("at", _TS, nullable=False),
        _str("kind"),
        _str("by"),
        sa.Column("data", _JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_events")),
    )
    op.create_index("ix_ticket_events_ticket_id_id", "ticket_events", ["ticket_id", "id"])


def downgrade() -> None:
    op.drop_table("ticket_events")
    op.drop_table("ticket_comments")
    op.drop_table("tickets")

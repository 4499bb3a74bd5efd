"""The routing owner: which node runs the engine, and its fencing token.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03

One row (id 1). A node that wins the election (a PostgreSQL session advisory lock,
callcenter/storage/leadership.py) increments ``token``; routing writes carry the token they were
made under and are refused once it has moved on (a deposed owner cannot write).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    owner = op.create_table(
        "routing_owner",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.Column("node", sa.String(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_owner")),
    )
    op.bulk_insert(owner, [{"id": 1, "token": 0, "node": "", "since": None}])


def downgrade() -> None:
    op.drop_table("routing_owner")

"""The pages' language of each account.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03

``users.language``: ``en``, ``zh-CN``..., NULL for the browser's (Accept-Language). Existing
accounts keep following their browser.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("language", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("language")

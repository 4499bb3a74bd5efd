"""Shift schedules and the runs of e-mailed reports.

Revision ID: 0020
Revises: 0018
Create Date: 2026-12-04

``schedule_shifts``: one row per shift (its agent, or none for an open shift), written by
``callcenter schedule --save`` (storage/schedule_store.py), read by adherence and the agent panel.
``report_runs``: one row per run of a scheduled report (its name and the time it was due), so a
restart neither sends one twice nor skips one (reports/mailer.py).

Numbered 0020 by the session's plan (0018 and 0019 are other branches'); it revises 0017 here and
is re-chained after them when the branches merge.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0018"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "schedule_shifts",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("agent", sa.String(), nullable=True),
        sa.Column("starts_at", _TS, nullable=False),
        sa.Column("ends_at", _TS, nullable=False),
        sa.Column("break_starts_at", _TS, nullable=True),
        sa.Column("break_ends_at", _TS, nullable=True),
        sa.Column("label", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_shifts")),
    )
    op.create_index("ix_schedule_shifts_starts_at", "schedule_shifts", ["starts_at"])
    op.create_index("ix_schedule_shifts_agent_starts_at", "schedule_shifts", ["agent", "starts_at"])
    op.create_table(
        "report_runs",
        sa.Column("schedule", sa.String(), nullable=False),
        sa.Column("due_at", _TS, nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_at", _TS, nullable=False),
        sa.Column("finished_at", _TS, nullable=True),
        sa.Column("error", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("schedule", "due_at", name=op.f("pk_report_runs")),
    )


def downgrade() -> None:
    op.drop_table("report_runs")
    op.drop_index("ix_schedule_shifts_agent_starts_at", table_name="schedule_shifts")
    op.drop_index("ix_schedule_shifts_starts_at", table_name="schedule_shifts")
    op.drop_table("schedule_shifts")

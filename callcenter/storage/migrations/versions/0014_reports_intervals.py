"""Historical reports: 15-minute interval tables built from the event log, and the job's watermark.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03

``report_queue_intervals`` (per queue, channel and line), ``report_agent_states`` (seconds per
agent, state and pause reason), ``report_agent_contacts`` (contacts answered per agent and
channel): recomputed whole from the event log by storage/reports_store.py. ``report_watermark``:
the last event id the incremental job has read (one row, id 1). ``ix_events_kind_at``: the job
reads the log by kind and time.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def _float(name: str) -> sa.Column[float]:
    return sa.Column(name, sa.Double(), nullable=False)


def _int(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.Integer(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "report_queue_intervals",
        sa.Column("start", _TS, nullable=False),
        sa.Column("queue", sa.String(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("line", sa.String(), nullable=False),
        *(
            _int(name)
            for name in (
                "offered",
                "answered",
                "answered_in_sl",
                "abandoned",
                "short_abandoned",
                "exited",
                "overflowed",
                "transfers",
                "callbacks_requested",
                "callbacks_completed",
            )
        ),
        *(
            _float(name)
            for name in (
                "wait_seconds",
                "answered_wait_seconds",
                "wait_max",
                "talk_seconds",
                "hold_seconds",
                "wrap_up_seconds",
            )
        ),
        sa.PrimaryKeyConstraint("start", "queue", "channel", "line", name=op.f("pk_report_queue_intervals")),
    )
    op.create_table(
        "report_agent_states",
        sa.Column("start", _TS, nullable=False),
        sa.Column("agent", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        _float("seconds"),
        sa.PrimaryKeyConstraint("start", "agent", "state", "reason", name=op.f("pk_report_agent_states")),
    )
    op.create_table(
        "report_agent_contacts",
        sa.Column("start", _TS, nullable=False),
        sa.Column("agent", sa.String(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        _int("handled"),
        _float("talk_seconds"),
        sa.PrimaryKeyConstraint("start", "agent", "channel", name=op.f("pk_report_agent_contacts")),
    )
    watermark = op.create_table(
        "report_watermark",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_event_id", sa.BigInteger(), nullable=False),
        sa.Column("until", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_watermark")),
    )
    op.bulk_insert(watermark, [{"id": 1, "last_event_id": 0, "until": None}])
    op.create_index("ix_events_kind_at", "events", ["kind", "at"])


def downgrade() -> None:
    op.drop_index("ix_events_kind_at", table_name="events")
    for table in (
        "report_watermark",
        "report_agent_contacts",
        "report_agent_states",
        "report_queue_intervals",
    ):
        op.drop_table(table)

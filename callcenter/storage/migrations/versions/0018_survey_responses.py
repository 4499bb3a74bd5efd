"""Post-contact surveys: one row per survey asked (answered or not).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04

``survey_responses``: a CSAT or NPS survey of one interaction (unique: one survey per contact),
with what the reports group by (agent, queue, channel, business line, the unified customer), the
score once answered, and for a survey sent as a message the conversation its answer files into,
the channel the answer comes on (``reply_channel``: a call's survey by SMS comes back on ``sms``)
and when the answer stops being awaited (``expires_at``). A low answer's QA review is a
``qa_flags`` row (``survey_low``), written in the same transaction.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "survey_responses",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("interaction_id", sa.String(), nullable=False),
        sa.Column("survey", sa.String(), nullable=False),
        sa.Column("question", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("agent", sa.String(), nullable=False),
        sa.Column("queue", sa.String(), nullable=False),
        sa.Column("line", sa.String(), nullable=False),
        sa.Column("customer", sa.String(), nullable=False),
        sa.Column("asked_at", _TS, nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("answered_at", _TS, nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("low_score", sa.Integer(), nullable=False),
        sa.Column("low", sa.Boolean(), nullable=False),
        sa.Column("conversation_id", sa.String(), nullable=True),
        sa.Column("reply_channel", sa.String(), nullable=True),
        sa.Column("expires_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_responses")),
        sa.UniqueConstraint("interaction_id", name=op.f("uq_survey_responses_interaction_id")),
    )
    op.create_index(op.f("ix_survey_responses_asked_at"), "survey_responses", ["asked_at"])
    op.create_index(op.f("ix_survey_responses_expires_at"), "survey_responses", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_survey_responses_expires_at"), table_name="survey_responses")
    op.drop_index(op.f("ix_survey_responses_asked_at"), table_name="survey_responses")
    op.drop_table("survey_responses")

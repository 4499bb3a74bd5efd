"""QA review: transcripts, automatic results and flags, manual reviews, playback audit, search.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22

Full-text search is per backend and not part of the models (see db_models.SEARCH_OBJECTS):
SQLite gets an FTS5 table ``qa_search`` (interaction id, text) kept by the adapter; PostgreSQL a
GIN index on ``to_tsvector('simple', text)`` of ``qa_transcripts``. Both tokenise on words without
stemming, so one search means the same on both.

"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "qa_transcripts",
        sa.Column("interaction_id", sa.String(), nullable=False),
        sa.Column("business_line", sa.String(), nullable=True),
        sa.Column("agent_id", sa.String(), nullable=True),
        sa.Column("queue", sa.String(), nullable=True),
        sa.Column("call_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("language", sa.String(), nullable=False),
        sa.Column("engine", sa.String(), nullable=False),
        sa.Column("segments", _JSON, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("duration", sa.Double(), nullable=False),
        sa.Column("calibration", sa.Boolean(), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("interaction_id", name=op.f("pk_qa_transcripts")),
    )
    for column in ("business_line", "agent_id", "queue", "call_at"):
        op.create_index(op.f(f"ix_qa_transcripts_{column}"), "qa_transcripts", [column])
    op.create_table(
        "qa_results",
        sa.Column("interaction_id", sa.String(), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("checks", _JSON, nullable=False),
        sa.Column("alerts", _JSON, nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("interaction_id", name=op.f("pk_qa_results")),
    )
    op.create_index(op.f("ix_qa_results_score"), "qa_results", ["score"])
    op.create_table(
        "qa_flags",
        sa.Column("interaction_id", sa.String(), nullable=False),
        sa.Column("flag", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("interaction_id", "flag", name=op.f("pk_qa_flags")),
    )
    op.create_index("ix_qa_flags_flag_interaction_id", "qa_flags", ["flag", "interaction_id"])
    op.create_table(
        "qa_reviews",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("interaction_id", sa.String(), nullable=False),
        sa.Column("reviewer", sa.String(), nullable=False),
        sa.Column("scorecard", sa.String(), nullable=False),
        sa.Column("answers", _JSON, nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("total", sa.Double(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_reviews")),
    )
    op.create_index("ix_qa_reviews_interaction_id_id", "qa_reviews", ["interaction_id", "id"])
    op.create_table(
        "playback_audit",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("who", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("interaction_id", sa.String(), nullable=False),
        sa.Column("track", sa.String(), nullable=False),
        sa.Column("byte_range", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playback_audit")),
    )
    op.create_index("ix_playback_audit_interaction_id_id", "playback_audit", ["interaction_id", "id"])
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE qa_search USING fts5("
            "interaction_id UNINDEXED, text, tokenize = 'unicode61 remove_diacritics 0')"
        )
    else:
        op.execute(
            "CREATE INDEX ix_qa_transcripts_search ON qa_transcripts "
            "USING gin (to_tsvector('simple'::regconfig, text))"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE qa_search")
    for table in ("playback_audit", "qa_reviews", "qa_flags", "qa_results", "qa_transcripts"):
        op.drop_table(table)

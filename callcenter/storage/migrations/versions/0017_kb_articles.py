"""Knowledge base: articles, their versions, their links to queues and ticket types, search.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03

``kb_articles``: one row per article in one language; translations share a ``key`` (unique with
the language). ``kb_versions``: every saved version (append-only); an article's published version
is the one agents and the search see. ``kb_links``: an article linked to a queue or a ticket type.
Full-text search is per backend and not part of the models (see db_models.SEARCH_OBJECTS): SQLite
gets the FTS5 table ``kb_search`` (article id, words), PostgreSQL a GIN index on
``to_tsvector('simple', search_words)``. ``search_words`` holds the published version's words as
the server segments and stems them (callcenter/kb/text.py): neither backend segments Chinese.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "kb_articles",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("language", sa.String(), nullable=False),
        sa.Column("business_line", sa.String(), nullable=True),
        sa.Column("visibility", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("published_version", sa.Integer(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("search_title", sa.Text(), nullable=False),
        sa.Column("search_words", sa.Text(), nullable=False),
        sa.Column("search_length", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("updated_by", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_articles")),
        sa.UniqueConstraint("key", "language", name=op.f("uq_kb_articles_key_language")),
    )
    op.create_index(op.f("ix_kb_articles_status"), "kb_articles", ["status"])
    op.create_table(
        "kb_versions",
        sa.Column("article_id", _ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("author", sa.String(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("article_id", "version", name=op.f("pk_kb_versions")),
    )
    op.create_table(
        "kb_links",
        sa.Column("article_id", _ID, nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("target", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("article_id", "kind", "target", name=op.f("pk_kb_links")),
    )
    op.create_index("ix_kb_links_kind_target", "kb_links", ["kind", "target"])
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE kb_search USING fts5("
            "article_id UNINDEXED, words, tokenize = 'unicode61 remove_diacritics 0')"
        )
    else:
        op.execute(
            "CREATE INDEX ix_kb_articles_search ON kb_articles "
            "USING gin (to_tsvector('simple'::regconfig, search_words))"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE kb_search")
    for table in ("kb_links", "kb_versions", "kb_articles"):
        op.drop_table(table)

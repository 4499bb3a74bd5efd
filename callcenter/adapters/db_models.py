"""The stored shape of interactions and of their event log (SQLAlchemy declarative models).

Invariants:

- ``interactions`` has one column per field of :class:`~callcenter.core.interaction.Interaction`,
  of the same name; a test fails when a field is added without a column.
- Times are timezone-aware UTC datetimes (:class:`UTCDateTime`), never naive and never local time.
- The schema changes only through a migration in ``callcenter/migrations/versions``; a test compares
  these models with the migrated schema on SQLite and on PostgreSQL.

Enumerations (channel, outcome, ended_by) are plain strings, not database enum types: adding a
value in code then needs no migration (and PostgreSQL enum types are awkward to change inside a
transactional migration), and the adapter turns unknown values into errors on read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Deterministic constraint and index names, so a later migration can name what it drops or alters.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(sa.TypeDecorator[datetime]):
    """``TIMESTAMP WITH TIME ZONE`` on PostgreSQL; UTC ISO text on SQLite, which keeps no zone.

    Both directions hand out and take aware datetimes only, so a value read back compares equal to
    the value written on either backend. SQLite's text form sorts chronologically because every
    value is UTC in one fixed format.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            # A naive datetime would be stored as whatever local time it meant: refuse to guess.
            raise ValueError(f"naive datetime {value!r}: store timezone-aware datetimes only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        # SQLite returns naive values; they were written as UTC (see process_bind_param).
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSONB on PostgreSQL so reports can index and query event data; JSON text elsewhere.
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
# SQLite only auto-increments an INTEGER PRIMARY KEY (a rowid alias); BIGINT there would not.
EVENT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime(),
        float: sa.Double(),
        str: sa.String(),
    }


class InteractionRow(Base):
    """The latest snapshot of one interaction, plus derived durations kept for reporting."""

    __tablename__ = "interactions"

    id: Mapped[str] = mapped_column(primary_key=True)
    channel: Mapped[str]
    caller_number: Mapped[str]
    started_at: Mapped[datetime] = mapped_column(index=True)
    caller_name: Mapped[str]
    caller_channel: Mapped[str | None]
    dialed_number: Mapped[str]
    ivr_choice: Mapped[str | None]
    queue: Mapped[str | None] = mapped_column(index=True)
    queued_at: Mapped[datetime | None]
    priority: Mapped[int]
    offered_to: Mapped[str | None]
    agent_id: Mapped[str | None] = mapped_column(index=True)
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(index=True)
    ended_by: Mapped[str | None]
    hangup_cause: Mapped[str | None]
    offer_attempts: Mapped[int]
    routing_reason: Mapped[str | None] = mapped_column(sa.Text)
    # Routing needs (0002): the caller's own skills and language; callback in queue.
    skills: Mapped[dict[str, Any]] = mapped_column(JSON_DOCUMENT, server_default="{}")
    language: Mapped[str | None]
    callback_number: Mapped[str | None]
    callback_attempts: Mapped[int] = mapped_column(server_default="0")
    callback_due_at: Mapped[datetime | None]
    overflowed_from: Mapped[str | None]
    # Derived from the times above, stored so reports can sum and average without recomputing.
    wait_seconds: Mapped[float | None]
    talk_seconds: Mapped[float | None]
    # Bookkeeping of the row itself, by the database's clock.
    created_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=sa.func.now(), onupdate=sa.func.now())


class EventRow(Base):
    """One entry of the append-only event log; rows are inserted, never updated or deleted.

    ``interaction_id`` is deliberately not a foreign key: an event may be written before the first
    snapshot of its interaction, and an audit entry must not be lost to the order of two writes.
    """

    __tablename__ = "events"
    __table_args__ = (sa.Index("ix_events_interaction_id_id", "interaction_id", "id"),)

    id: Mapped[int] = mapped_column(EVENT_ID, primary_key=True, autoincrement=True)
    interaction_id: Mapped[str]
    at: Mapped[datetime]
    kind: Mapped[str]
    data: Mapped[dict[str, Any]] = mapped_column(JSON_DOCUMENT)


# --- Omnichannel messaging (migration 0003) ------------------------------------------------------


class MessageRow(Base):
    """Every message in and out. (channel, provider_id) is unique: a provider's re-delivery after a
    restart is recognised as a duplicate by the database itself."""

    __tablename__ = "messages"
    __table_args__ = (
        sa.UniqueConstraint("channel", "provider_id"),
        sa.Index("ix_messages_customer_id_at", "customer_id", "at"),
    )

    id: Mapped[str] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(index=True)
    customer_id: Mapped[str]
    channel: Mapped[str]
    direction: Mapped[str]
    body: Mapped[str] = mapped_column(sa.Text)
    at: Mapped[datetime]
    status: Mapped[str]
    provider_id: Mapped[str | None]
    email_message_id: Mapped[str | None] = mapped_column(index=True)
    status_detail: Mapped[str]


class OutboxRow(Base):
    """A reply waiting for its provider. Kept until sent, or until the last attempt failed."""

    __tablename__ = "outbox"

    id: Mapped[str] = mapped_column(primary_key=True)  # the message id
    channel: Mapped[str]
    payload: Mapped[dict[str, Any]] = mapped_column(JSON_DOCUMENT)
    state: Mapped[str] = mapped_column(index=True)  # pending, sent, failed
    attempts: Mapped[int]
    next_attempt_at: Mapped[datetime] = mapped_column(index=True)
    last_error: Mapped[str] = mapped_column(sa.Text)
    provider_id: Mapped[str | None]
    created_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=sa.func.now(), onupdate=sa.func.now())


class CustomerRow(Base):
    """One customer's record as JSON (identities and attributes); merged ones keep their record."""

    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(primary_key=True)
    record: Mapped[dict[str, Any]] = mapped_column(JSON_DOCUMENT)
    merged_into: Mapped[str | None] = mapped_column(index=True)
    updated_at: Mapped[datetime] = mapped_column(server_default=sa.func.now(), onupdate=sa.func.now())


class CustomerMergeRow(Base):
    """A merge, with the source customer exactly as it was (what an undo restores)."""

    __tablename__ = "customer_merges"

    id: Mapped[str] = mapped_column(primary_key=True)
    record: Mapped[dict[str, Any]] = mapped_column(JSON_DOCUMENT)
    undone: Mapped[bool]


class CustomerAuditRow(Base):
    """Append-only: who created, linked, suggested, merged, unmerged or changed what, and why."""

    __tablename__ = "customer_audit"
    __table_args__ = (sa.Index("ix_customer_audit_customer_id_id", "customer_id", "id"),)

    id: Mapped[int] = mapped_column(EVENT_ID, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    kind: Mapped[str]
    customer_id: Mapped[str]
    by: Mapped[str]
    detail: Mapped[dict[str, Any]] = mapped_column(JSON_DOCUMENT)


class ConversationRow(Base):
    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(primary_key=True)
    customer_id: Mapped[str] = mapped_column(index=True)
    channel: Mapped[str]
    started_at: Mapped[datetime]
    last_at: Mapped[datetime]
    subject: Mapped[str]
    closed: Mapped[bool]
    address: Mapped[str]  # where replies go: the phone, wa_id, openid or email address
class TranscriptionJobRow(Base):
    """A recording waiting for (or done with) transcription and QA scoring: the worker queue.

    Rows survive restarts: ``running`` rows found at start-up were cut off and go back to
    ``queued``. ``transcript`` is stored redacted only (see callcenter.speech.transcribe).
    """

    __tablename__ = "transcription_jobs"
    __table_args__ = (sa.Index("ix_transcription_jobs_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(EVENT_ID, primary_key=True, autoincrement=True)
    interaction_id: Mapped[str] = mapped_column(index=True)
    files: Mapped[list[str]] = mapped_column(JSON_DOCUMENT)
    status: Mapped[str]  # queued, running, done, failed
    attempts: Mapped[int]
    error: Mapped[str | None] = mapped_column(sa.Text)
    transcript: Mapped[dict[str, Any] | None] = mapped_column(JSON_DOCUMENT)
    qa: Mapped[dict[str, Any] | None] = mapped_column(JSON_DOCUMENT)
    created_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=sa.func.now(), onupdate=sa.func.now())

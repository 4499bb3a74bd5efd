"""The stored shape of interactions and of their event log (SQLAlchemy declarative models).

Invariants:

- ``interactions`` has one column per field of :class:`~callcenter.core.interaction.Interaction`,
  of the same name; a test fails when a field is added without a column.
- Times are timezone-aware UTC datetimes (:class:`UTCDateTime`), never naive and never local time.
- The schema changes only through a migration in ``callcenter/storage/migrations/versions``; a test compares
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
    # Messaging interactions (0007): the customer and conversation; who is offered it first.
    customer_id: Mapped[str | None] = mapped_column(index=True)
    conversation_id: Mapped[str | None] = mapped_column(index=True)
    preferred_agent: Mapped[str | None]
    preferred_until: Mapped[datetime | None]
    # Call controls and wrap-up (0009): the last transfer's target; the agent's disposition, notes.
    transferred_to: Mapped[str | None]
    disposition: Mapped[str | None] = mapped_column(index=True)
    notes: Mapped[str | None] = mapped_column(sa.Text)
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
    __table_args__ = (
        sa.Index("ix_events_interaction_id_id", "interaction_id", "id"),
        # The reports read the log by kind and time (migration 0014).
        sa.Index("ix_events_kind_at", "kind", "at"),
    )

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
    author: Mapped[str | None]  # "bot": the virtual agent's (migration 0025); else an agent's


class OutboxRow(Base):
    """A reply waiting for its provider. Kept until sent, or until the last attempt failed."""

    __tablename__ = "outbox"

    id: Mapped[str] = mapped_column(primary_key=True)  # the message id
    channel: Mapped[str]
    payload: Mapped[dict[str, Any]] = mapped_column(JSON_DOCUMENT)
    state: Mapped[str] = mapped_column(index=True)  # pending, sending (claimed by a node), sent, failed
    attempts: Mapped[int]
    next_attempt_at: Mapped[datetime] = mapped_column(index=True)
    last_error: Mapped[str] = mapped_column(sa.Text)
    provider_id: Mapped[str | None]
    claim: Mapped[str | None]  # the sending node's claim token (migration 0011)
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
    __table_args__ = (
        sa.Index("ix_customer_audit_customer_id_id", "customer_id", "id"),
        sa.Index("ix_customer_audit_prev_hash", "prev_hash", unique=True),
    )

    id: Mapped[int] = mapped_column(EVENT_ID, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    kind: Mapped[str]
    customer_id: Mapped[str]
    by: Mapped[str]
    detail: Mapped[dict[str, Any]] = mapped_column(JSON_DOCUMENT)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))  # the hash chain: adapters/audit_chain.py
    row_hash: Mapped[str] = mapped_column(sa.String(64))


class ConversationRow(Base):
    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(primary_key=True)
    customer_id: Mapped[str] = mapped_column(index=True)
    channel: Mapped[str]
    started_at: Mapped[datetime]
    last_at: Mapped[datetime]
    subject: Mapped[str]
    closed: Mapped[bool]
    # Where replies go: the phone, wa_id, openid or email address (indexed: migration 0026).
    address: Mapped[str] = mapped_column(index=True)


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
    language: Mapped[str | None]  # the call's language (migration 0008): picks the model
    status: Mapped[str]  # queued, running, done, failed
    attempts: Mapped[int]
    error: Mapped[str | None] = mapped_column(sa.Text)
    transcript: Mapped[dict[str, Any] | None] = mapped_column(JSON_DOCUMENT)
    qa: Mapped[dict[str, Any] | None] = mapped_column(JSON_DOCUMENT)
    created_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=sa.func.now(), onupdate=sa.func.now())


# --- Accounts, sessions and the audit log (migration 0005) ---------------------------------------


class UserRow(Base):
    """A person who signs in. ``lines`` is a JSON list of business lines, or NULL for every line."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(EVENT_ID, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(unique=True)
    display_name: Mapped[str]
    role: Mapped[str]
    lines: Mapped[list[str] | None] = mapped_column(JSON_DOCUMENT)
    agent_id: Mapped[str | None]
    password_hash: Mapped[str]
    disabled: Mapped[bool]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    language: Mapped[str | None]  # the pages' language; NULL: the browser's (migration 0013)


class SessionRow(Base):
    """A signed-in browser. ``id`` is the SHA-256 of the cookie's value, never the value itself."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(EVENT_ID, sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str]
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    client: Mapped[str | None]


class AuditRow(Base):
    """Append-only: who did what to what, from where (sign-ins, account changes, forced states...)."""

    __tablename__ = "audit"
    __table_args__ = (
        sa.Index("ix_audit_action_at", "action", "at"),
        sa.Index("ix_audit_prev_hash", "prev_hash", unique=True),
    )

    id: Mapped[int] = mapped_column(EVENT_ID, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    who: Mapped[str] = mapped_column(index=True)
    role: Mapped[str | None]
    action: Mapped[str]
    target: Mapped[str | None]
    detail: Mapped[dict[str, Any]] = mapped_column(JSON_DOCUMENT)
    client: Mapped[str | None]
    prev_hash: Mapped[str] = mapped_column(sa.String(64))  # the hash chain: adapters/audit_chain.py
    row_hash: Mapped[str] = mapped_column(sa.String(64))


# --- QA review (migration 0006) --------------------------------------------------------------
# Full-text search lives beside these tables and is not a model: SQLite's FTS5 table
# ``qa_search`` (and its shadow tables), PostgreSQL's GIN index ``ix_qa_transcripts_search`` on
# ``to_tsvector('simple', text)``. See SEARCH_OBJECTS and callcenter/storage/qa_store.py.

SEARCH_OBJECTS = ("qa_search", "ix_qa_transcripts_search", "kb_search", "ix_kb_articles_search")


def is_search_object(name: str | None) -> bool:
    """Whether a database object belongs to the full-text search (managed by hand, not by models)."""
    return name is not None and any(name == n or name.startswith(n + "_") for n in SEARCH_OBJECTS)


class QaTranscriptRow(Base):
    """A call's transcript (always redacted) and who/what/when the call was, for filtering.

    ``business_line``, ``agent_id``, ``queue`` and ``call_at`` are copied from ``interactions``
    when the transcript is stored (and refreshed on a review), so listing never needs a join.
    """

    __tablename__ = "qa_transcripts"

    interaction_id: Mapped[str] = mapped_column(primary_key=True)
    business_line: Mapped[str | None] = mapped_column(index=True)
    agent_id: Mapped[str | None] = mapped_column(index=True)
    queue: Mapped[str | None] = mapped_column(index=True)
    call_at: Mapped[datetime] = mapped_column(index=True)
    language: Mapped[str]
    engine: Mapped[str]
    segments: Mapped[list[Any]] = mapped_column(JSON_DOCUMENT)
    text: Mapped[str] = mapped_column(sa.Text)
    duration: Mapped[float]
    calibration: Mapped[bool]
    stored_at: Mapped[datetime]


class QaResultRow(Base):
    """The automatic score of a transcript: every check with its evidence, and the alerts."""

    __tablename__ = "qa_results"

    interaction_id: Mapped[str] = mapped_column(primary_key=True)
    score: Mapped[float] = mapped_column(index=True)
    checks: Mapped[list[Any]] = mapped_column(JSON_DOCUMENT)
    alerts: Mapped[list[Any]] = mapped_column(JSON_DOCUMENT)
    scored_at: Mapped[datetime]


class QaFlagRow(Base):
    """One flag of a call (a failed check's rule id, or ``emergency``), for filtering by flag."""

    __tablename__ = "qa_flags"
    __table_args__ = (sa.Index("ix_qa_flags_flag_interaction_id", "flag", "interaction_id"),)

    interaction_id: Mapped[str] = mapped_column(primary_key=True)
    flag: Mapped[str] = mapped_column(primary_key=True)


class QaReviewRow(Base):
    """A manual review: a reviewer's answers on a scorecard. Append-only (a new review of the same
    call by the same reviewer is a new row; calibration takes the latest)."""

    __tablename__ = "qa_reviews"
    __table_args__ = (sa.Index("ix_qa_reviews_interaction_id_id", "interaction_id", "id"),)

    id: Mapped[int] = mapped_column(EVENT_ID, primary_key=True, autoincrement=True)
    interaction_id: Mapped[str]
    reviewer: Mapped[str]
    scorecard: Mapped[str]
    answers: Mapped[dict[str, Any]] = mapped_column(JSON_DOCUMENT)
    comment: Mapped[str] = mapped_column(sa.Text)
    total: Mapped[float]
    at: Mapped[datetime]


class PlaybackAuditRow(Base):
    """Append-only: who listened to which call's recording, when, and which bytes."""

    __tablename__ = "playback_audit"
    __table_args__ = (
        sa.Index("ix_playback_audit_interaction_id_id", "interaction_id", "id"),
        sa.Index("ix_playback_audit_prev_hash", "prev_hash", unique=True),
    )

    id: Mapped[int] = mapped_column(EVENT_ID, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    who: Mapped[str]
    role: Mapped[str]
    interaction_id: Mapped[str]
    track: Mapped[str]
    byte_range: Mapped[str]  # "0-1023/4096", or "" for the whole file
    prev_hash: Mapped[str] = mapped_column(sa.String(64))  # the hash chain: adapters/audit_chain.py
    row_hash: Mapped[str] = mapped_column(sa.String(64))


class AuditHeadRow(Base):
    """The newest hash of each chained audit table (adapters/audit_chain.py), one row per table."""

    __tablename__ = "audit_heads"

    name: Mapped[str] = mapped_column(primary_key=True)
    head: Mapped[str] = mapped_column(sa.String(64))
    rows: Mapped[int] = mapped_column(sa.BigInteger())


class RoutingOwnerRow(Base):
    """The node that runs the routing engine and its fencing token (one row, id 1; migration 0012,
    storage/leadership.py)."""

    __tablename__ = "routing_owner"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[int] = mapped_column(sa.BigInteger())
    node: Mapped[str]
    since: Mapped[datetime | None]


# --- Historical reports (migration 0014, storage/reports_store.py, docs/reports.md) ---------------


class ReportQueueRow(Base):
    """One queue's figures for the legs that began in one 15-minute interval, per channel and line
    (core/reports/aggregate.py). Recomputed whole from the event log, never updated in place."""

    __tablename__ = "report_queue_intervals"

    start: Mapped[datetime] = mapped_column(primary_key=True)
    queue: Mapped[str] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(primary_key=True)
    line: Mapped[str] = mapped_column(primary_key=True)
    offered: Mapped[int]
    answered: Mapped[int]
    answered_in_sl: Mapped[int]
    abandoned: Mapped[int]
    short_abandoned: Mapped[int]
    exited: Mapped[int]
    overflowed: Mapped[int]
    transfers: Mapped[int]
    callbacks_requested: Mapped[int]
    callbacks_completed: Mapped[int]
    wait_seconds: Mapped[float]
    answered_wait_seconds: Mapped[float]
    wait_max: Mapped[float]
    talk_seconds: Mapped[float]
    hold_seconds: Mapped[float]
    wrap_up_seconds: Mapped[float]


class ReportAgentStateRow(Base):
    """Seconds an agent spent in a state (and pause reason) within one 15-minute interval."""

    __tablename__ = "report_agent_states"

    start: Mapped[datetime] = mapped_column(primary_key=True)
    agent: Mapped[str] = mapped_column(primary_key=True)
    state: Mapped[str] = mapped_column(primary_key=True)
    reason: Mapped[str] = mapped_column(primary_key=True)
    seconds: Mapped[float]


class ReportAgentContactRow(Base):
    """Contacts an agent answered in one 15-minute interval, per channel, with their talk time."""

    __tablename__ = "report_agent_contacts"

    start: Mapped[datetime] = mapped_column(primary_key=True)
    agent: Mapped[str] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(primary_key=True)
    handled: Mapped[int]
    talk_seconds: Mapped[float]


class ReportWatermarkRow(Base):
    """How far the incremental report job has read the event log (one row, id 1): the last event id
    processed and the time the tables are complete up to."""

    __tablename__ = "report_watermark"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_event_id: Mapped[int] = mapped_column(sa.BigInteger())
    until: Mapped[datetime | None]


# --- tickets (migration 0016) ----------------------------------------------------------------
class TicketRow(Base):
    """One ticket: the columns the lists filter on, and the whole snapshot in ``data``
    (storage/tickets_store.py). ``version`` grows with every change."""

    __tablename__ = "tickets"
    __table_args__ = (
        sa.Index("ix_tickets_team_status", "team", "status"),
        sa.Index("ix_tickets_customer_id", "customer_id"),
        sa.Index("ix_tickets_open_updated_at", "open", "updated_at"),
    )

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    type: Mapped[str]
    status: Mapped[str]
    team: Mapped[str]
    priority: Mapped[str]
    line: Mapped[str | None]
    customer_id: Mapped[str | None]
    interaction_id: Mapped[str | None]
    title: Mapped[str]
    open: Mapped[bool]  # not in a closed status: the SLA job's rows
    created_by: Mapped[str]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    version: Mapped[int]
    data: Mapped[dict[str, Any]] = mapped_column(JSON_DOCUMENT)


class TicketCommentRow(Base):
    """A note (internal) or a reply to the customer; a reply waits in ``delivery`` 'pending' until
    the routing owner hands it to the messaging outbox ('queued', with the message id)."""

    __tablename__ = "ticket_comments"
    __table_args__ = (
        sa.Index("ix_ticket_comments_ticket_id_id", "ticket_id", "id"),
        sa.Index("ix_ticket_comments_delivery", "delivery"),
        sa.Index("ix_ticket_comments_message_id", "message_id"),
    )

    id: Mapped[int] = mapped_column(EVENT_ID, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(sa.String(32))
    at: Mapped[datetime]
    by: Mapped[str]
    internal: Mapped[bool]
    body: Mapped[str] = mapped_column(sa.Text())
    delivery: Mapped[str]  # none | pending | queued | no_channel | received (the customer's)
    message_id: Mapped[str | None]


class TicketEventRow(Base):
    """The ticket's history as the core told it (created, status, transferred, sla_breached...)."""

    __tablename__ = "ticket_events"
    __table_args__ = (sa.Index("ix_ticket_events_ticket_id_id", "ticket_id", "id"),)

    id: Mapped[int] = mapped_column(EVENT_ID, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(sa.String(32))
    at: Mapped[datetime]
    kind: Mapped[str]
    by: Mapped[str]
    data: Mapped[dict[str, Any]] = mapped_column(JSON_DOCUMENT)


class TicketTriggerRow(Base):
    """An event a trigger rule considered (migration 0023): its key (``qa:<interaction>:<flag>``)
    claimed with the ticket it opened, in the ticket's own transaction (``ticket_id`` None: no
    rule matched it); a key is claimed once, so each event opens at most one ticket."""

    __tablename__ = "ticket_triggers"

    key: Mapped[str] = mapped_column(sa.String(300), primary_key=True)
    ticket_id: Mapped[str | None] = mapped_column(sa.String(32))
    at: Mapped[datetime]


class TicketNotificationRow(Base):
    """A notification in someone's panel (migration 0023, core/tickets/alerts.py): ``recipient``
    is a user name or an agent id, as the workflow's members are written; written in the ticket
    change's own transaction."""

    __tablename__ = "ticket_notifications"
    __table_args__ = (sa.Index("ix_ticket_notifications_recipient_id", "recipient", "id"),)

    id: Mapped[int] = mapped_column(EVENT_ID, primary_key=True, autoincrement=True)
    recipient: Mapped[str] = mapped_column(sa.String(128))
    kind: Mapped[str] = mapped_column(sa.String(32))
    ticket_id: Mapped[str] = mapped_column(sa.String(32))
    at: Mapped[datetime]
    by: Mapped[str]
    text: Mapped[str] = mapped_column(sa.Text())
    read: Mapped[bool]


# --- Knowledge base (migration 0017, storage/kb_store.py, docs/knowledge-base.md) ---------------
# Its full-text search is not a model either: SQLite's FTS5 table ``kb_search``, PostgreSQL's GIN
# index ``ix_kb_articles_search`` on ``to_tsvector('simple', search_words)`` (SEARCH_OBJECTS).


class KbArticleRow(Base):
    """An article in one language: its latest version number and title, the published version, and
    that version's words as the search sees them (segmented, stemmed: callcenter/kb/text.py)."""

    __tablename__ = "kb_articles"
    __table_args__ = (sa.UniqueConstraint("key", "language"),)

    id: Mapped[int] = mapped_column(EVENT_ID, primary_key=True, autoincrement=True)
    key: Mapped[str]  # translations of one article share it
    language: Mapped[str]
    business_line: Mapped[str | None]  # None: every line's
    visibility: Mapped[str]  # core/kb/articles.py: who may read it
    status: Mapped[str] = mapped_column(index=True)  # draft, published, archived
    version: Mapped[int]
    published_version: Mapped[int | None]
    title: Mapped[str] = mapped_column(sa.Text)
    search_title: Mapped[str] = mapped_column(sa.Text)
    search_words: Mapped[str] = mapped_column(sa.Text)
    search_length: Mapped[int]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    updated_by: Mapped[str]


class KbVersionRow(Base):
    """Append-only: one saved version of an article (Markdown body, the short answer agents insert)."""

    __tablename__ = "kb_versions"

    article_id: Mapped[int] = mapped_column(EVENT_ID, primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.Text)
    summary: Mapped[str] = mapped_column(sa.Text)
    body: Mapped[str] = mapped_column(sa.Text)
    author: Mapped[str]
    note: Mapped[str] = mapped_column(sa.Text)
    at: Mapped[datetime]


class KbLinkRow(Base):
    """An article linked to a queue (``kind`` queue) or a ticket type (``ticket_type``)."""

    __tablename__ = "kb_links"
    __table_args__ = (sa.Index("ix_kb_links_kind_target", "kind", "target"),)

    article_id: Mapped[int] = mapped_column(EVENT_ID, primary_key=True)
    kind: Mapped[str] = mapped_column(primary_key=True)
    target: Mapped[str] = mapped_column(primary_key=True)


# --- Outbound campaigns (migration 0015, storage/outbound_store.py, docs/outbound.md) -------------


class OutboundCampaignRow(Base):
    """A campaign's definition (JSON, as imported) and its state; ``origin``: its first start,
    from which the abandonment windows count."""

    __tablename__ = "outbound_campaigns"

    name: Mapped[str] = mapped_column(primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON_DOCUMENT)
    line: Mapped[str | None]
    state: Mapped[str]
    origin: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class OutboundRecordRow(Base):
    """One number of a campaign's list, with its attempts and when it is next due."""

    __tablename__ = "outbound_records"
    __table_args__ = (
        sa.UniqueConstraint("campaign", "number"),
        sa.Index("ix_outbound_records_campaign_done_due_at", "campaign", "done", "due_at"),
        sa.Index("ix_outbound_records_campaign_changed_at", "campaign", "changed_at"),
    )

    id: Mapped[int] = mapped_column(EVENT_ID, primary_key=True, autoincrement=True)
    campaign: Mapped[str]
    number: Mapped[str]
    tz: Mapped[str]
    customer_id: Mapped[str | None]
    fields: Mapped[dict[str, Any]] = mapped_column(JSON_DOCUMENT)
    attempts: Mapped[int]
    due_at: Mapped[datetime]
    done: Mapped[str | None]
    last_outcome: Mapped[str | None]
    # Migration 0022: changes made outside the dialler (a callback moved, cancelled).
    revision: Mapped[int] = mapped_column(server_default="0", default=0)
    changed_at: Mapped[datetime | None]


class OutboundDncRow(Base):
    """A number never to be dialled: added by hand, imported, or an SMS "STOP"."""

    __tablename__ = "outbound_dnc"

    number: Mapped[str] = mapped_column(primary_key=True)
    source: Mapped[str]
    added_at: Mapped[datetime]
    note: Mapped[str]


class OutboundLedgerRow(Base):
    """Calls answered by a person and abandoned, per campaign and abandonment window."""

    __tablename__ = "outbound_ledgers"

    campaign: Mapped[str] = mapped_column(primary_key=True)
    period: Mapped[int] = mapped_column(primary_key=True)
    answered: Mapped[int]
    abandoned: Mapped[int]


class OutboundDecisionRow(Base):
    """Every decision of the dialler with its reason: dial, skip (dnc, outside_window...),
    pacing, state."""

    __tablename__ = "outbound_decisions"
    __table_args__ = (sa.Index("ix_outbound_decisions_campaign_id", "campaign", "id"),)

    id: Mapped[int] = mapped_column(EVENT_ID, primary_key=True, autoincrement=True)
    campaign: Mapped[str]
    record_id: Mapped[int | None] = mapped_column(sa.BigInteger())
    at: Mapped[datetime]
    kind: Mapped[str]
    reason: Mapped[str]
    data: Mapped[dict[str, Any]] = mapped_column(JSON_DOCUMENT)


# --- post-contact surveys (migration 0018, storage/surveys_store.py, docs/reports.md) ----------
class SurveyResponseRow(Base):
    """One survey asked of one interaction (core/surveys/model.py ``Response``); ``score`` is null
    until answered. A message survey keeps its conversation and when its answer stops being awaited."""

    __tablename__ = "survey_responses"

    id: Mapped[str] = mapped_column(primary_key=True)
    interaction_id: Mapped[str] = mapped_column(unique=True)
    survey: Mapped[str]
    question: Mapped[str]
    source: Mapped[str]
    channel: Mapped[str]
    agent: Mapped[str]
    queue: Mapped[str]
    line: Mapped[str]
    customer: Mapped[str]
    asked_at: Mapped[datetime] = mapped_column(index=True)
    score: Mapped[int | None]
    answered_at: Mapped[datetime | None]
    comment: Mapped[str] = mapped_column(sa.Text)
    low_score: Mapped[int]
    low: Mapped[bool]
    conversation_id: Mapped[str | None]
    reply_channel: Mapped[str | None]
    expires_at: Mapped[datetime | None] = mapped_column(index=True)


# --- schedules and e-mailed reports (migration 0020) ------------------------------------------
class ScheduleShiftRow(Base):
    """One shift of the schedule (planning/schedule.py): its agent (None: an open shift), its times
    and its one break, all on 15-minute boundaries."""

    __tablename__ = "schedule_shifts"
    __table_args__ = (
        sa.Index("ix_schedule_shifts_starts_at", "starts_at"),
        sa.Index("ix_schedule_shifts_agent_starts_at", "agent", "starts_at"),
    )

    id: Mapped[int] = mapped_column(EVENT_ID, primary_key=True, autoincrement=True)
    agent: Mapped[str | None]
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    break_starts_at: Mapped[datetime | None]
    break_ends_at: Mapped[datetime | None]
    label: Mapped[str]


class ReportRunRow(Base):
    """One run of a scheduled report: claimed (``sending``) before the e-mail goes out, ``sent`` or
    ``failed`` after (reports/mailer.py)."""

    __tablename__ = "report_runs"

    schedule: Mapped[str] = mapped_column(primary_key=True)
    due_at: Mapped[datetime] = mapped_column(primary_key=True)
    status: Mapped[str]
    attempts: Mapped[int]
    claimed_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None]


# --- CRM webhooks (migration 0021, storage/webhooks_store.py, docs/webhooks.md) ------------------


class WebhookDeliveryRow(Base):
    """One event for one subscription: the body as sent (every attempt sends the same bytes), its
    state (pending | delivered | failed) and when it is due. ``(subscription, event_key)`` is unique:
    an event becomes at most one delivery per subscription, whichever node or pass wrote it."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("subscription", "event_key"),
        sa.Index("ix_webhook_deliveries_state_next_at", "state", "next_at"),
    )

    id: Mapped[int] = mapped_column(EVENT_ID, primary_key=True, autoincrement=True)
    subscription: Mapped[str]
    event: Mapped[str]
    event_key: Mapped[str]
    created_at: Mapped[datetime]
    body: Mapped[str] = mapped_column(sa.Text())
    state: Mapped[str]
    attempts: Mapped[int]
    next_at: Mapped[datetime]
    claim: Mapped[str | None]
    last_status: Mapped[int | None]
    last_error: Mapped[str | None]
    finished_at: Mapped[datetime | None]


class WebhookAttemptRow(Base):
    """Every attempt of a delivery: when, the HTTP status or the error, how long it took."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (sa.Index("ix_webhook_attempts_delivery_id_id", "delivery_id", "id"),)

    id: Mapped[int] = mapped_column(EVENT_ID, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(sa.BigInteger())
    at: Mapped[datetime]
    status: Mapped[int | None]
    error: Mapped[str]
    seconds: Mapped[float]


class WebhookCursorRow(Base):
    """How far the routing owner has turned the event log into interaction deliveries."""

    __tablename__ = "webhook_cursor"

    name: Mapped[str] = mapped_column(primary_key=True)
    last_id: Mapped[int] = mapped_column(sa.BigInteger())


class CrmFieldTimeRow(Base):
    """Per record and field, the timestamp of the CRM update in force (the conflict rule's memory
    for customers; a ticket keeps its own in its snapshot)."""

    __tablename__ = "crm_field_times"

    entity: Mapped[str] = mapped_column(primary_key=True)  # customer
    entity_id: Mapped[str] = mapped_column(primary_key=True)
    field: Mapped[str] = mapped_column(primary_key=True)
    at: Mapped[datetime]


# --- tickets: temporary access, approvals, attachments (migration 0024) ----------------------
class TicketGrantRow(Base):
    """A supervisor's grant of one ticket (``ticket_id``) or one team's tickets (``team``) to a
    user, to ``view`` or ``work``, until ``expires_at`` (the database's clock decides) or revoked."""

    __tablename__ = "ticket_grants"
    __table_args__ = (sa.Index("ix_ticket_grants_user_expires_at", "user", "expires_at"),)

    id: Mapped[int] = mapped_column(EVENT_ID, primary_key=True, autoincrement=True)
    user: Mapped[str]
    ticket_id: Mapped[str | None] = mapped_column(sa.String(32))
    team: Mapped[str | None]
    level: Mapped[str]  # view | work
    line: Mapped[str | None]  # the ticket's or team's business line, for scoped supervisors
    granted_by: Mapped[str]
    granted_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_by: Mapped[str | None]
    revoked_at: Mapped[datetime | None]


class TicketApprovalRow(Base):
    """A high-risk action waiting for a supervisor (``state`` pending), then approved (carried out
    in the approval's transaction) or refused."""

    __tablename__ = "ticket_approvals"
    __table_args__ = (sa.Index("ix_ticket_approvals_state_id", "state", "id"),)

    id: Mapped[int] = mapped_column(EVENT_ID, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(sa.String(32))
    action: Mapped[str]  # delete | priority
    params: Mapped[dict[str, Any]] = mapped_column(JSON_DOCUMENT)
    line: Mapped[str | None]
    team: Mapped[str]
    title: Mapped[str]
    reason: Mapped[str]
    requested_by: Mapped[str]
    requested_at: Mapped[datetime]
    state: Mapped[str]  # pending | approved | refused
    decided_by: Mapped[str | None]
    decided_at: Mapped[datetime | None]
    note: Mapped[str]


class TicketAttachmentRow(Base):
    """A file uploaded to a ticket (to one of its attachment fields when ``field`` is set); the
    bytes are in the attachments directory (storage/attachments.py), checked by ``sha256``."""

    __tablename__ = "ticket_attachments"
    __table_args__ = (sa.Index("ix_ticket_attachments_ticket_id", "ticket_id"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    ticket_id: Mapped[str] = mapped_column(sa.String(32))
    field: Mapped[str | None]
    name: Mapped[str]
    content_type: Mapped[str]
    size: Mapped[int] = mapped_column(sa.BigInteger())
    sha256: Mapped[str] = mapped_column(sa.String(64))
    encrypted: Mapped[bool]
    uploaded_by: Mapped[str]
    uploaded_at: Mapped[datetime]


class BotSessionRow(Base):
    """A conversation's virtual-agent flow (docs/knowledge-base.md): the chat runner's state as
    JSON, written after every turn by the routing owner (fenced), read back by the next one."""

    __tablename__ = "bot_sessions"

    conversation_id: Mapped[str] = mapped_column(primary_key=True)
    flow: Mapped[str]
    state: Mapped[str] = mapped_column(sa.Text())
    done: Mapped[bool] = mapped_column(index=True)
    outcome: Mapped[str]  # "" while it runs; queue, agent, ticket, hangup, error
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ChatHoldRow(Base):
    """A web chat an agent holds (migration 0026, docs/cluster.md): written by the routing owner
    (fenced) as its desk changes; the visitor's node stores a message itself while it is there."""

    __tablename__ = "chat_holds"

    conversation_id: Mapped[str] = mapped_column(primary_key=True)
    agent_id: Mapped[str]

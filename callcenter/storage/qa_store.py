"""QA storage: redacted transcripts, automatic scores with flags and evidence, manual reviews,
calibration marks, the playback audit, and full-text search over transcripts (SQLite or PostgreSQL).

Invariants:

- A transcript is stored redacted: :meth:`QaStore.save_result` redacts one that is not marked as
  redacted before anything is written (the workers already redact; this is the last guard), so no
  card number reaches the tables or the search index.
- Search means the same on both backends: the query's words (letters and digits) must all occur,
  whole, case-insensitively, without stemming. SQLite: the FTS5 table ``qa_search``, kept in the
  same transaction as the transcript; PostgreSQL: ``to_tsvector('simple', text)`` with its GIN
  index. User text never becomes query syntax: words are extracted and quoted.
- Line scoping happens here (``lines``): a caller limited to some business lines never gets rows
  of others, whatever filter it sends.

Every SQLAlchemy or driver failure leaves as :class:`~callcenter.storage.db.DatabaseError`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callcenter.aio import cancel_safe
from callcenter.core.business_lines import call_line
from callcenter.core.qa.redaction import Redactor
from callcenter.core.qa.scoring import QaResult
from callcenter.core.qa.transcript import Transcript, redact_transcript
from callcenter.qa.records import CallDetail, CallFilter, CallSummary, PlaybackRecord, Review
from callcenter.speech.transcribe import qa_json, to_json
from callcenter.storage import audit_chain
from callcenter.storage.db import ConnectionStore, parse_url
from callcenter.storage.db_models import (
    InteractionRow,
    PlaybackAuditRow,
    QaFlagRow,
    QaResultRow,
    QaReviewRow,
    QaTranscriptRow,
    SurveyResponseRow,
)

EMERGENCY = "emergency"  # the flag of a call where an emergency word was said
#: The flag of a contact whose customer answered a survey with a low score (docs/reports.md).
SURVEY_LOW = "survey_low"
#: Flags that come from elsewhere than the transcript's scoring: a new transcript keeps them.
KEPT_FLAGS = (SURVEY_LOW,)
_WORDS = re.compile(r"[^\W_]+")
MAX_QUERY_WORDS = 16


def search_words(text: str) -> tuple[str, ...]:
    """The words a search looks for (letters and digits, lower case), at most MAX_QUERY_WORDS."""
    return tuple(w.lower() for w in _WORDS.findall(text))[:MAX_QUERY_WORDS]


def flags_of(result: QaResult) -> tuple[str, ...]:
    """A call's flags: each failed check's rule id, and ``emergency`` when an alert was raised."""
    flags = [check.rule for check in result.failed]
    if result.alerts:
        flags.append(EMERGENCY)
    return tuple(dict.fromkeys(flags))


@cancel_safe
class QaStore(ConnectionStore):
    _name = "QA store"

    def __init__(
        self,
        url: str,
        engine: AsyncEngine | None = None,
        queue_lines: Callable[[str], str | None] | None = None,
    ) -> None:
        """``engine``: the server's shared engine (else its own). ``queue_lines``: a queue's ``line:``
        from the queues file (the engine's), so a call's business line is decided by
        :func:`callcenter.core.business_lines.call_line` as everywhere else."""
        super().__init__(url, engine)
        self._queue_lines = queue_lines
        self._dialect = parse_url(url).get_backend_name()

    async def start(self) -> None:
        """Open (migrating the schema) its own engine, or take the shared one (already migrated)."""
        await self._open()

    # --- the pipeline's end: recording -> transcription -> here ---------------------------------

    async def save_result(
        self, interaction_id: str, transcript: Transcript, result: QaResult | None, at: datetime
    ) -> None:
        """Store a call's transcript (redacted here if it is not already) and automatic score,
        replacing an earlier one; the call's line, agent, queue and date come from ``interactions``."""
        if not transcript.redacted:
            transcript = redact_transcript(transcript, Redactor())
        data = to_json(transcript)
        duration = max((s.end for s in transcript.segments), default=0.0)
        async with self._begin(f"store the transcript of {interaction_id!r}", write=True) as c:
            meta = await _interaction_meta(c, interaction_id, self._queue_lines)
            values = {
                "business_line": meta.get("business_line"),
                "agent_id": meta.get("agent_id"),
                "queue": meta.get("queue"),
                "call_at": meta.get("call_at") or at,
                "language": transcript.language,
                "engine": transcript.engine,
                "segments": data["segments"],
                "text": data["text"],
                "duration": round(duration, 3),
                "stored_at": at,
            }
            updated = await c.execute(
                sa.update(QaTranscriptRow)
                .where(QaTranscriptRow.interaction_id == interaction_id)
                .values(values)
            )
            if not updated.rowcount:
                await c.execute(
                    sa.insert(QaTranscriptRow).values(
                        interaction_id=interaction_id, calibration=False, **values
                    )
                )
            if self._dialect == "sqlite":
                await c.execute(
                    sa.text("DELETE FROM qa_search WHERE interaction_id = :i"), {"i": interaction_id}
                )
                await c.execute(
                    sa.text("INSERT INTO qa_search (interaction_id, text) VALUES (:i, :t)"),
                    {"i": interaction_id, "t": data["text"]},
                )
            await c.execute(sa.delete(QaResultRow).where(QaResultRow.interaction_id == interaction_id))
            await _write_result(c, interaction_id, result, at)

    async def reviewed_texts(self, limit: int) -> list[str]:
        """The (redacted) text of the newest ``limit`` calls a reviewer has scored: text of the
        centre's own calls for the recognizer's domain adaptation (callcenter/speech/adaptation.py)."""
        reviewed = sa.select(QaReviewRow.interaction_id).distinct().scalar_subquery()
        async with self._begin("read reviewed transcripts") as c:
            rows = await c.execute(
                sa.select(QaTranscriptRow.text)
                .where(QaTranscriptRow.interaction_id.in_(reviewed))
                .order_by(QaTranscriptRow.call_at.desc(), QaTranscriptRow.interaction_id)
                .limit(limit)
            )
            return [row.text for row in rows]

    async def purge(self, expiry: Callable[[str, datetime], datetime | None], now: datetime) -> list[str]:
        """Delete the transcripts (with their scores, flags and search entries) whose call is past
        ``expiry(line, call_at)``, the line being the call's business line, else its queue.
        Reviews and the playback audit stay: they are the reviewers' work and the audit trail."""
        query = sa.select(
            QaTranscriptRow.interaction_id,
            QaTranscriptRow.business_line,
            QaTranscriptRow.queue,
            QaTranscriptRow.call_at,
        ).where(QaTranscriptRow.call_at < now)
        async with self._begin("purge expired transcripts", write=True) as c:
            gone = []
            for row in await c.execute(query):
                ends = expiry(row.business_line or row.queue or "", row.call_at)
                if ends is not None and ends <= now:
                    gone.append(row.interaction_id)
            for start in range(0, len(gone), 500):
                ids = gone[start : start + 500]
                for table in (QaTranscriptRow, QaResultRow, QaFlagRow):
                    await c.execute(sa.delete(table).where(table.interaction_id.in_(ids)))
                if self._dialect == "sqlite":
                    await c.execute(
                        sa.text("DELETE FROM qa_search WHERE interaction_id IN :ids").bindparams(
                            sa.bindparam("ids", expanding=True)
                        ),
                        {"ids": ids},
                    )
        return gone

    # --- reading --------------------------------------------------------------------------------

    async def search(
        self, query: CallFilter, lines: frozenset[str] | None = None
    ) -> tuple[int, list[CallSummary]]:
        """Matching calls, newest first, and how many match in all."""
        t, r = QaTranscriptRow, QaResultRow
        conditions: list[sa.ColumnElement[bool]] = []
        if lines is not None:
            conditions.append(t.business_line.in_(sorted(lines)))
        words = search_words(query.words or "")
        if words:
            conditions.append(self._matches(words))
        if query.agent is not None:
            conditions.append(t.agent_id == query.agent)
        if query.queue is not None:
            conditions.append(t.queue == query.queue)
        if query.since is not None:
            conditions.append(t.call_at >= query.since)
        if query.until is not None:
            conditions.append(t.call_at < query.until)
        if query.min_score is not None:
            conditions.append(r.score >= query.min_score)
        if query.max_score is not None:
            conditions.append(r.score <= query.max_score)
        if query.flag is not None:
            flagged = sa.select(QaFlagRow.interaction_id).where(QaFlagRow.flag == query.flag)
            conditions.append(t.interaction_id.in_(flagged))
        if query.calibration is not None:
            conditions.append(t.calibration == query.calibration)
        base = sa.select(t, r.score).outerjoin(r, r.interaction_id == t.interaction_id).where(*conditions)
        count = sa.select(sa.func.count()).select_from(base.subquery())
        i = InteractionRow
        base = base.add_columns(i.caller_name, i.caller_number).outerjoin(i, i.id == t.interaction_id)
        page = base.order_by(t.call_at.desc(), t.interaction_id).limit(query.limit).offset(query.offset)
        async with self._begin("search QA calls") as c:
            found = int((await c.execute(count)).scalar_one())
            rows = list(await c.execute(page))
            ids = [row.interaction_id for row in rows]
            flags = await _flags(c, ids)
            reviews = await _review_counts(c, ids)
        return found, [
            _summary(
                row, row.score, flags.get(row.interaction_id, ()), reviews.get(row.interaction_id, 0), words
            )
            for row in rows
        ]

    def _matches(self, words: Iterable[str]) -> sa.ColumnElement[bool]:
        if self._dialect == "sqlite":
            match = " ".join(f'"{w}"' for w in words)  # each a quoted string: no FTS5 syntax
            hits: sa.Select[Any] = (
                sa.select(sa.column("interaction_id"))
                .select_from(sa.table("qa_search"))
                .where(sa.text("qa_search MATCH :match").bindparams(match=match))
            )
            return QaTranscriptRow.interaction_id.in_(hits)
        # The same expression as the GIN index (regconfig inlined), so the index is used.
        simple: sa.ColumnElement[Any] = sa.literal_column("'simple'::regconfig")
        vector = sa.func.to_tsvector(simple, QaTranscriptRow.text)
        query = sa.func.plainto_tsquery(simple, " ".join(words))
        return vector.op("@@")(query)

    async def call(self, interaction_id: str, lines: frozenset[str] | None = None) -> CallDetail | None:
        t, r, i = QaTranscriptRow, QaResultRow, InteractionRow
        query = (
            sa.select(t, r.score, r.checks, r.alerts, i.caller_name, i.caller_number)
            .outerjoin(r, r.interaction_id == t.interaction_id)
            .outerjoin(i, i.id == t.interaction_id)
            .where(t.interaction_id == interaction_id)
        )
        async with self._begin(f"read QA call {interaction_id!r}") as c:
            row = (await c.execute(query)).one_or_none()
            if row is None or (lines is not None and row.business_line not in lines):
                return None
            flags = await _flags(c, [interaction_id])
            reviews = await _reviews(c, interaction_id)
            survey = await _survey(c, interaction_id)
        return CallDetail(
            _summary(row, row.score, flags.get(interaction_id, ()), len(reviews), ()),
            row.language,
            row.engine,
            list(row.segments),
            list(row.checks or []),
            list(row.alerts or []),
            tuple(reviews),
            survey,
        )

    async def line_of(self, interaction_id: str) -> tuple[bool, str | None]:
        """Whether the call is known (to QA or as an interaction), and its business line."""
        async with self._begin(f"read the business line of {interaction_id!r}") as c:
            line = (
                await c.execute(
                    sa.select(QaTranscriptRow.business_line).where(
                        QaTranscriptRow.interaction_id == interaction_id
                    )
                )
            ).one_or_none()
            if line is not None:
                return True, line[0]
            meta = await _interaction_meta(c, interaction_id, self._queue_lines)
        return bool(meta), meta.get("business_line")

    # --- manual review --------------------------------------------------------------------------

    async def add_review(
        self,
        interaction_id: str,
        reviewer: str,
        scorecard: str,
        answers: Mapping[str, int | None],
        comment: str,
        total: float,
        at: datetime,
    ) -> Review:
        statement = (
            sa.insert(QaReviewRow)
            .values(
                interaction_id=interaction_id,
                reviewer=reviewer,
                scorecard=scorecard,
                answers=dict(answers),
                comment=comment,
                total=total,
                at=at,
            )
            .returning(QaReviewRow.id)
        )
        async with self._begin(f"store a review of {interaction_id!r}", write=True) as c:
            review_id = int((await c.execute(statement)).scalar_one())
            # The interaction may have been saved (or finished) after its transcript: its line,
            # agent, queue and date are taken again for the call being reviewed.
            meta = await _interaction_meta(c, interaction_id, self._queue_lines)
            if meta:
                await c.execute(
                    sa.update(QaTranscriptRow)
                    .where(QaTranscriptRow.interaction_id == interaction_id)
                    .values(meta)
                )
        return Review(review_id, interaction_id, reviewer, scorecard, dict(answers), comment, total, at)

    async def reviews(self, interaction_id: str) -> list[Review]:
        async with self._begin(f"read reviews of {interaction_id!r}") as c:
            return await _reviews(c, interaction_id)

    async def set_calibration(self, interaction_id: str, on: bool) -> bool:
        """Mark (or unmark) a call for calibration; False when the call has no transcript."""
        statement = (
            sa.update(QaTranscriptRow)
            .where(QaTranscriptRow.interaction_id == interaction_id)
            .values(calibration=on)
        )
        async with self._begin(f"mark {interaction_id!r} for calibration", write=True) as c:
            return bool((await c.execute(statement)).rowcount)

    # --- playback audit -------------------------------------------------------------------------

    async def add_playback(self, record: PlaybackRecord) -> None:
        async with self._begin(f"audit a playback of {record.interaction_id!r}", write=True) as c:
            await audit_chain.append(c, PlaybackAuditRow, dataclasses.asdict(record))

    async def playbacks(self, interaction_id: str) -> list[PlaybackRecord]:
        query = (
            sa.select(PlaybackAuditRow)
            .where(PlaybackAuditRow.interaction_id == interaction_id)
            .order_by(PlaybackAuditRow.id)
        )
        async with self._begin(f"read the playback audit of {interaction_id!r}") as c:
            return [
                PlaybackRecord(row.at, row.who, row.role, row.interaction_id, row.track, row.byte_range)
                for row in await c.execute(query)
            ]


async def _write_result(
    c: AsyncConnection, interaction_id: str, result: QaResult | None, at: datetime
) -> None:
    """A transcript's automatic score and flags, replacing its earlier flags (not ``KEPT_FLAGS``)."""
    mine = (QaFlagRow.interaction_id == interaction_id) & QaFlagRow.flag.not_in(KEPT_FLAGS)
    await c.execute(sa.delete(QaFlagRow).where(mine))
    if result is None:
        return
    scored = qa_json(result)
    await c.execute(
        sa.insert(QaResultRow).values(
            interaction_id=interaction_id,
            score=result.score,
            checks=scored["checks"],
            alerts=scored["alerts"],
            scored_at=at,
        )
    )
    flags = tuple(f for f in flags_of(result) if f not in KEPT_FLAGS)
    if flags:
        await c.execute(sa.insert(QaFlagRow), [{"interaction_id": interaction_id, "flag": f} for f in flags])


async def raise_review(
    c: AsyncConnection,
    interaction_id: str,
    flag: str,
    at: datetime,
    queue_lines: Callable[[str], str | None] | None,
) -> None:
    """Put a contact in the QA review list with ``flag``, inside the caller's transaction: the
    flag, and when the contact has no transcript (a chat, a message conversation, a call not
    recorded or not transcribed yet) an empty one carrying its line, agent, queue and time, so the
    list (which lists transcripts) shows it. A transcript stored later replaces the empty one and
    keeps the flag (``KEPT_FLAGS``). Idempotent."""
    known = await c.execute(
        sa.select(QaTranscriptRow.interaction_id).where(QaTranscriptRow.interaction_id == interaction_id)
    )
    if known.first() is None:
        meta = await _interaction_meta(c, interaction_id, queue_lines)
        await c.execute(
            sa.insert(QaTranscriptRow).values(
                interaction_id=interaction_id,
                business_line=meta.get("business_line"),
                agent_id=meta.get("agent_id"),
                queue=meta.get("queue"),
                call_at=meta.get("call_at") or at,
                language="",
                engine="",
                segments=[],
                text="",
                duration=0.0,
                calibration=False,
                stored_at=at,
            )
        )
    flagged = await c.execute(
        sa.select(QaFlagRow.flag).where(
            (QaFlagRow.interaction_id == interaction_id) & (QaFlagRow.flag == flag)
        )
    )
    if flagged.first() is None:
        await c.execute(sa.insert(QaFlagRow).values(interaction_id=interaction_id, flag=flag))


async def _interaction_meta(
    c: AsyncConnection, interaction_id: str, queue_lines: Callable[[str], str | None] | None
) -> dict[str, Any]:
    i = InteractionRow
    row = (
        await c.execute(sa.select(i.queue, i.agent_id, i.skills, i.started_at).where(i.id == interaction_id))
    ).one_or_none()
    if row is None:
        return {}
    configured = queue_lines(row.queue) if queue_lines is not None and row.queue is not None else None
    return {
        "business_line": call_line(row.queue, configured, row.skills),
        "agent_id": row.agent_id,
        "queue": row.queue,
        "call_at": row.started_at,
    }


async def _survey(c: AsyncConnection, interaction_id: str) -> dict[str, Any] | None:
    """The contact's answered survey (storage/surveys_store.py), for the reviewer."""
    s = SurveyResponseRow
    row = (
        await c.execute(
            sa.select(s.question, s.score, s.comment, s.source, s.low).where(
                (s.interaction_id == interaction_id) & s.score.is_not(None)
            )
        )
    ).one_or_none()
    if row is None:
        return None
    return {
        "question": row.question,
        "score": row.score,
        "comment": row.comment,
        "source": row.source,
        "low": row.low,
    }


async def _flags(c: AsyncConnection, ids: list[str]) -> dict[str, tuple[str, ...]]:
    if not ids:
        return {}
    out: dict[str, list[str]] = {}
    query = sa.select(QaFlagRow.interaction_id, QaFlagRow.flag).where(QaFlagRow.interaction_id.in_(ids))
    for interaction_id, flag in await c.execute(query.order_by(QaFlagRow.flag)):
        out.setdefault(interaction_id, []).append(flag)
    return {k: tuple(v) for k, v in out.items()}


async def _review_counts(c: AsyncConnection, ids: list[str]) -> dict[str, int]:
    if not ids:
        return {}
    query = (
        sa.select(QaReviewRow.interaction_id, sa.func.count())
        .where(QaReviewRow.interaction_id.in_(ids))
        .group_by(QaReviewRow.interaction_id)
    )
    return {interaction_id: int(n) for interaction_id, n in await c.execute(query)}


async def _reviews(c: AsyncConnection, interaction_id: str) -> list[Review]:
    query = (
        sa.select(QaReviewRow).where(QaReviewRow.interaction_id == interaction_id).order_by(QaReviewRow.id)
    )
    return [
        Review(
            int(row.id),
            row.interaction_id,
            row.reviewer,
            row.scorecard,
            dict(row.answers),
            row.comment,
            float(row.total),
            _aware(row.at),
        )
        for row in await c.execute(query)
    ]


def _summary(
    row: Any, score: float | None, flags: tuple[str, ...], reviews: int, words: tuple[str, ...]
) -> CallSummary:
    return CallSummary(
        row.interaction_id,
        row.business_line,
        row.agent_id,
        row.queue,
        _aware(row.call_at),
        float(row.duration),
        None if score is None else float(score),
        flags,
        reviews,
        bool(row.calibration),
        excerpt(row.text, words),
        row.caller_name or row.caller_number or "",
    )


def excerpt(text: str, words: tuple[str, ...], width: int = 160) -> str:
    """A piece of the transcript around the first searched word (the start when none)."""
    lowered = text.lower()
    at = min((m.start() for w in words if (m := re.search(rf"\b{re.escape(w)}\b", lowered))), default=0)
    start = max(0, at - width // 3)
    piece = text[start : start + width]
    return ("…" if start else "") + piece + ("…" if start + width < len(text) else "")


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value

"""Survey responses (``survey_responses``, migration 0018): asked, answered, awaited, read back.

Invariants:

- One survey per interaction (unique ``interaction_id``): asking again is refused by the
  database, so a contact retried after a failover is not surveyed twice (:meth:`SurveyStore.ask`
  answers False).
- An answer is written once (the row's ``score`` goes from null to a value in one ``UPDATE ...
  WHERE score IS NULL``), and a low answer's QA review (``qa_store.raise_review``) is written in
  the same transaction: a low score stored is a review raised.

Every SQLAlchemy or driver failure leaves as :class:`~callcenter.storage.db.DatabaseError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.aio import cancel_safe
from callcenter.core.business_lines import call_line
from callcenter.core.surveys.model import Question, Response, Source
from callcenter.storage.db import ConnectionStore
from callcenter.storage.db_models import InteractionRow, SurveyResponseRow
from callcenter.storage.qa_store import SURVEY_LOW, raise_review

SURVEYS = cast(sa.Table, SurveyResponseRow.__table__)
INTERACTIONS = cast(sa.Table, InteractionRow.__table__)


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def _secs(d: datetime | None) -> float | None:
    return None if d is None else d.timestamp()


@dataclass(frozen=True, slots=True)
class Awaited:
    """A message survey whose answer is awaited: the reply of its customer on its channel until
    ``expires_at`` files into ``conversation_id`` and answers it."""

    response: Response
    conversation_id: str
    expires_at: float
    low_score: int
    reply_channel: str  # the channel the answer comes on (a call's survey by SMS: sms)


@dataclass(frozen=True, slots=True)
class Contact:
    """What a survey needs to know of an interaction (read back by id, or by conversation)."""

    interaction_id: str
    channel: str
    agent: str
    queue: str
    line: str
    customer: str
    answered: bool


def response_of(row: Any) -> Response:
    return Response(
        row.id,
        row.interaction_id,
        row.survey,
        Question(row.question),
        Source(row.source),
        row.channel,
        row.asked_at.timestamp(),
        row.agent,
        row.queue,
        row.line,
        row.customer,
        row.score,
        _secs(row.answered_at),
        row.comment,
        row.low,
    )


@cancel_safe
class SurveyStore(ConnectionStore):
    _name = "survey store"

    def __init__(
        self,
        url: str,
        engine: AsyncEngine | None = None,
        queue_lines: Callable[[str], str | None] | None = None,
    ) -> None:
        """``queue_lines``: a queue's ``line:`` now (a contact's line, and the QA review's)."""
        super().__init__(url, engine)
        self._queue_lines = queue_lines

    async def start(self) -> None:
        await self._open()

    def _values(self, r: Response, low_score: int) -> dict[str, Any]:
        return {
            "id": r.id,
            "interaction_id": r.interaction_id,
            "survey": r.survey,
            "question": r.question.value,
            "source": r.source.value,
            "channel": r.channel,
            "agent": r.agent,
            "queue": r.queue,
            "line": r.line,
            "customer": r.customer,
            "asked_at": _dt(r.asked_at),
            "score": r.score,
            "answered_at": None if r.answered_at is None else _dt(r.answered_at),
            "comment": r.comment,
            "low_score": low_score,
            "low": r.low,
        }

    async def ask(
        self,
        response: Response,
        low_score: int,
        *,
        conversation_id: str | None = None,
        expires_at: float | None = None,
        reply_channel: str | None = None,
    ) -> bool:
        """Store a survey asked (or asked and answered at once, like a chat rating, whose low
        score raises its QA review here). False: this interaction has a survey already."""
        values = self._values(response, low_score) | {
            "conversation_id": conversation_id,
            "reply_channel": reply_channel,
            "expires_at": None if expires_at is None else _dt(expires_at),
        }
        async with self._begin(f"store the survey of {response.interaction_id!r}", write=True) as c:
            taken = await c.execute(
                sa.select(SURVEYS.c.id).where(SURVEYS.c.interaction_id == response.interaction_id)
            )
            if taken.first() is not None:
                return False
            await c.execute(sa.insert(SURVEYS).values(values))
            if response.low:
                await raise_review(
                    c, response.interaction_id, SURVEY_LOW, _dt(response.asked_at), self._queue_lines
                )
        return True

    async def answer(self, response: Response) -> bool:
        """Store the answer of a survey asked before (and its QA review when low). False: it
        was answered already, or is not stored."""
        assert response.score is not None and response.answered_at is not None
        async with self._begin(f"store the answer of {response.interaction_id!r}", write=True) as c:
            done = await c.execute(
                sa.update(SURVEYS)
                .where((SURVEYS.c.id == response.id) & SURVEYS.c.score.is_(None))
                .values(
                    score=response.score,
                    answered_at=_dt(response.answered_at),
                    comment=response.comment,
                    low=response.low,
                    expires_at=None,
                )
            )
            if not done.rowcount:
                return False
            if response.low:
                await raise_review(
                    c, response.interaction_id, SURVEY_LOW, _dt(response.answered_at), self._queue_lines
                )
        return True

    async def awaited(self, now: float) -> list[Awaited]:
        """Message surveys still awaiting their answer at ``now`` (a new routing owner's start)."""
        s = SURVEYS.c
        async with self._begin("read the awaited surveys") as c:
            rows = await c.execute(
                sa.select(SURVEYS)
                .where(s.score.is_(None) & s.conversation_id.is_not(None) & (s.expires_at > _dt(now)))
                .order_by(s.asked_at, s.id)
            )
            return [
                Awaited(
                    response_of(row),
                    row.conversation_id,
                    row.expires_at.timestamp(),
                    row.low_score,
                    row.reply_channel or row.channel,
                )
                for row in rows
            ]

    async def responses(self, start: int, end: int) -> list[Response]:
        """Every survey asked in ``[start, end)`` (the reports)."""
        s = SURVEYS.c
        async with self._begin("read the survey responses") as c:
            rows = await c.execute(
                sa.select(SURVEYS)
                .where((s.asked_at >= _dt(start)) & (s.asked_at < _dt(end)))
                .order_by(s.asked_at, s.id)
            )
            return [response_of(row) for row in rows]

    async def get(self, interaction_id: str) -> Response | None:
        async with self._begin("read a survey") as c:
            row = (
                await c.execute(sa.select(SURVEYS).where(SURVEYS.c.interaction_id == interaction_id))
            ).one_or_none()
        return None if row is None else response_of(row)

    async def contact_of_conversation(self, conversation_id: str) -> Contact | None:
        """The newest stored interaction of a conversation (the one a web chat's rating is about)."""
        i = INTERACTIONS.c
        async with self._begin("read a conversation's interaction") as c:
            row = (
                await c.execute(
                    sa.select(i.id, i.channel, i.agent_id, i.queue, i.skills, i.customer_id, i.answered_at)
                    .where(i.conversation_id == conversation_id)
                    .order_by(i.started_at.desc(), i.id.desc())
                    .limit(1)
                )
            ).one_or_none()
        if row is None:
            return None
        configured = self._queue_lines(row.queue) if self._queue_lines and row.queue else None
        return Contact(
            row.id,
            row.channel,
            row.agent_id or "",
            row.queue or "",
            call_line(row.queue, configured, row.skills) or "",
            row.customer_id or "",
            row.answered_at is not None,
        )

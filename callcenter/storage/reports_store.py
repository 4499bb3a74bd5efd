"""The report tables (migration 0014): 15-minute rows recomputed from the event log.

Invariants (docs/reports.md):

- A row is never updated in place: a range of 15-minute intervals is recomputed whole from the
  event log (``core/reports/aggregate.compute``) and replaces what was stored for that range, in
  one transaction. Recomputing a range twice gives the same rows: the tables are idempotent.
- ``catch_up`` is incremental: it reads the events added since its watermark (the last event id
  it processed, plus the last ``REREAD`` ids again, because PostgreSQL may make rows of concurrent
  transactions visible out of id order), finds the intervals they change (where the legs of
  their interactions began; for agents' states, from the earliest new state to now) and
  recomputes only those. The first run, and a run after more than ``BACKLOG`` events piled up
  (a long stop), rebuild instead from the earliest interval the new events can change up to now,
  a day at a time: following a long backlog event by event would redo the same days many times.
- It runs on the routing owner only (``cluster.py`` starts it in the routing half), so two nodes
  do not replace the same range at once; were they to, each would write the same rows, because
  every row is a function of the log alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callcenter.aio import cancel_safe
from callcenter.core import notices as nt
from callcenter.core.business_lines import call_line
from callcenter.core.reports.aggregate import (
    AgentContactRow,
    AgentStateRow,
    IntervalRows,
    QueueRow,
    QueueSettings,
    compute,
    leg_starts,
)
from callcenter.core.reports.conversations import Conversation
from callcenter.core.reports.intervals import QUARTER, quarter
from callcenter.core.reports.resolution import Contact
from callcenter.core.surveys.model import Response
from callcenter.storage.db import EVENTS, ConnectionStore
from callcenter.storage.db_models import (
    CustomerRow,
    InteractionRow,
    MessageRow,
    ReportAgentContactRow,
    ReportAgentStateRow,
    ReportQueueRow,
    ReportWatermarkRow,
    SurveyResponseRow,
)
from callcenter.storage.event_log import notice_reader

QUEUES = cast(sa.Table, ReportQueueRow.__table__)
STATES = cast(sa.Table, ReportAgentStateRow.__table__)
CONTACTS = cast(sa.Table, ReportAgentContactRow.__table__)
WATERMARK = cast(sa.Table, ReportWatermarkRow.__table__)
INTERACTIONS = cast(sa.Table, InteractionRow.__table__)
CUSTOMERS = cast(sa.Table, CustomerRow.__table__)
MESSAGES = cast(sa.Table, MessageRow.__table__)
SURVEYS = cast(sa.Table, SurveyResponseRow.__table__)
#: Event kinds that may begin a queue leg (core/reports/aggregate.py, ``_Walk``).
LEG_KINDS = ("queued", "overflowed", "transferred", "answered", "callback_connected")
AGENT_KIND = nt.AgentStateLogged.kind
#: Ids below the watermark read again each run (rows of concurrent transactions seen late).
REREAD = 200
#: More new events than this: one rebuild from the earliest interval they change (``_catch_up_whole``).
BACKLOG = 20000
#: Events read per query, and interactions per ``IN (...)`` list.
BATCH = 5000
CHUNK = 500
#: The longest range recomputed at once (memory): one day.
MAX_RANGE = 96 * QUARTER


@dataclass(frozen=True, slots=True)
class CatchUp:
    """What one incremental run did."""

    events: int  # events read
    intervals: int  # 15-minute intervals recomputed
    last_event_id: int


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def _secs(d: datetime) -> int:
    return int(d.timestamp())  # UTCDateTime hands out aware datetimes


def _root(customer: str, merged: Mapping[str, str]) -> str:
    """The customer a (possibly merged) id now belongs to; a cycle stops where it closes."""
    seen = {customer}
    while (into := merged.get(customer)) is not None and into not in seen:
        seen.add(into)
        customer = into
    return customer


def ranges(starts: Iterable[int], longest: int = MAX_RANGE) -> list[tuple[int, int]]:
    """15-minute interval starts → the fewest ``[start, end)`` ranges that cover them, none longer
    than ``longest``."""
    found: list[tuple[int, int]] = []
    for q in sorted(set(starts)):
        if found and found[-1][1] == q and q + QUARTER - found[-1][0] <= longest:
            found[-1] = (found[-1][0], q + QUARTER)
        else:
            found.append((q, q + QUARTER))
    return found


@cancel_safe
class ReportsStore(ConnectionStore):
    """The report tables over the shared engine (or its own, for the command line and tests).

    Cancel-safe like the other stores: cancelling a caller lets the running call finish first (a
    transaction torn in half left an SQLite connection holding the write lock), so a node that
    stops waits for the job's current run (seconds; a first run over a long history, longer).

    ``settings``: the queues' line and thresholds now (the queues file is reloaded at runtime).
    """

    _name = "report store"

    def __init__(
        self,
        url: str,
        engine: AsyncEngine | None = None,
        settings: Callable[[], Mapping[str, QueueSettings]] = dict,
        backlog: int = BACKLOG,
    ) -> None:
        super().__init__(url, engine)
        self._settings = settings
        self._backlog = backlog

    async def start(self) -> None:
        await self._open()

    # -- reading the log --------------------------------------------------------------------------
    @staticmethod
    def _notices(rows: Iterable[Sequence[Any]]) -> list[nt.Notice]:
        read = notice_reader()
        found = []
        for row in rows:
            notice = read(row[1], row[2].timestamp(), row[3], row[4])
            if notice is not None:
                found.append(notice)
        return found

    async def _events_of(self, db: AsyncConnection, interactions: Sequence[str]) -> list[nt.Notice]:
        found: list[nt.Notice] = []
        cols = (EVENTS.c.id, EVENTS.c.interaction_id, EVENTS.c.at, EVENTS.c.kind, EVENTS.c.data)
        for n in range(0, len(interactions), CHUNK):
            chunk = interactions[n : n + CHUNK]
            query = sa.select(*cols).where(EVENTS.c.interaction_id.in_(chunk)).order_by(EVENTS.c.id)
            found.extend(self._notices(await db.execute(query)))
        return found

    async def _range_notices(self, db: AsyncConnection, start: int, end: int) -> list[nt.Notice]:
        """Every notice ``compute`` needs for ``[start, end)``."""
        in_range = (EVENTS.c.at >= _dt(start)) & (EVENTS.c.at < _dt(end))
        ids = await db.scalars(
            sa.select(EVENTS.c.interaction_id).where(in_range & EVENTS.c.kind.in_(LEG_KINDS)).distinct()
        )
        notices = await self._events_of(db, sorted(ids))
        cols = (EVENTS.c.id, EVENTS.c.interaction_id, EVENTS.c.at, EVENTS.c.kind, EVENTS.c.data)
        before = (
            sa.select(sa.func.max(EVENTS.c.id))
            .where((EVENTS.c.kind == AGENT_KIND) & (EVENTS.c.at < _dt(start)))
            .group_by(EVENTS.c.interaction_id)
        )
        agents = sa.select(*cols).where(
            (EVENTS.c.kind == AGENT_KIND) & ((in_range) | EVENTS.c.id.in_(before))
        )
        notices.extend(self._notices(await db.execute(agents.order_by(EVENTS.c.id))))
        return notices

    # -- writing ----------------------------------------------------------------------------------
    async def rebuild(self, start: int, end: int, now: float) -> IntervalRows:
        """Recompute every 15-minute interval in ``[start, end)`` from the log and replace them."""
        start, end = quarter(start), quarter(end - 1) + QUARTER if end > start else quarter(start)
        total = IntervalRows()
        for a, b in ranges(range(start, end, QUARTER)):
            async with self._begin(f"read the event log from {_dt(a):%Y-%m-%d %H:%M}") as db:
                notices = await self._range_notices(db, a, b)
            rows = compute(notices, a, b, now, self._settings())
            async with self._begin(f"store the reports from {_dt(a):%Y-%m-%d %H:%M}", write=True) as db:
                await self._replace(db, a, b, rows)
            total = IntervalRows(
                total.queues + rows.queues,
                total.agent_states + rows.agent_states,
                total.agent_contacts + rows.agent_contacts,
            )
        return total

    @staticmethod
    async def _replace(db: AsyncConnection, start: int, end: int, rows: IntervalRows) -> None:
        for table in (QUEUES, STATES, CONTACTS):
            await db.execute(
                sa.delete(table).where((table.c.start >= _dt(start)) & (table.c.start < _dt(end)))
            )
        for table, items in (
            (QUEUES, rows.queues),
            (STATES, rows.agent_states),
            (CONTACTS, rows.agent_contacts),
        ):
            if items:
                names = [f.name for f in fields(items[0]) if f.name != "start"]
                values = [{"start": _dt(i.start)} | {n: getattr(i, n) for n in names} for i in items]
                await db.execute(sa.insert(table), values)

    async def catch_up(self, now: float) -> CatchUp:
        """Recompute the intervals the events added since the last run change (see the header)."""
        async with self._begin("read the report watermark") as db:
            mark = (await db.execute(sa.select(WATERMARK.c.last_event_id, WATERMARK.c.until))).one()
        last_id, until = int(mark[0]), mark[1]
        seen = max(0, last_id - REREAD)
        async with self._begin("count new events") as db:
            newer = EVENTS.c.id > seen
            backlog, top = (
                await db.execute(sa.select(sa.func.count(), sa.func.max(EVENTS.c.id)).where(newer))
            ).one()
        if until is None or backlog > self._backlog:
            return await self._catch_up_whole(seen, int(top or last_id), until, now, int(backlog))
        dirty: set[int] = set()
        interactions: set[str] = set()
        earliest_agent: float | None = None
        read = 0
        while True:
            async with self._begin("read new events") as db:
                query = (
                    sa.select(EVENTS.c.id, EVENTS.c.interaction_id, EVENTS.c.at, EVENTS.c.kind)
                    .where(EVENTS.c.id > seen)
                    .order_by(EVENTS.c.id)
                    .limit(BATCH)
                )
                batch = (await db.execute(query)).all()
            if not batch:
                break
            read += len(batch)
            seen = max(seen, int(batch[-1][0]))
            for _, interaction, at, kind in batch:
                if kind == AGENT_KIND:
                    t = at.timestamp()
                    earliest_agent = t if earliest_agent is None else min(earliest_agent, t)
                elif not interaction.startswith(nt.AGENT_LOG_PREFIX):
                    interactions.add(interaction)
        if interactions:
            async with self._begin("read the changed interactions") as db:
                notices = await self._events_of(db, sorted(interactions))
            dirty.update(quarter(t) for t in leg_starts(notices))
        # Agents' states: their open states grew up to now; a new state cut the one before it.
        since = [t for t in (earliest_agent, None if until is None else until.timestamp()) if t is not None]
        if since:
            dirty.update(range(quarter(min(since)), quarter(now) + QUARTER, QUARTER))
        for a, b in ranges(dirty):
            await self.rebuild(a, b, now)
        async with self._begin("save the report watermark", write=True) as db:
            await db.execute(sa.update(WATERMARK).values(last_event_id=max(seen, last_id), until=_dt(now)))
        return CatchUp(read, len(dirty), max(seen, last_id))

    async def _catch_up_whole(
        self, seen: int, top: int, until: datetime | None, now: float, count: int
    ) -> CatchUp:
        """The first run, or a backlog too long to follow event by event (after a long stop): one
        rebuild from the earliest interval the new events can change up to now, a day at a time."""
        newer = EVENTS.c.id > seen
        async with self._begin("read the backlog's span") as db:
            first_new = await db.scalar(
                sa.select(sa.func.min(EVENTS.c.at)).where(newer & (EVENTS.c.id <= top))
            )
            touched = sa.select(EVENTS.c.interaction_id).where(newer & (EVENTS.c.id <= top))
            first_leg = await db.scalar(
                sa.select(sa.func.min(EVENTS.c.at)).where(
                    EVENTS.c.kind.in_(LEG_KINDS) & EVENTS.c.interaction_id.in_(touched)
                )
            )
        starts = [d.timestamp() for d in (first_new, first_leg, until) if d is not None]
        intervals = 0
        if starts:
            start, end = quarter(min(starts)), quarter(now) + QUARTER
            await self.rebuild(start, end, now)
            intervals = (end - start) // QUARTER
        async with self._begin("save the report watermark", write=True) as db:
            await db.execute(sa.update(WATERMARK).values(last_event_id=top, until=_dt(now)))
        return CatchUp(count, intervals, top)

    # -- reading the tables -----------------------------------------------------------------------
    async def queue_rows(self, start: int, end: int) -> list[QueueRow]:
        """Stored queue rows of the intervals beginning in ``[start, end)``."""
        names = [f.name for f in fields(QueueRow)]
        where = (QUEUES.c.start >= _dt(start)) & (QUEUES.c.start < _dt(end))
        async with self._begin("read the queue reports") as db:
            result = await db.execute(
                sa.select(*(QUEUES.c[n] for n in names)).where(where).order_by(*QUEUES.primary_key)
            )
            return [QueueRow(_secs(r[0]), *r[1:]) for r in result]

    async def agent_rows(self, start: int, end: int) -> tuple[list[AgentStateRow], list[AgentContactRow]]:
        """Stored agent rows (states, contacts) of the intervals beginning in ``[start, end)``."""
        async with self._begin("read the agent reports") as db:
            out_states = [
                AgentStateRow(_secs(r[0]), r[1], r[2], r[3], r[4])
                for r in await db.execute(
                    sa.select(
                        STATES.c.start, STATES.c.agent, STATES.c.state, STATES.c.reason, STATES.c.seconds
                    )
                    .where((STATES.c.start >= _dt(start)) & (STATES.c.start < _dt(end)))
                    .order_by(*STATES.primary_key)
                )
            ]
            out_contacts = [
                AgentContactRow(_secs(r[0]), r[1], r[2], r[3], r[4])
                for r in await db.execute(
                    sa.select(
                        CONTACTS.c.start,
                        CONTACTS.c.agent,
                        CONTACTS.c.channel,
                        CONTACTS.c.handled,
                        CONTACTS.c.talk_seconds,
                    )
                    .where((CONTACTS.c.start >= _dt(start)) & (CONTACTS.c.start < _dt(end)))
                    .order_by(*CONTACTS.primary_key)
                )
            ]
        return out_states, out_contacts

    async def contacts(self, start: int, end: int) -> list[Contact]:
        """Every interaction of a known customer begun in ``[start, end)``, as first-contact
        resolution sees it (``core/reports/resolution.py``): the customer after merges, handled
        when an agent answered it, its line by the one rule of docs/security.md."""
        i = INTERACTIONS.c
        known = self._settings()
        async with self._begin("read the contacts") as db:
            merged = {
                r[0]: r[1]
                for r in await db.execute(
                    sa.select(CUSTOMERS.c.id, CUSTOMERS.c.merged_into).where(
                        CUSTOMERS.c.merged_into.is_not(None)
                    )
                )
            }
            rows = await db.execute(
                sa.select(
                    i.id, i.customer_id, i.started_at, i.channel, i.answered_at, i.queue, i.agent_id, i.skills
                )
                .where(i.customer_id.is_not(None) & (i.started_at >= _dt(start)) & (i.started_at < _dt(end)))
                .order_by(i.started_at, i.id)
            )
            found = []
            for ident, customer, started, channel, answered, queue, agent, skills in rows:
                settings = known.get(queue or "")
                line = call_line(queue, settings.line if settings else None, skills or ())
                found.append(
                    Contact(
                        ident,
                        _root(customer, merged),
                        _secs(started),
                        channel,
                        answered is not None,
                        queue or "",
                        agent or "",
                        line or "",
                    )
                )
        return found

    async def survey_responses(self, start: int, end: int) -> list[Response]:
        """Every survey asked in ``[start, end)``, answered or not (``core/surveys/scores.py``)."""
        from callcenter.storage.surveys_store import response_of

        s = SURVEYS.c
        async with self._begin("read the survey responses") as db:
            rows = await db.execute(
                sa.select(SURVEYS)
                .where((s.asked_at >= _dt(start)) & (s.asked_at < _dt(end)))
                .order_by(s.asked_at, s.id)
            )
            return [response_of(row) for row in rows]

    async def conversations(self, start: int, end: int) -> list[Conversation]:
        """Every messaging interaction begun in ``[start, end)`` with its messages' figures
        (``core/reports/conversations.py``): the first message out and the messages in and out
        between its start and its end."""
        i, m = INTERACTIONS.c, MESSAGES.c
        known = self._settings()
        async with self._begin("read the conversations") as db:
            rows = (
                await db.execute(
                    sa.select(
                        i.id,
                        i.channel,
                        i.started_at,
                        i.answered_at,
                        i.ended_at,
                        i.conversation_id,
                        i.queue,
                        i.agent_id,
                        i.skills,
                    )
                    .where(
                        (i.channel != "voice")
                        & i.conversation_id.is_not(None)
                        & (i.started_at >= _dt(start))
                        & (i.started_at < _dt(end))
                    )
                    .order_by(i.started_at, i.id)
                )
            ).all()
            messages: dict[str, list[tuple[datetime, str]]] = {}
            ids = sorted({r[5] for r in rows})
            for n in range(0, len(ids), CHUNK):
                found = await db.execute(
                    sa.select(m.conversation_id, m.at, m.direction)
                    .where(m.conversation_id.in_(ids[n : n + CHUNK]))
                    .order_by(m.at)
                )
                for conversation, at, direction in found:
                    messages.setdefault(conversation, []).append((at, direction))
        return [self._conversation(row, messages.get(row[5], []), known) for row in rows]

    @staticmethod
    def _conversation(
        row: Sequence[Any], messages: list[tuple[datetime, str]], known: Mapping[str, QueueSettings]
    ) -> Conversation:
        ident, channel, started, answered, ended, _conversation, queue, agent, skills = row
        during = [(at, d) for at, d in messages if at >= started and (ended is None or at <= ended)]
        first_out = next((at for at, d in during if d == "out"), None)
        settings = known.get(queue or "")
        return Conversation(
            ident,
            channel,
            started.timestamp(),
            answered is not None,
            None if ended is None else ended.timestamp(),
            None if first_out is None else first_out.timestamp(),
            sum(d == "in" for _, d in during),
            sum(d == "out" for _, d in during),
            queue or "",
            agent or "",
            call_line(queue, settings.line if settings else None, skills or ()) or "",
        )

    async def complete_until(self) -> float | None:
        """The time the tables are complete up to (the incremental job's last run; None: never ran)."""
        async with self._begin("read the report watermark") as db:
            until = await db.scalar(sa.select(WATERMARK.c.until))
        return None if until is None else until.timestamp()

    async def log_span(self) -> tuple[float, float] | None:
        """The times of the first and last events in the log (the backfill's default range)."""
        async with self._begin("read the event log's span") as db:
            first, last = (
                await db.execute(sa.select(sa.func.min(EVENTS.c.at), sa.func.max(EVENTS.c.at)))
            ).one()
        if first is None or last is None:
            return None
        return float(_secs(first)), float(_secs(last))

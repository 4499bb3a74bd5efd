"""Runs of the e-mailed reports (migration 0020): one row per schedule and due time.

A run is *claimed* before its e-mail goes out and marked ``sent`` (or ``failed``) after, so:

- a run already sent is never sent again, whatever restarts happen;
- two nodes claiming the same run (the primary key) cannot both win: the loser's insert fails;
- a ``failed`` run is tried again (up to a number of attempts); a ``sending`` run left by a node
  that died mid-send is tried again once it is ``stale`` seconds old. A node that died after the
  relay took the mail but before it wrote ``sent`` makes that run go out twice: the one window in
  which a restart repeats a mail rather than skips it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

import sqlalchemy as sa

from callcenter.aio import cancel_safe
from callcenter.storage.db import ConnectionStore, DatabaseError
from callcenter.storage.db_models import ReportRunRow

RUNS = cast(sa.Table, ReportRunRow.__table__)


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


@dataclass(frozen=True, slots=True)
class Run:
    schedule: str
    due: int
    status: str  # sending, sent, failed
    attempts: int
    error: str | None


@cancel_safe
class ReportRunsStore(ConnectionStore):
    _name = "report runs store"

    async def start(self) -> None:
        await self._open()

    async def last_due(self, schedule: str) -> int | None:
        """The latest due time of ``schedule`` that has a run (any status)."""
        async with self._begin("read the report runs") as db:
            found = await db.scalar(sa.select(sa.func.max(RUNS.c.due_at)).where(RUNS.c.schedule == schedule))
        return None if found is None else int(found.timestamp())

    async def claim(self, schedule: str, due: int, now: float, max_attempts: int, stale: float) -> bool:
        """Whether this node may send the run now (and it is marked ``sending``)."""
        row = {
            "schedule": schedule,
            "due_at": _dt(due),
            "status": "sending",
            "attempts": 1,
            "claimed_at": _dt(now),
        }
        try:
            async with self._begin("claim a report run", write=True) as db:
                await db.execute(RUNS.insert().values(**row))
            return True
        except DatabaseError as err:
            if not isinstance(err.__cause__, sa.exc.IntegrityError):
                raise
        retry = (RUNS.c.status == "failed") | (
            (RUNS.c.status == "sending") & (RUNS.c.claimed_at < _dt(now - stale))
        )
        async with self._begin("claim a report run again", write=True) as db:
            done = await db.execute(
                RUNS.update()
                .where(
                    (RUNS.c.schedule == schedule)
                    & (RUNS.c.due_at == _dt(due))
                    & retry
                    & (RUNS.c.attempts < max_attempts)
                )
                .values(status="sending", attempts=RUNS.c.attempts + 1, claimed_at=_dt(now))
            )
        return bool(done.rowcount)

    async def finish(self, schedule: str, due: int, now: float, error: str | None = None) -> None:
        """The run's outcome: ``sent`` (no error) or ``failed`` with why."""
        async with self._begin("record a report run", write=True) as db:
            await db.execute(
                RUNS.update()
                .where((RUNS.c.schedule == schedule) & (RUNS.c.due_at == _dt(due)))
                .values(status="sent" if error is None else "failed", finished_at=_dt(now), error=error)
            )

    async def runs(self, schedule: str | None = None) -> list[Run]:
        query = sa.select(RUNS.c.schedule, RUNS.c.due_at, RUNS.c.status, RUNS.c.attempts, RUNS.c.error)
        if schedule is not None:
            query = query.where(RUNS.c.schedule == schedule)
        async with self._begin("read the report runs") as db:
            rows = await db.execute(query.order_by(RUNS.c.schedule, RUNS.c.due_at))
            return [Run(r[0], int(r[1].timestamp()), r[2], r[3], r[4]) for r in rows]

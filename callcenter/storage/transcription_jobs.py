"""The persisted queue of transcription jobs (table ``transcription_jobs``), SQLite or PostgreSQL.

A job moves queued -> running -> done, or back to queued after a failure until it has been tried
``max_attempts`` times (then failed). Claiming is one conditional UPDATE, so two workers (or two
servers) never take the same job. At start-up, jobs left ``running`` by a stopped or crashed
process go back to ``queued``: the queue survives restarts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from callcenter.aio import cancel_safe
from callcenter.storage.db import ConnectionStore
from callcenter.storage.db_models import TranscriptionJobRow as Row

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    interaction_id: str
    files: tuple[str, ...]
    status: str
    attempts: int
    error: str | None = None
    transcript: Mapping[str, Any] | None = None
    qa: Mapping[str, Any] | None = None
    language: str | None = None


@cancel_safe
class JobStore(ConnectionStore):
    _name = "job store"
    _immediate = True  # a claim's read and write hold the lock together

    async def start(self) -> int:
        """Open (migrating the schema; or take the shared engine, already migrated) and requeue
        interrupted jobs; returns how many."""
        await self._open()
        return await self._execute(
            sa.update(Row).where(Row.status == RUNNING).values(status=QUEUED), "requeue running jobs"
        )

    async def enqueue(self, interaction_id: str, files: tuple[str, ...], language: str | None = None) -> int:
        statement = (
            sa.insert(Row)
            .values(
                interaction_id=interaction_id,
                files=list(files),
                language=language,
                status=QUEUED,
                attempts=0,
            )
            .returning(Row.id)
        )
        async with self._begin("enqueue a transcription job") as connection:
            return int((await connection.execute(statement)).scalar_one())

    async def claim(self) -> Job | None:
        """The oldest queued job, now running (its attempt counted), or None."""
        for _ in range(5):  # another worker may take the candidate first: try the next one
            async with self._begin("claim a transcription job") as connection:
                candidate = (
                    await connection.execute(
                        sa.select(Row.id).where(Row.status == QUEUED).order_by(Row.id).limit(1)
                    )
                ).scalar_one_or_none()
                if candidate is None:
                    return None
                taken = await connection.execute(
                    sa.update(Row)
                    .where(Row.id == candidate, Row.status == QUEUED)
                    .values(status=RUNNING, attempts=Row.attempts + 1)
                )
                if taken.rowcount == 1:
                    row = (await connection.execute(sa.select(Row).where(Row.id == candidate))).one()
                    return _job(row)
        return None

    async def finish(self, job_id: int, transcript: Mapping[str, Any], qa: Mapping[str, Any] | None) -> None:
        await self._execute(
            sa.update(Row)
            .where(Row.id == job_id)
            .values(
                status=DONE, error=None, transcript=dict(transcript), qa=None if qa is None else dict(qa)
            ),
            f"finish transcription job {job_id}",
        )

    async def fail(self, job_id: int, error: str, max_attempts: int) -> str:
        """Record a failure; the job is queued again unless it has had ``max_attempts``. Returns
        the new status."""
        async with self._begin(f"fail transcription job {job_id}") as connection:
            query = sa.select(Row.attempts).where(Row.id == job_id)
            attempts = (await connection.execute(query)).scalar_one()
            status = FAILED if attempts >= max_attempts else QUEUED
            await connection.execute(
                sa.update(Row).where(Row.id == job_id).values(status=status, error=error[:2000])
            )
            return status

    async def get(self, job_id: int) -> Job | None:
        async with self._begin(f"read transcription job {job_id}") as connection:
            row = (await connection.execute(sa.select(Row).where(Row.id == job_id))).one_or_none()
            return None if row is None else _job(row)

    async def for_interaction(self, interaction_id: str) -> list[Job]:
        query = sa.select(Row).where(Row.interaction_id == interaction_id).order_by(Row.id)
        async with self._begin(f"read transcription jobs of {interaction_id!r}") as connection:
            return [_job(row) for row in await connection.execute(query)]

    async def counts(self) -> dict[str, int]:
        query = sa.select(Row.status, sa.func.count()).group_by(Row.status)
        async with self._begin("count transcription jobs") as connection:
            return {status: int(n) for status, n in await connection.execute(query)}

    async def _execute(self, statement: sa.Executable, what: str) -> int:
        async with self._begin(what) as connection:
            result = await connection.execute(statement)
            return int(getattr(result, "rowcount", 0) or 0)


def _job(row: Any) -> Job:
    return Job(
        id=int(row.id),
        interaction_id=row.interaction_id,
        files=tuple(row.files),
        status=row.status,
        attempts=int(row.attempts),
        error=row.error,
        transcript=row.transcript,
        qa=row.qa,
        language=row.language,
    )

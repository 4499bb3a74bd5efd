"""The report tables on SQLite and PostgreSQL (storage/reports_store.py): random event logs written
in random batches, the incremental job run after each, and the tables compared with the rows
computed at once from the whole log; recomputing (the job again, a rebuild) changes nothing."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callcenter.core.reports.aggregate import IntervalRows, compute
from callcenter.core.reports.intervals import quarter
from callcenter.storage.db import Database
from callcenter.storage.reports_store import ReportsStore, ranges
from tests.pg import new_database
from tests.report_logs import QUEUES, T0, Log, logs


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def report_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "postgresql":
        yield asyncio.run(new_database(request.getfixturevalue("postgres_url"), "reports"))
    else:
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('reports') / 'cc.db'}"


async def _stored(store: ReportsStore, start: int, end: int) -> IntervalRows:
    queues = await store.queue_rows(start, end)
    states, contacts = await store.agent_rows(start, end)
    return IntervalRows(tuple(queues), tuple(states), tuple(contacts))


async def _scenario(url: str, log: Log, cuts: list[int], lag: int, backlog: int) -> None:
    database = Database(url)
    await database.start()
    store = ReportsStore(url, settings=lambda: QUEUES, backlog=backlog)
    await store.start()
    try:
        async with database.engine.begin() as db:  # a fresh log for each example
            for table in ("events", "report_queue_intervals", "report_agent_states", "report_agent_contacts"):
                await db.execute(sa.text(f"DELETE FROM {table}"))
            await db.execute(sa.text("UPDATE report_watermark SET last_event_id = 0, until = NULL"))
        notices = list(log.notices)
        bounds = sorted({0, len(notices), *(min(len(notices), c) for c in cuts)})
        now = log.end
        for a, b in itertools.pairwise(bounds):
            batch = notices[a:b]
            await database.write_batch(batch)
            # The job may run well after the last event it sees (later events then come in late).
            now = max(n.at for n in batch) + 1 + lag
            await store.catch_up(now=now)
        now = max(now, log.end)  # the clock does not go back
        await store.catch_up(now=now)
        first = quarter(min((n.at for n in notices), default=T0))
        end = quarter(now) + 900
        want = compute(notices, first, end, now, QUEUES)
        got = await _stored(store, first - 86400, end + 86400)
        assert got == want
        assert (await store.catch_up(now=now)).events <= 200  # only the re-read ids
        assert await _stored(store, first - 86400, end + 86400) == want
        await store.rebuild(first, end, now)  # idempotent: the same rows again
        assert await _stored(store, first - 86400, end + 86400) == want
    finally:
        await store.stop()
        await database.stop()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    log=logs(),
    cuts=st.lists(st.integers(0, 150), max_size=5),
    lag=st.integers(0, 3000),
    backlog=st.sampled_from([20000, 20000, 5]),  # 5: later runs too take the rebuild of a backlog
)
def test_incremental_tables_match_the_whole_log(
    report_db: str, log: Log, cuts: list[int], lag: int, backlog: int
) -> None:
    asyncio.run(_scenario(report_db, log, cuts, lag, backlog))


def test_ranges_cover_interval_starts_in_runs_of_at_most_a_day() -> None:
    starts = [T0, T0 + 900, T0 + 2700, *range(T0 + 86400, T0 + 3 * 86400, 900)]
    found = ranges(starts)
    assert found[:2] == [(T0, T0 + 1800), (T0 + 2700, T0 + 3600)]
    assert all(b - a <= 86400 for a, b in found)
    covered = {q for a, b in found for q in range(a, b, 900)}
    assert covered == set(starts)


async def test_backfill_of_an_empty_log_stores_nothing(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}"
    store = ReportsStore(url)
    await store.start()
    try:
        assert await store.log_span() is None
        rows = await store.rebuild(T0, T0 + 86400, T0 + 86400)
        assert rows == IntervalRows()
    finally:
        await store.stop()

"""The reports in the server: the stores every node reads (``store_context``: the report tables and
the schedule, the runs of the e-mailed reports) and the incremental
job that only the routing owner runs (``job_context``, in the routing half of ``cluster.py``).

Why the owner only: the job replaces whole ranges of rows; two nodes doing it at once would each
write the same rows (they are a function of the log), but on PostgreSQL their deletes and inserts
could collide on the primary key. One writer, the one that writes the event log, avoids that.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from callcenter.aio import cancel_and_wait
from callcenter.core.reports.aggregate import QueueSettings, queue_settings
from callcenter.errors import StorageError
from callcenter.storage.db import Database
from callcenter.storage.report_runs_store import ReportRunsStore
from callcenter.storage.reports_store import ReportsStore
from callcenter.storage.schedule_store import ScheduleStore
from callcenter.web import api
from callcenter.web.reports_api import REPORTS, SCHEDULE

log = logging.getLogger(__name__)

STORE = web.AppKey("reports_store", ReportsStore)
SCHEDULE_STORE = web.AppKey("schedule_store", ScheduleStore)
RUNS_STORE = web.AppKey("report_runs_store", ReportRunsStore)


def _queues(app: web.Application) -> Callable[[], dict[str, QueueSettings]]:
    def now() -> dict[str, QueueSettings]:
        service = app.get(api.SERVICE)
        return {} if service is None else queue_settings(service.engine.queues.values())

    return now


def store_context(database: web.AppKey[Database]) -> Callable[[web.Application], AsyncIterator[None]]:
    async def run(app: web.Application) -> AsyncIterator[None]:
        store = ReportsStore(app[api.SETTINGS].database.url, app[database].engine, settings=_queues(app))
        await store.start()
        app[STORE] = store
        app[REPORTS] = store
        schedule = ScheduleStore(app[api.SETTINGS].database.url, app[database].engine)
        runs = ReportRunsStore(app[api.SETTINGS].database.url, app[database].engine)
        try:
            await schedule.start()
            await runs.start()
            app[SCHEDULE_STORE] = schedule
            app[SCHEDULE] = schedule
            app[RUNS_STORE] = runs
            yield
        finally:
            await runs.stop()
            await schedule.stop()
            await store.stop()

    return run


async def job_context(app: web.Application) -> AsyncIterator[None]:
    store, period = app[STORE], app[api.SETTINGS].database.reports_update_seconds

    async def loop() -> None:
        while True:
            try:
                done = await store.catch_up(time.time())
                if done.intervals:
                    log.debug("reports.updated", extra={"events": done.events, "intervals": done.intervals})
            except StorageError as err:
                log.warning("reports.update_failed", extra={"detail": str(err)})
            except Exception:
                # A row the core cannot read must not stop the tables for good: logged, tried again.
                log.exception("reports.update_crashed")
            await asyncio.sleep(period)

    task = asyncio.get_running_loop().create_task(loop())
    try:
        yield
    finally:
        await cancel_and_wait(task)

"""Reports sent by e-mail on a schedule (docs/reports.md, "Reports by e-mail").

The routing owner runs the job (``job_context``, in the routing half of ``cluster.py``), so with
several nodes one node sends; each run is claimed in ``report_runs`` before its mail goes out
(storage/report_runs_store.py), so a restart or a change of owner neither repeats a sent run nor
skips a due one: after a stop, the runs missed since the schedule's last one (at most
``catch_up``) are sent, a failed one is tried again up to ``max_attempts``.

A run's report is the same table as the API's and ``callcenter report``'s (reports/query.py), for
the run's period (mail_schedule.py), attached as CSV or XLSX.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from aiohttp import web

from callcenter import metrics, smtp
from callcenter.aio import cancel_and_wait
from callcenter.core.reports.intervals import Granularity
from callcenter.core.reports.rollup import Filters
from callcenter.errors import StorageError
from callcenter.reports.mail_schedule import MailSchedule, load_schedules
from callcenter.reports.query import (
    Cell,
    ReportQuery,
    ReportRows,
    ShiftSource,
    adherence_report,
    agents_report,
    conversations_report,
    fcr_report_table,
    queues_report,
    to_csv,
    to_xlsx,
)
from callcenter.settings import ReportMailSettings
from callcenter.storage.report_runs_store import ReportRunsStore
from callcenter.web import i18n, mail_texts

log = logging.getLogger(__name__)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Send = Callable[[EmailMessage], Awaitable[None]]


def smtp_sender(settings: ReportMailSettings) -> Send:
    async def send(message: EmailMessage) -> None:
        await smtp.send(settings, message)

    return send


def _names(values: tuple[str, ...] | None) -> frozenset[str] | None:
    return None if values is None else frozenset(values)


class Mailer:
    """Sends the due runs of ``schedules``; ``run_once(now)`` is one look, the clock given."""

    def __init__(
        self,
        settings: ReportMailSettings,
        schedules: Sequence[MailSchedule],
        runs: ReportRunsStore,
        reports: ReportRows,
        shifts: ShiftSource,
        send: Send | None = None,
    ) -> None:
        self._s = settings
        self._schedules = tuple(schedules)
        self._runs = runs
        self._reports = reports
        self._shifts = shifts
        self._send = send or smtp_sender(settings)
        # A run left ``sending`` by a node that died is tried again after this long.
        self._stale = max(120.0, 2 * settings.smtp_timeout)

    async def _due(self, schedule: MailSchedule, now: float) -> list[int]:
        last = await self._runs.last_due(schedule.name)
        if last is None:
            latest = schedule.latest_due(now)
            return [] if latest is None else [latest]
        again = [
            r.due
            for r in await self._runs.runs(schedule.name)
            if r.status != "sent" and r.attempts < self._s.max_attempts
        ]
        return sorted({*again, *schedule.dues(last, now)[-self._s.catch_up :]})

    async def run_once(self, now: float) -> list[tuple[str, int, str]]:
        """Send every due run not sent yet: (schedule, due, "sent" or the error) for each tried."""
        done = []
        for schedule in self._schedules:
            for due in await self._due(schedule, now):
                if not await self._runs.claim(schedule.name, due, now, self._s.max_attempts, self._stale):
                    continue
                try:
                    columns, rows = await self._report(schedule, due, now)
                    await self._send(self.message(schedule, due, columns, rows, now))
                except (StorageError, smtp.MailFailed) as err:
                    await self._runs.finish(schedule.name, due, now, str(err))
                    metrics.REPORT_MAILS.labels(outcome="failed").inc()
                    log.warning(
                        "reports.mail_failed",
                        extra={"schedule": schedule.name, "due": due, "error": str(err)},
                    )
                    done.append((schedule.name, due, str(err)))
                    continue
                await self._runs.finish(schedule.name, due, now)
                metrics.REPORT_MAILS.labels(outcome="sent").inc()
                log.info(
                    "reports.mail_sent",
                    extra={
                        "schedule": schedule.name,
                        "due": due,
                        "rows": len(rows),
                        "recipients": len(schedule.recipients),
                    },
                )
                done.append((schedule.name, due, "sent"))
        return done

    async def _report(self, s: MailSchedule, due: int, now: float) -> tuple[list[str], list[list[Cell]]]:
        start, end = s.period(due)
        filters = Filters(_names(s.queues), _names(s.agents), _names(s.channels), _names(s.lines))
        query = ReportQuery(start, end, Granularity(s.interval), filters, s.by)
        if s.report == "queues":
            return await queues_report(self._reports, query)
        if s.report == "agents":
            return await agents_report(self._reports, query)
        if s.report == "adherence":
            return await adherence_report(self._reports, self._shifts, query, now)
        if s.report == "conversations":
            return await conversations_report(self._reports, query)
        return await fcr_report_table(self._reports, query, s.days, now)

    def message(
        self, s: MailSchedule, due: int, columns: list[str], rows: list[list[Cell]], now: float
    ) -> EmailMessage:
        start, end = s.period(due)
        first = datetime.fromtimestamp(start, UTC).astimezone(s.zone).date()
        last = datetime.fromtimestamp(end, UTC).astimezone(s.zone).date() - timedelta(days=1)
        period = (
            first.isoformat() if first == last else f"{first.isoformat()}/{last.isoformat()}"
        )  # ISO 8601: a period
        filename = f"{s.name}-{first.isoformat()}.{s.format}"
        words = {
            "name": s.name,
            "report": i18n.gettext(s.language, mail_texts.REPORT_NAMES[s.report]),
            "period": period,
            "zone": s.timezone,
            "rows": len(rows),
            "file": filename,
        }
        message = EmailMessage()
        message["From"] = self._s.from_address
        message["To"] = ", ".join(s.recipients)
        message["Subject"] = i18n.gettext(s.language, mail_texts.SUBJECT).format(**words)
        message["Date"] = formatdate(now, localtime=False)
        message["Message-ID"] = make_msgid(f"report-{s.name}-{due}", self._s.from_address.rpartition("@")[2])
        message.set_content(i18n.gettext(s.language, mail_texts.BODY).format(**words))
        if s.format == "xlsx":
            message.add_attachment(
                to_xlsx(columns, rows, s.report),
                maintype="application",
                subtype=XLSX.split("/")[1],
                filename=filename,
            )
        else:
            message.add_attachment(
                to_csv(columns, rows).encode(), maintype="text", subtype="csv", filename=filename
            )
        return message


def job_context(
    runs_key: web.AppKey[ReportRunsStore],
    reports_key: web.AppKey[ReportRows],
    shifts_key: web.AppKey[ShiftSource],
    settings: ReportMailSettings,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """The owner's job: every ``check_seconds``, the due runs sent (one look at start, too)."""

    async def run(app: web.Application) -> AsyncIterator[None]:
        assert settings.schedules_file is not None
        schedules = load_schedules(settings.schedules_file)
        mailer = Mailer(settings, schedules, app[runs_key], app[reports_key], app[shifts_key])

        async def loop() -> None:
            while True:
                try:
                    await mailer.run_once(time.time())
                except StorageError as err:
                    log.warning("reports.mail_check_failed", extra={"detail": str(err)})
                except Exception:
                    log.exception("reports.mail_check_crashed")
                await asyncio.sleep(settings.check_seconds)

        task = asyncio.get_running_loop().create_task(loop())
        try:
            yield
        finally:
            await cancel_and_wait(task)

    return run


def owner_contexts(
    runs_key: web.AppKey[ReportRunsStore],
    reports_key: web.AppKey[ReportRows],
    shifts_key: web.AppKey[ShiftSource],
    settings: ReportMailSettings,
) -> list[Callable[[web.Application], AsyncIterator[None]]]:
    """The routing owner's mail job, when a schedules file is configured (else nothing)."""
    if settings.schedules_file is None:
        return []
    return [job_context(runs_key, reports_key, shifts_key, settings)]

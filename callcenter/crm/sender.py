"""The webhook sender, on the routing owner only: due deliveries are POSTed, signed, each attempt
logged, retried with backoff (core/webhooks/delivery.py says what an answer means).

One node sends: the routing owner runs this loop (cluster.py's routing half); a delivery is
*claimed* for a lease longer than an attempt can take before it is sent, and its outcome is written
only while the claim holds, so even two owners overlapping for a moment never both log one attempt.
A restart (or a new owner) picks up every pending delivery from the database; one whose sender
died mid-attempt is sent again when its lease lapses (``webhooks.reclaimed``): delivery is at
least once, and receivers drop repeats by the body's ``id``. Interaction events are taken from the
event log here too (``WebhooksStore.follow_events``), and the teams' ticket e-mails (deliveries of
``mail:<team>``) go out over SMTP by the same loop. A batch is attempted at once and its outcomes
written in one transaction. Logs name the subscription, never its URL or secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate

import aiohttp

from callcenter import metrics, smtp
from callcenter.aio import cancel_and_wait
from callcenter.core.webhooks.delivery import INTERACTION_EVENTS, Answer, Policy, State, Verdict, judge
from callcenter.crm import signing
from callcenter.crm.records import Attempt
from callcenter.errors import StorageError
from callcenter.settings import EmailSettings
from callcenter.settings.webhooks import Subscription, WebhooksSettings
from callcenter.storage.webhooks_store import MAIL_PREFIX, Due, WebhooksStore

log = logging.getLogger(__name__)
BATCH = 20  # deliveries claimed and attempted at once (bench/webhooks.py)
USER_AGENT = "callcenter-webhooks/1"
PURGE_SECONDS = 3600.0


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: the backoff decides


class Sender:
    def __init__(
        self,
        store: WebhooksStore,
        settings: WebhooksSettings,
        clock: Callable[[], float] = time.time,
        smtp: EmailSettings | None = None,
        batch: int = BATCH,
    ) -> None:
        self._store = store
        self._batch = batch
        self._smtp = smtp
        self._settings = settings
        self._clock = clock
        self._subscriptions = {s.name: s for s in settings.subscriptions}
        self._policy = Policy(settings.max_attempts, settings.retry_min_delay, settings.retry_max_delay)
        self._follow = any(s.wants(e) for s in settings.subscriptions for e in INTERACTION_EVENTS)
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.lease = max(60.0, 4 * settings.timeout)
        self._next_purge = 0.0  # monotonic: the first pass purges

    async def open(self) -> None:
        """The HTTP client only (tests drive ``run_once`` themselves); ``start`` also runs the loop."""
        timeout = aiohttp.ClientTimeout(total=self._settings.timeout)
        self._session = aiohttp.ClientSession(timeout=timeout, headers={"User-Agent": USER_AGENT})

    async def start(self) -> None:
        await self.open()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                if await self.run_once() >= self._batch:
                    continue  # a backlog: the next batch at once
            except StorageError as err:
                log.warning("webhooks.store_failed", extra={"detail": str(err)})
            except Exception:
                log.exception("webhooks.crashed")  # tried again next round
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._settings.poll_seconds)

    async def purge(self) -> int:
        """Delete what finished more than ``keep_days`` ago (the owner, at most once an hour)."""
        before = datetime.fromtimestamp(self._clock() - self._settings.keep_days * 86400, UTC)
        deleted = await self._store.purge(before)
        if deleted:
            log.info("webhooks.purged", extra={"deliveries": deleted})
        return deleted

    async def run_once(self) -> int:
        """Follow the event log, then attempt every due delivery; the number attempted."""
        if time.monotonic() >= self._next_purge:
            self._next_purge = time.monotonic() + PURGE_SECONDS
            await self.purge()
        if self._follow:
            while await self._store.follow_events(tuple(self._subscriptions.values())) > 0:
                pass
        due = await self._store.next_due()
        if due is None or due > self._clock():
            return 0  # nothing due: no write transaction (this runs every poll)
        claimed = await self._store.claim(self._clock(), self._batch, self.lease)
        try:
            outcomes = await asyncio.gather(*(self._attempt(d) for d in claimed))
        except asyncio.CancelledError:
            # Stopping: what is not attempted yet is due again at once, for the next owner.
            if claimed:
                with contextlib.suppress(StorageError):
                    await asyncio.shield(self._store.release(claimed[0].claim, self._clock()))
            raise
        # One transaction for the batch's outcomes (a commit per delivery was the cost: bench/webhooks.py).
        # Dying before it leaves the batch to be sent again when the lease lapses (at least once).
        kept = await self._store.finish_many([(d, attempt, v) for d, attempt, v, _ in outcomes])
        for (d, _, v, answer), ok in zip(outcomes, kept, strict=True):
            self._report(d, v, answer, ok)
        return len(claimed)

    def _report(self, due: Due, verdict: Verdict, answer: Answer, ok: bool) -> None:
        if not ok:
            log.warning("webhooks.claim_lost", extra={"delivery": due.id, "subscription": due.subscription})
            return
        result = {State.DELIVERED: "delivered", State.FAILED: "failed"}.get(verdict.state, "retry")
        metrics.WEBHOOK_ATTEMPTS.labels(due.subscription, result).inc()
        level = logging.INFO if verdict.state is not State.FAILED else logging.WARNING
        log.log(level, "webhooks.attempt", extra={
            "delivery": due.id, "subscription": due.subscription, "event": due.event,
            "attempt": due.attempts + 1, "status": answer.status, "state": verdict.state.value,
            "reason": verdict.reason,
        })  # fmt: skip

    async def _attempt(self, due: Due) -> tuple[Due, Attempt, Verdict, Answer]:
        subscription = self._subscriptions.get(due.subscription)
        started, at = time.monotonic(), datetime.fromtimestamp(self._clock(), UTC)
        if due.subscription.startswith(MAIL_PREFIX):
            answer = await self._mail(due)
            verdict = judge(answer, due.attempts + 1, self._clock(), self._policy)
        elif subscription is None:  # removed from the settings: its deliveries stop here
            answer = Answer(None, "subscription removed from the settings", permanent=True)
            verdict = judge(answer, due.attempts + 1, self._clock(), self._policy)
        else:
            if due.reclaimed:
                log.warning(
                    "webhooks.reclaimed", extra={"delivery": due.id, "subscription": due.subscription}
                )
            answer = await self._post(subscription, due)
            verdict = judge(answer, due.attempts + 1, self._clock(), self._policy)
        seconds = time.monotonic() - started
        metrics.WEBHOOK_SECONDS.observe(seconds)
        return due, Attempt(at, answer.status, answer.error, round(seconds, 4)), verdict, answer

    async def _mail(self, due: Due) -> Answer:
        """A team's e-mail through the messaging's SMTP relay (messaging.email)."""
        if self._smtp is None:
            return Answer(None, "no SMTP relay: messaging.email is not set", permanent=True)
        s, mail = self._smtp, json.loads(due.body)
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = s.address, mail["to"], mail["subject"]
        message["Date"] = formatdate(self._clock())
        message["Message-ID"] = f"<ticket-mail-{due.id}@{s.address.rpartition('@')[2]}>"
        message.set_content(mail["text"])
        try:
            await smtp.send(s, message)
        except smtp.MailFailed as err:
            return Answer(None, err.brief, permanent=err.permanent)
        return Answer(250)

    async def _post(self, subscription: Subscription, due: Due) -> Answer:
        assert self._session is not None
        body = due.body.encode()
        timestamp = int(self._clock())
        headers = {
            "Content-Type": "application/json",
            signing.HEADER: signing.header(subscription.secret.get_secret_value(), timestamp, body),
            "X-Callcenter-Event": due.event,
            "X-Callcenter-Delivery": str(due.id),
        }
        try:
            async with self._session.post(
                subscription.url, data=body, headers=headers, allow_redirects=False
            ) as resp:
                await resp.read()
                return Answer(resp.status, "", _retry_after(resp.headers.get("Retry-After")))
        except TimeoutError:
            return Answer(None, f"no answer within {self._settings.timeout:g} s")
        except aiohttp.ClientError as err:
            return Answer(None, f"{type(err).__name__}")  # its text may hold the URL

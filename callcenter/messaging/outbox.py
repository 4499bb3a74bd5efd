"""The outbox: replies are stored first, then sent, retried with backoff while the provider is away.

A reply is accepted only once it is in the database (``enqueue``), so nothing is lost when the
provider, the network or this process goes down: the loop picks pending rows up again, including
after a restart. A provider that refuses a message for good (a 4xx other than 408/429: bad number,
window closed) fails it at once; anything else is retried up to ``max_attempts``, each delay
doubling from ``retry_min_delay`` to ``retry_max_delay``. Each outcome is reported to
``on_status`` (sent with the provider's id, or failed with the reason), which sets the message's
delivery status: the API shows what the row says. Log records name the reply ``reply`` (``message``
is a reserved attribute of a LogRecord: ``extra={"message": ...}`` raises KeyError).

Several nodes share the outbox table and each reply is sent by one of them: a node *claims* due
rows (``MessagingStore.claim``: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, one writer at a time on
SQLite) for a lease longer than a send can take, and writes the outcome only while its claim holds
the row. A node that dies mid-send leaves its claim to lapse; another node then sends those replies
again, flagged ``outbox.reclaimed``: the one window where a customer may get a reply twice (none of
the providers takes an idempotency key; e-mail clients fold the repeat by its Message-ID). A node
that stops gives back what it has not sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from callcenter.aio import cancel_and_wait, within
from callcenter.core.omni.conversations import Delivery, MessagingChannel
from callcenter.messaging.channels.base import Reply
from callcenter.settings import OutboxSettings
from callcenter.storage.db import DatabaseError
from callcenter.storage.messaging_store import MessagingStore, OutboxItem

log = logging.getLogger(__name__)


class SendFailed(Exception):
    """Sending failed; ``permanent``: retrying cannot help."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


class Sender(Protocol):
    async def send(self, reply: Reply) -> str:
        """Hand the reply to the provider; return its id for the message, or raise SendFailed."""
        ...


StatusCallback = Callable[[str, Delivery, str | None, str], Awaitable[object]]


def backoff(attempt: int, minimum: float, maximum: float) -> float:
    """Delay before retry number ``attempt`` (1-based): doubling, capped."""
    return min(maximum, minimum * 2.0 ** max(0, attempt - 1))


class Outbox:
    def __init__(
        self,
        store: MessagingStore,
        senders: Mapping[MessagingChannel, Sender],
        settings: OutboxSettings,
        clock: Callable[[], float],
        on_status: StatusCallback,
    ) -> None:
        self._store = store
        self._senders = senders
        self._settings = settings
        self._clock = clock
        self._on_status = on_status
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # How long a claimed reply stays ours: longer than one send can take (its timeout), so a
        # live node's claim never lapses; a dead node's replies are due again after it.
        self.lease = max(60.0, 4 * settings.request_timeout)

    async def enqueue(self, reply: Reply) -> None:
        """Store the reply (DatabaseError if that fails: then it was not accepted) and wake the loop."""
        await self._store.add(reply, self._clock())
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def run_once(self) -> None:
        """Send every reply that is due now. One reply's trouble (other than the database going
        away) is logged and does not stop the others."""
        s = self._settings
        claimed = await self._store.claim(self._clock(), s.batch, self.lease)
        try:
            for item in claimed:
                try:
                    await self._attempt(item)
                except DatabaseError:
                    raise  # the rows are kept: due again when the claim lapses
                except Exception:
                    log.exception("outbox.error", extra={"reply": item.reply.message_id})
        except asyncio.CancelledError:
            # Stopping: what is not sent yet is given back for the next node or start, now rather
            # than when the lease lapses (one cut off mid-send may reach the customer twice).
            if claimed and claimed[0].claim is not None:
                with contextlib.suppress(DatabaseError):
                    await asyncio.shield(self._store.release(claimed[0].claim, self._clock()))
            raise

    async def _attempt(self, item: OutboxItem) -> None:
        s = self._settings
        reply, attempts = item.reply, item.attempts + 1
        if item.reclaimed:
            # Its node died while sending (or took longer than the lease): the provider may have
            # it. Sent again (at least once), flagged; providers' own ids let the customer's side
            # show one message where they deduplicate (e-mail by Message-ID).
            log.warning("outbox.reclaimed", extra={"reply": reply.message_id, "attempts": attempts})
        sender = self._senders.get(reply.channel)
        try:
            if sender is None:
                raise SendFailed(f"channel {reply.channel.value} is not configured")
            try:
                provider_id = await sender.send(reply)
            except (SendFailed, DatabaseError):
                raise
            except Exception as bug:  # a sender's bug: an attempt that failed, retried with backoff
                log.exception("outbox.sender_error", extra={"reply": reply.message_id})
                raise SendFailed(f"{type(bug).__name__}: {bug}") from bug
        except SendFailed as err:
            now = self._clock()
            if err.permanent or attempts >= s.max_attempts:
                if not await self._store.update(
                    reply.message_id,
                    state="failed",
                    attempts=attempts,
                    next_attempt_at=now,
                    error=str(err),
                    claim=item.claim,
                ):
                    return self._lost(item)
                log.warning("outbox.failed", extra={"reply": reply.message_id, "detail": str(err)})
                await self._on_status(reply.message_id, Delivery.FAILED, None, str(err))
                return
            delay = backoff(attempts, s.retry_min_delay, s.retry_max_delay)
            if not await self._store.update(
                reply.message_id,
                state="pending",
                attempts=attempts,
                next_attempt_at=now + delay,
                error=str(err),
                claim=item.claim,
            ):
                return self._lost(item)
            log.info("outbox.retry", extra={"reply": reply.message_id, "delay": delay, "detail": str(err)})
            return
        if not await self._store.update(
            reply.message_id,
            state="sent",
            attempts=attempts,
            next_attempt_at=self._clock(),
            provider_id=provider_id,
            claim=item.claim,
        ):
            return self._lost(item)
        await self._on_status(reply.message_id, Delivery.SENT, provider_id, "")

    def _lost(self, item: OutboxItem) -> None:
        """Our claim lapsed while we sent and another node took the reply over: its outcome is
        the one kept (the reply may reach the customer twice: the lease is too short)."""
        log.warning("outbox.claim_lost", extra={"reply": item.reply.message_id})

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            wait = self._settings.retry_max_delay
            try:
                await self.run_once()
                due = await self._store.next_due()
                if due is not None:
                    wait = max(0.0, min(wait, due - self._clock()))
            except DatabaseError as err:
                # The rows are still there: try again later.
                log.warning("outbox.database", extra={"detail": str(err)})
                wait = self._settings.retry_min_delay
            except Exception:
                log.exception("outbox.error")
                wait = self._settings.retry_min_delay
            with contextlib.suppress(TimeoutError):
                await within(self._wake.wait(), wait)

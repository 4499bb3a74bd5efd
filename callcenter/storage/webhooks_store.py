"""CRM webhooks in the database (migration 0021): deliveries, the attempts log, the event-log cursor.

Invariants:

- An event becomes at most one delivery per subscription: ``(subscription, event_key)`` is unique
  and :func:`enqueue` inserts with "on conflict do nothing", so a second pass over the same event
  (a re-read of the event log, two owners overlapping for a moment) adds nothing.
- A ticket's deliveries are inserted by :func:`enqueue` inside the ticket change's own transaction
  (storage/tickets_store.py): a change that is committed has its deliveries, one that is rolled
  back has none. Interaction events are taken from the event log with the cursor moved in the same
  transaction as the deliveries they gave (:meth:`WebhooksStore.follow_events`).
- The body is fixed when the delivery is written: every attempt, and a redelivery, sends the same
  bytes with the same event id, so receivers can drop duplicates by that id.
- A sender *claims* due rows for a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, one writer at a
  time on SQLite) and writes an outcome only while its claim holds the row.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from callcenter.aio import cancel_safe
from callcenter.core.webhooks.delivery import State, Verdict
from callcenter.crm.records import Attempt, DeliveryRecord
from callcenter.settings.webhooks import Subscription
from callcenter.storage.db import EVENTS, INTERACTIONS, ConnectionStore
from callcenter.storage.db_models import (
    CrmFieldTimeRow,
    WebhookAttemptRow,
    WebhookCursorRow,
    WebhookDeliveryRow,
)

deliveries = cast(sa.Table, WebhookDeliveryRow.__table__)
attempts_t = cast(sa.Table, WebhookAttemptRow.__table__)
cursor_t = cast(sa.Table, WebhookCursorRow.__table__)
times_t = cast(sa.Table, CrmFieldTimeRow.__table__)

# Event-log kinds that become interaction webhooks (core/notices.py Ended, WrappedUp).
LOG_KINDS = {"ended": "interaction.ended", "wrap_up": "interaction.wrapped_up"}
_INTERACTION_FIELDS = ("channel", "queue", "agent_id", "customer_id", "conversation_id", "outcome",
                       "ended_by", "started_at", "answered_at", "ended_at", "wait_seconds",
                       "talk_seconds", "disposition", "notes", "language")  # fmt: skip


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def body_of(event: str, event_id: str, at: datetime, data: Mapping[str, Any]) -> str:
    """The JSON body every attempt sends: the event's id (the same for every subscription and
    every attempt), its type, when it happened, and its data."""
    document = {"id": event_id, "type": event, "created_at": at.isoformat(), "data": data}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=_plain)


async def enqueue(
    c: AsyncConnection,
    subscriptions: Sequence[Subscription],
    event: str,
    event_key: str,
    at: datetime,
    data: Mapping[str, Any],
) -> int:
    """Write the event's delivery for every subscription that wants it, in the caller's
    transaction; an event already there is left alone. Returns how many subscriptions want it."""
    rows = [
        {"subscription": s.name, "event": event, "event_key": event_key, "created_at": at,
         "body": body_of(event, event_key, at, data), "state": State.PENDING.value, "attempts": 0,
         "next_at": at, "claim": None, "last_status": None, "last_error": None, "finished_at": None}
        for s in subscriptions
        if s.wants(event)
    ]  # fmt: skip
    if not rows:
        return 0
    dialect = postgresql if c.dialect.name == "postgresql" else sqlite
    await c.execute(dialect.insert(deliveries).values(rows).on_conflict_do_nothing())
    return len(rows)


MAIL_PREFIX = "mail:"  # a team's e-mail notification: sent over SMTP by the same sender


async def enqueue_mail(
    c: AsyncConnection, team: str, event: str, event_key: str, at: datetime, mail: Mapping[str, str]
) -> None:
    """A team's e-mail about an event (``mail``: to, subject, text) as a delivery of ``mail:<team>``,
    in the caller's transaction; the log, retries and redelivery are the webhooks'."""
    row = {
        "subscription": MAIL_PREFIX + team, "event": event, "event_key": event_key, "created_at": at,
        "body": json.dumps(dict(mail), ensure_ascii=False), "state": State.PENDING.value, "attempts": 0,
        "next_at": at, "claim": None, "last_status": None, "last_error": None, "finished_at": None,
    }  # fmt: skip
    dialect = postgresql if c.dialect.name == "postgresql" else sqlite
    await c.execute(dialect.insert(deliveries).values([row]).on_conflict_do_nothing())


@dataclass(frozen=True, slots=True)
class Due:
    """A claimed delivery: what to send, and the claim that lets us write its outcome."""

    id: int
    subscription: str
    event: str
    body: str
    attempts: int  # made before this one
    claim: str
    reclaimed: bool  # its sender's claim lapsed mid-attempt: the receiver may have it


@cancel_safe
class WebhooksStore(ConnectionStore):
    _name = "webhooks store"

    async def start(self) -> None:
        await self._open()

    async def claim(self, now: float, limit: int, lease: float) -> list[Due]:
        """Due deliveries for ``lease`` seconds, ours alone: pending ones whose time has come, and
        ones whose claim lapsed (a sender that died or stopped mid-attempt: ``reclaimed``)."""
        token = uuid.uuid4().hex
        query = (
            sa.select(
                deliveries.c.id,
                deliveries.c.subscription,
                deliveries.c.event,
                deliveries.c.body,
                deliveries.c.attempts,
                deliveries.c.claim,
            )
            .where(deliveries.c.state == State.PENDING.value, deliveries.c.next_at <= _dt(now))
            .order_by(deliveries.c.next_at, deliveries.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        async with self._begin("claim due webhook deliveries", write=True) as c:
            rows = (await c.execute(query)).all()
            if rows:
                await c.execute(
                    deliveries.update()
                    .where(deliveries.c.id.in_([r.id for r in rows]))
                    .values(claim=token, next_at=_dt(now + lease))
                )
        return [
            Due(r.id, r.subscription, r.event, r.body, r.attempts, token, r.claim is not None) for r in rows
        ]

    async def finish(self, due: Due, attempt: Attempt, verdict: Verdict) -> bool:
        """Log the attempt and move the delivery to the verdict, if our claim still holds it."""
        return (await self.finish_many([(due, attempt, verdict)]))[0]

    async def finish_many(self, outcomes: Sequence[tuple[Due, Attempt, Verdict]]) -> list[bool]:
        """:meth:`finish` for a batch, in one transaction; for each, whether our claim held."""
        if not outcomes:
            return []
        async with self._begin(f"record {len(outcomes)} webhook attempts", write=True) as c:
            return [await self._finish(c, *outcome) for outcome in outcomes]

    async def _finish(self, c: AsyncConnection, due: Due, attempt: Attempt, verdict: Verdict) -> bool:
        values: dict[str, Any] = {
            "state": verdict.state.value,
            "attempts": deliveries.c.attempts + 1,
            "claim": None,
            "last_status": attempt.status,
            "last_error": attempt.error or None,
        }
        if verdict.next_at is not None:
            values["next_at"] = _dt(verdict.next_at)
        if verdict.state is not State.PENDING:
            values["finished_at"] = attempt.at
        result = await c.execute(
            deliveries.update()
            .where(deliveries.c.id == due.id, deliveries.c.claim == due.claim)
            .values(**values)
        )
        if result.rowcount != 1:
            return False  # the claim lapsed and another sender took it: its outcome counts
        await c.execute(
            attempts_t.insert().values(
                delivery_id=due.id,
                at=attempt.at,
                status=attempt.status,
                error=attempt.error,
                seconds=attempt.seconds,
            )
        )
        return True

    async def release(self, claim: str, now: float) -> None:
        """Give back what a claim holds and was not attempted (the sender is stopping): due now."""
        async with self._begin("release webhook deliveries", write=True) as c:
            await c.execute(
                deliveries.update()
                .where(deliveries.c.claim == claim, deliveries.c.state == State.PENDING.value)
                .values(claim=None, next_at=_dt(now))
            )

    async def purge(self, before: datetime, limit: int = 5000) -> int:
        """Delete deliveries that finished (delivered or failed) before ``before``, with their
        attempts, at most ``limit`` at a time; how many. Pending ones are never deleted."""
        finished = (deliveries.c.state != State.PENDING.value) & (deliveries.c.finished_at < before)
        async with self._begin("purge old webhook deliveries", write=True) as c:
            ids = list(await c.scalars(sa.select(deliveries.c.id).where(finished).limit(limit)))
            if ids:
                await c.execute(attempts_t.delete().where(attempts_t.c.delivery_id.in_(ids)))
                await c.execute(deliveries.delete().where(deliveries.c.id.in_(ids)))
        return len(ids)

    async def redeliver(self, delivery_id: int, now: float) -> bool:
        """Send a delivery again (delivered or failed: a new round of attempts); False: none such."""
        async with self._begin(f"redeliver webhook {delivery_id}", write=True) as c:
            result = await c.execute(
                deliveries.update()
                .where(deliveries.c.id == delivery_id)
                .values(state=State.PENDING.value, attempts=0, next_at=_dt(now), claim=None, finished_at=None)
            )
            return bool(result.rowcount == 1)

    async def next_due(self) -> float | None:
        query = sa.select(sa.func.min(deliveries.c.next_at)).where(deliveries.c.state == State.PENDING.value)
        async with self._begin("read the webhook deliveries") as c:
            found = await c.scalar(query)
        if found is None:
            return None
        if isinstance(found, str):  # SQLite's min() of the text form
            found = datetime.fromisoformat(found)
        return float((found if found.tzinfo else found.replace(tzinfo=UTC)).timestamp())

    async def find(
        self,
        *,
        state: str | None = None,
        subscription: str | None = None,
        event: str | None = None,
        before: int | None = None,
        limit: int = 50,
        delivery_id: int | None = None,
    ) -> list[DeliveryRecord]:
        """Newest first, each with its attempts; ``before``: ids below it (the next page)."""
        q = sa.select(deliveries).order_by(deliveries.c.id.desc()).limit(limit)
        if delivery_id is not None:
            q = q.where(deliveries.c.id == delivery_id)
        for column, value in ((deliveries.c.state, state), (deliveries.c.subscription, subscription),
                              (deliveries.c.event, event)):  # fmt: skip
            if value is not None:
                q = q.where(column == value)
        if before is not None:
            q = q.where(deliveries.c.id < before)
        async with self._begin("read the webhook deliveries") as c:
            rows = (await c.execute(q)).mappings().all()
            ids = [r["id"] for r in rows]
            log: dict[int, list[Attempt]] = {i: [] for i in ids}
            if ids:
                aq = sa.select(attempts_t).where(attempts_t.c.delivery_id.in_(ids)).order_by(attempts_t.c.id)
                for a in (await c.execute(aq)).mappings():
                    log[a["delivery_id"]].append(Attempt(a["at"], a["status"], a["error"], a["seconds"]))
        return [
            DeliveryRecord(
                r["id"],
                r["subscription"],
                r["event"],
                r["event_key"],
                r["created_at"],
                r["state"],
                r["attempts"],
                r["next_at"] if r["state"] == State.PENDING.value else None,
                r["last_status"],
                r["last_error"],
                r["finished_at"],
                tuple(log[r["id"]]),
            )
            for r in rows
        ]

    async def get(self, delivery_id: int) -> DeliveryRecord | None:
        found = await self.find(delivery_id=delivery_id, limit=1)
        return found[0] if found else None

    async def follow_events(self, subscriptions: Sequence[Subscription], batch: int = 500) -> int:
        """Turn the event log's interaction endings and wrap-ups since the cursor into deliveries,
        the cursor moved in the same transaction. The first pass starts at the log's end (no
        history is replayed to a new subscription). Returns how many events it read."""
        async with self._begin("look for new events for webhooks") as c:
            last = await c.scalar(sa.select(cursor_t.c.last_id).where(cursor_t.c.name == "events"))
            top = await c.scalar(sa.select(sa.func.max(EVENTS.c.id)))
        if last is not None and (top is None or top <= last):
            return 0  # nothing new: no write transaction (this runs every poll on the owner)
        async with self._begin("follow the event log for webhooks", write=True) as c:
            last = await c.scalar(sa.select(cursor_t.c.last_id).where(cursor_t.c.name == "events"))
            if last is None:
                top = await c.scalar(sa.select(sa.func.max(EVENTS.c.id)))
                await c.execute(cursor_t.insert().values(name="events", last_id=int(top or 0)))
                return 0
            rows = (
                await c.execute(
                    sa.select(EVENTS.c.id, EVENTS.c.interaction_id, EVENTS.c.at, EVENTS.c.kind, EVENTS.c.data)
                    .where(EVENTS.c.id > last)
                    .order_by(EVENTS.c.id)
                    .limit(batch)
                )
            ).all()
            if not rows:
                return 0
            wanted = [r for r in rows if r.kind in LOG_KINDS]
            snapshots: dict[str, Mapping[str, Any]] = {}
            if wanted:
                cols = [INTERACTIONS.c.id, *(INTERACTIONS.c[n] for n in _INTERACTION_FIELDS)]
                ids = sorted({r.interaction_id for r in wanted})
                q = sa.select(*cols).where(INTERACTIONS.c.id.in_(ids))
                snapshots = {m["id"]: dict(m) for m in (await c.execute(q)).mappings()}
            for r in wanted:
                snapshot = snapshots.get(r.interaction_id, {})
                shown = {n: snapshot.get(n) for n in _INTERACTION_FIELDS} if snapshot else None
                data = {"interaction_id": r.interaction_id, **dict(r.data), "interaction": shown}
                await enqueue(c, subscriptions, LOG_KINDS[r.kind], f"event-{r.id}", r.at, data)
            await c.execute(cursor_t.update().where(cursor_t.c.name == "events").values(last_id=rows[-1].id))
            return len(rows)

    async def field_times(self, entity: str, entity_id: str) -> dict[str, datetime]:
        """The CRM update in force per field of one record (the conflict rule's memory)."""
        q = sa.select(times_t.c.field, times_t.c.at).where(
            times_t.c.entity == entity, times_t.c.entity_id == entity_id
        )
        async with self._begin("read the CRM's field times") as c:
            return {r.field: r.at for r in (await c.execute(q)).all()}

    async def set_field_times(self, entity: str, entity_id: str, fields: Sequence[str], at: datetime) -> None:
        if not fields:
            return
        rows = [{"entity": entity, "entity_id": entity_id, "field": f, "at": at} for f in fields]
        async with self._begin("write the CRM's field times", write=True) as c:
            dialect = postgresql if c.dialect.name == "postgresql" else sqlite
            insert = dialect.insert(times_t).values(rows)
            await c.execute(
                insert.on_conflict_do_update(
                    index_elements=["entity", "entity_id", "field"], set_={"at": insert.excluded.at}
                )
            )

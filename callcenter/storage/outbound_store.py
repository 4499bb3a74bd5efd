"""Outbound campaigns in the database (migration 0015): definitions and states, lists, the
do-not-call list, abandonment ledgers and the dialler's decisions.

Every node reads and writes campaigns (the command line, the API); only the routing owner dials
(``outbound/job.py``), and it follows the tables: new records by id, new do-not-call numbers by
time, campaign states as stored. A state change is a read-check-write in one transaction (the
core's table decides), so two nodes pausing and stopping at once cannot both win.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from callcenter.aio import cancel_safe
from callcenter.core.outbound.campaign import CampaignMove, CampaignState, Outcome, move
from callcenter.core.outbound.dialler import Record
from callcenter.core.outbound.pacing import Ledger
from callcenter.outbound.lists import ListRow
from callcenter.storage.db import ConnectionStore, DatabaseError
from callcenter.storage.db_models import (
    OutboundCampaignRow,
    OutboundDecisionRow,
    OutboundDncRow,
    OutboundLedgerRow,
    OutboundRecordRow,
)

CAMPAIGNS = cast(sa.Table, OutboundCampaignRow.__table__)
RECORDS = cast(sa.Table, OutboundRecordRow.__table__)
DNC = cast(sa.Table, OutboundDncRow.__table__)
LEDGERS = cast(sa.Table, OutboundLedgerRow.__table__)
DECISIONS = cast(sa.Table, OutboundDecisionRow.__table__)
CHUNK = 1000  # rows per INSERT
# Not a bound parameter: PostgreSQL would see the SELECT's and the GROUP BY's as two expressions.
_ZERO: sa.ColumnElement[int] = sa.literal_column("0")


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def _t(d: datetime | None) -> float | None:
    return None if d is None else d.timestamp()


@dataclass(frozen=True, slots=True)
class StoredCampaign:
    name: str
    definition: Mapping[str, Any]
    line: str | None
    state: CampaignState
    origin: float | None


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A record as stored: the zone by name (the job makes the ``tzinfo``)."""

    id: int
    number: str
    tz: str
    attempts: int
    due_at: float
    done: str | None
    last_outcome: str | None
    customer_id: str | None
    fields: Mapping[str, str]
    revision: int = 0
    campaign: str = ""


@dataclass(frozen=True, slots=True)
class Progress:
    records: int
    pending: int
    dialled: int  # records with at least one attempt
    done: Mapping[str, int]  # by why ("connected", "dnc", "max_attempts", ...)
    outcomes: Mapping[str, int]  # by last outcome
    ledger: Ledger | None  # the newest window's
    dispositions: Mapping[str, int] = field(default_factory=dict)  # agents' wrap-ups of its calls
    due: int = 0  # pending records due by ``now`` (a callbacks campaign: callbacks due)


@dataclass(frozen=True, slots=True)
class Decision:
    campaign: str
    record_id: int | None
    at: float
    kind: str  # "dial", "skip", "pacing", "preview", "disposition"
    reason: str
    data: Mapping[str, object]


class UnknownCampaign(LookupError):
    pass


@cancel_safe
class OutboundStore(ConnectionStore):
    _name = "outbound store"

    async def start(self) -> None:
        await self._open()

    def _insert(self, table: sa.Table) -> Any:
        assert self._engine is not None
        return (postgresql.insert if self._engine.dialect.name == "postgresql" else sqlite.insert)(table)

    # --- campaigns -----------------------------------------------------------------------------

    async def save_definitions(
        self, definitions: Sequence[tuple[str, Mapping[str, Any], str | None]], at: float
    ) -> list[str]:
        """Create or replace definitions (name, JSON, line) in one transaction; states are kept
        (a new campaign is a draft). Returns the names that were new."""
        new: list[str] = []
        async with self._begin("save campaigns", write=True) as db:
            known = set((await db.execute(sa.select(CAMPAIGNS.c.name))).scalars())
            for name, definition, line in definitions:
                values = {"definition": dict(definition), "line": line, "updated_at": _dt(at)}
                if name in known:
                    await db.execute(CAMPAIGNS.update().where(CAMPAIGNS.c.name == name).values(**values))
                else:
                    new.append(name)
                    await db.execute(
                        CAMPAIGNS.insert().values(
                            name=name, state=CampaignState.DRAFT.value, origin=None, **values
                        )
                    )
        return new

    async def campaigns(self) -> list[StoredCampaign]:
        async with self._begin("read campaigns") as db:
            rows = (await db.execute(sa.select(CAMPAIGNS).order_by(CAMPAIGNS.c.name))).all()
        return [
            StoredCampaign(r.name, r.definition, r.line, CampaignState(r.state), _t(r.origin)) for r in rows
        ]

    async def campaign(self, name: str) -> StoredCampaign:
        for c in await self.campaigns():
            if c.name == name:
                return c
        raise UnknownCampaign(name)

    async def move(self, name: str, what: CampaignMove, at: float, by: str) -> CampaignState:
        """Apply a move from the core's table; IllegalCampaignMove leaves the row as it was."""
        async with self._begin("change a campaign", write=True) as db:
            row = (await db.execute(sa.select(CAMPAIGNS).where(CAMPAIGNS.c.name == name))).first()
            if row is None:
                raise UnknownCampaign(name)
            state = move(CampaignState(row.state), what)
            origin = row.origin if row.origin is not None or state != CampaignState.RUNNING else _dt(at)
            await db.execute(
                CAMPAIGNS.update()
                .where(CAMPAIGNS.c.name == name)
                .values(state=state.value, origin=origin, updated_at=_dt(at))
            )
            await db.execute(
                DECISIONS.insert().values(
                    campaign=name,
                    record_id=None,
                    at=_dt(at),
                    kind="state",
                    reason=what.value,
                    data={"state": state.value, "by": by},
                )
            )
        return state

    # --- records -------------------------------------------------------------------------------

    async def numbers(self, campaign: str) -> set[str]:
        async with self._begin("read a list") as db:
            return set(
                (
                    await db.execute(sa.select(RECORDS.c.number).where(RECORDS.c.campaign == campaign))
                ).scalars()
            )

    async def add_records(self, campaign: str, rows: Sequence[ListRow], at: float) -> int:
        """Insert the rows (a number already in the campaign is left as it was); how many were new."""
        added = 0
        async with self._begin("import a list", write=True) as db:
            if (
                await db.execute(sa.select(CAMPAIGNS.c.name).where(CAMPAIGNS.c.name == campaign))
            ).first() is None:
                raise UnknownCampaign(campaign)
            for start in range(0, len(rows), CHUNK):
                values = [
                    {
                        "campaign": campaign,
                        "number": r.number,
                        "tz": r.tz,
                        "customer_id": r.customer_id,
                        "fields": dict(r.fields),
                        "attempts": 0,
                        "due_at": _dt(at),
                        "done": None,
                        "last_outcome": None,
                    }
                    for r in rows[start : start + CHUNK]
                ]
                statement = (
                    self._insert(RECORDS)
                    .values(values)
                    .on_conflict_do_nothing(index_elements=["campaign", "number"])
                )
                result = await db.execute(statement)
                added += max(0, result.rowcount or 0)
        return added

    async def records(
        self, campaign: str, after_id: int = 0, pending_only: bool = True
    ) -> list[StoredRecord]:
        query = sa.select(RECORDS).where(RECORDS.c.campaign == campaign, RECORDS.c.id > after_id)
        if pending_only:
            query = query.where(RECORDS.c.done.is_(None))
        async with self._begin("read a list") as db:
            rows = (await db.execute(query.order_by(RECORDS.c.id))).all()
        return [_stored(r) for r in rows]

    async def changed_records(self, campaign: str, since: float) -> list[StoredRecord]:
        """Records changed outside the dialler (a callback moved or cancelled) at or after ``since``."""
        query = sa.select(RECORDS).where(RECORDS.c.campaign == campaign, RECORDS.c.changed_at >= _dt(since))
        async with self._begin("read a list") as db:
            rows = (await db.execute(query.order_by(RECORDS.c.id))).all()
        return [_stored(r) for r in rows]

    async def apply(
        self,
        campaign: str,
        records: Iterable[Record],
        ledgers: Iterable[Ledger],
        decisions: Sequence[Decision],
        dialled: Collection[int] = (),
    ) -> dict[int, StoredRecord | None]:
        """What one round of the dialler changed, in one transaction: records (attempts, due
        time, done), ledgers, decisions. Written before any call of the round is placed.

        ``dialled``: the records the round decided to call. Their attempt is the last look: it
        is stored only over the row the dialler decided on (its revision, not finished); a row
        changed since (a callback moved or cancelled on any node, finished elsewhere) keeps what
        it holds and is returned as it is now (None: no such row), so that call is not placed.
        No read more per call: the guarded update's row count says it."""
        async with self._begin("save the dialler's decisions", write=True) as db:
            changed = await self._store_records(db, records, dialled)
            for ledger in ledgers:
                statement = self._insert(LEDGERS).values(
                    campaign=campaign,
                    period=ledger.period,
                    answered=ledger.answered,
                    abandoned=ledger.abandoned,
                )
                await db.execute(
                    statement.on_conflict_do_update(
                        index_elements=["campaign", "period"],
                        set_={"answered": ledger.answered, "abandoned": ledger.abandoned},
                    )
                )
            if decisions:
                await db.execute(
                    DECISIONS.insert(),
                    [
                        {
                            "campaign": d.campaign,
                            "record_id": d.record_id,
                            "at": _dt(d.at),
                            "kind": d.kind,
                            "reason": d.reason,
                            "data": dict(d.data),
                        }
                        for d in decisions
                    ],
                )
        return changed

    async def _store_records(
        self, db: Any, records: Iterable[Record], dialled: Collection[int]
    ) -> dict[int, StoredRecord | None]:
        """The records' rows, each only over the revision the dialler knows (a callback moved or
        cancelled meanwhile is not undone: the dialler reads the new revision at its next poll);
        a dialled one also only while not finished. The dialled ones not stored, as they are."""
        changed: dict[int, StoredRecord | None] = {}
        for r in records:
            where = [RECORDS.c.id == r.id, RECORDS.c.revision == r.revision]
            if r.id in dialled:
                where.append(RECORDS.c.done.is_(None))
            result = await db.execute(
                RECORDS.update()
                .where(*where)
                .values(
                    attempts=r.attempts,
                    due_at=_dt(r.due_at),
                    done=r.done,
                    last_outcome=None if r.last_outcome is None else r.last_outcome.value,
                )
            )
            if r.id in dialled and result.rowcount == 0:
                row = (await db.execute(sa.select(RECORDS).where(RECORDS.c.id == r.id))).first()
                changed[r.id] = None if row is None else _stored(row)
        return changed

    async def ledger(self, campaign: str, period: int) -> Ledger:
        async with self._begin("read a ledger") as db:
            row = (
                await db.execute(
                    sa.select(LEDGERS).where(LEDGERS.c.campaign == campaign, LEDGERS.c.period == period)
                )
            ).first()
        return Ledger(period) if row is None else Ledger(period, row.answered, row.abandoned)

    async def decisions(
        self, campaign: str, after_id: int = 0, limit: int = 1000, *, newest: bool = False
    ) -> list[tuple[int, Decision]]:
        """Oldest first after ``after_id`` (to follow them); ``newest``: the last ``limit``, newest first."""
        order = DECISIONS.c.id.desc() if newest else DECISIONS.c.id
        async with self._begin("read decisions") as db:
            rows = (
                await db.execute(
                    sa.select(DECISIONS)
                    .where(DECISIONS.c.campaign == campaign, DECISIONS.c.id > after_id)
                    .order_by(order)
                    .limit(limit)
                )
            ).all()
        return [
            (r.id, Decision(r.campaign, r.record_id, r.at.timestamp(), r.kind, r.reason, r.data))
            for r in rows
        ]

    async def progress(self, campaign: str, now: float | None = None) -> Progress:
        async with self._begin("read progress") as db:
            due = 0
            if now is not None:
                due = (
                    await db.execute(
                        sa.select(sa.func.count()).where(
                            RECORDS.c.campaign == campaign,
                            RECORDS.c.done.is_(None),
                            RECORDS.c.due_at <= _dt(now),
                        )
                    )
                ).scalar_one()
            rows = (
                await db.execute(
                    sa.select(
                        RECORDS.c.done, RECORDS.c.last_outcome, RECORDS.c.attempts > _ZERO, sa.func.count()
                    )
                    .where(RECORDS.c.campaign == campaign)
                    .group_by(RECORDS.c.done, RECORDS.c.last_outcome, RECORDS.c.attempts > _ZERO)
                )
            ).all()
            newest = (
                await db.execute(
                    sa.select(LEDGERS)
                    .where(LEDGERS.c.campaign == campaign)
                    .order_by(LEDGERS.c.period.desc())
                    .limit(1)
                )
            ).first()
            chosen = (
                await db.execute(
                    sa.select(DECISIONS.c.reason, sa.func.count())
                    .where(DECISIONS.c.campaign == campaign, DECISIONS.c.kind == "disposition")
                    .group_by(DECISIONS.c.reason)
                )
            ).all()
        done: dict[str, int] = {}
        outcomes: dict[str, int] = {}
        total = pending = dialled = 0
        for why, outcome, tried, count in rows:
            total += count
            dialled += count if tried else 0
            if why is None:
                pending += count
            else:
                done[why] = done.get(why, 0) + count
            if outcome is not None:
                outcomes[outcome] = outcomes.get(outcome, 0) + count
        ledger = None if newest is None else Ledger(newest.period, newest.answered, newest.abandoned)
        return Progress(total, pending, dialled, done, outcomes, ledger, dict(chosen), due)

    # --- scheduled callbacks (docs/outbound.md, "Scheduled callbacks") -------------------------

    async def file_callback(
        self,
        campaign: str,
        number: str,
        tz: str,
        due_at: float,
        customer_id: str | None,
        fields: Mapping[str, str],
        at: float,
        decision: Mapping[str, object],
    ) -> tuple[int, str]:
        """A callback as the campaign's record of ``number``, due at ``due_at``, with its decision
        row, in one transaction: a new record, or the number's record filed again ("moved": a
        pending one gets the new time, a finished one is opened again with no attempts). Returns
        the record's id and "scheduled" or "moved"."""
        async with self._begin("file a callback", write=True) as db:
            await self._known(db, campaign)
            row = (
                await db.execute(
                    sa.select(RECORDS.c.id, RECORDS.c.revision).where(
                        RECORDS.c.campaign == campaign, RECORDS.c.number == number
                    )
                )
            ).first()
            values = {
                "tz": tz,
                "customer_id": customer_id,
                "fields": dict(fields),
                "attempts": 0,
                "due_at": _dt(due_at),
                "done": None,
                "last_outcome": None,
                "changed_at": _dt(at),
            }
            if row is None:
                how = "scheduled"
                inserted = await db.execute(
                    RECORDS.insert()
                    .values(campaign=campaign, number=number, revision=0, **values)
                    .returning(RECORDS.c.id)
                )
                record_id = int(inserted.scalar_one())
            else:
                how, record_id = "moved", int(row.id)
                await db.execute(
                    RECORDS.update().where(RECORDS.c.id == row.id).values(revision=row.revision + 1, **values)
                )
            await db.execute(
                DECISIONS.insert().values(
                    campaign=campaign,
                    record_id=record_id,
                    at=_dt(at),
                    kind="callback",
                    reason=how,
                    data=dict(decision),
                )
            )
        return record_id, how

    async def _known(self, db: Any, campaign: str) -> None:
        found = await db.execute(sa.select(CAMPAIGNS.c.name).where(CAMPAIGNS.c.name == campaign))
        if found.first() is None:
            raise UnknownCampaign(campaign)

    async def cancel_callback(self, record_id: int, at: float, by: str) -> StoredRecord | None:
        """A pending callback cancelled (done "cancelled", a new revision for the owner's dialler);
        None when there is no such pending record."""
        async with self._begin("cancel a callback", write=True) as db:
            row = (
                await db.execute(
                    sa.select(RECORDS).where(RECORDS.c.id == record_id, RECORDS.c.done.is_(None))
                )
            ).first()
            if row is None:
                return None
            await db.execute(
                RECORDS.update()
                .where(RECORDS.c.id == record_id)
                .values(done="cancelled", revision=row.revision + 1, changed_at=_dt(at))
            )
            await db.execute(
                DECISIONS.insert().values(
                    campaign=row.campaign,
                    record_id=record_id,
                    at=_dt(at),
                    kind="callback",
                    reason="cancelled",
                    data={"number": row.number, "by": by},
                )
            )
        return _stored(row)

    async def callbacks(
        self,
        campaigns: Sequence[str],
        *,
        pending_only: bool = True,
        customers: Sequence[str] = (),
        limit: int = 500,
    ) -> list[StoredRecord]:
        """Records of these (callbacks) campaigns, the soonest due first; of these customers only,
        when given."""
        if not campaigns:
            return []
        query = sa.select(RECORDS).where(RECORDS.c.campaign.in_(list(campaigns)))
        if pending_only:
            query = query.where(RECORDS.c.done.is_(None))
        if customers:
            query = query.where(RECORDS.c.customer_id.in_(list(customers)))
        async with self._begin("read callbacks") as db:
            rows = (await db.execute(query.order_by(RECORDS.c.due_at, RECORDS.c.id).limit(limit))).all()
        return [_stored(r) for r in rows]

    async def record(self, record_id: int) -> StoredRecord | None:
        async with self._begin("read a record") as db:
            row = (await db.execute(sa.select(RECORDS).where(RECORDS.c.id == record_id))).first()
        return None if row is None else _stored(row)

    # --- do not call ---------------------------------------------------------------------------

    async def add_dnc(self, numbers: Iterable[str], source: str, at: float, note: str = "") -> int:
        unique = sorted(set(numbers))
        added = 0
        async with self._begin("add to the do-not-call list", write=True) as db:
            for start in range(0, len(unique), CHUNK):
                values = [
                    {"number": n, "source": source, "added_at": _dt(at), "note": note[:200]}
                    for n in unique[start : start + CHUNK]
                ]
                result = await db.execute(
                    self._insert(DNC).values(values).on_conflict_do_nothing(index_elements=["number"])
                )
                added += max(0, result.rowcount or 0)
        return added

    async def dnc(self, since: float | None = None) -> set[str]:
        """Numbers on the list (added at or after ``since``, when given)."""
        query = sa.select(DNC.c.number)
        if since is not None:
            query = query.where(DNC.c.added_at >= _dt(since))
        async with self._begin("read the do-not-call list") as db:
            return set((await db.execute(query)).scalars())

    async def on_dnc(self, number: str) -> bool:
        async with self._begin("read the do-not-call list") as db:
            return (
                await db.execute(sa.select(DNC.c.number).where(DNC.c.number == number))
            ).first() is not None


def _stored(r: Any) -> StoredRecord:
    return StoredRecord(
        r.id,
        r.number,
        r.tz,
        r.attempts,
        r.due_at.timestamp(),
        r.done,
        r.last_outcome,
        r.customer_id,
        dict(r.fields),
        r.revision,
        r.campaign,
    )


def outcome_of(value: str | None) -> Outcome | None:
    try:
        return None if value is None else Outcome(value)
    except ValueError as err:
        raise DatabaseError(f"unknown outcome {value!r} in outbound_records") from err

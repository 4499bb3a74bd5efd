"""The dialling job: the pure diallers (one per running or paused campaign) driven on the routing
owner, and their commands carried out.

Why the owner only: the dialler's state (calls in flight, the exposure the abandonment guard
counts) must have one writer, and the agents it paces for are the owner's engine's. Other nodes
write campaigns, lists and the do-not-call list in the database; the job reads them every
``outbound.poll_seconds`` (new records by id, new numbers by time, states as stored), so a
campaign paused through any node stops placing calls within that time. A new owner rebuilds the
diallers from the database like a restarted server.

Each round's decisions are written (records' attempts first) in one transaction *before* any
call of the round is handed to the :class:`Placer`: a crash between the two loses a call, never
counts one twice nor dials past the attempts.

Without a placer (no telephony for campaigns on this server), campaigns are followed but nothing
is paced: no decision is recorded that no one would carry out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Protocol, runtime_checkable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from callcenter.aio import cancel_and_wait
from callcenter.core.acd.agents import Agent, AgentState
from callcenter.core.acd.engine import Acd
from callcenter.core.outbound import dialler as dl
from callcenter.core.outbound.campaign import CampaignState
from callcenter.core.outbound.pacing import AgentLoad, AgentView, Ledger, period_of
from callcenter.errors import StorageError
from callcenter.outbound.definitions import to_core
from callcenter.settings.outbound import OutboundSettings
from callcenter.storage.outbound_store import Decision, OutboundStore, StoredRecord, outcome_of

log = logging.getLogger(__name__)

DNC_MARGIN = 60.0  # seconds: do-not-call numbers are read again this far back
FULL_DNC_EVERY = 150  # polls: the whole do-not-call list read again (5 minutes at 2 s)
REREAD = 1000  # record ids below the last seen, read again at each poll


Result = dl.AttemptEnded | dl.CallHandled | dl.AgentlessEnded
Preview = dl.PreviewOffered | dl.PreviewWithdrawn


class Placer(Protocol):
    """Places a decided call and reports through ``ended`` how it ended (``AttemptEnded``, once)
    and, for a connected call, its talk and wrap-up times when it is over (``CallHandled``)."""

    def place(self, decision: dl.DialDecided, ended: Callable[[Result], None]) -> None: ...


@runtime_checkable
class TakesUnclaimed(Protocol):
    """A placer that may see results of calls an earlier routing owner placed (an agentless call
    answered after a failover): ``unclaimed(campaign, result)``, set by the job while it runs."""

    unclaimed: Callable[[str, Result], None] | None


def agent_views(engine: Acd, queue: str) -> tuple[tuple[AgentView, ...], int]:
    """The agents of ``queue`` as the pacing sees them, and the inbound callers waiting there."""
    views = []
    for a in engine.agents.values():
        if queue not in a.queues:
            continue
        load = _load(a)
        if load is not None:
            views.append(AgentView(load, a.since, a.id))
    return tuple(views), engine.waiting_count(queue)


def _load(a: Agent) -> AgentLoad | None:
    if a.state == AgentState.AVAILABLE:
        return AgentLoad.FREE if a.registered else None
    if a.state in (AgentState.OFFERED, AgentState.BUSY):
        return AgentLoad.BUSY
    if a.state == AgentState.WRAP_UP:
        return AgentLoad.WRAP_UP
    return None  # paused, logged out: not counted on


def record_of(r: StoredRecord) -> dl.Record:
    try:
        tz = ZoneInfo(r.tz)
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")  # checked at import; a zone gone from tzdata since: its window in UTC
    return dl.Record(
        r.id,
        r.number,
        tz,
        r.attempts,
        r.due_at,
        r.done,
        outcome_of(r.last_outcome),
        r.customer_id,
        r.fields,
        r.revision,
    )


class Dialling:
    def __init__(
        self,
        store: OutboundStore,
        settings: OutboundSettings,
        engine: Callable[[], Acd | None],
        placer: Placer | None,
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self.settings = settings
        self.engine = engine
        self.placer = placer
        self.clock = clock
        self.diallers: dict[str, dl.Dialler] = {}
        self._last_id: dict[str, int] = {}
        self._dnc_seen: float | None = None
        self._polls = 0
        self._dnc: set[str] = set()
        self._results: list[tuple[str, Result | dl.PreviewAnswered]] = []
        self._tasks: list[asyncio.Task[None]] = []
        # The agent panel (web/agent_panel.py): preview cards shown and taken back, once stored.
        self.on_preview: Callable[[Preview], None] | None = None

    async def start(self) -> None:
        if isinstance(self.placer, TakesUnclaimed):
            self.placer.unclaimed = self.unclaimed
        self._dnc = await self.store.dnc()
        self._dnc_seen = self.clock()
        await self.poll()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._every(self.settings.poll_seconds, self.poll, "poll"))]
        if self.placer is None:
            log.warning("outbound.no_placer", extra={"detail": "campaigns are followed, not dialled"})
        else:
            self._tasks.append(loop.create_task(self._every(self.settings.pace_seconds, self.pace, "pace")))

    async def stop(self) -> None:
        if isinstance(self.placer, TakesUnclaimed):
            self.placer.unclaimed = None
        for task in self._tasks:
            await cancel_and_wait(task)
        self._tasks = []

    async def _every(self, seconds: float, work: Callable[[], Awaitable[None]], what: str) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await work()
            except StorageError as err:
                log.warning("outbound.storage", extra={"what": what, "detail": str(err)})
            except Exception:
                log.exception("outbound.crashed", extra={"what": what})

    async def poll(self) -> None:
        """Follow the database: campaigns (definitions and states), new records, new numbers."""
        now = self.clock()
        since = self._dnc_seen
        # Numbers are found by the time they were added, on whichever node's clock: a margin for
        # clocks a little apart, and the whole list now and then for clocks far apart.
        self._polls += 1
        whole = since is None or self._polls % FULL_DNC_EVERY == 0
        fresh = await self.store.dnc(since=None if whole or since is None else since - DNC_MARGIN)
        self._dnc_seen = now
        added = frozenset(fresh - self._dnc)
        self._dnc |= added
        for d in self.diallers.values():
            if added:
                d.handle(dl.DncAdded(added, now))
        for c in await self.store.campaigns():
            try:
                campaign = to_core(c.name, c.definition, self.settings.abandon_window)
            except ValueError as err:  # a definition stored by an older version, say
                log.error("outbound.bad_definition", extra={"campaign": c.name, "detail": str(err)[:300]})
                continue
            found = self.diallers.get(c.name)
            if found is None:
                if c.state not in (CampaignState.RUNNING, CampaignState.PAUSED):
                    continue
                records = await self.store.records(c.name)
                origin = c.origin if c.origin is not None else now
                ledger = await self.store.ledger(c.name, period_of(campaign, origin, now))
                self.diallers[c.name] = dl.Dialler(
                    campaign, c.state, origin, ledger, [record_of(r) for r in records], self._dnc
                )
                self._last_id[c.name] = max((r.id for r in records), default=0)
                log.info("outbound.following", extra={"campaign": c.name, "records": len(records)})
                continue
            d = found
            d.campaign, d.state = campaign, c.state
            if c.state != CampaignState.RUNNING and d.previews():
                await self._carry(d, d.withdraw_previews(f"campaign_{c.state.value}", now))
            if c.origin is not None:
                d.origin = c.origin
            if c.state == CampaignState.STOPPED and d.in_flight == 0:
                del self.diallers[c.name]
                continue
            await self._follow_records(d, since, now)

    async def _follow_records(self, d: dl.Dialler, since: float | None, now: float) -> None:
        """New records by id, and records changed elsewhere (a callback moved, cancelled)."""
        name = d.campaign.name
        # Ids at the end read again: PostgreSQL may make concurrent imports' rows visible out
        # of id order. Those the dialler knows are left alone.
        after = max(0, self._last_id.get(name, 0) - REREAD)
        new = [r for r in await self.store.records(name, after_id=after) if r.id not in d.records]
        # Records changed elsewhere (a callback moved or cancelled), by the time they changed
        # on whichever node's clock (the same margin as the do-not-call list): the dialler
        # takes those of a revision newer than its own.
        changed = await self.store.changed_records(name, (since if since is not None else now) - DNC_MARGIN)
        seen = {r.id for r in new}
        new += [
            r
            for r in changed
            if r.id not in seen
            and (
                r.revision > known.revision if (known := d.records.get(r.id)) is not None else r.done is None
            )
        ]
        if new:
            self._last_id[name] = max(self._last_id.get(name, 0), *(r.id for r in new))
            log.info("outbound.records", extra={"campaign": name, "records": len(new)})
            d.handle(dl.RecordsLoaded(tuple(record_of(r) for r in new), now))

    async def pace(self) -> None:
        engine = self.engine()
        if engine is None:
            return
        now = self.clock()
        results, self._results = self._results, []
        for name, result in results:
            d = self.diallers.get(name)
            if d is None:
                continue
            if isinstance(result, dl.PreviewAnswered) and result.dial:
                agent = engine.agents.get(result.agent_id)
                free = agent is not None and _load(agent) == AgentLoad.FREE
                result = replace(result, agent_free=free)
            await self._carry(d, d.handle(result))
        for d in list(self.diallers.values()):
            if d.state != CampaignState.RUNNING:
                continue
            agents, waiting = agent_views(engine, d.campaign.queue)
            await self._carry(d, d.handle(dl.Paced(agents, waiting, now)))

    # --- the agents' side (the panel, on this same node) ------------------------------------------

    def previews_of(self, agent_id: str) -> list[dl.PreviewOffered]:
        return [p for d in self.diallers.values() for p in d.previews() if p.agent_id == agent_id]

    def answer_preview(self, agent_id: str, campaign: str, record_id: int, dial: bool) -> bool:
        """The agent's "Call" (``dial``) or "Skip" on its own preview card, carried out at the next
        pace; False when there is no such card for this agent (another agent's, or gone)."""
        d = self.diallers.get(campaign)
        if d is None or d.preview_agent(record_id) != agent_id:
            return False
        self._results.append((campaign, dl.PreviewAnswered(record_id, agent_id, dial, self.clock())))
        return True

    def dispositions(self, campaign: str) -> tuple[str, ...]:
        d = self.diallers.get(campaign)
        return () if d is None else d.campaign.dispositions

    async def record_disposition(
        self, campaign: str, record_id: int, interaction_id: str, agent_id: str, disposition: str
    ) -> None:
        """The agent's disposition of a campaign call, stored with the attempt (a decision row of
        kind "disposition": the record, its attempt number, the interaction and the agent)."""
        d = self.diallers.get(campaign)
        record = None if d is None else d.records.get(record_id)
        data: dict[str, object] = {"interaction": interaction_id, "agent": agent_id}
        if record is not None:
            data["attempt"] = record.attempts
        row = Decision(campaign, record_id, self.clock(), "disposition", disposition, data)
        await self.store.apply(campaign, (), (), [row])
        log.info(
            "outbound.disposition",
            extra={"campaign": campaign, "record": record_id, "disposition": disposition},
        )

    def unclaimed(self, campaign: str, result: Result) -> None:
        """A result of a call placed by an earlier owner (an agentless call's disposition and
        opt-out): the campaign's dialler here knows the record, handled at the next pace."""
        self._results.append((campaign, result))

    def ended(self, campaign: str) -> Callable[[Result], None]:
        def report(result: Result) -> None:
            self._results.append((campaign, result))  # handled at the next pace, in order

        return report

    async def _carry(self, d: dl.Dialler, out: Sequence[dl.Command]) -> None:
        if not out:
            return
        name = d.campaign.name
        records: dict[int, dl.Record] = {}
        ledgers: dict[int, Ledger] = {}
        for c in out:
            if isinstance(c, dl.RecordChanged):
                records[c.record.id] = c.record
            elif isinstance(c, dl.LedgerChanged):
                ledgers[c.ledger.period] = c.ledger
        decisions = [found for c in out if (found := decision_of(name, c)) is not None]
        dials = [c for c in out if isinstance(c, dl.DialDecided)]
        opted_out = [c for c in out if isinstance(c, dl.OptedOut)]
        try:
            for o in opted_out:
                # On the list for every campaign: the others' diallers see it at the next poll.
                await self.store.add_dnc([o.number], "ivr", o.at, note=f"opt-out key, campaign {name}")
                log.info("outbound.opted_out", extra={"campaign": name, "record": o.record_id})
            changed = await self.store.apply(
                name, records.values(), ledgers.values(), decisions, {c.record_id for c in dials}
            )
        except StorageError:
            # Not stored, so not placed: the dialler is rebuilt from the database at the next poll
            # (its calls "in flight" were never made).
            self.diallers.pop(name, None)
            raise
        if self.placer is not None:
            for dial in dials:
                if dial.record_id not in changed:
                    self.placer.place(dial, self.ended(name))
        if self.on_preview is not None:
            for c in out:
                if isinstance(c, dl.PreviewOffered | dl.PreviewWithdrawn):
                    self.on_preview(c)
        if changed:
            await self._called_off(d, changed, {c.record_id: c.agent_id for c in dials if c.agent_id})

    async def _called_off(
        self, d: dl.Dialler, changed: dict[int, StoredRecord | None], agents: dict[int, str]
    ) -> None:
        """The last look found these records changed since the round decided to call them (a
        callback moved or cancelled within a poll of the dial): not placed; the dialler learns
        why, and the stored row takes over. An agent who clicked "Call" on such a card is told
        (the card's withdrawal, on the panel only: the decision row is the skip)."""
        now = self.clock()
        if self.on_preview is not None:
            for record_id in sorted(changed.keys() & agents.keys()):
                self.on_preview(
                    dl.PreviewWithdrawn(
                        d.campaign.name, record_id, agents[record_id], dl.CHANGED_BEFORE_DIAL, now
                    )
                )
        out: list[dl.Command] = []
        for record_id, row in sorted(changed.items()):
            log.info(
                "outbound.changed_before_dial",
                extra={"campaign": d.campaign.name, "record": record_id, "gone": row is None},
            )
            current = None if row is None else record_of(row)
            out += d.handle(dl.ChangedBeforeDial(record_id, current, now))
        await self._carry(d, out)  # the decision rows (no dial among them)


def decision_of(name: str, c: dl.Command) -> Decision | None:
    """The stored row of a decision command (None for the others)."""
    match c:
        case dl.DialDecided():
            return Decision(
                name, c.record_id, c.at, "dial", c.reason, {"attempt": c.attempt, "number": c.number}
            )
        case dl.DialSkipped():
            data: dict[str, object] = {"number": c.number}
            if c.until is not None:
                data["until"] = c.until
            return Decision(name, c.record_id, c.at, "skip", c.reason, data)
        case dl.PacingDecided():
            figures = {
                "calls": c.calls,
                "free": c.free,
                "expected_free": c.expected_free,
                "exposure_allowed": c.exposure_allowed,
                "in_flight": c.in_flight,
            }
            return Decision(name, None, c.at, "pacing", c.reason, figures)
        case dl.PreviewOffered():
            return Decision(
                name, c.record_id, c.at, "preview", "preview", {"number": c.number, "agent": c.agent_id}
            )
        case dl.PreviewWithdrawn():
            return Decision(name, c.record_id, c.at, "preview", c.reason, {"agent": c.agent_id})
        case dl.Disposed():
            data = {"number": c.number, "attempt": c.attempt, "agentless": True}
            return Decision(name, c.record_id, c.at, "disposition", c.disposition, data)
    return None  # records and ledgers are stored as such; states by whoever moved the campaign

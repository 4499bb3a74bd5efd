"""The dialler of one campaign. Pure: ``handle(event)`` returns commands; time comes with events.

The hopper holds the campaign's records by the time each is next due. When the ACD's view comes
(``Paced``, every second on the routing owner), the pacing (``pacing.py``) says how many calls to
place, and the hopper gives the records due, in order, checking each one at the moment of the
decision. Invariants (property-tested with a simulated clock, tests/unit/test_outbound_properties.py):

- a number on the do-not-call list is never dialled (checked when the record comes up, so a
  number added to the list after the import is honoured too);
- no call outside the callee's calling window, in the callee's local time;
- a record never has more attempts than the campaign's ``max_attempts``, nor more than the retry
  rule of its last outcome allows;
- the abandonment rate of every window stays under the cap (see ``pacing.py``);
- every decision is a command with its reason: ``DialDecided`` or ``DialSkipped`` per record,
  ``PacingDecided`` when the pacing places calls or changes its reason;
- a record is never dialled before its ``due_at`` (a scheduled callback's chosen time), and a
  record changed elsewhere (a callback moved or cancelled: a higher ``revision``) replaces the
  dialler's copy, but only once its call in flight, if any, is over;
- the last look: a record found changed between the decision and the dial (``ChangedBeforeDial``,
  the job's finding when it stores the attempt) is not called; the attempt does not count, the
  call leaves the flight uncounted, and the record as stored takes over.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import tzinfo

from callcenter.core.outbound import pacing, windows
from callcenter.core.outbound.campaign import (
    LIVE,
    Campaign,
    CampaignMove,
    CampaignState,
    Mode,
    Outcome,
    fill_script,
    move,
)

STATS_SAMPLES = 200  # recent attempts the contact rate and times are measured on


CONNECTED = "connected"
DNC = "dnc"
MAX_ATTEMPTS = "max_attempts"
NO_WINDOW = "no_window"
CHANGED_BEFORE_DIAL = "changed_before_dial"


@dataclass(frozen=True, slots=True)
class Record:
    """One number to call. ``due_at``: not before this time; ``done``: why it is finished
    ("connected", "dnc", "max_attempts", "no_window"), None while it may be dialled."""

    id: int
    number: str  # E.164
    tz: tzinfo
    attempts: int = 0
    due_at: float = 0.0
    done: str | None = None
    last_outcome: Outcome | None = None
    customer_id: str | None = None
    fields: Mapping[str, str] = field(default_factory=dict)
    # Bumped by whoever changes the record outside the dialler (a callback moved or cancelled).
    revision: int = 0


# --- events --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordsLoaded:
    records: tuple[Record, ...]
    at: float


@dataclass(frozen=True, slots=True)
class DncAdded:
    numbers: frozenset[str]
    at: float


@dataclass(frozen=True, slots=True)
class CampaignMoved:
    move: CampaignMove
    at: float


@dataclass(frozen=True, slots=True)
class Paced:
    """The ACD's view of the campaign's queue now: its agents (paused and logged-out ones left
    out) and the inbound callers waiting for them."""

    agents: tuple[pacing.AgentView, ...]
    waiting_inbound: int
    at: float


@dataclass(frozen=True, slots=True)
class AttemptEnded:
    """The adapter's verdict on a call placed for ``record_id``: how it ended, how long it rang
    before a person (or machine) answered, and, for ``callback``, when the person asked to be
    called."""

    record_id: int
    outcome: Outcome
    at: float
    answered_after: float | None = None
    callback_at: float | None = None


@dataclass(frozen=True, slots=True)
class CallHandled:
    """A connected call and its wrap-up are over: the times feed predictive pacing."""

    record_id: int
    talk_seconds: float
    wrap_seconds: float
    at: float


@dataclass(frozen=True, slots=True)
class PreviewAnswered:
    """The agent shown a preview card dialled it (``dial``) or passed. ``agent_free``: whether the
    agent is still free when the answer is carried out (an inbound call may have reached it since
    the click): a call for an agent taken by another is not placed, the card goes back."""

    record_id: int
    agent_id: str
    dial: bool
    at: float
    agent_free: bool = True


@dataclass(frozen=True, slots=True)
class AgentlessEnded:
    """An agentless call's flow (or message) is over: its result for the attempt, and whether the
    person asked not to be called again (``core.outbound.agentless.result_of``)."""

    record_id: int
    disposition: str
    opt_out: bool
    at: float


@dataclass(frozen=True, slots=True)
class ChangedBeforeDial:
    """The last look before a call: the record's stored row changed after the dialler decided to
    call it (a callback moved or cancelled, a newer ``revision``; or finished elsewhere), so the
    call was not placed. ``current``: the row as stored now (None: no longer there)."""

    record_id: int
    current: Record | None
    at: float


Event = (
    RecordsLoaded
    | DncAdded
    | CampaignMoved
    | Paced
    | AttemptEnded
    | CallHandled
    | PreviewAnswered
    | AgentlessEnded
    | ChangedBeforeDial
)


# --- commands ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DialDecided:
    """Call ``number`` now for the campaign (attempt ``attempt`` of the record)."""

    campaign: str
    record_id: int
    number: str
    attempt: int
    reason: str  # the pacing's: "progressive", "predictive", "abandon_cap", "agentless", "preview"
    at: float
    queue: str
    caller_id: str
    customer_id: str | None = None
    ring_seconds: float = 20.0  # how long it rings before it counts as no answer
    message: str = ""  # played to a person who answers when no agent is free (a sound name)
    on_machine: str = "off"  # answering-machine detection: off, retry, message, hangup
    machine_message: str = ""
    fields: Mapping[str, str] = field(default_factory=dict)  # the list's columns, for the agent
    script: str = ""  # the campaign's script, filled from the record's fields
    agent_id: str | None = None  # preview: the agent who chose to call it takes the call
    agentless: bool = False  # no agent: the person who answers runs ``flow`` (or hears ``message``)
    flow: str = ""
    opt_out_key: str = ""


@dataclass(frozen=True, slots=True)
class DialSkipped:
    """A record that came up and was not dialled, and why: "dnc", "outside_window" (``until`` the
    window opens), "max_attempts", "no_window" (no window opens within a week), "agent_passed",
    "changed_before_dial" (decided, then found changed at the last look: not called)."""

    campaign: str
    record_id: int
    number: str
    reason: str
    at: float
    until: float | None = None


@dataclass(frozen=True, slots=True)
class PacingDecided:
    campaign: str
    calls: int
    reason: str
    free: int
    expected_free: float
    exposure_allowed: int
    in_flight: int
    at: float


@dataclass(frozen=True, slots=True)
class PreviewOffered:
    """Preview mode: show the record to ``agent_id`` (a free agent of the queue, the longest
    free first), who dials it or passes."""

    campaign: str
    record_id: int
    number: str
    queue: str
    at: float
    fields: Mapping[str, str] = field(default_factory=dict)
    agent_id: str = ""
    script: str = ""


@dataclass(frozen=True, slots=True)
class PreviewWithdrawn:
    """A preview card taken back before the agent answered it. ``reason``: ``agent_left`` (the
    agent left the queue's agents: paused, logged out), ``agent_busy`` (a call or its wrap-up
    took the agent: dialling the card then would only reach the no-agent message),
    ``campaign_paused`` / ``campaign_stopped`` — the record is due again at once, for any free
    agent —, ``record_changed`` (a newer revision came: a callback moved or cancelled, which then
    applies), or ``timed_out`` (on screen ``preview_seconds`` unanswered: passed, as a skip)."""

    campaign: str
    record_id: int
    agent_id: str
    reason: str
    at: float


@dataclass(frozen=True, slots=True)
class Disposed:
    """An agentless attempt's result, stored with it (a decision of kind "disposition")."""

    campaign: str
    record_id: int
    number: str
    disposition: str
    attempt: int
    at: float


@dataclass(frozen=True, slots=True)
class OptedOut:
    """The person asked not to be called again: the number goes on the do-not-call list."""

    campaign: str
    record_id: int
    number: str
    at: float


@dataclass(frozen=True, slots=True)
class RecordChanged:
    campaign: str
    record: Record


@dataclass(frozen=True, slots=True)
class LedgerChanged:
    campaign: str
    ledger: pacing.Ledger


@dataclass(frozen=True, slots=True)
class CampaignChanged:
    campaign: str
    state: CampaignState
    at: float


Command = (
    DialDecided
    | DialSkipped
    | PacingDecided
    | PreviewOffered
    | PreviewWithdrawn
    | Disposed
    | OptedOut
    | RecordChanged
    | LedgerChanged
    | CampaignChanged
)


class Dialler:
    """The state of one campaign's dialling; ``handle`` is its only entry point."""

    def __init__(
        self,
        campaign: Campaign,
        state: CampaignState = CampaignState.DRAFT,
        origin: float | None = None,
        ledger: pacing.Ledger | None = None,
        records: Iterable[Record] = (),
        dnc: Iterable[str] = (),
    ) -> None:
        self.campaign = campaign
        self.state = state
        self.origin = origin  # the first start: windows of the abandonment rate count from here
        self.ledger = ledger or pacing.Ledger(0)
        self._records: dict[int, Record] = {}
        self._hopper: list[tuple[float, int]] = []
        self._dnc: set[str] = set(dnc)
        # record id -> the window (period) it was dialled (or previewed) in: its answer counts
        # there, where the guard counted its exposure, even if it ends after the window rolled.
        self._in_flight: dict[int, int] = {}
        self._older: dict[int, pacing.Ledger] = {}  # earlier windows with calls still in flight
        self._results = _Recent()  # 1.0: answered by a person
        self._answer_after = _Recent()
        self._talk = _Recent()
        self._wrap = _Recent()
        self._last_reason: str | None = None
        self._previews: dict[int, PreviewOffered] = {}  # record id -> the card on an agent's panel
        self._later: dict[int, Record] = {}  # newer revisions of records in flight, for their end
        for r in records:
            self._add(r)

    # --- read-only views -----------------------------------------------------------------------

    @property
    def records(self) -> Mapping[int, Record]:
        return self._records

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def previews(self) -> list[PreviewOffered]:
        """The preview cards on agents' panels now (a reconnecting panel shows them again)."""
        return list(self._previews.values())

    def preview_agent(self, record_id: int) -> str | None:
        """Whom the record's preview card was shown to (None: no card for it)."""
        p = self._previews.get(record_id)
        return None if p is None else p.agent_id

    def dnc(self, number: str) -> bool:
        return number in self._dnc

    def stats(self) -> pacing.Stats:
        c = self.campaign
        return pacing.Stats(
            attempts=len(self._results),
            contacts=round(self._results.total),
            talk_seconds=self._talk.mean(c.handle_seconds),
            wrap_seconds=self._wrap.mean(0.0),
            answer_seconds=self._answer_after.mean(c.ring_seconds / 2),
        )

    def allowed(self) -> int:
        """The exposure the ledgers allow: the current window's budget, and that of every earlier
        window with more calls in flight than its own budget (they could all be abandoned if the
        new window's calls took the agents)."""
        cap = self.campaign.abandon_cap
        allowed = pacing.budget(self.ledger, cap)
        for period, ledger in self._older.items():
            left = sum(1 for p in self._in_flight.values() if p == period)
            own = pacing.budget(ledger, cap)
            if left > own:
                allowed = min(allowed, own)
        return allowed

    # --- the entry point -----------------------------------------------------------------------

    def handle(self, event: Event) -> list[Command]:
        out: list[Command] = []
        match event:
            case RecordsLoaded():
                for r in event.records:
                    self._add(r)
            case DncAdded():
                self._dnc |= event.numbers
            case CampaignMoved():
                self.state = move(self.state, event.move)
                if self.state != CampaignState.RUNNING:
                    out += self.withdraw_previews(f"campaign_{self.state.value}", event.at)
                if self.state == CampaignState.RUNNING and self.origin is None:
                    self.origin = event.at
                out.append(CampaignChanged(self.campaign.name, self.state, event.at))
            case Paced():
                self._pace(event, out)
            case AttemptEnded():
                self._ended(event, out)
            case CallHandled():
                self._talk.append(max(0.0, event.talk_seconds))
                self._wrap.append(max(0.0, event.wrap_seconds))
            case PreviewAnswered():
                self._previewed(event, out)
            case AgentlessEnded():
                self._agentless(event, out)
            case ChangedBeforeDial():
                self._called_off(event, out)
        return out

    # --- the hopper ----------------------------------------------------------------------------

    def _add(self, r: Record) -> None:
        if r.id in self._records and r.id in self._in_flight:
            # A reload while the record is being called: the call's result decides, then a
            # record changed elsewhere meanwhile (a callback moved, cancelled) takes over.
            if r.revision > self._records[r.id].revision:
                self._later[r.id] = r
            return
        known = self._records.get(r.id)
        if known is not None and r.revision < known.revision:
            return  # an older copy read again: the newer one stays
        self._records[r.id] = r
        if r.done is None:
            heapq.heappush(self._hopper, (r.due_at, r.id))

    def _pace(self, e: Paced, out: list[Command]) -> None:
        if self.state != CampaignState.RUNNING:
            return
        self._recall_previews(e, out)
        self._roll(e.at, out)
        p = pacing.pace(
            self.campaign, e.agents, e.waiting_inbound, self.in_flight, self.stats(), self.allowed(), e.at
        )
        placed = 0
        # Preview: each card to a free agent with no card yet, the longest free first.
        shown = {p.agent_id for p in self._previews.values()}
        free = sorted(
            (
                a
                for a in e.agents
                if a.load == pacing.AgentLoad.FREE and (not a.agent_id or a.agent_id not in shown)
            ),
            key=lambda a: a.since,
        )
        while placed < p.calls:
            if self.campaign.mode == Mode.PREVIEW and placed >= len(free):
                break
            r = self._next_due(e.at, out)
            if r is None:
                break
            if self.campaign.mode == Mode.PREVIEW:
                self._offer(r, free[placed].agent_id, e.at, out)
            else:
                self._dial(r, p.reason, e.at, out)
            placed += 1
        if placed or p.reason != self._last_reason:
            self._last_reason = p.reason
            out.append(
                PacingDecided(
                    self.campaign.name,
                    placed,
                    p.reason,
                    p.free,
                    p.expected_free,
                    p.exposure_allowed,
                    self.in_flight,
                    e.at,
                )
            )

    def _recall_previews(self, e: Paced, out: list[Command]) -> None:
        """Cards whose agent left the queue's agents (paused, logged out) or was taken by a call
        go back to the hopper; cards on screen longer than ``preview_seconds`` are passed."""
        loads = {a.agent_id: a.load for a in e.agents if a.agent_id}
        # A card whose record changed meanwhile (a callback moved or cancelled) goes at once.
        self._withdraw({rid for rid in self._previews if rid in self._later}, "record_changed", e.at, out)
        left, busy, stale = set(), set(), set()
        limit = self.campaign.preview_seconds
        for rid, p in self._previews.items():
            if not p.agent_id:
                continue
            if p.agent_id not in loads:
                left.add(rid)
            elif loads[p.agent_id] != pacing.AgentLoad.FREE:
                busy.add(rid)
            elif limit and e.at - p.at >= limit:
                stale.add(rid)
        self._withdraw(left, "agent_left", e.at, out)
        self._withdraw(busy, "agent_busy", e.at, out)
        self._withdraw(stale, "timed_out", e.at, out, due=e.at + self.campaign.retry(Outcome.NO_ANSWER).delay)

    def _offer(self, r: Record, agent_id: str, at: float, out: list[Command]) -> None:
        """Preview: the record on that agent's panel, counted in flight until answered or withdrawn."""
        self._in_flight[r.id] = self.ledger.period
        c = self.campaign
        offered = PreviewOffered(
            c.name, r.id, r.number, c.queue, at, r.fields, agent_id, fill_script(c.script, r.fields)
        )
        self._previews[r.id] = offered
        out.append(offered)

    def _next_due(self, at: float, out: list[Command]) -> Record | None:
        """The first record due now that may be dialled; those that may not are skipped with
        their reason (and put back for later when the reason is the time of day)."""
        c = self.campaign
        while self._hopper and self._hopper[0][0] <= at:
            due, rid = heapq.heappop(self._hopper)
            r = self._records.get(rid)
            if r is None or r.done is not None or r.due_at != due or rid in self._in_flight:
                continue  # a stale entry: the record moved, finished or is being called
            if r.number in self._dnc:
                self._finish(r, DNC, at, out, skipped=True)
            elif r.attempts >= c.max_attempts:
                self._finish(r, MAX_ATTEMPTS, at, out, skipped=True)
            elif not windows.is_open(c.windows, at, r.tz):
                opening = windows.next_opening(c.windows, at, r.tz)
                if opening is None:
                    self._finish(r, NO_WINDOW, at, out, skipped=True)
                    continue
                r = replace(r, due_at=opening)
                self._records[rid] = r
                heapq.heappush(self._hopper, (opening, rid))
                out.append(DialSkipped(c.name, rid, r.number, "outside_window", at, opening))
                out.append(RecordChanged(c.name, r))
            else:
                return r
        return None

    def _dial(
        self, r: Record, reason: str, at: float, out: list[Command], agent_id: str | None = None
    ) -> None:
        c = self.campaign
        r = replace(r, attempts=r.attempts + 1)
        self._records[r.id] = r
        self._in_flight[r.id] = self.ledger.period
        out.append(RecordChanged(c.name, r))  # the attempt is stored before the call is placed
        out.append(
            DialDecided(
                c.name,
                r.id,
                r.number,
                r.attempts,
                reason,
                at,
                c.queue,
                c.caller_id,
                r.customer_id,
                c.ring_seconds,
                c.message,
                c.on_machine.value,
                c.machine_message,
                r.fields,
                fill_script(c.script, r.fields),
                agent_id,
                c.mode == Mode.AGENTLESS,
                c.flow,
                c.opt_out_key,
            )
        )

    def _finish(self, r: Record, why: str, at: float, out: list[Command], skipped: bool = False) -> None:
        r = replace(r, done=why)
        self._records[r.id] = r
        if skipped:
            out.append(DialSkipped(self.campaign.name, r.id, r.number, why, at))
        out.append(RecordChanged(self.campaign.name, r))

    # --- results -------------------------------------------------------------------------------

    def _roll(self, at: float, out: list[Command]) -> None:
        period = pacing.period_of(self.campaign, self.origin if self.origin is not None else at, at)
        if period != self.ledger.period:
            if self.ledger.period in self._in_flight.values():
                self._older[self.ledger.period] = self.ledger
            self.ledger = pacing.Ledger(period)
            out.append(LedgerChanged(self.campaign.name, self.ledger))

    def _ended(self, e: AttemptEnded, out: list[Command]) -> None:
        self._result(e, out)
        self._settle(e.record_id, out)

    def _result(self, e: AttemptEnded, out: list[Command]) -> None:
        r = self._records.get(e.record_id)
        period = self._in_flight.get(e.record_id)
        if r is None or period is None:
            return  # not a call of ours in flight (a duplicate report): nothing to count twice
        self._roll(e.at, out)  # before the call leaves the flight: its window is kept if it rolls
        del self._in_flight[e.record_id]
        live = e.outcome in LIVE
        self._results.append(1.0 if live else 0.0)
        if e.answered_after is not None:
            self._answer_after.append(max(0.0, e.answered_after))
        if live:
            self._count(period, e.outcome == Outcome.ABANDONED, out)
        r = replace(r, last_outcome=e.outcome)
        c = self.campaign
        if e.outcome == Outcome.CONNECTED:
            self._finish(r, CONNECTED, e.at, out)
            return
        rule = c.retry(e.outcome)
        if r.attempts >= min(rule.max_attempts, c.max_attempts):
            self._finish(r, MAX_ATTEMPTS, e.at, out, skipped=True)
            return
        due = e.at + rule.delay
        if e.outcome == Outcome.CALLBACK and e.callback_at is not None:
            due = max(e.at, e.callback_at)
        r = replace(r, due_at=due)
        self._records[r.id] = r
        heapq.heappush(self._hopper, (due, r.id))
        out.append(RecordChanged(c.name, r))

    def _settle(self, record_id: int, out: list[Command]) -> None:
        """A call is over: a newer revision that came while it was in flight replaces the record."""
        later = self._later.pop(record_id, None)
        if later is not None and record_id not in self._in_flight:
            self._add(later)
            out.append(RecordChanged(self.campaign.name, later))

    def _called_off(self, e: ChangedBeforeDial, out: list[Command]) -> None:
        """The decided call was not placed: no attempt, no answer to count, nothing in flight; the
        newest copy (the stored row, or one a poll read meanwhile) replaces the dialler's."""
        r = self._records.get(e.record_id)
        period = self._in_flight.pop(e.record_id, None)
        if r is None or period is None:
            return  # not a call of ours in flight: nothing to call off
        if period != self.ledger.period and period not in self._in_flight.values():
            self._older.pop(period, None)  # that window's last call: its budget binds no more
        out.append(DialSkipped(self.campaign.name, r.id, r.number, CHANGED_BEFORE_DIAL, e.at))
        newest = e.current
        later = self._later.pop(e.record_id, None)
        if later is not None and (newest is None or later.revision > newest.revision):
            newest = later
        if newest is None:
            del self._records[e.record_id]  # gone from the table: nothing left to call
            return
        self._records[e.record_id] = newest
        if newest.done is None:
            heapq.heappush(self._hopper, (newest.due_at, newest.id))

    def _agentless(self, e: AgentlessEnded, out: list[Command]) -> None:
        """The result is stored with the attempt; an opt-out lists the number at once (this
        dialler never calls it again, whatever the stored list says yet)."""
        r = self._records.get(e.record_id)
        if r is None:
            return
        c = self.campaign.name
        out.append(Disposed(c, r.id, r.number, e.disposition, r.attempts, e.at))
        if e.opt_out:
            self._dnc.add(r.number)
            out.append(OptedOut(c, r.id, r.number, e.at))

    def _count(self, period: int, abandoned: bool, out: list[Command]) -> None:
        old = self.ledger if period == self.ledger.period else self._older.get(period, pacing.Ledger(period))
        new = pacing.Ledger(period, old.answered + 1, old.abandoned + int(abandoned))
        if period == self.ledger.period:
            self.ledger = new
        else:
            self._older[period] = new
        if period not in self._in_flight.values():
            self._older.pop(period, None)
        out.append(LedgerChanged(self.campaign.name, new))

    def withdraw_previews(self, reason: str, at: float) -> list[Command]:
        """Every card taken back (the campaign paused or stopped: no call may come of them)."""
        out: list[Command] = []
        self._withdraw(set(self._previews), reason, at, out)
        return out

    def _withdraw(
        self, record_ids: set[int], reason: str, at: float, out: list[Command], due: float | None = None
    ) -> None:
        """The cards taken back; their records due again at ``due`` (default: at once)."""
        due = at if due is None else due
        for rid in sorted(record_ids):
            p = self._previews.pop(rid)
            self._in_flight.pop(rid, None)
            out.append(PreviewWithdrawn(self.campaign.name, rid, p.agent_id, reason, at))
            r = self._records.get(rid)
            if r is not None and r.done is None:
                r = replace(r, due_at=due)
                self._records[rid] = r
                heapq.heappush(self._hopper, (due, rid))
                out.append(RecordChanged(self.campaign.name, r))
            self._settle(rid, out)

    def _previewed(self, e: PreviewAnswered, out: list[Command]) -> None:
        offered = self._previews.get(e.record_id)
        if e.record_id in self._later and offered is not None and offered.agent_id in ("", e.agent_id):
            # The record changed while its card was on screen: the agent's answer is to a copy
            # that no longer holds (a moved or cancelled callback); the card goes back instead.
            self._withdraw({e.record_id}, "record_changed", e.at, out)
            return
        if e.dial and not e.agent_free and offered is not None and offered.agent_id in ("", e.agent_id):
            # Taken by an inbound call between the click and now: no call it could not take.
            self._withdraw({e.record_id}, "agent_busy", e.at, out)
            return
        self._answered(e, out)
        self._settle(e.record_id, out)

    def _answered(self, e: PreviewAnswered, out: list[Command]) -> None:
        r = self._records.get(e.record_id)
        offered = self._previews.get(e.record_id)
        if r is None or offered is None or (offered.agent_id and offered.agent_id != e.agent_id):
            return  # no card for it, or another agent's card: only its agent answers it
        del self._previews[e.record_id]
        if self._in_flight.pop(e.record_id, None) is None:
            return
        c = self.campaign
        if e.dial and self.state == CampaignState.RUNNING:
            # The card may have been on screen a while: the checks are made again, now.
            if r.number in self._dnc:
                self._finish(r, DNC, e.at, out, skipped=True)
                return
            if r.attempts >= c.max_attempts:
                self._finish(r, MAX_ATTEMPTS, e.at, out, skipped=True)
                return
            if windows.is_open(c.windows, e.at, r.tz):
                self._dial(r, "preview", e.at, out, e.agent_id)
                return
            reason, due = "outside_window", windows.next_opening(c.windows, e.at, r.tz)
        else:
            reason, due = "agent_passed", e.at + c.retry(Outcome.NO_ANSWER).delay
        if due is None:
            self._finish(r, NO_WINDOW, e.at, out, skipped=True)
            return
        # Back in the hopper for later.
        r = replace(r, due_at=due)
        self._records[r.id] = r
        heapq.heappush(self._hopper, (due, r.id))
        out.append(DialSkipped(c.name, r.id, r.number, reason, e.at, due))
        out.append(RecordChanged(c.name, r))


class _Recent:
    """The last ``STATS_SAMPLES`` values and their running sum (paced every second: no re-summing)."""

    def __init__(self) -> None:
        self._values: deque[float] = deque()
        self.total = 0.0

    def __len__(self) -> int:
        return len(self._values)

    def append(self, value: float) -> None:
        self._values.append(value)
        self.total += value
        if len(self._values) > STATS_SAMPLES:
            self.total -= self._values.popleft()

    def mean(self, default: float) -> float:
        return self.total / len(self._values) if self._values else default

"""The event log → 15-minute interval rows (queues, agents' states, agents' contacts).

Pure: notices in (the stored event log read back), rows out; the time up to which the log is
complete (``until``) is given, never read. Definitions are in docs/reports.md; in short:

- A **queue leg** is one stay of an interaction in one queue: it begins when the interaction is
  put in line (``queued``), overflows into the queue, or is transferred to it, and ends when it is
  answered and then talked to the end (or transferred on), overflows out, or ends unanswered.
  **Everything about a leg is attributed to the 15-minute interval in which it began**: its offer,
  its answer, its wait, talk, hold and wrap-up, even when they happen in a later interval. So the
  service level of an interval is that of the callers who arrived in it.
- **Agent state time is split at interval boundaries**: each interval gets the seconds of the
  state that fell inside it. A state lasts until the agent's next logged state, the last one until
  ``until``.
- An agent's **handled contact** is counted in the interval in which the agent answered it (or
  took it over by an attended transfer), with its talk time.

Every row is a pure function of the notices of the legs (and agent states) that touch its
interval, so recomputing an interval from the log gives the same row: that is what makes the
stored tables idempotent (storage recomputes whole intervals and replaces them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace

from callcenter.core import notices as nt
from callcenter.core.acd.queues import Queue
from callcenter.core.business_lines import call_line
from callcenter.core.calls import messages as cm
from callcenter.core.interaction import Outcome
from callcenter.core.reports.intervals import overlap, quarter, quarters

VOICE = "voice"
#: The state logged-out time is stored under: not stored at all (not working time).
LOGGED_OUT = "logged_out"
PAUSED = "paused"


@dataclass(frozen=True, slots=True)
class QueueSettings:
    """What reports need of a queue (from the queues file): its line and thresholds."""

    line: str | None = None
    service_level_seconds: float = 20.0
    short_abandon_seconds: float = 5.0


DEFAULT_SETTINGS = QueueSettings()


@dataclass(frozen=True, slots=True)
class QueueRow:
    """One queue's figures for the legs that began in one interval, per channel and line."""

    start: int
    queue: str
    channel: str
    line: str  # "" when the queue has none (no line configured and no queue name: never)
    offered: int = 0
    answered: int = 0
    answered_in_sl: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    exited: int = 0
    overflowed: int = 0
    transfers: int = 0
    callbacks_requested: int = 0
    callbacks_completed: int = 0
    wait_seconds: float = 0.0  # every leg that ended waiting or was answered
    answered_wait_seconds: float = 0.0
    wait_max: float = 0.0
    talk_seconds: float = 0.0
    hold_seconds: float = 0.0
    wrap_up_seconds: float = 0.0

    @property
    def key(self) -> tuple[int, str, str, str]:
        return (self.start, self.queue, self.channel, self.line)


#: Fields of QueueRow added up by roll-ups (``wait_max`` takes the maximum).
QUEUE_SUMS = tuple(
    f.name for f in fields(QueueRow) if f.name not in ("start", "queue", "channel", "line", "wait_max")
)


@dataclass(frozen=True, slots=True)
class AgentStateRow:
    """Seconds one agent spent in one state (and pause reason) within one interval."""

    start: int
    agent: str
    state: str
    reason: str  # the pause reason for ``paused``, else ""
    seconds: float

    @property
    def key(self) -> tuple[int, str, str, str]:
        return (self.start, self.agent, self.state, self.reason)


@dataclass(frozen=True, slots=True)
class AgentContactRow:
    """Contacts one agent answered in one interval, per channel, with their talk time."""

    start: int
    agent: str
    channel: str
    handled: int
    talk_seconds: float

    @property
    def key(self) -> tuple[int, str, str]:
        return (self.start, self.agent, self.channel)


@dataclass(frozen=True, slots=True)
class IntervalRows:
    queues: tuple[QueueRow, ...] = ()
    agent_states: tuple[AgentStateRow, ...] = ()
    agent_contacts: tuple[AgentContactRow, ...] = ()


# -- legs -----------------------------------------------------------------------------------------
@dataclass(slots=True)
class _Leg:
    queue: str
    start: float
    channel: str
    line: str
    answered_at: float | None = None
    agent: str | None = None
    talk_end: float | None = None  # answered: when the talk ended (end, transfer)
    ended_at: float | None = None  # unanswered: when it left the queue
    outcome: str = ""  # unanswered: abandoned, exited, overflowed, other
    hold: float = 0.0
    hold_since: float | None = None
    wrap: float = 0.0
    wrap_owed: bool = False
    transfers: int = 0
    callbacks_requested: int = 0
    callbacks_completed: int = 0


@dataclass(slots=True)
class _Contact:
    agent: str
    channel: str
    at: float
    talk: float = 0.0


@dataclass(slots=True)
class _Walk:
    """One interaction's notices walked in order into legs and contacts."""

    settings: Mapping[str, QueueSettings]
    legs: list[_Leg] = field(default_factory=list)
    contacts: list[_Contact] = field(default_factory=list)
    channel: str = VOICE
    skills: tuple[str, ...] = ()
    current: _Leg | None = None
    contact: _Contact | None = None

    def _settings(self, queue: str) -> QueueSettings:
        return self.settings.get(queue, DEFAULT_SETTINGS)

    def _begin(self, queue: str, at: float) -> None:
        self._leave(at, "overflowed")
        line = call_line(queue, self._settings(queue).line, self.skills) or ""
        self.current = _Leg(queue, at, self.channel, line)
        self.legs.append(self.current)

    def _leave(self, at: float, outcome: str) -> None:
        """The current leg ends (unanswered: with ``outcome``; answered: its talk ends)."""
        leg = self.current
        if leg is None:
            return
        if leg.answered_at is not None:
            self._end_talk(leg, at)
        else:
            leg.ended_at, leg.outcome = at, outcome
        self.current = None

    def _end_talk(self, leg: _Leg, at: float) -> None:
        if leg.hold_since is not None:
            leg.hold += at - leg.hold_since
            leg.hold_since = None
        if leg.talk_end is None and leg.answered_at is not None:
            leg.talk_end = at
            leg.wrap_owed = True
        if self.contact is not None:
            self.contact.talk = self._talk_seconds(leg)
            self.contact = None

    def _answer(self, agent: str, at: float) -> None:
        leg = self.current
        if leg is None:
            return
        if leg.answered_at is not None:
            self._end_talk(leg, at)  # taken over: a new talk on a new leg of the same queue
            self._begin(leg.queue, at)
            leg = self.current
            assert leg is not None
        leg.answered_at, leg.agent = at, agent
        self.contact = _Contact(agent, self.channel, at)
        self.contacts.append(self.contact)

    def _talk_seconds(self, leg: _Leg) -> float:
        if leg.answered_at is None or leg.talk_end is None:
            return 0.0
        return max(0.0, leg.talk_end - leg.answered_at - leg.hold)

    def walk(self, notice: nt.Notice) -> None:
        at = notice.at
        match notice:
            case nt.Queued(queue=queue, skills=skills):
                self.skills = tuple(skills or ())
                self._begin(queue, at)
            case nt.ConversationQueued(queue=queue, channel=channel, skills=skills):
                self.channel, self.skills = channel, tuple(skills or ())
                self._begin(queue, at)
            case nt.Overflowed(to=to):
                self._begin(to, at)
            case nt.Answered(agent=agent):
                self._answer(agent, at)
            case nt.CallbackConnected(agent=agent):
                self._answer(agent, at)
                if self.current is not None:
                    self.current.callbacks_completed += 1
            case nt.CallbackRequested():
                if self.current is not None:
                    self.current.callbacks_requested += 1
            case cm.CallHeld():
                if self.current is not None and self.current.hold_since is None:
                    self.current.hold_since = at
            case cm.CallResumed():
                leg = self.current
                if leg is not None and leg.hold_since is not None:
                    leg.hold += at - leg.hold_since
                    leg.hold_since = None
            case nt.Transferred(to_queue=to_queue):
                if self.current is not None:
                    self.current.transfers += 1
                self._begin(to_queue, at)
            case cm.TransferredAttended(to_agent=to_agent):
                leg = self.current
                if leg is not None:
                    leg.transfers += 1
                    self._answer(to_agent, at)
            case cm.TransferredOut():
                if self.current is not None:
                    self.current.transfers += 1
                    self._leave(at, "transferred")
            case nt.Ended(outcome=outcome):
                reason = {Outcome.ABANDONED: "abandoned", Outcome.EXITED: "exited"}.get(outcome, "other")
                self._leave(at, reason)
            case nt.WrappedUp(agent=agent):
                for leg in reversed(self.legs):
                    if leg.wrap_owed and leg.agent == agent and leg.talk_end is not None:
                        leg.wrap += max(0.0, at - leg.talk_end)
                        leg.wrap_owed = False
                        break
            case _:
                pass

    def queue_row(self, leg: _Leg) -> QueueRow:
        cfg = self._settings(leg.queue)
        row = QueueRow(quarter(leg.start), leg.queue, leg.channel, leg.line, offered=1)
        changes: dict[str, float | int] = {
            "transfers": leg.transfers,
            "callbacks_requested": leg.callbacks_requested,
            "callbacks_completed": leg.callbacks_completed,
        }
        if leg.answered_at is not None:
            wait = leg.answered_at - leg.start
            changes |= {
                "answered": 1,
                "answered_in_sl": int(wait <= cfg.service_level_seconds),
                "wait_seconds": wait,
                "answered_wait_seconds": wait,
                "wait_max": wait,
                "talk_seconds": self._talk_seconds(leg),
                "hold_seconds": leg.hold if leg.talk_end is not None else 0.0,
                "wrap_up_seconds": leg.wrap,
            }
        elif leg.ended_at is not None:
            wait = leg.ended_at - leg.start
            changes |= {"wait_seconds": wait, "wait_max": wait}
            if leg.outcome == "abandoned":
                changes["abandoned"] = 1
                changes["short_abandoned"] = int(wait < cfg.short_abandon_seconds)
            elif leg.outcome == "exited":
                changes["exited"] = 1
            elif leg.outcome == "overflowed":
                changes["overflowed"] = 1
        return replace(row, **changes)  # type: ignore[arg-type]


def add_queue_rows(a: QueueRow, b: QueueRow) -> QueueRow:
    """Two rows of the same key (or a roll-up's) added: sums, and the larger longest wait."""
    sums = {name: getattr(a, name) + getattr(b, name) for name in QUEUE_SUMS}
    return replace(a, wait_max=max(a.wait_max, b.wait_max), **sums)


def _by_interaction(notices: Iterable[nt.Notice]) -> dict[str, list[nt.Notice]]:
    found: dict[str, list[nt.Notice]] = {}
    for notice in notices:
        found.setdefault(notice.interaction_id, []).append(notice)
    for items in found.values():
        items.sort(key=lambda n: n.at)  # stable: the log's order among equal times
    return found


def _agent_states(
    logged: list[nt.AgentStateLogged], start: int, end: int, until: float
) -> dict[tuple[int, str, str, str], float]:
    seconds: dict[tuple[int, str, str, str], float] = {}
    for n, entry in enumerate(logged):
        if entry.state == LOGGED_OUT:
            continue
        a = max(entry.at, start)
        b = min(logged[n + 1].at if n + 1 < len(logged) else until, end)
        reason = entry.reason if entry.state == PAUSED else ""
        for q in quarters(a, b):
            part = overlap(a, b, q)
            if part > 0:
                key = (q, entry.agent, entry.state, reason)
                seconds[key] = seconds.get(key, 0.0) + part
    return seconds


def compute(
    notices: Iterable[nt.Notice],
    start: int,
    end: int,
    until: float,
    settings: Mapping[str, QueueSettings] | None = None,
) -> IntervalRows:
    """The rows of every 15-minute interval in ``[start, end)`` (both multiples of 15 minutes).

    ``notices`` must hold every notice of each interaction with a leg beginning in the range, and
    every agent's logged states in the range plus the last one before it; others are ignored
    (a leg that began outside the range gives no row). ``until``: the log is complete up to
    this time; an agent's last state lasts until then.
    """
    queue_rows: dict[tuple[int, str, str, str], QueueRow] = {}
    contact_rows: dict[tuple[int, str, str], AgentContactRow] = {}
    agents: dict[str, list[nt.AgentStateLogged]] = {}
    for interaction, items in _by_interaction(notices).items():
        if interaction.startswith(nt.AGENT_LOG_PREFIX):
            agents[interaction] = [n for n in items if isinstance(n, nt.AgentStateLogged)]
            continue
        walk = _Walk(settings or {})
        for notice in items:
            walk.walk(notice)
        for leg in walk.legs:
            if start <= leg.start < end:
                row = walk.queue_row(leg)
                old = queue_rows.get(row.key)
                queue_rows[row.key] = row if old is None else add_queue_rows(old, row)
        for contact in walk.contacts:
            if start <= contact.at < end:
                key = (quarter(contact.at), contact.agent, contact.channel)
                prior = contact_rows.get(key)
                handled = 1 + (prior.handled if prior else 0)
                talk = contact.talk + (prior.talk_seconds if prior else 0.0)
                contact_rows[key] = AgentContactRow(*key, handled, talk)
    state_seconds: dict[tuple[int, str, str, str], float] = {}
    for logged in agents.values():
        for state_key, value in _agent_states(logged, start, end, until).items():
            state_seconds[state_key] = state_seconds.get(state_key, 0.0) + value
    return IntervalRows(
        queues=tuple(queue_rows[k] for k in sorted(queue_rows)),
        agent_states=tuple(AgentStateRow(*k, v) for k, v in sorted(state_seconds.items())),
        agent_contacts=tuple(contact_rows[k] for k in sorted(contact_rows)),
    )


def leg_starts(notices: Iterable[nt.Notice]) -> list[float]:
    """When each leg of these notices' interactions began (storage: which intervals they dirty)."""
    starts: list[float] = []
    for interaction, items in _by_interaction(notices).items():
        if interaction.startswith(nt.AGENT_LOG_PREFIX):
            continue
        walk = _Walk({})
        for notice in items:
            walk.walk(notice)
        starts.extend(leg.start for leg in walk.legs)
    return starts


def queue_settings(queues: Iterable[Queue]) -> dict[str, QueueSettings]:
    """What reports need of the queues file's queues."""
    return {q.name: QueueSettings(q.line, q.service_level_seconds, q.short_abandon_seconds) for q in queues}

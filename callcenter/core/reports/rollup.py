"""Roll-ups (hour, day, week, month) of the 15-minute rows, and the figures derived from them.

Pure. A roll-up adds whole 15-minute rows (``wait_max`` takes the maximum), so an hour is exactly
its four quarters; ratios (service level, ASA, AHT, occupancy) are computed from the summed counts,
never averaged from averages. Formulas: docs/reports.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from callcenter.core.reports.aggregate import (
    PAUSED,
    AgentContactRow,
    AgentStateRow,
    QueueRow,
    add_queue_rows,
)
from callcenter.core.reports.intervals import Granularity, bucket


@dataclass(frozen=True, slots=True)
class Filters:
    """Which rows a report keeps (``None``: all). ``lines``: the caller's business-line scope."""

    queues: frozenset[str] | None = None
    agents: frozenset[str] | None = None
    channels: frozenset[str] | None = None
    lines: frozenset[str] | None = None


#: What a queue report may be grouped by.
GROUPS = ("queue", "channel", "line", "all")
#: No filter: every row.
EVERYTHING = Filters()


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


@dataclass(frozen=True, slots=True)
class QueueFigures:
    """The figures of one group (a queue, a channel or a line; "*": everything) over one interval
    of a report."""

    start: int
    group: str
    totals: QueueRow

    @property
    def service_level(self) -> float | None:
        """Answered within the threshold / (answered + abandoned after the short-abandon threshold)."""
        t = self.totals
        return _ratio(t.answered_in_sl, t.answered + t.abandoned - t.short_abandoned)

    @property
    def asa(self) -> float | None:
        return _ratio(self.totals.answered_wait_seconds, self.totals.answered)

    @property
    def abandon_rate(self) -> float | None:
        t = self.totals
        return _ratio(t.abandoned - t.short_abandoned, t.offered - t.short_abandoned)

    @property
    def average_talk(self) -> float | None:
        return _ratio(self.totals.talk_seconds, self.totals.answered)

    @property
    def average_hold(self) -> float | None:
        return _ratio(self.totals.hold_seconds, self.totals.answered)

    @property
    def average_wrap_up(self) -> float | None:
        return _ratio(self.totals.wrap_up_seconds, self.totals.answered)

    @property
    def aht(self) -> float | None:
        t = self.totals
        return _ratio(t.talk_seconds + t.hold_seconds + t.wrap_up_seconds, t.answered)


def queue_report(
    rows: Iterable[QueueRow],
    granularity: Granularity,
    filters: Filters = EVERYTHING,
    *,
    by: str = "queue",
) -> list[QueueFigures]:
    """The rows rolled up to ``granularity`` and grouped ``by`` queue, channel or line (``all``:
    everything together), filtered."""
    if by not in GROUPS:
        raise ValueError(f"by: {by!r} is not one of {', '.join(GROUPS)}")
    sums: dict[tuple[int, str], QueueRow] = {}
    for row in rows:
        if not keep(filters, queue=row.queue, channel=row.channel, line=row.line):
            continue
        group = "*" if by == "all" else str(getattr(row, by))
        key = (bucket(row.start, granularity), group)
        moved = replace(row, start=key[0], queue=group, channel="*", line="*")
        old = sums.get(key)
        sums[key] = moved if old is None else add_queue_rows(old, moved)
    return [QueueFigures(k[0], k[1], sums[k]) for k in sorted(sums)]


def keep(
    filters: Filters,
    *,
    queue: str | None = None,
    channel: str | None = None,
    line: str | None = None,
    agent: str | None = None,
) -> bool:
    """Whether a row with these names passes ``filters`` (a name not given is not filtered on)."""
    checks: list[tuple[frozenset[str] | None, str | None]] = [
        (filters.queues, queue),
        (filters.channels, channel),
        (filters.lines, line),
        (filters.agents, agent),
    ]
    return all(allowed is None or value is None or value in allowed for allowed, value in checks)


@dataclass(frozen=True, slots=True)
class AgentFigures:
    """One agent's figures over one interval of a report."""

    start: int
    agent: str
    states: tuple[tuple[str, float], ...]  # state -> seconds (logged in: every state)
    pauses: tuple[tuple[str, float], ...]  # pause reason -> seconds
    handled: tuple[tuple[str, int], ...]  # channel -> contacts answered
    talk_seconds: float

    def seconds(self, state: str) -> float:
        return dict(self.states).get(state, 0.0)

    @property
    def logged_in(self) -> float:
        return sum(s for _, s in self.states)

    @property
    def contacts(self) -> int:
        return sum(n for _, n in self.handled)

    @property
    def occupancy(self) -> float | None:
        """Time on contacts (ringing, talking, wrap-up) / time available for them (not paused)."""
        working = self.seconds("offered") + self.seconds("busy") + self.seconds("wrap_up")
        return _ratio(working, working + self.seconds("available"))

    @property
    def utilization(self) -> float | None:
        """Time on contacts / logged-in time (pauses included)."""
        working = self.seconds("offered") + self.seconds("busy") + self.seconds("wrap_up")
        return _ratio(working, self.logged_in)


def agent_report(
    states: Iterable[AgentStateRow],
    contacts: Iterable[AgentContactRow],
    granularity: Granularity,
    filters: Filters = EVERYTHING,
    agent_lines: Callable[[str], frozenset[str] | None] = lambda _: None,
) -> list[AgentFigures]:
    """Agents' rows rolled up to ``granularity``. ``agent_lines``: the lines an agent works for
    (its queues' lines), to scope by ``filters.lines``; ``None``: unknown, kept."""

    def visible(agent: str) -> bool:
        if filters.agents is not None and agent not in filters.agents:
            return False
        if filters.lines is None:
            return True
        lines = agent_lines(agent)
        return lines is None or bool(lines & filters.lines)

    by_state: dict[tuple[int, str], dict[str, float]] = {}
    by_pause: dict[tuple[int, str], dict[str, float]] = {}
    by_channel: dict[tuple[int, str], dict[str, int]] = {}
    talk: dict[tuple[int, str], float] = {}
    for s in states:
        if not visible(s.agent):
            continue
        key = (bucket(s.start, granularity), s.agent)
        per = by_state.setdefault(key, {})
        per[s.state] = per.get(s.state, 0.0) + s.seconds
        if s.state == PAUSED:
            pauses = by_pause.setdefault(key, {})
            pauses[s.reason] = pauses.get(s.reason, 0.0) + s.seconds
    for c in contacts:
        if not visible(c.agent) or not keep(filters, channel=c.channel):
            continue
        key = (bucket(c.start, granularity), c.agent)
        per_channel = by_channel.setdefault(key, {})
        per_channel[c.channel] = per_channel.get(c.channel, 0) + c.handled
        talk[key] = talk.get(key, 0.0) + c.talk_seconds
    keys = sorted(set(by_state) | set(by_channel))
    return [
        AgentFigures(
            k[0],
            k[1],
            tuple(sorted(by_state.get(k, {}).items())),
            tuple(sorted(by_pause.get(k, {}).items())),
            tuple(sorted(by_channel.get(k, {}).items())),
            talk.get(k, 0.0),
        )
        for k in keys
    ]

"""First-contact resolution across channels: was a handled contact the customer's last about it?

Pure: contacts in (read from the interactions by storage), verdicts and report rows out; the time
up to which the interactions are known (``until``) is given, never read. Definitions are in
docs/reports.md; in short:

- A **handled contact** is an interaction an agent answered (a call, a chat, a message
  conversation...), of a known customer, counted in the interval in which it began.
- It is **repeated** when the same customer — the unified customer id, merges followed, so a call
  and a WhatsApp message of one person are one customer — begins another interaction on *any*
  channel (answered or not, in any queue) within ``window`` seconds after it; else it is
  **resolved** once that window has passed, and **pending** until then.
- **FCR** = resolved ÷ (resolved + repeated): pending contacts are in neither part, so a recent
  interval's figure is not flattered by repeats that have not happened yet.

Single-channel tools count a chat after a call as a new, unrelated contact; here it is the
repeat it is (``repeated_elsewhere`` counts repeats on another channel).
"""

from __future__ import annotations

import bisect
import enum
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from callcenter.core.reports.intervals import Granularity, bucket, quarter
from callcenter.core.reports.rollup import EVERYTHING, Filters, keep

#: What an FCR report may be grouped by.
FCR_GROUPS = ("queue", "agent", "channel", "line", "all")
DEFAULT_WINDOW_DAYS = 7


@dataclass(frozen=True, slots=True)
class Contact:
    """One interaction as FCR sees it."""

    id: str
    customer: str  # the unified customer (after merges)
    at: float  # when it began
    channel: str
    handled: bool  # an agent answered it
    queue: str = ""
    agent: str = ""
    line: str = ""


class Verdict(enum.StrEnum):
    RESOLVED = "resolved"
    REPEATED = "repeated"
    PENDING = "pending"


@dataclass(frozen=True, slots=True)
class Judged:
    contact: Contact
    verdict: Verdict
    repeat: Contact | None = None  # the customer's next contact within the window


def judge(contacts: Iterable[Contact], window: float, until: float) -> list[Judged]:
    """A verdict for every handled contact among ``contacts``. ``contacts`` must hold every contact
    of those customers up to ``min(until, last handled + window)``: the repeats are looked for
    among them. Order: by time, then id (two contacts of one customer in the same second: the
    later id is the repeat)."""
    if window <= 0:
        raise ValueError("window: must be positive")
    by_customer: dict[str, list[tuple[float, str, Contact]]] = defaultdict(list)
    for c in contacts:
        by_customer[c.customer].append((c.at, c.id, c))
    out: list[Judged] = []
    for timeline in by_customer.values():
        timeline.sort(key=lambda t: (t[0], t[1]))
        keys = [(t[0], t[1]) for t in timeline]
        for at, ident, c in timeline:
            if not c.handled:
                continue
            after = bisect.bisect_right(keys, (at, ident))
            nxt = timeline[after][2] if after < len(timeline) else None
            if nxt is not None and nxt.at <= at + window and nxt.at <= until:
                out.append(Judged(c, Verdict.REPEATED, nxt))
            elif at + window <= until:
                out.append(Judged(c, Verdict.RESOLVED))
            else:
                out.append(Judged(c, Verdict.PENDING))
    out.sort(key=lambda j: (j.contact.at, j.contact.id))
    return out


@dataclass(frozen=True, slots=True)
class FcrFigures:
    """One group's (queue, agent, channel or line; "*": everything) contacts over one interval."""

    start: int
    group: str
    handled: int
    resolved: int
    repeated: int
    repeated_elsewhere: int  # repeats on another channel than the contact's
    pending: int

    @property
    def fcr(self) -> float | None:
        judged = self.resolved + self.repeated
        return self.resolved / judged if judged else None


def fcr_report(
    judged: Iterable[Judged],
    granularity: Granularity,
    filters: Filters = EVERYTHING,
    *,
    by: str = "queue",
) -> list[FcrFigures]:
    """Verdicts rolled up per ``granularity`` interval (of the contact's start) and group."""
    if by not in FCR_GROUPS:
        raise ValueError(f"by: {by!r} is not one of {', '.join(FCR_GROUPS)}")
    counts: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for j in judged:
        c = j.contact
        if not keep(filters, queue=c.queue, agent=c.agent, channel=c.channel, line=c.line):
            continue
        group = "*" if by == "all" else str(getattr(c, by))
        row = counts[(bucket(quarter(c.at), granularity), group)]
        row[0] += 1
        if j.verdict is Verdict.RESOLVED:
            row[1] += 1
        elif j.verdict is Verdict.REPEATED:
            row[2] += 1
            row[3] += j.repeat is not None and j.repeat.channel != c.channel
        else:
            row[4] += 1
    return [FcrFigures(k[0], k[1], *counts[k]) for k in sorted(counts)]

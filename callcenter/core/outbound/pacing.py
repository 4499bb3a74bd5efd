"""How many calls to place now: progressive, predictive, and the abandonment guard.

Pure functions over a snapshot (the agents of the campaign's queue, the calls in flight, the live
statistics, the abandonment ledger). Invariants:

- progressive places at most one call per free agent (calls in flight count against it), so a
  person who answers always finds an agent, as long as the agents free at dial time stay free;
- predictive may place more, for agents about to be free and for the share of calls nobody
  answers, but never more than the abandonment **exposure** allows: if every call in flight were
  answered at once, those beyond the free agents would be abandoned; the pacing keeps

      abandoned + exposure <= cap * (answered + exposure)

  over the current window, so whatever happens to the calls in flight, the rate stays under the
  cap (each answered call counts in the denominator, each abandon in both). With no budget left
  predictive places exactly what progressive would: it falls back to progressive.
- a call counts in the window it was dialled in; while calls of an earlier window are still in
  flight, the exposure also stays within that window's budget (if more of them are in flight than
  it allows), so a new window's calls cannot take the agents those calls were counted on.
- the guard counts on the agents free at the decision staying free for the ring time; an agent
  who pauses or takes an inbound call meanwhile is the one way past it (docs/outbound.md).

The windows are consecutive periods of ``abandon_window`` seconds from the campaign's first start
("each successive 30-day period", US TSR). A rolling window cannot be promised by any dialler: a
campaign paused right after an abandon leaves windows holding that abandon and nothing else.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass

from callcenter.core.outbound.campaign import Campaign, Mode


class AgentLoad(enum.StrEnum):
    FREE = "free"  # available, registered, nothing offered
    BUSY = "busy"  # on a call (or ringing)
    WRAP_UP = "wrap_up"


@dataclass(frozen=True, slots=True)
class AgentView:
    """One agent of the campaign's queue as the ACD sees it; paused and logged-out agents are left
    out. ``since``: when it entered this state."""

    load: AgentLoad
    since: float
    agent_id: str = ""  # preview mode: whom a record is shown to


@dataclass(frozen=True, slots=True)
class Ledger:
    """The abandonment figures of one window: calls answered by a person, and abandoned."""

    period: int
    answered: int = 0
    abandoned: int = 0

    @property
    def rate(self) -> float:
        return self.abandoned / self.answered if self.answered else 0.0


def period_of(campaign: Campaign, origin: float, at: float) -> int:
    return int((at - origin) // campaign.abandon_window) if at >= origin else 0


def budget(ledger: Ledger, cap: float) -> int:
    """How many calls may be in flight beyond the free agents (the exposure) in this window."""
    room = cap * ledger.answered - ledger.abandoned
    if room <= 0:
        return 0
    # The largest e with abandoned + e <= cap * (answered + e); a tiny epsilon keeps float noise
    # (0.03 * 100 = 3.0000000000000004) from granting or refusing one call.
    return max(0, math.floor(room / (1.0 - cap) + 1e-9))


@dataclass(frozen=True, slots=True)
class Stats:
    """The live figures predictive pacing uses (``dialler.Dialler`` keeps them)."""

    attempts: int  # recent attempts with a result
    contacts: int  # of which answered by a person
    talk_seconds: float  # average talk time of recent connected calls
    wrap_seconds: float  # average wrap-up after them
    answer_seconds: float  # average time from dial to answer


@dataclass(frozen=True, slots=True)
class Pace:
    calls: int  # to place now
    reason: str  # "progressive", "predictive", "abandon_cap", "warming_up", "no_agent", "agentless"
    free: int  # agents free for this campaign
    expected_free: float  # free now plus those expected free by the time a call is answered
    exposure_allowed: int


def pace(
    campaign: Campaign,
    agents: Sequence[AgentView],
    waiting_inbound: int,
    in_flight: int,
    stats: Stats,
    allowed: int,
    at: float,
) -> Pace:
    """Calls to place now. ``waiting_inbound``: callers already in line for the queue (inbound
    comes first: an agent they will take is not free for the campaign). ``allowed``: the
    exposure the abandonment ledgers allow (:func:`budget`; the dialler takes the smallest over
    the windows with calls in flight)."""
    if campaign.mode == Mode.AGENTLESS:
        calls = max(0, campaign.agentless_lines - in_flight)
        return Pace(calls, "agentless", 0, 0.0, 0)
    free_now = sum(1 for a in agents if a.load == AgentLoad.FREE)
    free = max(0, free_now - waiting_inbound)
    progressive = max(0, free - in_flight)
    if campaign.mode != Mode.PREDICTIVE:  # preview dials one per free agent too, on the agent's click
        return Pace(progressive, "progressive" if free else "no_agent", free, float(free), 0)
    if stats.attempts < campaign.min_samples or stats.contacts == 0:
        return Pace(progressive, "warming_up", free, float(free), allowed)
    expected = max(float(free), free_now + _expected_free(agents, stats, at) - waiting_inbound)
    contact_rate = stats.contacts / stats.attempts
    target = min(expected / contact_rate, campaign.max_ratio * max(expected, 1.0))
    wanted = max(0, math.floor(target + 1e-9) - in_flight)
    # The guard: calls in flight beyond the free agents are the exposure.
    ceiling = max(0, free + allowed - in_flight)
    if wanted > ceiling:
        calls = max(progressive, ceiling)
        return Pace(calls, "abandon_cap", free, expected, allowed)
    if wanted <= progressive:
        return Pace(progressive, "progressive" if free else "no_agent", free, expected, allowed)
    return Pace(wanted, "predictive", free, expected, allowed)


def _expected_free(agents: Sequence[AgentView], stats: Stats, at: float) -> float:
    """Agents not free now but expected free within the time a call takes to be answered."""
    horizon = max(stats.answer_seconds, 1.0)
    count = 0
    for a in agents:
        if a.load == AgentLoad.FREE:
            continue
        elapsed = max(0.0, at - a.since)
        if a.load == AgentLoad.BUSY:
            remaining = stats.talk_seconds - elapsed + stats.wrap_seconds
        else:
            remaining = stats.wrap_seconds - elapsed
        if remaining <= horizon:
            count += 1
    return float(count)

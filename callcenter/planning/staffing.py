"""Agents needed for a target service level (or ASA): Erlang C and Erlang A, with shrinkage and a
maximum occupancy.

Erlang C is pyworkforce's (``pyworkforce.queuing.ErlangC``), not re-derived here: this module
converts units at the edge (ours are seconds, pyworkforce's minutes), searches the number of agents
until every target holds, and returns a frozen answer. Erlang A is ``erlang_a.py`` (pyworkforce's
needs Python 3.12; see there).

- **Erlang C** (M/M/N): Poisson arrivals, exponential handle times, callers wait as long as it
  takes. Service level = 1 - P(wait) · e^(-(N - A) · T / AHT); ASA = P(wait) · AHT / (N - A).
- **Erlang A** (M/M/N+M): the same, and each waiting caller hangs up after an exponential patience
  (mean ``patience``). Service level = P(answered within T) over every caller (an abandon is not
  answered in time); ASA = the mean time in line of every caller (answered or not).
- **Occupancy**: the share of the agents' time on calls (A / N for Erlang C; the answered traffic
  over N for Erlang A). ``max_occupancy`` raises N until it holds.
- **Shrinkage**: the share of paid time not on the phones (breaks, meetings, training, absence):
  agents to schedule = ⌈N / (1 - shrinkage)⌉.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from callcenter.planning.erlang_a import ErlangA

#: The most agents a search tries before it says the target cannot be met.
MAX_AGENTS = 20000


class StaffingError(ValueError):
    """Inputs that cannot be staffed for (the message says which and why)."""


@dataclass(frozen=True, slots=True)
class Load:
    """The work of one queue over one interval."""

    calls: float  # contacts expected in the interval
    interval_seconds: float
    aht: float  # average handle time, seconds (talk + hold + wrap-up)
    patience: float | None = None  # mean seconds a caller waits before hanging up; None: Erlang C

    @property
    def intensity(self) -> float:
        """The offered traffic in Erlangs: calls per second x handle seconds."""
        return self.calls / self.interval_seconds * self.aht


@dataclass(frozen=True, slots=True)
class Target:
    service_level: float | None = 0.8  # share answered within ``seconds`` (None: no SL target)
    seconds: float = 20.0  # the service-level threshold
    asa: float | None = None  # a mean wait not to exceed, seconds (None: no ASA target)
    max_occupancy: float = 1.0
    shrinkage: float = 0.0
    max_abandon: float = 1.0  # Erlang A: the abandon rate not to exceed

    def check(self) -> None:
        if self.service_level is None and self.asa is None:
            raise StaffingError("target: give a service level, an ASA, or both")
        if self.service_level is not None and not 0 < self.service_level < 1:
            raise StaffingError("service level: a share between 0 and 1 (exclusive), e.g. 0.8")
        if not self.seconds > 0:
            raise StaffingError("seconds: the service-level threshold must be above 0")
        if self.asa is not None and not self.asa > 0:
            raise StaffingError("asa: must be above 0 seconds")
        if not 0 < self.max_occupancy <= 1:
            raise StaffingError("max occupancy: a share above 0 and at most 1, e.g. 0.85")
        if not 0 <= self.shrinkage < 1:
            raise StaffingError("shrinkage: a share from 0 to below 1, e.g. 0.3")
        if not 0 < self.max_abandon <= 1:
            raise StaffingError("max abandon: a share above 0 and at most 1")


@dataclass(frozen=True, slots=True)
class Staffing:
    """Agents needed (``agents``: on the phones; ``scheduled``: with shrinkage) and what they give."""

    model: str  # "erlang_c" or "erlang_a"
    intensity: float  # Erlangs
    agents: int
    scheduled: int
    service_level: float
    asa: float  # seconds
    occupancy: float
    waiting_probability: float
    abandon_rate: float  # 0 for Erlang C


def _check(load: Load) -> None:
    if not load.interval_seconds > 0:
        raise StaffingError("interval: must be above 0 seconds")
    if load.calls < 0 or not math.isfinite(load.calls):
        raise StaffingError(f"calls: {load.calls} is not a number of contacts (0 or more)")
    if not load.aht > 0 or not math.isfinite(load.aht):
        raise StaffingError(f"aht: {load.aht} is not a handle time (seconds above 0)")
    if load.patience is not None and (not load.patience > 0 or not math.isfinite(load.patience)):
        raise StaffingError(f"patience: {load.patience} is not a mean wait (seconds above 0)")


def _erlang_c(load: Load, seconds: float) -> Any:
    from pyworkforce.queuing import ErlangC

    return ErlangC(
        transactions=load.calls,
        aht=load.aht / 60,
        asa=seconds / 60,  # pyworkforce's name for the service-level threshold
        interval=load.interval_seconds / 60,
        shrinkage=0.0,
    )


def evaluate(load: Load, agents: int, seconds: float = 20.0, shrinkage: float = 0.0) -> Staffing:
    """What ``agents`` on the phones give for ``load`` (Erlang C: the queue must be stable,
    agents > intensity, else StaffingError)."""
    _check(load)
    if agents < 1:
        raise StaffingError("agents: at least 1")
    scheduled = math.ceil(agents / (1 - shrinkage) - 1e-9)  # 14 / 0.7 is 20.000000000000004
    a = load.intensity
    if load.calls == 0:
        return Staffing(_name(load), 0.0, agents, scheduled, 1.0, 0.0, 0.0, 0.0, 0.0)
    if load.patience is None:
        if agents <= a:
            raise StaffingError(f"{agents} agents for {a:.2f} Erlangs: the line grows without end")
        model = _erlang_c(load, seconds)
        pw = float(model.waiting_probability(agents))
        return Staffing(
            "erlang_c",
            a,
            agents,
            scheduled,
            float(model.service_level(agents)),
            pw * load.aht / (agents - a),
            float(model.achieved_occupancy(agents)),
            pw,
            0.0,
        )
    m = ErlangA(load.calls / load.interval_seconds, 1 / load.aht, 1 / load.patience).metrics(agents, seconds)
    return Staffing(
        "erlang_a",
        a,
        agents,
        scheduled,
        m["service_level"],
        m["average_wait"],
        m["occupancy"],
        m["waiting_probability"],
        m["abandonment_probability"],
    )


def _name(load: Load) -> str:
    return "erlang_c" if load.patience is None else "erlang_a"


def required(load: Load, target: Target) -> Staffing:
    """The fewest agents meeting every part of ``target`` for ``load``, and what they give."""
    _check(load)
    target.check()
    if load.calls == 0:
        return Staffing(_name(load), 0.0, 0, 0, 1.0, 0.0, 0.0, 0.0, 0.0)
    # Every figure improves with each agent added (service level up; ASA, occupancy and abandons
    # down), so the fewest agents meeting the target are found by bisection.
    low = math.floor(load.intensity) + 1 if load.patience is None else 1
    high = max(low, math.ceil(load.intensity) + 1)
    while not _meets(evaluate(load, high, target.seconds, target.shrinkage), target):
        if high > MAX_AGENTS:
            raise StaffingError(f"no staffing up to {MAX_AGENTS} agents meets the target")
        low, high = high + 1, high * 2
    while low < high:
        middle = (low + high) // 2
        if _meets(evaluate(load, middle, target.seconds, target.shrinkage), target):
            high = middle
        else:
            low = middle + 1
    return evaluate(load, high, target.seconds, target.shrinkage)


def _meets(got: Staffing, target: Target) -> bool:
    return (
        (target.service_level is None or got.service_level >= target.service_level)
        and (target.asa is None or got.asa <= target.asa)
        and got.occupancy <= target.max_occupancy + 1e-12
        and got.abandon_rate <= target.max_abandon
    )

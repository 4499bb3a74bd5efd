"""The what-if simulator: simulated callers through the real routing engine.

A discrete-event simulation whose router is the pure routing core itself
(:class:`~callcenter.core.acd.engine.Acd`, the engine the server runs), built from the real queues
and agents files: skills and levels, languages, priorities, overflow steps, maximum waits and their
exits, wrap-up, the queue's strategy. Erlang formulas assume one queue and one skill; this asks the
engine what it would do.

- **Arrivals**: a Poisson process per queue with its rate constant within each interval of the
  demand (calls / interval length); each caller arrives (``CallArrived``) and is queued at once
  (``IvrFinished``: the IVR is not simulated), with the demand's skills and language.
- **Agents**: the roster, every agent's phone registered at time 0 (logged in, available).
- **Offers**: a ``DialAgent`` is answered after ``ring_seconds`` (``AgentAnswered``); a callback's
  ``DialCustomer`` reaches the customer after the same time (``CallbackConnected``).
- **Handle time**: drawn when the call is answered: exponential with the demand's AHT (the Erlang
  assumption), or lognormal with that mean and ``handle_cv``; then the agent hangs up
  (``AgentHungUp``) and the engine's wrap-up (the queue's ``wrap_up_seconds``) follows.
- **Patience**: each caller with a demand ``patience`` hangs up (``CallerHungUp``) after an
  exponential time of that mean if still not answered (a caller whose agent is ringing too).
- **Time**: the engine reads no clock; the simulator's clock jumps from event to event, and when
  the engine has a timer due before the next event (wrap-up end, overflow step, maximum wait) it is
  sent a ``Tick`` at that time.

Figures follow the historical reports' definitions (docs/reports.md): a queue leg counts in the
interval it began; service level = answered within the queue's threshold / (answered + abandoned -
short abandons); ASA over answered legs; occupancy = (ringing + busy + wrap-up) / (that +
available), of the agents who are members of the queue. Callers arriving before
``warmup_seconds`` are not counted, nor agents' time before it (a steady state for validation).

Seeded: the same inputs and seed give the same figures (a search compares rosters on the same
arrivals, handle times and patience draws: common random numbers).
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

from callcenter.core import events as ev
from callcenter.core import notices as nt
from callcenter.core.acd import queues as qs
from callcenter.core.acd.agents import Agent, AgentState
from callcenter.core.acd.engine import Acd, AcdConfig
from callcenter.core.commands import AgentStateChanged, Command, DialAgent, DialCustomer
from callcenter.core.interaction import Outcome
from callcenter.planning.demand import Demand, QueueDemand

_WORKING = (AgentState.OFFERED, AgentState.BUSY, AgentState.WRAP_UP)


@dataclass(frozen=True, slots=True)
class SimConfig:
    seed: int = 1
    ring_seconds: float = 0.0
    handle_cv: float | None = None  # None: exponential handle times; else lognormal, this CV
    warmup_seconds: float = 0.0


@dataclass(slots=True)
class Tally:
    """Counts of the legs of one queue (over a whole run or one interval)."""

    offered: int = 0
    answered: int = 0
    answered_in_sl: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    exited: int = 0
    overflowed: int = 0
    wait_answered: float = 0.0
    wait_abandoned: float = 0.0
    handle: float = 0.0

    def frozen(self) -> Figures:
        return Figures(
            self.offered,
            self.answered,
            self.answered_in_sl,
            self.abandoned,
            self.short_abandoned,
            self.exited,
            self.overflowed,
            self.wait_answered,
            self.wait_abandoned,
            self.handle,
        )


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


@dataclass(frozen=True, slots=True)
class Figures:
    offered: int = 0
    answered: int = 0
    answered_in_sl: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    exited: int = 0
    overflowed: int = 0
    wait_answered: float = 0.0
    wait_abandoned: float = 0.0
    handle: float = 0.0

    @property
    def service_level(self) -> float | None:
        """The reports' formula: answered within the threshold / (answered + abandoned - short)."""
        return _ratio(self.answered_in_sl, self.answered + self.abandoned - self.short_abandoned)

    @property
    def asa(self) -> float | None:
        return _ratio(self.wait_answered, self.answered)

    @property
    def abandon_rate(self) -> float | None:
        """The reports' formula: (abandoned - short) / (offered - short)."""
        return _ratio(self.abandoned - self.short_abandoned, self.offered - self.short_abandoned)

    # The queueing models' definitions (every caller who was answered or hung up, no short-abandon
    # exclusion): what Erlang C and Erlang A predict, for validation.
    @property
    def answered_in_time(self) -> float | None:
        """Share of callers answered within the threshold (Erlang's service level)."""
        return _ratio(self.answered_in_sl, self.answered + self.abandoned)

    @property
    def abandon_share(self) -> float | None:
        return _ratio(self.abandoned, self.answered + self.abandoned)

    @property
    def mean_wait(self) -> float | None:
        """Mean time in line of every caller, answered or not (Erlang A's ASA)."""
        return _ratio(self.wait_answered + self.wait_abandoned, self.answered + self.abandoned)


@dataclass(frozen=True, slots=True)
class QueueResult:
    queue: str
    figures: Figures
    occupancy: float | None  # of the agents who are members of the queue
    agents: int  # members of the queue in the roster
    service_level_seconds: float
    service_level_target: float


@dataclass(frozen=True, slots=True)
class IntervalResult:
    queue: str
    interval: int
    figures: Figures


@dataclass(frozen=True, slots=True)
class SimResult:
    queues: tuple[QueueResult, ...]
    intervals: tuple[IntervalResult, ...]
    occupancy: float | None  # of every agent
    calls: int  # callers generated (counted or not)
    waiting_at_end: int  # callers nobody could take, still in line when nothing else could happen
    simulated_seconds: float  # the demand's span
    contact_seconds: float  # handle time of every answered call (contact-hours x 3600)
    handled_events: int  # events the engine handled

    def queue(self, name: str) -> QueueResult:
        return next(q for q in self.queues if q.queue == name)


@dataclass(slots=True)
class _Leg:
    queue: str
    start: float
    counted: bool


@dataclass(slots=True)
class _Call:
    handle: float  # drawn at arrival, so every roster sees the same caller
    leg: _Leg | None = None
    answered: bool = False
    patient: bool = False  # a callback: the caller left, the place is kept


@dataclass(slots=True)
class _Run:
    """The mutable state of one run (the engine's state is the engine's)."""

    acd: Acd
    demand: Demand
    config: SimConfig
    horizon: float
    heap: list[tuple[float, int, str, str, str]] = field(default_factory=list)
    seq: Iterator[int] = field(default_factory=itertools.count)
    calls: dict[str, _Call] = field(default_factory=dict)
    totals: dict[str, Tally] = field(default_factory=dict)
    per_interval: dict[tuple[str, int], Tally] = field(default_factory=dict)
    state_since: dict[str, tuple[AgentState, float]] = field(default_factory=dict)
    working: dict[str, float] = field(default_factory=dict)
    available: dict[str, float] = field(default_factory=dict)
    tick_at: float = math.inf
    handled: int = 0
    contact_seconds: float = 0.0

    def push(self, at: float, kind: str, key: str = "", other: str = "") -> None:
        heapq.heappush(self.heap, (at, next(self.seq), kind, key, other))

    def handle(self, event: ev.Event) -> None:
        self.handled += 1
        out = self.acd.handle(event)
        self._follow(out, event.at)
        due = self.acd.next_timer()
        if due is not None and due < self.tick_at:
            self.tick_at = max(due, event.at)
            self.push(self.tick_at, "tick")

    def _follow(self, out: list[Command], now: float) -> None:
        for c in out:
            match c:
                case DialAgent():
                    self.push(now + self.config.ring_seconds, "answer", c.interaction_id, c.agent_id)
                case DialCustomer():
                    self.push(now + self.config.ring_seconds, "connect", c.interaction_id, c.agent_id)
                case AgentStateChanged():
                    self._agent_state(c.agent_id, c.state, now)
                case nt.Queued():
                    self._open_leg(c.interaction_id, c.queue, now)
                case nt.Overflowed():
                    call = self.calls[c.interaction_id]
                    if call.leg is not None and call.leg.counted:
                        self._tallies(call.leg, lambda t: _add(t, overflowed=1))
                    self._open_leg(c.interaction_id, c.to, now)
                case nt.Answered() | nt.CallbackConnected():
                    self._answered(c.interaction_id, c.agent, now)
                case nt.CallbackRequested():
                    self.calls[c.interaction_id].patient = True
                case nt.Ended():
                    self._ended(c.interaction_id, c.outcome, now)
                case _:
                    pass

    # -- legs ------------------------------------------------------------------------------------
    def _open_leg(self, iid: str, queue: str, now: float) -> None:
        counted = self.config.warmup_seconds <= now < self.horizon
        leg = self.calls[iid].leg = _Leg(queue, now, counted)
        if counted:
            self._tallies(leg, lambda t: _add(t, offered=1))

    def _tallies(self, leg: _Leg, change: Callable[[Tally], None]) -> None:
        k = min(int(leg.start // self.demand.interval_seconds), self.demand.intervals - 1)
        for tally in (
            self.totals.setdefault(leg.queue, Tally()),
            self.per_interval.setdefault((leg.queue, k), Tally()),
        ):
            change(tally)

    def _answered(self, iid: str, agent_id: str, now: float) -> None:
        call = self.calls[iid]
        call.answered = True
        leg, handle = call.leg, call.handle
        self.contact_seconds += handle
        self.push(now + handle, "end", iid, agent_id)
        if leg is None or not leg.counted:
            return
        wait = now - leg.start
        threshold = self.acd.queue(leg.queue).service_level_seconds
        self._tallies(
            leg,
            lambda t: _add(
                t, answered=1, answered_in_sl=int(wait <= threshold), wait_answered=wait, handle=handle
            ),
        )

    def _ended(self, iid: str, outcome: Outcome, now: float) -> None:
        call = self.calls.pop(iid, None)
        if call is None or call.leg is None or not call.leg.counted:
            return
        leg, wait = call.leg, now - call.leg.start
        if outcome == Outcome.ABANDONED:
            short = int(wait < self.acd.queue(leg.queue).short_abandon_seconds)
            self._tallies(leg, lambda t: _add(t, abandoned=1, short_abandoned=short, wait_abandoned=wait))
        elif outcome == Outcome.EXITED:
            self._tallies(leg, lambda t: _add(t, exited=1))

    # -- agents' time ------------------------------------------------------------------------------
    def _agent_state(self, agent_id: str, state: AgentState, now: float) -> None:
        before = self.state_since.get(agent_id)
        if before is not None:
            self._add_time(agent_id, before[0], before[1], now)
        self.state_since[agent_id] = (state, now)

    def _add_time(self, agent_id: str, state: AgentState, start: float, end: float) -> None:
        seconds = min(end, self.horizon) - max(start, self.config.warmup_seconds)
        if seconds <= 0:
            return
        if state in _WORKING:
            self.working[agent_id] = self.working.get(agent_id, 0.0) + seconds
        elif state == AgentState.AVAILABLE:
            self.available[agent_id] = self.available.get(agent_id, 0.0) + seconds


def _draw_handle(rng: random.Random, aht: float, cv: float | None) -> float:
    if cv is None:
        return rng.expovariate(1.0 / aht)
    sigma2 = math.log(1.0 + cv * cv)
    return rng.lognormvariate(math.log(aht) - sigma2 / 2, math.sqrt(sigma2))


def _add(t: Tally, **counts: float) -> None:
    for name, value in counts.items():
        setattr(t, name, getattr(t, name) + value)


def _arrivals(rng: random.Random, calls: Sequence[float], interval: float) -> Iterator[tuple[float, int]]:
    """Poisson arrival times, the rate constant within each interval (memoryless: restarting the
    draw at a boundary is exact), with their interval."""
    for k, n in enumerate(calls):
        if n <= 0:
            continue
        rate, t, end = n / interval, k * interval, (k + 1) * interval
        while True:
            t += rng.expovariate(rate)
            if t >= end:
                break
            yield t, k


def simulate(
    demand: Demand,
    agents: Sequence[Agent],
    queues: Mapping[str, qs.Queue],
    acd_config: AcdConfig | None = None,
    config: SimConfig | None = None,
) -> SimResult:
    """Run ``demand`` through an engine with ``agents`` and ``queues``; figures per queue and
    interval (see the module's header)."""
    config = config or SimConfig()
    if config.ring_seconds < 0 or config.warmup_seconds < 0:
        raise ValueError("ring and warm-up seconds must not be negative")
    if config.handle_cv is not None and not config.handle_cv > 0:
        raise ValueError("handle_cv: must be above 0")
    roster = [replace(a, state=AgentState.LOGGED_OUT, registered=False, since=0.0) for a in agents]
    acd = Acd(acd_config or AcdConfig(), roster, queues)
    horizon = float(demand.intervals * demand.interval_seconds)
    run = _Run(acd, demand, config, horizon)
    for agent in roster:
        run.handle(ev.AgentRegistered(agent.extension, 0.0))
        if not agent.auto_login:
            run.handle(ev.AgentLogin(agent.id, 0.0))
    # One stream of draws per queue (arrival times, then each caller's handle time and patience),
    # so a change of roster does not shift what the callers do.
    streams = []
    for n, q in enumerate(demand.queues):
        arrivals = _arrivals(random.Random(f"{config.seed}:arrivals:{n}"), q.calls, demand.interval_seconds)
        streams.append((q, arrivals, random.Random(f"{config.seed}:callers:{n}")))
        first = next(arrivals, None)
        if first is not None:
            run.push(first[0], "arrive", str(n), str(first[1]))
    generated = _events(run, streams)
    end = max(horizon, 0.0)
    for agent_id, (state, since) in run.state_since.items():
        run._add_time(agent_id, state, since, end)
    return _result(run, roster, queues, generated)


def _events(run: _Run, streams: list[tuple[QueueDemand, Iterator[tuple[float, int]], random.Random]]) -> int:
    """Run the event loop until nothing can happen any more; returns the callers generated."""
    acd, config, generated = run.acd, run.config, 0
    while run.heap:
        at, _, kind, key, other = heapq.heappop(run.heap)
        if kind == "arrive":
            q, arrivals, callers = streams[int(key)]
            generated += 1
            iid = f"sim-{generated}"
            run.calls[iid] = _Call(_draw_handle(callers, q.aht[int(other)], config.handle_cv))
            patience = None if q.patience is None else callers.expovariate(1.0 / q.patience)
            run.handle(ev.CallArrived(iid, f"+1555{generated:07d}", "", "sim", f"SIM/{iid}", at))
            run.handle(ev.IvrFinished(iid, None, q.queue, at, skills=q.skills, language=q.language))
            if patience is not None:
                run.push(at + patience, "patience", iid)
            following = next(arrivals, None)
            if following is not None:
                run.push(following[0], "arrive", key, str(following[1]))
        elif kind == "tick":
            if at >= run.tick_at:
                run.tick_at = math.inf
                run.handle(ev.Tick(at))
        elif kind == "answer":
            run.handle(ev.AgentAnswered(key, other, at))
        elif kind == "connect":
            run.handle(ev.CallbackConnected(key, other, at))
        elif kind == "end":
            run.handle(ev.AgentHungUp(key, other, at))
        elif kind == "patience":
            call = run.calls.get(key)
            if call is not None and not call.answered and not call.patient and key in acd.interactions:
                run.handle(ev.CallerHungUp(key, "patience", at))
    return generated


def _occupancy(run: _Run, agent_ids: Sequence[str]) -> float | None:
    working = sum(run.working.get(a, 0.0) for a in agent_ids)
    return _ratio(working, working + sum(run.available.get(a, 0.0) for a in agent_ids))


def _result(run: _Run, roster: Sequence[Agent], queues: Mapping[str, qs.Queue], generated: int) -> SimResult:
    names = sorted({q.queue for q in run.demand.queues} | set(run.totals))
    results = []
    for name in names:
        q = queues.get(name, qs.Queue(name))
        members = [a.id for a in roster if name in a.queues]
        figures = run.totals.get(name, Tally()).frozen()
        results.append(
            QueueResult(
                name,
                figures,
                _occupancy(run, members),
                len(members),
                q.service_level_seconds,
                q.service_level_target,
            )
        )
    intervals = tuple(
        IntervalResult(queue, k, tally.frozen()) for (queue, k), tally in sorted(run.per_interval.items())
    )
    return SimResult(
        tuple(results),
        intervals,
        _occupancy(run, [a.id for a in roster]),
        generated,
        len(run.acd.waiting),
        float(run.horizon),
        run.contact_seconds,
        run.handled,
    )

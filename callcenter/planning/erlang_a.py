"""Erlang A (M/M/N+M): Poisson arrivals, N agents with exponential handle times, and callers who
hang up after an exponential patience while they wait.

Why here: pyworkforce has Erlang A (``pyworkforce.queuing.ErlangA``) only from 0.5.2, which needs
Python 3.12, and the project runs on 3.11 (pyworkforce 0.5.1: Erlang C only). This module computes
the same model; tests/unit/test_staffing.py checks it against pyworkforce 0.5.4's own reference
case and against the model's published limits (patient callers: Erlang C; callers who do not
wait: Erlang B).

The model is a birth-death chain on the number of callers in the system, n: births at the arrival
rate λ, deaths at min(n, N)·μ + max(n - N, 0)·θ (services, and abandons of those waiting). Its
stationary distribution π is exact (the chain is truncated where its tail is negligible). With
PASTA: P(wait) = Σ_{n≥N} π_n; E[queue] = Σ (n - N)·π_n; P(abandon) = θ·E[queue] / λ; the mean time
in line of every caller = E[queue] / λ (Little); occupancy = λ·(1 - P(abandon)) / (N·μ).

Service level, P(answered within t): a caller finding k = n - N callers ahead reaches an agent when
k + 1 "advances" happen (rate N·μ + j·θ with j ahead: a service or an abandon ahead), while it may
itself leave at rate θ. Since its own abandon rate is constant, it is answered with probability
Π_j (N·μ + j·θ) / (N·μ + (j+1)·θ) and, given that, after a sum of exponentials of rates
N·μ + (j+1)·θ; that sum's distribution function is computed for every k at once by uniformization.
"""

from __future__ import annotations

import math

import numpy as np


class ErlangA:
    """Rates per second: ``arrival`` (callers), ``service`` (1 / handle time), ``abandon``
    (1 / mean patience)."""

    def __init__(self, arrival: float, service: float, abandon: float) -> None:
        if not (arrival > 0 and service > 0 and abandon > 0):
            raise ValueError("Erlang A needs positive arrival, service and abandon rates")
        self.arrival, self.service, self.abandon = arrival, service, abandon

    def _distribution(self, agents: int) -> np.ndarray[tuple[int], np.dtype[np.float64]]:
        weights = [1.0]
        total, n = 1.0, 0
        while True:
            n += 1
            death = min(n, agents) * self.service + max(n - agents, 0) * self.abandon
            weights.append(weights[-1] * self.arrival / death)
            total += weights[-1]
            if n > agents and weights[-1] < 1e-16 * total:
                break
            if weights[-1] > 1e250:  # rescale: heavy traffic
                weights = [w / 1e250 for w in weights]
                total /= 1e250
        p = np.asarray(weights, dtype=float)
        return np.asarray(p / p.sum())

    def metrics(self, agents: int, threshold: float) -> dict[str, float]:
        if agents < 1:
            raise ValueError("agents: at least 1")
        pi = self._distribution(agents)
        waiting = pi[agents:]
        ahead = np.arange(len(waiting), dtype=float)
        queue = float((ahead * waiting).sum())
        abandon = self.abandon * queue / self.arrival
        return {
            "waiting_probability": float(waiting.sum()),
            "abandonment_probability": abandon,
            "average_wait": queue / self.arrival,
            "occupancy": self.arrival * (1 - abandon) / (agents * self.service),
            "service_level": float(pi[:agents].sum())
            + float((waiting * self._answered_within(agents, len(waiting), threshold)).sum()),
        }

    def _answered_within(
        self, agents: int, states: int, t: float
    ) -> np.ndarray[tuple[int], np.dtype[np.float64]]:
        """For k = 0..states-1 callers ahead: P(answered within ``t``)."""
        k = np.arange(states, dtype=float)
        advance = agents * self.service + k * self.abandon  # leaving state k forwards
        leave = advance + self.abandon  # leaving state k at all
        answered = np.cumprod(advance / leave)  # P(answered at all), from k ahead
        # F_k(t) = P(sum of Exp(leave_j), j = 0..k, <= t), by uniformization at rate L: h_n(k) is
        # P(absorbed within n steps from k); h_{n+1}(k) = q_k h_n(k-1) + (1 - q_k) h_n(k).
        rate = float(leave.max())
        q = leave / rate
        h = np.zeros(states)
        lam = rate * t
        steps = int(lam + 12 * math.sqrt(lam) + 30)
        log_weight = -lam  # log of the Poisson weight of n jumps
        cdf = np.zeros(states)
        for n in range(1, steps + 1):
            below = np.concatenate(([1.0], h[:-1]))
            h = q * below + (1 - q) * h
            log_weight += math.log(lam) - math.log(n)
            cdf += math.exp(log_weight) * h
        return np.asarray(answered * np.minimum(cdf, 1.0))

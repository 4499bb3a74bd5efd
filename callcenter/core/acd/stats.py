"""Live queue statistics, kept by the engine as interactions leave queues. Pure and cheap: each
outcome is one counter update; a snapshot is computed on demand.

Definitions (per queue, since the engine started):
- service level = answered within the queue's threshold / (answered + abandoned after the
  threshold): a caller who hangs up before the threshold is neither counted for nor against it;
- ASA (average speed of answer) = total wait of answered callers / answered;
- abandonment rate = abandoned / (answered + abandoned);
- average handle time (used for the estimated wait) = talk time / answered, 180 s until known.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

DEFAULT_HANDLE_SECONDS = 180.0


@dataclass(slots=True)
class QueueCounters:
    entered: int = 0
    answered: int = 0
    answered_in_sl: int = 0
    abandoned: int = 0
    abandoned_in_sl: int = 0
    overflowed: int = 0
    exited: int = 0
    called_back: int = 0
    callback_failed: int = 0
    lost: int = 0
    wait_answered: float = 0.0
    talk: float = 0.0
    talked: int = 0

    @property
    def handle_seconds(self) -> float:
        return self.talk / self.talked if self.talked else DEFAULT_HANDLE_SECONDS


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    name: str
    waiting: int
    callbacks_waiting: int
    longest_wait_seconds: float
    agents: Mapping[str, int]  # members by state (registered or not)
    service_level: float | None  # 0..1, None before the first counted call
    service_level_target: float
    service_level_seconds: float
    asa_seconds: float | None
    abandonment_rate: float | None
    entered: int
    answered: int
    abandoned: int
    overflowed: int
    exited: int
    called_back: int
    callback_failed: int
    estimated_wait_seconds: float  # for a caller arriving now


def snapshot(
    name: str,
    counters: QueueCounters,
    waits: Iterable[tuple[float, bool]],  # (queued_at, is_callback) of each waiting caller
    agent_states: Mapping[str, int],
    sl_seconds: float,
    sl_target: float,
    now: float,
    estimated_wait: float,
) -> QueueSnapshot:
    waits = list(waits)
    counted = counters.answered + counters.abandoned - counters.abandoned_in_sl
    handled = counters.answered + counters.abandoned
    return QueueSnapshot(
        name=name,
        waiting=len(waits),
        callbacks_waiting=sum(1 for _, cb in waits if cb),
        longest_wait_seconds=max((now - q for q, _ in waits), default=0.0),
        agents=dict(agent_states),
        service_level=counters.answered_in_sl / counted if counted else None,
        service_level_target=sl_target,
        service_level_seconds=sl_seconds,
        asa_seconds=counters.wait_answered / counters.answered if counters.answered else None,
        abandonment_rate=counters.abandoned / handled if handled else None,
        entered=counters.entered,
        answered=counters.answered,
        abandoned=counters.abandoned,
        overflowed=counters.overflowed,
        exited=counters.exited,
        called_back=counters.called_back,
        callback_failed=counters.callback_failed,
        estimated_wait_seconds=estimated_wait,
    )

"""The garbage collector's policy for a server that must answer in milliseconds.

CPython's cyclic collector stops the whole process for a full (generation 2) collection, and that
scans every tracked object: with 2,000 open chats a pause took 300-350 ms on our 2-core machine,
several times a minute while the heap grew, and it was the whole tail of chat delivery
(bench/chat_sockets.py: p99 330-530 ms with, 66 ms without). So:

- at start-up, once the composition root has loaded everything, a collection and ``gc.freeze()``:
  the long-lived state (customers, conversations, restored interactions) is never scanned again;
- at most once a second, when the collector has moved objects into the oldest generation since,
  the young generations are collected (a few milliseconds: they are small by construction) and
  what survives is frozen: the oldest generation stays nearly empty, so a full collection, when
  CPython decides on one, has next to nothing to scan. The cyclic garbage of requests that have
  finished is collected by that young collection, as before; what is alive at that instant (the
  long-lived state, and a few requests in flight) is frozen, and if some of it later dies in a
  reference cycle it waits for the sweep below;
- frozen objects are not collected, so every ``full_collection_seconds`` everything is unfrozen,
  collected once and frozen again: garbage in reference cycles lives at most that long, and that
  one pause is the price (logged with its length and what it freed). Under load that is too long
  (closed connections are in cycles with their protocols: the soak at 200 calls froze ~4 KiB of
  them a call, bench/frozen_garbage.py), so a sweep also runs, at most every ``SWEEP_SPACING``
  seconds, once the frozen count has grown by ``gc_sweep_growth`` since the last: the garbage
  waiting for a sweep stays a fixed share of the live heap (CPython's own rule for full
  collections, 25 % growth of the long-lived objects), and the pauses stay as rare as that.

Every pause is counted in ``callcenter_gc_pause_seconds`` by generation; full ones over 100 ms are
logged. The collector's callback runs in whichever thread allocated (database driver threads do),
so it only notes the pause; a task on the event loop does the rest.
"""

from __future__ import annotations

import asyncio
import collections
import gc
import logging
import time
from typing import Any

from prometheus_client import Histogram

from callcenter.aio import cancel_and_wait
from callcenter.settings import RuntimeSettings

log = logging.getLogger(__name__)

GC_PAUSE = Histogram(
    "callcenter_gc_pause_seconds",
    "Pauses of the cyclic garbage collector, by generation (2 = full)",
    ["generation"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
LONG_PAUSE = 0.1  # a full collection longer than this is logged
PUMP_SECONDS = 1.0  # how often the loop task takes in the pauses noted by the callback
SWEEP_SPACING = 60.0  # the least time between two sweeps triggered by growth


class GcPolicy:
    """``start()`` after everything else has started (it freezes what exists); ``stop()`` first."""

    def __init__(self, settings: RuntimeSettings) -> None:
        self._settings = settings
        # (generation, seconds) appended by the collector's callback: deque.append is atomic and
        # takes no lock, so it is safe from any thread, even one the collection interrupted.
        self._pauses: collections.deque[tuple[int, float]] = collections.deque(maxlen=10_000)
        self._started_at = 0.0
        self._task: asyncio.Task[None] | None = None
        self.full_collections = 0  # sweeps done by this policy (for tests and logs)
        self._old_at_freeze = (-1, -1)
        self._frozen_at_sweep = 0  # the frozen count right after the start's freeze or the last sweep

    async def start(self) -> None:
        gc.callbacks.append(self._on_gc)
        if self._settings.gc_freeze:
            started = time.perf_counter()
            collected = gc.collect()
            gc.freeze()
            self._old_at_freeze = _old_collections()
            self._frozen_at_sweep = gc.get_freeze_count()
            log.info(
                "gc.frozen",
                extra={
                    "objects": gc.get_freeze_count(),
                    "collected": collected,
                    "pause_s": round(time.perf_counter() - started, 3),
                },
            )
        self._task = asyncio.get_running_loop().create_task(self._run(), name="gc-policy")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        if self._settings.gc_freeze:
            gc.unfreeze()  # what was frozen may be collected again

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started_at = time.perf_counter()
        else:
            self._pauses.append((int(info["generation"]), time.perf_counter() - self._started_at))

    async def _run(self) -> None:
        swept_at = time.monotonic()
        while True:
            await asyncio.sleep(PUMP_SECONDS)
            self.take_pauses()
            if self._settings.gc_freeze:
                now = time.monotonic()
                if now - swept_at >= self._settings.gc_full_collection_seconds or (
                    now - swept_at >= SWEEP_SPACING and self.grown()
                ):
                    self.sweep()
                    swept_at = time.monotonic()
                elif self._promoted_since_freeze():
                    self.freeze_survivors()

    def grown(self) -> bool:
        """Have the frozen objects grown by ``gc_sweep_growth`` since the last sweep?"""
        return gc.get_freeze_count() > self._frozen_at_sweep * (1 + self._settings.gc_sweep_growth)

    def _promoted_since_freeze(self) -> bool:
        """Has a generation-1 or a full collection run (moving objects to the oldest) since?"""
        return _old_collections() != self._old_at_freeze

    def freeze_survivors(self) -> None:
        """Collect the young generations, then freeze what survived and what was already old."""
        gc.collect(1)
        gc.freeze()
        self._old_at_freeze = _old_collections()
        self.take_pauses()

    def take_pauses(self) -> bool:
        """Record the pauses noted since the last call; True if one was a full collection."""
        full = False
        while self._pauses:
            generation, seconds = self._pauses.popleft()
            GC_PAUSE.labels(generation=str(generation)).observe(seconds)
            if generation == 2:
                full = True
                if seconds > LONG_PAUSE:
                    log.warning(
                        "gc.long_pause", extra={"generation": generation, "pause_s": round(seconds, 3)}
                    )
        return full

    def sweep(self) -> None:
        """Unfreeze, collect everything once, freeze again: frees garbage that was frozen."""
        started = time.perf_counter()
        gc.unfreeze()
        collected = gc.collect()
        gc.freeze()
        self._old_at_freeze = _old_collections()
        self._frozen_at_sweep = gc.get_freeze_count()
        self.full_collections += 1
        self.take_pauses()
        log.info(
            "gc.swept",
            extra={
                "collected": collected,
                "frozen": gc.get_freeze_count(),
                "pause_s": round(time.perf_counter() - started, 3),
            },
        )


def _old_collections() -> tuple[int, int]:
    """How many generation-1 and generation-2 collections this process has run."""
    stats = gc.get_stats()
    return (stats[1]["collections"], stats[2]["collections"])

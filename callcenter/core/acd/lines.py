"""The waiting lines: each waiting interaction's place, per queue (for positions) and in *buckets*.

A bucket groups the waiting interactions that the same agents may take right now (same channel,
same targets — queue pool and minimum skill levels, widened by overflow steps — held for the same
agent or skipping the same agents), sorted by place. Buckets are indexed by pool and by the agent
they are held for, so a freed agent looks only at the heads of the buckets of its queues.

Invariants: an interaction is in ``waiting`` exactly when it is in its queue's line and in exactly
one bucket (``bucket_of``); no bucket, and no index entry, is empty.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from callcenter.core.acd import queues as qs


@dataclass(frozen=True, slots=True, order=True)
class Place:
    """A caller's place in line: higher priority first, then earlier queue time, then arrival order."""

    neg_priority: int
    queued_at: float
    seq: int
    iid: str


@dataclass(frozen=True, slots=True)
class Key:
    """A bucket: who may take its interactions now."""

    channel: str
    targets: tuple[qs.Target, ...]
    only: str | None = None  # held for this agent (sticky, transfer to an agent), whatever its queues
    skip: frozenset[str] = frozenset()  # agents who declined these interactions a moment ago


class Lines:
    def __init__(self) -> None:
        self.waiting: dict[str, Place] = {}
        self.by_queue: dict[str, list[Place]] = {}  # per queue, for positions
        self.buckets: dict[Key, list[Place]] = {}
        self.bucket_of: dict[str, Key] = {}
        self.by_pool: dict[str, set[Key]] = {}
        self.by_agent: dict[str, set[Key]] = {}  # keys held for one agent
        self.steps: dict[str, int] = {}  # overflow steps taken, per waiting interaction
        self.dirty: set[str] = set()  # new, back in line or re-bucketed since the last dispatch

    def put(self, queue: str, place: Place) -> None:
        """In line (its bucket comes with :meth:`rebucket`)."""
        self.waiting[place.iid] = place
        bisect.insort(self.by_queue.setdefault(queue, []), place)

    def rebucket(self, iid: str, key: Key, steps: int) -> None:
        """Move a waiting interaction to the bucket of ``key`` (its targets now)."""
        old = self.bucket_of.get(iid)
        self.steps[iid] = steps
        if old == key:
            return
        place = self.waiting[iid]
        if old is not None:
            self._unbucket(old, place)
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = []
            if key.only is not None:
                self.by_agent.setdefault(key.only, set()).add(key)
            else:
                for t in key.targets:
                    self.by_pool.setdefault(t.pool, set()).add(key)
        bisect.insort(bucket, place)
        self.bucket_of[iid] = key
        self.dirty.add(iid)

    def _unbucket(self, key: Key, place: Place) -> None:
        bucket = self.buckets[key]
        del bucket[bisect.bisect_left(bucket, place)]
        if bucket:
            return
        del self.buckets[key]
        if key.only is not None:
            held = self.by_agent[key.only]
            held.discard(key)
            if not held:
                del self.by_agent[key.only]
            return
        for pool in {t.pool for t in key.targets}:
            keys = self.by_pool[pool]
            keys.discard(key)
            if not keys:
                del self.by_pool[pool]

    def remove(self, iid: str, queue: str) -> None:
        """Out of line (offered, ended, moved to another queue); nothing if not waiting."""
        place = self.waiting.pop(iid, None)
        if place is None:
            return
        line = self.by_queue[queue]
        del line[bisect.bisect_left(line, place)]
        self._unbucket(self.bucket_of.pop(iid), place)
        self.steps.pop(iid, None)
        self.dirty.discard(iid)

    def position(self, iid: str, queue: str) -> int | None:
        place = self.waiting.get(iid)
        if place is None:
            return None
        return bisect.bisect_left(self.by_queue[queue], place) + 1

    def count(self, queue: str) -> int:
        return len(self.by_queue.get(queue, ()))

    def places(self, queue: str) -> list[Place]:
        return self.by_queue.get(queue, [])

"""The garbage collector's policy, on this process's real collector."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import AsyncIterator

import pytest

from callcenter.gc_policy import GC_PAUSE, GcPolicy
from callcenter.settings import RuntimeSettings


class Cycle:
    def __init__(self) -> None:
        self.me = self


@pytest.fixture
async def policy() -> AsyncIterator[GcPolicy]:
    p = GcPolicy(RuntimeSettings(gc_freeze=True, gc_full_collection_seconds=3600))
    await p.start()
    try:
        yield p
    finally:
        await p.stop()


def full_pauses() -> float:
    return GC_PAUSE.labels(generation="2")._sum.get()  # type: ignore[attr-defined,no-any-return]


async def test_start_freezes_what_exists_and_stop_unfreezes(policy: GcPolicy) -> None:
    assert gc.get_freeze_count() > 0
    assert policy._on_gc in gc.callbacks
    await policy.stop()
    assert gc.get_freeze_count() == 0
    assert policy._on_gc not in gc.callbacks


async def test_full_collections_are_measured_and_their_survivors_frozen(policy: GcPolicy) -> None:
    frozen = gc.get_freeze_count()
    survivors = [Cycle() for _ in range(1000)]
    before = full_pauses()
    gc.collect()
    assert policy.take_pauses() is True  # a full one was noted by the callback
    assert full_pauses() > before
    policy.freeze_survivors()  # what the loop task does next
    assert gc.get_freeze_count() >= frozen + len(survivors)


async def test_young_garbage_is_collected_before_the_survivors_are_frozen(policy: GcPolicy) -> None:
    dead = Cycle()
    dead_alive = weakref.ref(dead)
    del dead  # cyclic garbage, still young
    live = [Cycle() for _ in range(1000)]
    frozen = gc.get_freeze_count()
    policy.freeze_survivors()
    assert dead_alive() is None  # collected, not frozen with the rest
    assert gc.get_freeze_count() >= frozen + len(live)
    assert not policy._promoted_since_freeze()
    gc.collect(1)  # moves young survivors into the oldest generation
    assert policy._promoted_since_freeze()


async def test_the_loop_freezes_what_the_collector_promoted(
    policy: GcPolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    await policy.stop()
    monkeypatch.setattr("callcenter.gc_policy.PUMP_SECONDS", 0.01)
    await policy.start()
    await asyncio.sleep(0.05)  # the loop has caught up with what start-up promoted
    frozen = gc.get_freeze_count()
    live = [Cycle() for _ in range(1000)]
    gc.collect(1)
    for _ in range(500):  # the loop runs every 10 ms; give it up to 5 s on a busy machine
        if gc.get_freeze_count() >= frozen + len(live):
            break
        await asyncio.sleep(0.01)
    assert gc.get_freeze_count() >= frozen + len(live)


async def test_a_sweep_frees_cycles_that_died_while_frozen(policy: GcPolicy) -> None:
    cycle = Cycle()
    alive = weakref.ref(cycle)
    gc.freeze()
    del cycle  # garbage now, but frozen: no collection looks at it
    gc.collect()
    assert alive() is not None
    policy.sweep()
    assert alive() is None
    assert policy.full_collections == 1 and gc.get_freeze_count() > 0  # frozen again


async def test_without_freeze_the_collector_is_left_stock() -> None:
    p = GcPolicy(RuntimeSettings(gc_freeze=False))
    await p.start()
    try:
        assert gc.get_freeze_count() == 0
    finally:
        await p.stop()


async def test_the_loop_sweeps_once_the_frozen_objects_have_grown_by_the_fraction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("callcenter.gc_policy.PUMP_SECONDS", 0.01)
    monkeypatch.setattr("callcenter.gc_policy.SWEEP_SPACING", 0.0)
    p = GcPolicy(RuntimeSettings(gc_freeze=True, gc_full_collection_seconds=3600, gc_sweep_growth=0.2))
    await p.start()
    try:
        start = gc.get_freeze_count()
        few = [Cycle() for _ in range(start // 20)]  # ~10 % more frozen objects (a Cycle and its dict)
        p.freeze_survivors()
        await asyncio.sleep(0.2)  # twenty turns of the loop
        assert p.full_collections == 0 and not p.grown()
        many = [Cycle() for _ in range(start // 5)]
        dead = weakref.ref(many[0])
        p.freeze_survivors()
        del many  # cyclic garbage, frozen: only a sweep frees it
        for _ in range(500):  # up to 5 s on a busy machine
            if p.full_collections:
                break
            await asyncio.sleep(0.01)
        assert p.full_collections == 1
        assert dead() is None
        assert not p.grown()  # measured again from the sweep
        del few
    finally:
        await p.stop()

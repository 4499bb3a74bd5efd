"""The service's ordered writer: group commit to a real database, and nothing lost while the
database is away (closed, then opened again)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from callcenter.core import events as ev
from callcenter.core.acd.agents import Agent
from callcenter.core.acd.engine import Acd, AcdConfig
from callcenter.core.acd.queues import Queue
from callcenter.service import CallCenter
from callcenter.storage.db import Database

NOW = 1_700_000_000.0


def engine() -> Acd:
    agents = [Agent(id="1001", extension="1001", queues=frozenset({"support"}))]
    return Acd(AcdConfig(), agents, {"support": Queue("support")})


async def test_a_burst_is_written_in_order_in_few_transactions(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}")
    await database.start()
    service = CallCenter(engine(), database, clock=lambda: NOW)
    await service.start()
    try:
        for n in range(300):
            iid = f"call-{n:03}"
            service.handle(ev.CallArrived(iid, "555", "", "5000", f"PJSIP/c-{n}", NOW + n))
            service.handle(ev.IvrFinished(iid, "1", "support", NOW + n + 1))
            service.handle(ev.CallerHungUp(iid, "caller hung up", NOW + n + 2))
        await asyncio.wait_for(service._writes.join(), 60)
        stored = await database.recent_interactions(500)
        assert len(stored) == 300 and all(i.outcome is not None for i in stored)
        events = await database.events_for("call-150")
        kinds = [e.kind for e in events]
        assert kinds[0] == "arrived" and kinds.index("arrived") < kinds.index("queued"), kinds
    finally:
        await service.stop()
        await database.stop()


async def test_writes_wait_out_a_database_that_is_away(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "cc.db"
    database = Database(f"sqlite+aiosqlite:///{path}")
    await database.start()
    service = CallCenter(engine(), database, clock=lambda: NOW)
    await service.start()
    try:
        await database.stop()  # the database goes away: every write fails
        service.handle(ev.CallArrived("c1", "555", "", "5000", "PJSIP/c-1", NOW))
        service.handle(ev.CallerHungUp("c1", "caller hung up", NOW + 1))
        for _ in range(100):
            if "service.write_failed" in caplog.text:
                break
            await asyncio.sleep(0.05)
        assert "service.write_failed" in caplog.text  # tried, failed, kept
        await database.start()
        await asyncio.wait_for(service._writes.join(), 30)
        found = await database.get_interaction("c1")
        assert found is not None and found.outcome is not None
        kinds = [e.kind for e in await database.events_for("c1")]
        assert kinds[0] == "arrived", kinds
    finally:
        await service.stop()
        await database.stop()


async def test_a_server_closed_as_soon_as_it_started_leaves_every_write_stored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Regression: the whole server (outbox, sessions sweep, QA store... each its own connection
    to the one SQLite file), closed right after it started with writes pending. A background loop
    cancelled halfway through its transaction used to leave a connection holding SQLite's write
    lock, so the interactions' writer gave up ("service.writes_not_flushed") and the next start
    could not migrate ("database is locked"); it happened about one close in three. Six cycles."""
    from callcenter.web.api import SERVICE
    from tests.integration.test_realtime import start_node
    from tests.integration.test_supervisor import supervisor_settings

    settings = supervisor_settings(tmp_path)
    for cycle in range(6):
        node = await start_node(settings)
        service = node.app[SERVICE]
        now = service.clock()
        for n in range(3):
            iid = f"call-{cycle}-{n}"
            service.handle(ev.CallArrived(iid, "100", "", "5000", f"PJSIP/trunk-{n}", now))
            service.handle(ev.CallerHungUp(iid, "16", now + 1))
        await node.server.close()
        assert "service.writes_not_flushed" not in caplog.text, f"cycle {cycle}"
    database = Database(settings.database.url)
    await database.start()  # fails with "database is locked" if a connection kept the lock
    try:
        stored = {i.id for i in await database.recent_interactions(100)}
        assert stored == {f"call-{c}-{n}" for c in range(6) for n in range(3)}
    finally:
        await database.stop()


async def test_stored_answers_once_the_writes_handed_over_are_committed(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}")
    await database.start()
    service = CallCenter(engine(), database, clock=lambda: NOW)
    assert await service.stored(service.enqueued)  # nothing handed over: nothing to wait for
    service.handle(ev.CallArrived("early", "555", "", "5000", "PJSIP/c-0", NOW))
    assert not await service.stored(service.enqueued)  # no writer running yet: no waiting
    await service.start()
    try:
        for n in range(50):
            service.handle(ev.CallArrived(f"c{n}", "555", "", "5000", f"PJSIP/c-{n}", NOW + n))
            assert await service.stored(service.enqueued)
            # Acknowledged: the snapshot and its event are in the database, read by another path.
            assert await database.get_interaction(f"c{n}") is not None
            assert [e.kind for e in await database.events_for(f"c{n}")] == ["arrived"]
        await database.stop()  # the database goes away: the next acknowledgement stops waiting
        service.handle(ev.CallerHungUp("c0", "caller hung up", NOW + 100))
        assert not await service.stored(service.enqueued, seconds=0.5)
        # Ended, so no longer live, and not stored: still found by id, as it ended.
        assert "c0" not in service.engine.interactions
        pending = await service.interaction("c0")
        assert pending is not None and pending.outcome is not None
        await database.start()  # back: the kept write lands, and a new wait sees it
        assert await service.stored(service.enqueued, seconds=30)
        stored = await database.get_interaction("c0")
        assert stored is not None and stored.outcome is not None
        assert await service.interaction("c0") == stored and not service._unstored  # only kept until stored
        assert await service.interaction("c1") == service.engine.interactions["c1"]
        assert await service.interaction("nobody") is None
    finally:
        await service.stop()
        await database.stop()

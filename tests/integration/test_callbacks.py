"""Scheduled callbacks against a real database (SQLite and PostgreSQL): the one service every entry
point uses files a record of the queue's callbacks campaign, refuses clearly (do-not-call, the
past, too far, outside the calling hours with the next opening), moves a number's pending
callback, and the routing owner's dialling job dials it at the chosen time, not before — or never,
once cancelled on any node."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from callcenter.core.outbound.campaign import CampaignMove
from callcenter.outbound.callbacks import CallbackRefused, Callbacks, InvalidCallback, Refusal
from callcenter.outbound.job import Dialling
from callcenter.outbound.service import Campaigns, ConfigError
from callcenter.settings.outbound import OutboundSettings
from callcenter.storage.outbound_store import OutboundStore
from tests.integration.test_outbound import Placed, _engine, _new_postgres_database

NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 12, 7, 8, 0, tzinfo=NY).timestamp()  # a Monday, 8 am in New York

CAMPAIGNS = """campaigns:
  sales-callbacks:
    mode: progressive
    queue: sales
    line: sales
    callbacks: true
    windows:
      - {days: [mon, tue, wed, thu, fri], from: "09:00", to: "20:00"}
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def outbound_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "postgresql":
        yield asyncio.run(_new_postgres_database(request.getfixturevalue("postgres_url")))
    else:
        yield f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}"


def _yes(_: str | None) -> bool:
    return True


async def test_callbacks_filed_refused_moved_cancelled_and_dialled_on_time(outbound_db: str) -> None:
    now = [NOW]
    store = OutboundStore(outbound_db)
    await store.start()
    try:
        settings = OutboundSettings()
        campaigns = Campaigns(store, settings, lambda: now[0])
        await campaigns.import_definitions(CAMPAIGNS, "c.yaml")
        with pytest.raises(ConfigError, match="already has a callbacks campaign"):
            await campaigns.import_definitions(CAMPAIGNS.replace("sales-callbacks", "other"), "d.yaml")
        service = Callbacks(store, settings, lambda: now[0])
        await campaigns.add_dnc(["+12125550199"], "internal")

        # Refusals: nothing stored, the reason said, the next opening in the customer's time.
        ten = datetime(2026, 12, 7, 10, 0)  # no zone: the customer's local time
        with pytest.raises(CallbackRefused) as refused:
            await service.file(queue="sales", number="+1 212 555 0199", when=ten, source="api", by="t")
        assert refused.value.reason == Refusal.DNC
        with pytest.raises(CallbackRefused) as refused:
            await service.file(
                queue="sales", number="2125550101", when=datetime(2026, 12, 5, 10, 0), source="api", by="t"
            )
        assert refused.value.reason == Refusal.PAST
        with pytest.raises(CallbackRefused) as refused:
            await service.file(
                queue="sales", number="2125550101", when=datetime(2026, 12, 7, 21, 0), source="api", by="t"
            )
        assert "the next opening is 2026-12-08T09:00-05:00" in str(refused.value)
        with pytest.raises(InvalidCallback, match="no callbacks campaign"):
            await service.file(queue="support", number="2125550101", when=ten, source="api", by="t")
        with pytest.raises(InvalidCallback, match="several time zones"):
            await service.file(queue="sales", number="+7 912 345 6789", when=ten, source="api", by="t")
        assert await store.records("sales-callbacks") == []

        # Filed in each customer's own time: 10:00 in New York, 09:30 Tuesday in Shanghai.
        filed = await service.file(
            queue="sales", number="(212) 555-0101", when=ten, source="agent", by="ann", note="about the bill"
        )
        assert (filed.number, filed.tz, filed.local, filed.how) == (
            "+12125550101",
            "America/New_York",
            "2026-12-07T10:00-05:00",
            "scheduled",
        )
        shanghai = await service.file(
            queue="sales",
            number="+86 10 6552 9988",
            when=datetime(2026, 12, 8, 9, 30),
            source="ivr",
            by="ivr",
        )
        assert shanghai.tz == "Asia/Shanghai" and shanghai.local == "2026-12-08T09:30+08:00"
        listed = await service.list(lines=_yes)
        assert [(r.number, r.fields["source"]) for r in listed] == [
            ("+12125550101", "agent"),
            ("+861065529988", "ivr"),
        ]

        await campaigns.move("sales-callbacks", CampaignMove.START, "t")
        placed = Placed()
        acd = _engine(2, NOW - 60)
        job = Dialling(store, settings, lambda: acd, placed, lambda: now[0])
        await job.poll()
        await job.pace()
        assert placed.calls == []  # 8 am: nothing is due

        # Moved (asked again for 11:00) and the owner follows at its next poll.
        now[0] += 60
        moved = await service.file(
            queue="sales", number="2125550101", when=datetime(2026, 12, 7, 11, 0), source="widget", by="web"
        )
        assert (moved.record_id, moved.how) == (filed.record_id, "moved")
        await job.poll()
        now[0] = datetime(2026, 12, 7, 10, 30, tzinfo=NY).timestamp()
        await job.pace()
        assert placed.calls == []  # the old time passed: not dialled
        now[0] = datetime(2026, 12, 7, 11, 0, tzinfo=NY).timestamp()
        await job.poll()
        await job.pace()
        assert [(d.number, d.attempt) for d, _ in placed.calls] == [("+12125550101", 1)]

        # Cancelled on any node: never dialled.
        cancelled = await service.cancel(shanghai.record_id, "sue", _yes)
        assert cancelled is not None and await service.cancel(shanghai.record_id, "sue", _yes) is None
        await job.poll()
        now[0] = datetime(2026, 12, 8, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
        await job.pace()
        assert [d.number for d, _ in placed.calls] == ["+12125550101"]
        kinds = [(d.kind, d.reason) for _, d in await campaigns.decisions("sales-callbacks")]
        assert kinds.count(("callback", "scheduled")) == 2
        assert ("callback", "moved") in kinds and ("callback", "cancelled") in kinds
        assert ("dial", "progressive") in kinds
    finally:
        await store.stop()

"""Scheduled callbacks against a real database (SQLite and PostgreSQL): the one service every entry
point uses files a record of the queue's callbacks campaign, refuses clearly (do-not-call, the
past, too far, outside the calling hours with the next opening), moves a number's pending
callback, and the routing owner's dialling job dials it at the chosen time, not before — or never,
once cancelled on any node."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import REGISTRY

from callcenter.app import create_app, ivr_callbacks
from callcenter.cli import main as cli
from callcenter.core.ivr import flow as ivr
from callcenter.core.omni.customers import Claim, Identity, IdentityKind
from callcenter.core.outbound.campaign import CampaignMove
from callcenter.outbound.callbacks import CallbackRefused, Callbacks, InvalidCallback, Refusal
from callcenter.outbound.job import Dialling, record_of
from callcenter.outbound.service import Campaigns, ConfigError
from callcenter.settings.outbound import OutboundSettings
from callcenter.storage.outbound_store import OutboundStore
from callcenter.web import webhooks
from callcenter.web.callbacks_api import CALLBACKS
from tests.integration.test_outbound import Placed, _as, _engine, _settings
from tests.pg import new_database

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
        yield asyncio.run(new_database(request.getfixturevalue("postgres_url"), "callbacks"))
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
        dnc = (
            REGISTRY.get_sample_value("callcenter_callbacks_total", {"source": "api", "result": "dnc"}) or 0.0
        )

        # Refusals: nothing stored, the reason said, the next opening in the customer's time.
        ten = datetime(2026, 12, 7, 10, 0)  # no zone: the customer's local time
        with pytest.raises(CallbackRefused) as refused:
            await service.file(queue="sales", number="+1 212 555 0199", when=ten, source="api", by="t")
        assert refused.value.reason == Refusal.DNC
        assert (
            REGISTRY.get_sample_value("callcenter_callbacks_total", {"source": "api", "result": "dnc"})
            == dnc + 1
        )
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


async def test_a_preview_call_clicked_as_its_callback_is_cancelled_is_not_placed_and_the_agent_is_told(
    outbound_db: str,
) -> None:
    now = [datetime(2026, 12, 7, 10, 0, tzinfo=NY).timestamp()]
    store = OutboundStore(outbound_db)
    await store.start()
    try:
        settings = OutboundSettings()
        campaigns = Campaigns(store, settings, lambda: now[0])
        await campaigns.import_definitions(CAMPAIGNS.replace("mode: progressive", "mode: preview"), "c.yaml")
        service = Callbacks(store, settings, lambda: now[0])
        due = await service.file(
            queue="sales", number="2125550101", when=datetime(2026, 12, 7, 10, 0), source="api", by="t"
        )
        await campaigns.move("sales-callbacks", CampaignMove.START, "t")
        placed, shown = Placed(), []
        job = Dialling(store, settings, lambda: _engine(1, now[0] - 60), placed, lambda: now[0])
        job.on_preview = shown.append
        await job.poll()
        await job.pace()
        assert [(c.record_id, c.agent_id) for c in shown] == [(due.record_id, "1001")]  # the card
        assert job.answer_preview("1001", "sales-callbacks", due.record_id, True)  # "Call" clicked ...
        assert await service.cancel(due.record_id, "sue", _yes) is not None  # ... as it is cancelled
        now[0] += 1
        await job.pace()  # no poll in between: the dialler decides on its old copy
        assert placed.calls == []
        told = shown[-1]
        assert (told.record_id, told.agent_id, getattr(told, "reason", None)) == (
            due.record_id,
            "1001",
            "changed_before_dial",
        )
    finally:
        await store.stop()


async def test_a_cancel_or_move_within_a_poll_of_the_dial_places_no_call(outbound_db: str) -> None:
    """The last look: the owner's dialler still has the callbacks as they were at its last poll
    when it decides to call them; one cancelled and one moved since (on any node) are found
    changed as the attempt is stored, and neither is dialled. The moved one is called at its new
    time, as a first attempt."""
    now = [NOW]
    store = OutboundStore(outbound_db)
    await store.start()
    try:
        settings = OutboundSettings()
        campaigns = Campaigns(store, settings, lambda: now[0])
        await campaigns.import_definitions(CAMPAIGNS, "c.yaml")
        service = Callbacks(store, settings, lambda: now[0])
        ten = datetime(2026, 12, 7, 10, 0)
        cancel = await service.file(queue="sales", number="2125550101", when=ten, source="api", by="t")
        move = await service.file(queue="sales", number="2125550102", when=ten, source="api", by="t")
        await campaigns.move("sales-callbacks", CampaignMove.START, "t")
        placed = Placed()
        acd = _engine(2, NOW - 60)
        job = Dialling(store, settings, lambda: acd, placed, lambda: now[0])
        await job.poll()  # the owner knows both, due at 10:00

        now[0] = datetime(2026, 12, 7, 10, 0, tzinfo=NY).timestamp()
        assert await service.cancel(cancel.record_id, "sue", _yes) is not None
        noon = datetime(2026, 12, 7, 12, 0)
        assert (
            await service.file(queue="sales", number="2125550102", when=noon, source="api", by="t")
        ).how == "moved"
        await job.pace()  # no poll since: the dialler decides on its old copies
        assert placed.calls == []
        d = job.diallers["sales-callbacks"]
        assert d.in_flight == 0
        rows = {r.id: r for r in await store.callbacks(["sales-callbacks"], pending_only=False)}
        assert (rows[cancel.record_id].done, rows[cancel.record_id].attempts) == ("cancelled", 0)
        assert (rows[move.record_id].done, rows[move.record_id].attempts) == (None, 0)
        assert rows[move.record_id].due_at == datetime(2026, 12, 7, 12, 0, tzinfo=NY).timestamp()
        decided = [(x.record_id, x.kind, x.reason) for _, x in await campaigns.decisions("sales-callbacks")]
        for rid in (cancel.record_id, move.record_id):
            assert (rid, "skip", "changed_before_dial") in decided
            assert decided.index((rid, "skip", "changed_before_dial")) > decided.index(
                (rid, "dial", "progressive")
            )

        now[0] += 1
        await job.pace()
        assert placed.calls == []  # the stored rows took over: cancelled, and due at noon
        now[0] = datetime(2026, 12, 7, 12, 0, tzinfo=NY).timestamp()
        await job.pace()
        assert [(x.number, x.attempt) for x, _ in placed.calls] == [("+12125550102", 1)]
        assert d.in_flight == 1
        assert (await store.record(move.record_id)).attempts == 1  # type: ignore[union-attr]
        # Finished elsewhere at the revision the dialler knows (an earlier owner's last write): the
        # attempt is not stored over it either, and the row comes back as it is.
        done = rows[cancel.record_id]
        stale = replace(record_of(done), attempts=1, done=None)
        found = await store.apply("sales-callbacks", [stale], [], [], {done.id})
        assert found == {done.id: done} and await store.record(done.id) == done
    finally:
        await store.stop()


API_CAMPAIGNS = """campaigns:
  sales-callbacks:
    mode: preview
    queue: sales
    line: sales
    callbacks: true
    windows:
      - {days: [mon, tue, wed, thu, fri, sat, sun], from: "00:00", to: "24:00"}
  support-callbacks:
    queue: support
    line: retention
    callbacks: true
    windows:
      - {days: [sun], from: "03:00", to: "03:30"}
"""


async def test_the_api_files_lists_and_cancels_within_business_lines(tmp_path: Path) -> None:
    async with TestClient(TestServer(create_app(_settings(tmp_path)))) as client:
        ok = await client.post("/api/campaigns", headers=_as("admin"), json={"yaml": API_CAMPAIGNS})
        assert ok.status == 200
        soon = (datetime.now(NY) + timedelta(hours=2)).replace(tzinfo=None, second=0, microsecond=0)
        body = {"queue": "sales", "number": "(212) 555-0101", "at": soon.isoformat(), "note": "invoice"}
        filed = await client.post("/api/callbacks", headers=_as("agent"), json=body)
        assert filed.status == 201, await filed.text()
        shown = await filed.json()
        assert (shown["number"], shown["timezone"], shown["how"]) == (
            "+12125550101",
            "America/New_York",
            "scheduled",
        )
        assert shown["local"].startswith(soon.isoformat(timespec="minutes"))

        # Outside the calling hours: 422, the reason, and the next opening in the customer's time.
        wednesday = soon + timedelta(days=(2 - soon.weekday()) % 7 or 7)
        outside = {
            "queue": "support",
            "number": "+1 212 555 0102",
            "at": wednesday.replace(hour=12).isoformat(),
        }
        refused = await client.post("/api/callbacks", headers=_as("admin"), json=outside)
        answer = await refused.json()
        assert refused.status == 422 and answer["reason"] == "outside_window"
        opening = datetime.fromisoformat(answer["next_opening"])
        assert (opening.weekday(), opening.hour, opening.minute) == (6, 3, 0)
        assert "the next opening is" in answer["error"]
        bad = await client.post("/api/callbacks", headers=_as("admin"), json={**body, "number": "nope"})
        assert bad.status == 400 and (await bad.json())["reason"] == "invalid"
        # Another business line's queue is not there for this supervisor.
        other = await client.post(
            "/api/callbacks", headers=_as("supervisor"), json={**outside, "at": soon.isoformat()}
        )
        assert other.status == 400

        listed = await (await client.get("/api/callbacks", headers=_as("supervisor"))).json()
        assert [(c["number"], c["source"], c["note"]) for c in listed["callbacks"]] == [
            ("+12125550101", "agent", "invoice")
        ]
        assert (await client.get("/api/callbacks", headers=_as("agent"))).status == 403
        cid = listed["callbacks"][0]["id"]
        assert (await client.post(f"/api/callbacks/{cid}/cancel", headers=_as("agent"))).status == 403
        assert (await client.post(f"/api/callbacks/{cid}/cancel", headers=_as("supervisor"))).status == 200
        assert (await client.post(f"/api/callbacks/{cid}/cancel", headers=_as("supervisor"))).status == 404
        assert (await (await client.get("/api/callbacks", headers=_as("admin"))).json())["callbacks"] == []

        # The IVR's schedule_callback step, as the voice adapter carries it out on this server.
        schedule = ivr_callbacks(client.app)
        filed_ivr = await schedule(ivr.ScheduleCallback("sales", "+12125550103", minutes=30))
        assert filed_ivr.filed and filed_ivr.local.endswith("-05:00"), filed_ivr
        await client.post("/api/dnc", headers=_as("admin"), json={"numbers": ["+12125550104"]})
        refused_ivr = await schedule(ivr.ScheduleCallback("sales", "+12125550104", day=1, at="10:00"))
        assert refused_ivr == ivr.CallbackResult(False, error="the number is on the do-not-call list")
        madrid = await schedule(ivr.ScheduleCallback("sales", "+34600111222", minutes=30))
        assert not madrid.filed and "several time zones" in madrid.error
        madrid = await schedule(
            ivr.ScheduleCallback("sales", "+34600111222", minutes=30, timezone="Europe/Madrid")
        )
        assert madrid.filed and madrid.local.endswith("+01:00"), madrid
        # Linked to the unified customer whose phone it is, and on that customer's timeline.
        book = client.app[webhooks.MESSAGING].customers
        known = Claim(Identity(IdentityKind.PHONE, "+12125550105"), strong=True)
        book.identify(known, time.time(), new_id="cust-1")
        linked = await client.post(
            "/api/callbacks", headers=_as("agent"), json={**body, "number": "+1 212 555 0105"}
        )
        assert linked.status == 201
        customer = await (await client.get("/api/customers/cust-1", headers=_as("admin"))).json()
        entries = [e for e in customer["timeline"] if e["kind"] == "callback"]
        assert [(e["number"], e["customer"], e["source"], e["at"]) for e in entries] == [
            ("+12125550105", "cust-1", "agent", (await linked.json())["due_at"])
        ]
        await client.post(f"/api/callbacks/{entries[0]['id']}/cancel", headers=_as("admin"))
        listed = await (await client.get("/api/callbacks", headers=_as("admin"))).json()
        assert [(c["number"], c["source"]) for c in listed["callbacks"]] == [
            ("+12125550103", "ivr"),
            ("+34600111222", "ivr"),
        ]


def test_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    base = ["--set", f"database.url={url}"]
    (tmp_path / "c.yaml").write_text(API_CAMPAIGNS)
    assert cli([*base, "campaign", "import", str(tmp_path / "c.yaml")]) == 0
    capsys.readouterr()
    soon = (datetime.now(NY) + timedelta(hours=3)).replace(tzinfo=None).isoformat(timespec="minutes")
    assert cli([*base, "callback", "add", "sales", "+12125550101", soon, "--note", "renewal"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("callback 1 scheduled: +12125550101 at " + soon)
    assert cli([*base, "callback", "add", "sales", "+12125550101", "2020-01-01T10:00"]) == 1
    assert "is in the past" in capsys.readouterr().err
    assert cli([*base, "callback", "list"]) == 0
    listed = capsys.readouterr().out
    assert "+12125550101" in listed and "renewal" in listed and "pending" in listed
    assert cli([*base, "callback", "cancel", "1"]) == 0
    assert cli([*base, "callback", "cancel", "1"]) == 1
    assert cli([*base, "callback", "list"]) == 0
    assert capsys.readouterr().out.count("+12125550101") == 0
    assert cli([*base, "callback", "list", "--all"]) == 0
    assert "cancelled" in capsys.readouterr().out


def campaign_with_gap(gap: int) -> str:
    """Callable every day but in the hour ``gap`` (New York time), far from now: a time there is
    refused, the next opening is ``gap + 1``:00."""
    spans = [(0, gap), (gap + 1, 24)]
    windows = "\n".join(
        f'      - {{days: [mon, tue, wed, thu, fri, sat, sun], from: "{a:02d}:00", to: "{b:02d}:00"}}'
        for a, b in spans
        if a < b
    )
    head = "campaigns:\n  sales-callbacks:\n    mode: progressive\n    queue: sales\n    callbacks: true\n"
    return f"{head}    windows:\n{windows}\n"


async def test_the_widget_files_a_callback_checked_on_the_server(tmp_path: Path) -> None:
    from callcenter.web.outbound_api import CAMPAIGNS as CAMPAIGNS_KEY
    from tests.integration.test_realtime import chat_settings, customer, start_node

    node = await start_node(chat_settings(tmp_path, widget_callback_queue="sales"))
    try:
        now = datetime.now(NY)
        gap = (now.hour + 12) % 24
        await node.app[CAMPAIGNS_KEY].import_definitions(campaign_with_gap(gap), "c.yaml")
        visitor = await customer(node.url)
        try:
            assert (await visitor.call("status", {}))["callback"] is True
            day = (now + timedelta(days=1)).date().isoformat()
            bad = await visitor.call(
                "callback", {"number": "2125550101", "date": "tomorrow", "time": "10:00"}
            )
            assert bad == {"error": "date is YYYY-MM-DD and time HH:MM"}
            outside = {"number": "2125550101", "date": day, "time": f"{gap:02d}:30"}
            refused = await visitor.call("callback", outside)
            assert refused["reason"] == "outside_window", refused
            assert refused["next_local"][11:16] == f"{(gap + 1) % 24:02d}:00"
            wrong = await visitor.call("callback", {**outside, "number": "12"})
            assert wrong["reason"] == "invalid"
            ok = {"number": "(212) 555-0101", "date": day, "time": f"{(gap + 1) % 24:02d}:15"}
            if gap == 23:
                ok["date"] = (now + timedelta(days=2)).date().isoformat()
            for n in range(3):
                filed = await visitor.call("callback", {**ok, "number": f"(212) 555-010{n + 1}"})
                assert filed["ok"] is True and filed["number"] == f"+1212555010{n + 1}", filed
            assert (await visitor.call("callback", {**ok, "number": "2125550109"}))["reason"] == "limit"
        finally:
            await visitor.close()
        stored = await node.app[CALLBACKS].store.callbacks(["sales-callbacks"])
        assert [(r.number, r.fields["source"]) for r in stored] == [
            ("+12125550101", "widget"),
            ("+12125550102", "widget"),
            ("+12125550103", "widget"),
        ]
    finally:
        await node.server.close()

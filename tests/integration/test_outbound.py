"""Outbound campaigns against a real database (SQLite and PostgreSQL): definitions, lists and the
do-not-call list stored; the routing owner's dialling job following them, with the ACD engine's
agents, writing every decision with its reason before a call is handed to the placer; the API's
roles and business lines; the command line."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callcenter.app import create_app
from callcenter.cli import main as cli
from callcenter.core import events as ev
from callcenter.core.acd.agents import Agent
from callcenter.core.acd.engine import Acd, AcdConfig
from callcenter.core.acd.queues import Queue
from callcenter.core.outbound import dialler as dl
from callcenter.core.outbound.campaign import CampaignMove, CampaignState, IllegalCampaignMove, Outcome
from callcenter.outbound.job import Dialling
from callcenter.outbound.service import Campaigns
from callcenter.settings.outbound import OutboundSettings
from callcenter.storage.outbound_store import OutboundStore
from tests.conftest import config_with, settings_from
from tests.integration.test_api import TOKENS, free_port
from tests.pg import new_database

NY = ZoneInfo("America/New_York")
NOON = datetime(2026, 12, 7, 12, 0, tzinfo=NY).timestamp()  # a Monday, noon in New York

CAMPAIGNS = """campaigns:
  renewals:
    mode: progressive
    queue: sales
    line: sales
    windows:
      - {days: [mon, tue, wed, thu, fri, sat, sun], from: "09:00", to: "21:00"}
    retries:
      busy: {delay: 600, max_attempts: 3}
  winback:
    queue: support
    line: retention
    windows:
      - {days: [mon], from: "09:00", to: "17:00"}
"""
# The do-not-call number and the Sydney one (04:00 there) come up first: both are skipped.
LIST = """number,name,plan
+1 212 555 0101,Dee,gold
+61 2 9374 4000,Syd,silver
+1 212 555 0102,Ann,gold
+1 212 555 0103,Bob,basic
+1 212 555 0104,Cat,basic
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def outbound_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "postgresql":
        yield asyncio.run(new_database(request.getfixturevalue("postgres_url"), "outbound"))
    else:
        yield f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}"


class Placed:
    """The placer port, recording: the test plays the network and reports each call's end."""

    def __init__(self) -> None:
        self.calls: list[tuple[dl.DialDecided, Callable[[dl.AttemptEnded], None]]] = []

    def place(self, decision: dl.DialDecided, ended: Callable[[dl.AttemptEnded], None]) -> None:
        self.calls.append((decision, ended))


def _engine(agents: int, at: float) -> Acd:
    acd = Acd(
        AcdConfig(),
        [
            Agent(id=f"{1001 + n}", extension=f"{1001 + n}", queues=frozenset({"sales"}))
            for n in range(agents)
        ],
        {"sales": Queue("sales")},
    )
    for n in range(agents):
        acd.handle(ev.AgentRegistered(f"{1001 + n}", at))
    return acd


async def test_a_campaign_runs_from_the_database(outbound_db: str) -> None:
    now = [NOON]
    store = OutboundStore(outbound_db)
    await store.start()
    try:
        service = Campaigns(store, OutboundSettings(), lambda: now[0])
        assert await service.import_definitions(CAMPAIGNS, "c.yaml") == (["renewals", "winback"], [])
        result = await service.import_list("renewals", LIST + "nope,Zed,\n", "leads.csv")
        assert (result.added, result.duplicates) == (5, 0)
        assert len(result.errors) == 1 and result.errors[0].startswith(
            "leads.csv:7: 'nope' is not a phone number"
        )
        again = await service.import_list("renewals", LIST, "leads.csv")
        assert (again.added, again.duplicates) == (0, 5)
        assert (await service.import_dnc("number\n(212) 555-0101\n", "dnc.csv")).added == 1
        with pytest.raises(IllegalCampaignMove):
            await service.move("renewals", CampaignMove.PAUSE, "test")
        assert await service.move("renewals", CampaignMove.START, "test") == CampaignState.RUNNING

        placed = Placed()
        acd = _engine(2, NOON - 60)
        job = Dialling(store, OutboundSettings(), lambda: acd, placed, lambda: now[0])
        await job.poll()
        assert set(job.diallers) == {"renewals"}  # the draft is not followed
        await job.pace()
        assert [(d.number, d.attempt, d.reason) for d, _ in placed.calls] == [
            ("+12125550102", 1, "progressive"),
            ("+12125550103", 1, "progressive"),
        ]
        log = [(d.kind, d.reason, d.data.get("number")) for _, d in await service.decisions("renewals")]
        assert ("skip", "dnc", "+12125550101") in log
        assert ("skip", "outside_window", "+61293744000") in log
        assert [k for k, r, _ in log if k == "dial"] == ["dial", "dial"]
        stored = {r.number: r for r in await store.records("renewals", pending_only=False)}
        assert stored["+12125550102"].attempts == 1  # written before the call was handed over
        assert stored["+12125550101"].done == "dnc"
        assert datetime.fromtimestamp(stored["+61293744000"].due_at, ZoneInfo("Australia/Sydney")).hour == 9

        # The network's verdicts: one busy (retried in 10 minutes), one connected (done).
        now[0] += 30
        placed.calls[0][1](dl.AttemptEnded(placed.calls[0][0].record_id, Outcome.BUSY, now[0]))
        placed.calls[1][1](dl.AttemptEnded(placed.calls[1][0].record_id, Outcome.CONNECTED, now[0], 8.0))
        await job.pace()
        stored = {r.number: r for r in await store.records("renewals", pending_only=False)}
        assert (stored["+12125550102"].last_outcome, stored["+12125550102"].due_at) == ("busy", now[0] + 600)
        assert stored["+12125550103"].done == "connected"
        assert placed.calls[-1][0].number == "+12125550104"  # the agents were free again
        progress = await service.progress("renewals")
        assert (progress.records, progress.dialled, progress.done.get("connected")) == (5, 3, 1)
        assert progress.ledger is not None and (progress.ledger.answered, progress.ledger.abandoned) == (1, 0)

        # Paused through any node: the owner's job follows at its next poll.
        assert await service.move("renewals", CampaignMove.PAUSE, "test") == CampaignState.PAUSED
        await job.poll()
        now[0] += 700
        calls = len(placed.calls)
        await job.pace()
        assert len(placed.calls) == calls
        # A number opted out meanwhile is never dialled, even though it was due.
        await service.add_dnc(["+12125550102"], "sms", "SMS STOP")
        await service.move("renewals", CampaignMove.START, "test")
        await job.poll()
        await job.pace()
        assert "+12125550102" not in [d.number for d, _ in placed.calls[calls:]]
    finally:
        await store.stop()


def _settings(tmp_path: Path) -> Any:
    tokens = [
        {"name": "boss", "role": "admin", "token": TOKENS["admin"]},
        {"name": "sue", "role": "supervisor", "token": TOKENS["supervisor"], "lines": ["sales"]},
        {"name": "ann", "role": "agent", "token": TOKENS["agent"], "agent_id": "1001"},
    ]
    return settings_from(
        config_with(
            asterisk={"ami_port": free_port(), "reconnect_min_delay": 5.0},
            agi={"port": free_port()},
            database={"url": f"sqlite+aiosqlite:///{tmp_path}/api.db"},
            recordings={"directory": str(tmp_path / "recordings"), "spool_dir": str(tmp_path / "spool")},
            security={"api_tokens": tokens},
        )
    )


def _as(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role]}"}


async def test_the_api_checks_roles_and_business_lines(tmp_path: Path) -> None:
    async with TestClient(TestServer(create_app(_settings(tmp_path)))) as client:
        # A supervisor of "sales" cannot import a campaign of another line: nothing is stored.
        refused = await client.post("/api/campaigns", headers=_as("supervisor"), json={"yaml": CAMPAIGNS})
        assert refused.status == 403
        assert (await (await client.get("/api/campaigns", headers=_as("admin"))).json())["campaigns"] == []
        bad = await client.post(
            "/api/campaigns", headers=_as("admin"), json={"yaml": CAMPAIGNS.replace("09:00", "9h")}
        )
        assert bad.status == 400
        assert any(
            p.startswith("campaigns.yaml:7: campaigns.renewals.windows.0.from")
            for p in (await bad.json())["problems"]
        )
        ok = await client.post("/api/campaigns", headers=_as("admin"), json={"yaml": CAMPAIGNS})
        assert (await ok.json()) == {"new": ["renewals", "winback"], "replaced": []}
        assert (await client.get("/api/campaigns", headers=_as("agent"))).status == 403

        seen = await (await client.get("/api/campaigns", headers=_as("supervisor"))).json()
        assert [c["name"] for c in seen["campaigns"]] == ["renewals"]
        assert (await client.get("/api/campaigns/winback", headers=_as("supervisor"))).status == 404
        assert (await client.post("/api/campaigns/winback/start", headers=_as("supervisor"))).status == 404

        imported = await client.post(
            "/api/campaigns/renewals/list",
            headers=_as("supervisor"),
            json={"csv": LIST, "source": "leads.csv"},
        )
        assert (await imported.json()) == {"read": 5, "added": 5, "duplicates": 0, "errors": []}
        started = await client.post("/api/campaigns/renewals/start", headers=_as("supervisor"))
        assert (await started.json()) == {"name": "renewals", "state": "running"}
        twice = await client.post("/api/campaigns/renewals/start", headers=_as("supervisor"))
        assert twice.status == 409
        assert (await client.post("/api/campaigns/renewals/dance", headers=_as("admin"))).status == 404
        shown = await (await client.get("/api/campaigns/renewals", headers=_as("supervisor"))).json()
        assert shown["state"] == "running" and shown["progress"]["records"] == 5
        log = await (await client.get("/api/campaigns/renewals/decisions", headers=_as("admin"))).json()
        assert [(d["kind"], d["reason"], d["data"]["by"]) for d in log["decisions"]] == [
            ("state", "start", "sue")
        ]
        assert (await client.post("/api/campaigns/renewals/pause", headers=_as("supervisor"))).status == 200
        newest = await client.get(
            "/api/campaigns/renewals/decisions?newest=true&limit=1", headers=_as("admin")
        )
        assert [(d["kind"], d["reason"]) for d in (await newest.json())["decisions"]] == [("state", "pause")]
        oldest = await client.get("/api/campaigns/renewals/decisions?limit=1", headers=_as("admin"))
        assert [(d["kind"], d["reason"]) for d in (await oldest.json())["decisions"]] == [("state", "start")]

        dnc = await client.post(
            "/api/dnc", headers=_as("supervisor"), json={"numbers": ["(212) 555-0199", "x"]}
        )
        body = await dnc.json()
        assert body["added"] == 1 and len(body["errors"]) == 1


def test_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    base = ["--set", f"database.url={url}"]
    (tmp_path / "c.yaml").write_text(CAMPAIGNS)
    (tmp_path / "bad.yaml").write_text(CAMPAIGNS.replace("queue: sales", "queue: ''"))
    (tmp_path / "leads.csv").write_text(LIST + "nope,Zed,\n")
    assert cli([*base, "campaign", "import", str(tmp_path / "bad.yaml")]) == 2
    assert f"{tmp_path / 'bad.yaml'}:4: campaigns.renewals.queue" in capsys.readouterr().err
    assert cli([*base, "campaign", "import", str(tmp_path / "c.yaml")]) == 0
    assert "2 new (renewals, winback)" in capsys.readouterr().out
    assert cli([*base, "campaign", "import", "--list", "renewals", str(tmp_path / "leads.csv")]) == 1
    out = capsys.readouterr()
    assert "5 added, 0 already in the campaign, 1 refused" in out.out
    assert f"{tmp_path / 'leads.csv'}:7: 'nope'" in out.err
    assert cli([*base, "campaign", "start", "renewals"]) == 0
    assert cli([*base, "campaign", "stop", "renewals"]) == 0
    assert cli([*base, "campaign", "start", "renewals"]) == 2
    assert "cannot start a campaign that is stopped" in capsys.readouterr().err
    assert cli([*base, "campaign", "list"]) == 0
    assert "renewals" in capsys.readouterr().out
    assert cli([*base, "campaign", "pause", "nosuch"]) == 2


async def test_an_sms_stop_puts_the_number_on_the_do_not_call_list(tmp_path: Path) -> None:
    """A signed Twilio SMS saying "Stop" through the real webhook: stored as a message like any
    other, and its number listed (source "sms"); a message saying more is not an opt-out."""
    from callcenter.outbound.server import STORE
    from tests.integration.test_messaging import messaging_settings, twilio_post

    async with TestClient(
        TestServer(create_app(messaging_settings(tmp_path, "http://127.0.0.1:9")))
    ) as client:
        store = client.app[STORE]
        stop = [("MessageSid", "SM1"), ("From", "+16505551234"), ("To", "+14155550199"), ("Body", " Stop. ")]
        chat = [
            ("MessageSid", "SM2"),
            ("From", "+16505559999"),
            ("To", "+14155550199"),
            ("Body", "stop by later?"),
        ]
        assert (await twilio_post(client, "/webhooks/twilio/sms", stop)).status == 200
        assert (await twilio_post(client, "/webhooks/twilio/sms", chat)).status == 200
        listed: set[str] = set()

        async def check() -> None:
            listed.update(await store.dnc())

        async with asyncio.timeout(5):
            while "+16505551234" not in listed:
                await check()
                await asyncio.sleep(0.05)
        assert listed == {"+16505551234"}

"""``GET /api/planning`` in-process against SQLite: three weeks of calls in the report tables, the
plan of the next day (forecast, Erlang, the configured roster simulated), scope and bad input; and
the ``/planning`` page in a real Chromium (Playwright, /usr/bin/chromium)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from playwright.async_api import async_playwright, expect

from callcenter.app import DATABASE, create_app
from callcenter.core import notices as nt
from callcenter.core.interaction import EndedBy, Outcome
from callcenter.reports.job import STORE
from callcenter.web.pages import ACCOUNTS
from tests.integration.test_api import TOKENS, auth, make_settings
from tests.integration.test_login_browser import CHROMIUM_FLAGS, PASSWORD
from tests.integration.test_supervisor_browser import sign_in
from tests.tools import require

MONDAY = 1_796_601_600  # 2026-12-07 00:00 UTC
QUEUES_YAML = """
queues:
  billing: {line: money, skills: {billing: 1}}
  support: {}
"""
AGENTS_YAML = """
agents:
  "1001": {queues: [billing], skills: {billing: 2}}
  "1002": {queues: [billing], skills: {billing: 2}}
"""


def history(days: int) -> list[nt.Notice]:
    rng = random.Random(5)
    out: list[nt.Notice] = []
    n = 0
    for d in range(days):
        for queue, count in (("billing", 90), ("support", 60)):
            for _ in range(count):
                n += 1
                at = MONDAY + d * 86400 + rng.uniform(9 * 3600, 12 * 3600)  # mornings only
                out += [
                    nt.Queued(f"p{n}", at, queue, "1", None, None),
                    nt.Answered(f"p{n}", at + 3, "1003"),
                    nt.Ended(f"p{n}", at + 3 + rng.uniform(120, 360), Outcome.ANSWERED, EndedBy.AGENT),
                ]
    return out


async def _app(tmp_path: Path) -> Any:
    (tmp_path / "queues.yaml").write_text(QUEUES_YAML)
    (tmp_path / "agents.yaml").write_text(AGENTS_YAML)
    security = {
        "api_tokens": [
            *(
                {"name": r, "role": r, "token": t, **({"agent_id": "1001"} if r == "agent" else {})}
                for r, t in TOKENS.items()
            ),
            {
                "name": "money-sup",
                "role": "supervisor",
                "token": "money-supervisor-0123456789",
                "lines": ["money"],
            },
        ]
    }
    acd = {"queues_file": str(tmp_path / "queues.yaml"), "agents_file": str(tmp_path / "agents.yaml")}
    return create_app(make_settings(tmp_path, acd=acd, security=security))


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(await _app(tmp_path))) as c:
        await c.app[DATABASE].write_batch(history(28))
        await c.app[STORE].catch_up(MONDAY + 28 * 86400)
        yield c


async def test_the_plan_of_the_next_day(client: TestClient[Any, Any]) -> None:
    params = {"start": "2027-01-04", "interval": "hour", "shrinkage": "0.3"}
    resp = await client.get("/api/planning", params=params, headers=auth("supervisor"))
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["start"] == "2027-01-04T00:00Z" and body["interval_seconds"] == 3600
    plans = {q["queue"]: q for q in body["queues"]}
    assert set(plans) == {"billing", "support"}
    billing, support = plans["billing"], plans["support"]
    assert billing["method"] == "holt-winters" and billing["accuracy"]["weeks"] == 2
    assert 0 <= billing["accuracy"]["daily_wape"] < 0.2
    # The roster: 1001 and 1002 serve billing (the agents file); 1003-1010 support (the default).
    assert (billing["roster"], support["roster"]) == (2, 8)
    assert len(billing["rows"]) == 24
    morning, night = support["rows"][10], support["rows"][2]
    assert morning["start"] == "2027-01-04T10:00Z" and 10 < morning["calls"] < 40
    assert night["calls"] < 1 and night["agents"] <= 1
    assert morning["agents"] >= 3 and morning["scheduled"] == -(-morning["agents"] * 10 // 7)
    assert morning["erlang_service_level"] >= 0.8
    assert morning["simulated_offered"] > 0 and morning["simulated_service_level"] is not None
    # Billing's two agents are too few for its mornings; support's eight are plenty.
    busiest = max(billing["rows"], key=lambda r: r["calls"])
    assert busiest["agents"] > 2 and busiest["simulated_service_level"] < morning["simulated_service_level"]
    # The schedule: 8-hour shifts with a 1-hour break, within the day, cover every row's agents.
    for plan in (billing, support):
        assert all(r["on_shift"] >= r["agents"] for r in plan["rows"])
        assert plan["shifts"] and all(s["start"] >= "2027-01-04T00:00Z" for s in plan["shifts"])
        for s in plan["shifts"]:
            assert s["agents"] >= 1 and s["break_start"] is not None
            assert s["start"] < s["break_start"] < s["break_end"] < s["end"] <= "2027-01-05T00:00Z"


async def test_scope_and_bad_input(client: TestClient[Any, Any]) -> None:
    money = {"Authorization": "Bearer money-supervisor-0123456789"}
    body = await (await client.get("/api/planning", params={"start": "2027-01-04"}, headers=money)).json()
    assert [q["queue"] for q in body["queues"]] == ["billing"]
    for params, word in [
        ({}, "start"),
        ({"start": "2026-13-45"}, "start"),
        ({"start": "2027-01-04", "days": "9"}, "days"),
        ({"start": "2027-01-04", "sl": "1.5"}, "sl"),
        ({"start": "2027-01-04", "shift_minutes": "50"}, "shift_minutes: 50 is not a multiple"),
    ]:
        resp = await client.get("/api/planning", params=params, headers=auth("admin"))
        assert resp.status == 400 and word in await resp.text(), (params, await resp.text())
    early = await (
        await client.get("/api/planning", params={"start": "2026-11-01"}, headers=auth("admin"))
    ).json()
    assert early["queues"] == [] and "no history" in early["note"]
    assert (
        await client.get("/api/planning", params={"start": "2027-01-04"}, headers=auth("qa"))
    ).status == 403


async def test_a_supervisor_plans_tomorrow_in_the_browser(tmp_path: Path) -> None:
    chromium = require("chromium", "chromium")
    server = TestServer(await _app(tmp_path), host="127.0.0.1")
    await server.start_server()
    try:
        app = server.app
        await app[ACCOUNTS].create("test", username="sue", password=PASSWORD, role="supervisor")
        await app[DATABASE].write_batch(history(28))
        await app[STORE].catch_up(MONDAY + 28 * 86400)
        base = str(server.make_url("")).rstrip("/")
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
            try:
                page = await browser.new_page(viewport={"width": 1400, "height": 900})
                await sign_in(page, base, "sue")
                await page.get_by_role("link", name="Planning").click()
                await expect(page).to_have_url(base + "/planning")
                await page.locator("#start").fill("2027-01-04")
                await page.locator("#queue").fill("support")
                await page.get_by_role("button", name="Plan").click()
                await expect(page.locator("#status")).to_have_text("1 queue(s) planned")
                section = page.get_by_role("region", name="Queue support: 8 agents on the roster")
                await expect(section).to_contain_text("backtest on 2 held-back week(s)")
                head = section.locator("thead")
                await expect(head).to_contain_text("Agents needed")
                await expect(head).to_contain_text("Simulated service level")
                row = section.locator("tbody tr").nth(10)
                await expect(row.locator("td").first).to_have_text("01-04 10:00")
                needed = int(await row.locator("td").nth(3).inner_text())
                assert needed >= 3
                on_shift = int(await row.locator("td").nth(5).inner_text())
                assert on_shift >= needed
                await expect(row.locator("td").nth(8)).to_contain_text("%")
                await expect(section.locator("p.shifts")).to_contain_text("(break ")
            finally:
                await browser.close()
    finally:
        await server.close()

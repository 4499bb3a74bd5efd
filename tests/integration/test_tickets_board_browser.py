"""The ticket boards page in a real Chromium (Playwright, /usr/bin/chromium), on a real server
(SQLite) whose tickets' clock is moved: a supervisor reaches it from the navigation, sees each
team's open tickets by priority, the overdue and the about-to-breach lists, filters by team with
the keyboard alone; a Chinese supervisor gets it in Chinese. Screenshots at 1024 px in both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp.test_utils import TestServer
from playwright.async_api import async_playwright, expect

from callcenter.app import create_app
from callcenter.core.tickets import workflow as wfl
from callcenter.tickets.records import Actor
from callcenter.web.pages import ACCOUNTS
from callcenter.web.tickets_api import TICKETS
from tests.integration.test_api import make_settings
from tests.integration.test_i18n_browser import VIEWPORT, new_page, shot
from tests.integration.test_i18n_browser import sign_in as sign_in_by_id
from tests.integration.test_login_browser import CHROMIUM_FLAGS, PASSWORD
from tests.tools import require
from tests.unit.tickets_fixtures import EXAMPLE

MON_10 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # Monday 10:00 in Madrid: business hours


async def test_a_supervisor_reads_the_boards_and_filters_them_by_keyboard(tmp_path: Path) -> None:
    chromium = require("chromium", "chromium")
    settings = make_settings(tmp_path, tickets={"workflow_file": str(EXAMPLE), "sla_check_seconds": 600})
    server = TestServer(create_app(settings), host="127.0.0.1")
    await server.start_server()
    try:
        app = server.app
        await app[ACCOUNTS].create("test", username="sue", password=PASSWORD, role="supervisor")
        await app[ACCOUNTS].create(
            "test", username="wang", password=PASSWORD, role="supervisor", language="zh-CN"
        )
        tickets = app[TICKETS]
        now = [MON_10]
        tickets.clock = lambda: now[0]
        gold = wfl.Draft("fault", "Router reboots every hour", {"product": "router"}, tier="gold")
        ann = Actor("ann", "agent")
        late = await tickets.create(gold, ann)  # engineering, high: first response within 1 h
        now[0] = MON_10 + timedelta(minutes=10)
        risky = await tickets.create(
            wfl.Draft("fault", "TV app freezes", {"product": "app"}, tier="gold"), ann
        )
        await tickets.create(wfl.Draft("billing", "Invoice twice", {"invoice": "F-1"}), ann)
        now[0] = MON_10 + timedelta(minutes=61)
        base = str(server.make_url("")).rstrip("/")
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
            try:
                page = await new_page(browser, "en-US")
                await sign_in_by_id(page, base, "sue")
                await page.get_by_role("link", name="Ticket boards").click()
                await expect(page).to_have_url(base + "/tickets/board")
                engineering = page.get_by_role("region", name="engineering")
                await expect(
                    engineering.get_by_role("list", name="Open tickets by priority")
                ).to_contain_text("2 open")
                overdue = engineering.get_by_role("table", name="Overdue (1)")
                await expect(overdue.locator("tbody tr")).to_have_count(1)
                await expect(overdue.locator("tbody tr td").nth(0)).to_have_text(late.id)
                await expect(overdue.locator("tbody tr td").nth(5)).to_have_text("1 min")
                at_risk = engineering.get_by_role("table", name="About to breach (1)")
                await expect(at_risk.locator("tbody tr td").nth(0)).to_have_text(risky.id)
                billing = page.get_by_role("region", name="billing")
                await expect(billing).to_contain_text("1 open")
                await expect(billing.get_by_text("None")).to_have_count(2)
                await expect(page.locator("#status")).to_contain_text("Updated")
                await shot(page, "tickets-board-1024-en.png")

                # Keyboard only: Tab to the team filter, pick "engineering" by typing.
                await page.locator("#team").focus()
                await page.keyboard.press("Shift+Tab")
                await page.keyboard.press("Tab")
                await expect(page.locator("#team")).to_be_focused()
                await page.keyboard.type("eng")
                await expect(page.locator("section.board")).to_have_count(1)
                await expect(page.locator("section.board h2")).to_have_text("engineering")
                assert await page.evaluate("document.documentElement.scrollWidth") <= VIEWPORT["width"]

                page = await new_page(browser, "en-US")
                await sign_in_by_id(page, base, "wang")
                await page.goto(base + "/tickets/board")
                await expect(page.locator("h1")).to_have_text("工单看板")
                engineering = page.get_by_role("region", name="engineering")
                await expect(engineering.get_by_role("table", name="已逾期（1）")).to_be_visible()  # noqa: RUF001
                await expect(engineering.get_by_role("table", name="即将违约（1）")).to_be_visible()  # noqa: RUF001
                await expect(page.locator("#status")).to_contain_text("更新于")
                assert await page.evaluate("document.documentElement.scrollWidth") <= VIEWPORT["width"]
                await shot(page, "tickets-board-1024-zh-CN.png")
            finally:
                await browser.close()
    finally:
        await server.close()

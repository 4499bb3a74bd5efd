"""Schedules in a real Chromium (Playwright, /usr/bin/chromium) at 1024 px, in English and in
Chinese: a supervisor reads the schedule-adherence report on /reports, an agent sees its own shifts
on the agent panel. Screenshots go to docs/screenshots/ (*-1024-en.png, *-1024-zh-CN.png)."""

from __future__ import annotations

import time
from pathlib import Path

from aiohttp.test_utils import TestServer
from playwright.async_api import Page, async_playwright, expect

from callcenter.app import DATABASE, create_app
from callcenter.core import notices as nt
from callcenter.core.reports.adherence import Shift
from callcenter.core.reports.intervals import QUARTER
from callcenter.reports.job import SCHEDULE_STORE, STORE
from callcenter.web.pages import ACCOUNTS
from tests.integration.test_login_browser import CHROMIUM_FLAGS, PASSWORD
from tests.integration.test_supervisor import supervisor_settings
from tests.tools import require

SHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
VIEWPORT = {"width": 1024, "height": 800}


async def _sign_in(page: Page, base: str, username: str) -> None:
    await page.goto(base + "/login")
    await page.locator("#username").fill(username)
    await page.locator("#password").fill(PASSWORD)
    await page.locator("button[type=submit]").click()


async def _fits(page: Page) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1024, f"the page is {width} px wide at 1024"


async def test_adherence_report_and_the_agents_own_schedule_in_english_and_chinese(tmp_path: Path) -> None:
    chromium = require("chromium", "chromium")
    server = TestServer(create_app(supervisor_settings(tmp_path)), host="127.0.0.1")
    await server.start_server()
    try:
        app = server.app
        accounts = app[ACCOUNTS]
        await accounts.create("test", username="sue", password=PASSWORD, role="supervisor", language="en")
        await accounts.create("test", username="wang", password=PASSWORD, role="supervisor", language="zh-CN")
        await accounts.create(
            "test", username="li", password=PASSWORD, role="agent", agent_id="1001", language="zh-CN"
        )
        now = time.time()
        day = int(now // 86400) * 86400
        # Two ended hours of one day (today's, or yesterday's last two in the day's first two
        # hours: the report by day must find both on its first row): 1001 scheduled for both,
        # available for the first, logged out for the second: 50 % adherence.
        end = int(now // QUARTER) * QUARTER - QUARTER
        if end - 2 * 3600 < day:
            end = day
        start = end - 2 * 3600
        await app[DATABASE].write_batch(
            [
                nt.AgentStateLogged("agent:1001", start - 60, "1001", "available", ""),
                nt.AgentStateLogged("agent:1001", start + 3600, "1001", "logged_out", ""),
            ]
        )
        await app[STORE].catch_up(now)
        tomorrow = day + 86400
        await app[SCHEDULE_STORE].replace(
            start - start % 86400,
            tomorrow + 86400,
            [
                Shift(start, end, agent="1001"),
                Shift(
                    tomorrow + 8 * 3600,
                    tomorrow + 16 * 3600,
                    tomorrow + 12 * 3600,
                    tomorrow + 13 * 3600,
                    "1001",
                ),
            ],
            "test",
        )
        first = time.strftime("%Y-%m-%d", time.gmtime(start))
        base = str(server.make_url("")).rstrip("/")
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
            try:
                for user, language, heading in (("sue", "en", "Adherence"), ("wang", "zh-CN", "遵守率")):
                    context = await browser.new_context(viewport=VIEWPORT, timezone_id="UTC")
                    page = await context.new_page()
                    await _sign_in(page, base, user)
                    await page.goto(base + "/reports")
                    await page.locator("#report").select_option("adherence")
                    await expect(page.locator("#by")).to_be_disabled()
                    await page.locator("#from").fill(first)
                    await page.locator("#interval").select_option("day")
                    await page.locator("#filters button[type=submit]").click()
                    table = page.locator("#table")
                    await expect(table.locator("thead")).to_contain_text(heading)
                    cells = table.locator("tbody tr").first.locator("td")
                    await expect(cells.nth(1)).to_have_text("1001")
                    await expect(cells.nth(2)).to_have_text("120")  # minutes scheduled
                    await expect(cells.nth(5)).to_have_text("60")  # out of adherence
                    await expect(cells.nth(6)).to_have_text("50%")
                    await expect(
                        page.locator("#chart svg.chart path.ratio, #chart svg.chart circle.dot")
                    ).not_to_have_count(0)
                    await _fits(page)
                    await page.screenshot(
                        path=str(SHOTS / f"reports-adherence-1024-{language}.png"), full_page=True
                    )
                    await context.close()
                context = await browser.new_context(viewport=VIEWPORT, timezone_id="UTC")
                page = await context.new_page()
                await _sign_in(page, base, "li")
                await page.goto(base + "/agent")
                section = page.locator("section.my-schedule")
                await expect(section.locator("h2")).to_have_text("我的排班")
                # Today's shift (unless it began yesterday) and tomorrow's, with its break.
                await expect(section.locator("li").last).to_contain_text("08:00–16:00，休息 12:00–13:00")  # noqa: RUF001 (the page's own dash and comma)
                await _fits(page)
                await section.scroll_into_view_if_needed()
                await page.screenshot(path=str(SHOTS / "agent-schedule-1024-zh-CN.png"))
                await context.close()
            finally:
                await browser.close()
    finally:
        await server.close()

"""Scheduled callbacks and the supervisor's campaigns in a real Chromium at 1024 px (English and
Chinese): an agent schedules a callback from the panel with the keyboard, is refused outside the
calling hours with the next opening in the customer's time, takes it, and the callback is stored;
the supervisor console shows the callbacks campaign's live progress (pending, due now) read from
the database, and updates when a callback is filed meanwhile."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestServer
from playwright.async_api import async_playwright, expect

from callcenter.app import create_app
from callcenter.web.callbacks_api import CALLBACKS
from callcenter.web.outbound_api import CAMPAIGNS
from callcenter.web.pages import ACCOUNTS
from tests.integration.test_campaign_panel_browser import fits
from tests.integration.test_campaign_panel_browser import sign_in as agent_sign_in
from tests.integration.test_login_browser import CHROMIUM_FLAGS, PASSWORD, SCREENSHOTS
from tests.integration.test_supervisor import supervisor_settings
from tests.integration.test_supervisor_browser import sign_in
from tests.tools import require

VIEWPORT = {"width": 1024, "height": 768}
NY = ZoneInfo("America/New_York")


def _campaign(gap: int) -> str:
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


async def test_an_agent_schedules_a_callback_and_the_supervisor_sees_it(tmp_path: Path) -> None:
    chromium = require("chromium", "chromium")
    server = TestServer(create_app(supervisor_settings(tmp_path)), host="127.0.0.1")
    await server.start_server()
    try:
        accounts = server.app[ACCOUNTS]
        await accounts.create("test", username="ana", password=PASSWORD, role="agent", agent_id="1001")
        await accounts.create("test", username="sue", password=PASSWORD, role="supervisor")
        await accounts.create(
            "test", username="li", password=PASSWORD, role="agent", agent_id="1002", language="zh-CN"
        )
        await accounts.create("test", username="wang", password=PASSWORD, role="supervisor", language="zh-CN")
        now = datetime.now(NY)
        gap = (now.hour + 12) % 24
        await server.app[CAMPAIGNS].import_definitions(_campaign(gap), "c.yaml")
        day = (now + timedelta(days=1)).date()
        base = str(server.make_url("")).rstrip("/")
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
            try:
                page = await browser.new_page(viewport=VIEWPORT)
                errors: list[str] = []
                page.on("pageerror", lambda err: errors.append(str(err)))
                await agent_sign_in(page, base, "ana")
                await page.keyboard.press("Alt+Shift+K")  # the form, the number focused
                await expect(page.locator("#callback-number")).to_be_focused()
                await page.keyboard.type("(212) 555-0101")
                await page.locator("#callback-queue").select_option("sales")
                await page.locator("#callback-date").fill(day.isoformat())
                await page.locator("#callback-time").fill(f"{gap:02d}:30")
                await page.locator("#callback-note").focus()
                await page.keyboard.type("about the invoice")
                await page.keyboard.press("Enter")  # submits the form
                result = page.locator("#callback-result")
                opening = f"{day.isoformat()} {(gap + 1) % 24:02d}:00"
                if gap == 23:  # the next opening is the day after at midnight
                    opening = f"{(day + timedelta(days=1)).isoformat()} 00:00"
                await expect(result).to_contain_text("Refused: outside the calling hours.")
                await expect(result).to_contain_text(f"The next opening is {opening}")
                await page.get_by_role("button", name="Use the next opening").click()
                await expect(page.get_by_role("button", name="Schedule", exact=True)).to_be_focused()
                await page.keyboard.press("Enter")
                await expect(result).to_contain_text(f"Callback scheduled: +12125550101 at {opening}")
                await fits(page)
                await page.locator("#callback-title").scroll_into_view_if_needed()
                await page.screenshot(path=str(SCREENSHOTS / "agent-callback-1024-en.png"))
                stored = await server.app[CALLBACKS].store.callbacks(["sales-callbacks"])
                assert [(r.number, r.fields["source"], r.fields["note"]) for r in stored] == [
                    ("+12125550101", "agent", "about the invoice")
                ]

                boss = await browser.new_page(viewport=VIEWPORT)
                boss.on("pageerror", lambda err: errors.append(str(err)))
                await sign_in(boss, base, "sue")
                await boss.goto(base + "/supervisor")
                row = boss.locator('#campaign-progress tr[data-campaign="sales-callbacks"]')
                await expect(row).to_contain_text("callbacks")
                await expect(row.locator("td").nth(5)).to_have_text("0")  # due now
                await expect(row.locator("td").nth(6)).to_have_text("1")  # pending
                # Filed meanwhile through any node (here: the service), due now: the view follows.
                await server.app[CALLBACKS].file(
                    queue="sales", number="+12125550102", when=datetime.now(NY), source="api", by="test"
                )
                await expect(row.locator("td").nth(5)).to_have_text("1", timeout=15_000)
                await expect(row.locator("td").nth(6)).to_have_text("2")
                await fits(boss)
                await boss.locator("#campaigns-title").scroll_into_view_if_needed()
                await boss.screenshot(path=str(SCREENSHOTS / "supervisor-campaigns-1024-en.png"))

                chinese = await browser.new_page(viewport=VIEWPORT)
                await agent_sign_in(chinese, base, "li")
                await expect(chinese.get_by_role("heading", name="预约回拨")).to_be_visible()
                await fits(chinese)
                await chinese.locator("#callback-title").scroll_into_view_if_needed()
                await chinese.screenshot(path=str(SCREENSHOTS / "agent-callback-1024-zh-CN.png"))
                wang = await browser.new_page(viewport=VIEWPORT)
                await sign_in(wang, base, "wang")
                await wang.goto(base + "/supervisor")
                await expect(
                    wang.locator('#campaign-progress tr[data-campaign="sales-callbacks"]')
                ).to_contain_text("回拨")
                await fits(wang)
                await wang.locator("#campaigns-title").scroll_into_view_if_needed()
                await wang.screenshot(path=str(SCREENSHOTS / "supervisor-campaigns-1024-zh-CN.png"))
                assert errors == []
            finally:
                await browser.close()
    finally:
        await server.close()

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
from tests.integration.test_callbacks import campaign_with_gap
from tests.integration.test_campaign_panel_browser import fits
from tests.integration.test_campaign_panel_browser import sign_in as agent_sign_in
from tests.integration.test_login_browser import CHROMIUM_FLAGS, PASSWORD, SCREENSHOTS
from tests.integration.test_supervisor import supervisor_settings
from tests.integration.test_supervisor_browser import sign_in
from tests.tools import require

VIEWPORT = {"width": 1024, "height": 768}
NY = ZoneInfo("America/New_York")


async def test_an_agent_schedules_a_callback_and_the_supervisor_sees_it(tmp_path: Path) -> None:
    chromium = require("chromium", "chromium")
    settings = supervisor_settings(tmp_path)
    realtime = settings.realtime.model_copy(update={"widget_callback_queue": "sales"})
    settings = settings.model_copy(update={"realtime": realtime})
    server = TestServer(create_app(settings), host="127.0.0.1")
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
        await server.app[CAMPAIGNS].import_definitions(campaign_with_gap(gap), "c.yaml")
        day = (now + timedelta(days=1)).date()
        base = str(server.make_url("")).rstrip("/")
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
            try:
                page = await browser.new_page(viewport=VIEWPORT)
                errors: list[str] = []
                page.on("pageerror", lambda err: errors.append(str(err)))
                await agent_sign_in(page, base, "ana")
                # Only queues with a callbacks campaign are offered (billing has none).
                await expect(page.locator("#callback-queue option")).to_have_count(1)
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

                # The web widget: a visitor with no agent online asks to be called back.
                site = await browser.new_page(viewport=VIEWPORT)
                site.on("pageerror", lambda err: errors.append(str(err)))
                await site.goto(base + "/chat-demo?language=en")
                await site.get_by_role("button", name="Chat with us").click()
                await site.get_by_role("button", name="Rather be called back?").click()
                ask = site.get_by_role("form", name="Ask to be called back")
                await expect(ask.get_by_label("Your phone number")).to_be_focused()
                await site.keyboard.type("+1 212 555 0103")
                await ask.get_by_label("Day").fill(day.isoformat())
                await ask.get_by_label("Time").fill(f"{gap:02d}:30")
                await ask.get_by_role("button", name="Call me back").click()
                said = site.locator(".cc-status")
                await expect(said).to_contain_text(f"The next possible time is {opening}")
                await site.screenshot(path=str(SCREENSHOTS / "widget-callback-1024-en.png"))
                await ask.get_by_role("button", name="Call me back").click()  # the form took it
                await expect(said).to_have_text(f"Thank you: we will call +12125550103 on {opening}.")
                zh_site = await browser.new_page(viewport=VIEWPORT)
                await zh_site.goto(base + "/chat-demo?language=zh-CN")
                await zh_site.locator(".cc-launch").click()
                await zh_site.get_by_role("button", name="希望我们给您回电").click()
                await expect(zh_site.get_by_role("form", name="预约回电")).to_be_visible()
                await zh_site.screenshot(path=str(SCREENSHOTS / "widget-callback-1024-zh-CN.png"))
                stored = await server.app[CALLBACKS].store.callbacks(["sales-callbacks"])
                assert ("+12125550103", "widget") in [(r.number, r.fields["source"]) for r in stored]
                assert errors == []
            finally:
                await browser.close()
    finally:
        await server.close()

"""The campaigns page in a real Chromium at 1024 px, keyboard first: a supervisor imports a
definitions file with a mistake (refused with file:line, nothing imported), then a good one, starts
the campaign, imports a call list from a CSV file (good rows added, the bad one refused with its
line), reads the dialler's decisions, pauses and stops it; a supervisor of another business line
does not see it; the page in Chinese."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestServer
from playwright.async_api import async_playwright, expect

from callcenter.app import create_app
from callcenter.web.pages import ACCOUNTS
from tests.integration.test_login_browser import CHROMIUM_FLAGS, PASSWORD, SCREENSHOTS
from tests.integration.test_supervisor import supervisor_settings
from tests.integration.test_supervisor_browser import sign_in
from tests.tools import require

VIEWPORT = {"width": 1024, "height": 768}
BROKEN = """campaigns:
  renewals:
    mode: progressive
    queue: sales
    line: sales
    windows:
      - {days: [mon, funday], from: "09:00", to: "21:00"}
"""
GOOD = """campaigns:
  renewals:
    mode: progressive
    queue: sales
    line: sales
    windows:
      - {days: [mon, tue, wed, thu, fri, sat, sun], from: "00:00", to: "23:59"}
"""
LIST = b"""number,name
+1 212 555 0101,Ann
+1 212 555 0102,Bob
not a number,Zed
"""


async def test_a_supervisor_runs_a_campaign_from_the_page(tmp_path: Path) -> None:
    chromium = require("chromium", "chromium")
    server = TestServer(create_app(supervisor_settings(tmp_path)), host="127.0.0.1")
    await server.start_server()
    try:
        accounts = server.app[ACCOUNTS]
        await accounts.create("test", username="sue", password=PASSWORD, role="supervisor")
        await accounts.create("test", username="bea", password=PASSWORD, role="supervisor", lines=["billing"])
        await accounts.create("test", username="wang", password=PASSWORD, role="supervisor", language="zh-CN")
        base = str(server.make_url("")).rstrip("/")
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
            try:
                page = await browser.new_page(viewport=VIEWPORT)
                page.on("dialog", lambda dialog: dialog.accept())  # "Stop campaign renewals for good?"
                await sign_in(page, base, "sue")
                await (
                    page.get_by_role("navigation", name="Main").get_by_role("link", name="Campaigns").click()
                )
                await expect(page).to_have_url(base + "/campaigns")
                await expect(page.locator("#empty")).to_be_visible()

                # A file with a mistake changes nothing and says where.
                await page.get_by_label("Campaigns file", exact=False).fill(BROKEN)
                await page.get_by_label("Campaigns file", exact=False).press("Tab")
                await page.keyboard.press("Enter")  # the Import button
                await expect(page.locator("#problems li").first).to_contain_text("campaigns.yaml:7:")
                await expect(page.locator("#empty")).to_be_visible()

                await page.get_by_label("Campaigns file", exact=False).fill(GOOD)
                await page.get_by_role("button", name="Import", exact=True).click()
                await expect(page.locator("#status")).to_have_text("Imported: renewals new, none replaced.")
                await expect(page.locator("#problems li")).to_have_count(0)
                row = page.locator("#campaigns tbody tr")
                await expect(row).to_have_count(1)
                await expect(row.locator("td").nth(3)).to_have_text("draft")
                await expect(page.get_by_role("button", name="Pause calling renewals")).to_be_disabled()

                start = page.get_by_role("button", name="Start renewals")
                await start.focus()
                await page.keyboard.press("Enter")
                await expect(page.locator("#status")).to_have_text("Campaign renewals is running.")
                await expect(row.locator("td").nth(3)).to_have_text("running")
                await expect(start).to_be_disabled()

                # Its detail: the list from a CSV file, then the decisions.
                await page.get_by_role("button", name="Details of renewals").click()
                await expect(page.locator("#detail-title")).to_be_focused()
                await page.locator("#list-file").set_input_files(
                    files=[{"name": "leads.csv", "mimeType": "text/csv", "buffer": LIST}]
                )
                await page.get_by_role("button", name="Import list").click()
                result = page.locator("#list-result")
                await expect(result).to_contain_text("2 added, 0 already in the campaign, 1 refused.")
                await expect(result.locator("li")).to_contain_text(
                    ["leads.csv:4: 'not a number' is not a phone"]
                )
                await expect(row.locator("td").nth(4)).to_have_text("2")  # records
                # Its start is among the decisions (newest first: pacing's may come after it).
                started = page.locator("#decisions tbody tr").filter(has_text="state")
                await expect(started.first).to_be_visible()
                await page.screenshot(path=str(SCREENSHOTS / "campaigns-1024-en.png"), full_page=True)

                # Refreshed in place: a focused button keeps its focus across refreshes.
                pause = page.get_by_role("button", name="Pause calling renewals")
                await pause.focus()
                # The periodic refresh updates the table, then asks for the open campaign's decisions.
                async with page.expect_request(lambda r: "/decisions?newest=true" in r.url, timeout=15_000):
                    pass
                await expect(pause).to_be_focused()
                await page.keyboard.press("Enter")
                await expect(row.locator("td").nth(3)).to_have_text("paused")
                await page.get_by_role("button", name="Stop renewals").click()
                await expect(row.locator("td").nth(3)).to_have_text("stopped")
                for action in ("Start", "Pause calling", "Stop"):
                    await expect(page.get_by_role("button", name=f"{action} renewals")).to_be_disabled()

                # Another line's supervisor does not see it; the page in Chinese.
                other = await browser.new_page(viewport=VIEWPORT)
                await sign_in(other, base, "bea")
                await other.goto(base + "/campaigns")
                await expect(other.locator("#empty")).to_be_visible()
                await expect(other.locator("#campaigns tbody tr")).to_have_count(0)
                chinese = await browser.new_page(viewport=VIEWPORT)
                await sign_in(chinese, base, "wang")
                await chinese.goto(base + "/campaigns")
                await expect(chinese.get_by_role("heading", name="外呼活动", exact=True)).to_be_visible()
                await expect(chinese.locator("#campaigns tbody tr td").nth(3)).to_have_text("已停止")
                await chinese.screenshot(path=str(SCREENSHOTS / "campaigns-1024-zh-CN.png"), full_page=True)
            finally:
                await browser.close()
    finally:
        await server.close()

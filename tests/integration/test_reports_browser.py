"""The reports page in a real Chromium (Playwright, /usr/bin/chromium): a supervisor picks the
period and interval, sees the chart and the table of the stored figures, switches to agents and
exports CSV, then reads first-contact resolution across channels, the conversations' figures and
customer satisfaction (CSAT and NPS of the surveys)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path

from aiohttp.test_utils import TestServer
from playwright.async_api import async_playwright, expect

from callcenter.app import DATABASE, SURVEYS, create_app
from callcenter.core import notices as nt
from callcenter.core.interaction import Channel, EndedBy, Interaction, Outcome
from callcenter.core.surveys.model import Question, Response, Source
from callcenter.reports.job import STORE
from callcenter.web.pages import ACCOUNTS
from tests.integration.test_login_browser import CHROMIUM_FLAGS, PASSWORD
from tests.integration.test_supervisor import supervisor_settings
from tests.integration.test_supervisor_browser import sign_in
from tests.tools import require


async def test_a_supervisor_reads_the_days_report(tmp_path: Path) -> None:
    chromium = require("chromium", "chromium")
    server = TestServer(create_app(supervisor_settings(tmp_path)), host="127.0.0.1")
    await server.start_server()
    try:
        app = server.app
        await app[ACCOUNTS].create("test", username="sue", password=PASSWORD, role="supervisor")
        now = time.time()
        day = int(now // 86400) * 86400
        at = max(day + 60, now - 3 * 3600)  # earlier today
        await app[DATABASE].write_batch(
            [
                nt.Queued("r1", at, "sales", "2", None, None),
                nt.Answered("r1", at + 4, "1001"),
                nt.Ended("r1", at + 64, Outcome.ANSWERED, EndedBy.AGENT),
                nt.Queued("r2", at + 30, "sales", "2", None, None),
                nt.Ended("r2", at + 60, Outcome.ABANDONED, EndedBy.CALLER),
                nt.AgentStateLogged("agent:1001", at - 600, "1001", "available", ""),
            ]
        )
        db = app[DATABASE]
        # The caller of r1 writes in on web chat an hour later: a repeat on another channel.
        await db.save_interaction(
            Interaction("r1", Channel.VOICE, "2", at, queue="sales", agent_id="1001", answered_at=at + 4,
                        ended_at=at + 64, outcome=Outcome.ANSWERED, customer_id="cust-1")
        )  # fmt: skip
        chat = Interaction("r3", Channel.WEBCHAT, "", min(at + 3600, now - 1), queue="sales")
        await db.save_interaction(replace(chat, customer_id="cust-1", conversation_id="conv-r3"))
        await app[STORE].catch_up(now)
        surveys = app[SURVEYS].store
        for n, (question, score) in enumerate([(Question.CSAT, 5), (Question.CSAT, 2), (Question.NPS, 9)]):
            asked = Response(
                f"s{n}", f"r{n + 1}", "calls", question, Source.IVR, "voice", at + n, "1001", "sales"
            )
            low = 2 if question is Question.CSAT else 6
            await surveys.ask(asked, low)
            await surveys.answer(asked.answered(score, at + 100, low))
        base = str(server.make_url("")).rstrip("/")
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
            try:
                page = await browser.new_page(viewport={"width": 1400, "height": 900})
                await sign_in(page, base, "sue")
                await page.get_by_role("link", name="Reports").click()
                await expect(page).to_have_url(base + "/reports")
                await page.locator("#interval").select_option("day")
                await page.get_by_role("button", name="Show").click()
                await expect(page.locator("#status")).to_have_text("1 rows")
                table = page.locator("#table")
                await expect(table.locator("thead")).to_contain_text("Service level")
                cells = table.locator("tbody tr").first.locator("td")
                await expect(cells.nth(1)).to_have_text("sales")
                await expect(cells.nth(2)).to_have_text("2")  # offered
                await expect(cells.nth(5)).to_have_text("50%")  # 1 in time / (1 + 1 abandoned)
                await expect(page.locator("#chart svg.chart rect.bar")).to_have_count(1)
                href = await page.locator("#csv").get_attribute("href")
                assert href is not None and "format=csv" in href and "interval=day" in href
                # The agents' report of the same day.
                await page.locator("#report").select_option("agents")
                await page.get_by_role("button", name="Show").click()
                await expect(table.locator("tbody tr").first.locator("td").nth(1)).to_have_text("1001")
                await expect(table.locator("thead")).to_contain_text("Handled: voice")
                async with page.expect_download() as info:
                    await page.locator("#csv").click()
                download = await info.value
                text = await asyncio.to_thread(Path(await download.path()).read_text)
                assert text.startswith("start,agent,logged_in") and ",1001," in text
                # First-contact resolution: the call was not the customer's last contact. Keyboard only.
                await expect(page.locator("#days-field")).to_be_hidden()
                await page.locator("#report").focus()
                await page.keyboard.press("End")  # the last report: first-contact resolution
                await expect(page.locator("#days-field")).to_be_visible()
                await page.locator("#days").fill("1")
                await page.locator("#days").press("Enter")
                row = table.locator("tbody tr").first.locator("td")
                await expect(table.locator("thead")).to_contain_text("Repeated on another channel")
                await expect(row.nth(1)).to_have_text("sales")
                await expect(row.nth(2)).to_have_text("1")  # handled
                await expect(row.nth(4)).to_have_text("1")  # repeated
                await expect(row.nth(5)).to_have_text("1")  # on another channel
                await expect(row.nth(7)).to_have_text("0%")
                href = await page.locator("#csv").get_attribute("href")
                assert href is not None and "/api/reports/fcr?" in href and "days=1" in href
                # Conversations: the chat, not answered yet.
                await page.locator("#report").select_option("conversations")
                await expect(page.locator("#days-field")).to_be_hidden()
                await page.get_by_role("button", name="Show").click()
                await expect(table.locator("thead")).to_contain_text("Avg first response (s)")
                row = table.locator("tbody tr").first.locator("td")
                await expect(row.nth(2)).to_have_text("1")  # conversations
                await expect(row.nth(3)).to_have_text("0")  # answered
                # Customer satisfaction: one CSAT of two satisfied, one NPS promoter, one low score.
                await page.locator("#report").select_option("surveys")
                await page.locator("#by").select_option("agent")
                await page.get_by_role("button", name="Show").click()
                await expect(table.locator("thead")).to_contain_text("Promoters (9-10)")
                row = table.locator("tbody tr").first.locator("td")
                await expect(row.nth(1)).to_have_text("1001")
                await expect(row.nth(2)).to_have_text("3")  # asked
                await expect(row.nth(7)).to_have_text("50%")  # CSAT
                await expect(row.nth(13)).to_have_text("100")  # NPS
                await expect(row.nth(14)).to_have_text("1")  # low
                await page.set_viewport_size({"width": 1024, "height": 900})
                await page.screenshot(path=str(tmp_path / "reports-surveys.png"), full_page=True)
            finally:
                await browser.close()
    finally:
        await server.close()

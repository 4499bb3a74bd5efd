"""The supervisor console and the admin pages in a real Chromium (Playwright, /usr/bin/chromium):
a supervisor sees the wallboard follow an agent's state and a waiting chat; an admin edits a queue
with a bad value (sees the file:line error), then a good one; the IVR editor validates a flow."""

from __future__ import annotations

import shutil
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer
from playwright.async_api import Page, async_playwright, expect

from callcenter.app import create_app
from callcenter.core import events as ev
from callcenter.web.api import SERVICE
from callcenter.web.pages import ACCOUNTS
from tests.integration.test_login_browser import CHROMIUM_FLAGS, PASSWORD, SCREENSHOTS
from tests.integration.test_supervisor import AGENT, supervisor_settings
from tests.tools import require

EXAMPLES = Path(__file__).parents[2] / "ivr_flows"


async def sign_in(page: Page, base: str, username: str) -> None:
    await page.goto(base + "/login")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()


async def test_supervisor_wallboard_and_admin_edits(tmp_path: Path) -> None:
    chromium = require("chromium", "chromium")
    flows = tmp_path / "flows"
    shutil.copytree(EXAMPLES, flows)
    ivr = {
        "flows_dir": str(flows),
        "prompts_dir": str(tmp_path / "prompts"),
        "render_prompts": False,
        "check_audio": False,
    }
    server = TestServer(create_app(supervisor_settings(tmp_path, ivr=ivr)), host="127.0.0.1")
    await server.start_server()
    try:
        app = server.app
        accounts = app[ACCOUNTS]
        await accounts.create("test", username="sue", password=PASSWORD, role="supervisor")
        await accounts.create("test", username="root", password=PASSWORD, role="admin")
        base = str(server.make_url("")).rstrip("/")
        service = app[SERVICE]
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
            try:
                page = await browser.new_page(viewport={"width": 1400, "height": 900})
                await sign_in(page, base, "sue")
                await expect(page).to_have_url(base + "/supervisor")
                await expect(page.locator("#connection")).to_have_text("Live")
                row = page.locator('#agents tr[data-agent="1001"]')
                await expect(row.locator(".state")).to_have_text("logged out")

                # The agent signs in on its own (its token): the board follows without a reload.
                async with aiohttp.ClientSession() as s:
                    async with s.post(
                        server.make_url("/api/agents/1001/login"),
                        headers={"Authorization": f"Bearer {AGENT}"},
                    ) as resp:
                        assert resp.status == 200
                await expect(row.locator(".state")).to_have_text("available")
                await expect(page.locator('#queues tr[data-queue="sales"] .states')).to_contain_text(
                    "available 1"
                )

                # A chat waits in billing, where nobody is signed in.
                service.handle(
                    ev.ConversationArrived(
                        "chat-b", "webchat", "cust-b", "conv-b", "billing", service.clock()
                    )
                )
                await expect(page.locator('#queues tr[data-queue="billing"] td.waiting-count')).to_have_text(
                    "1"
                )
                await expect(page.locator('#queues tr[data-queue="billing"] svg.chart')).to_be_visible()
                # 1001 takes a sales chat: it shows as the agent's current work.
                service.handle(
                    ev.ConversationArrived("chat-s", "webchat", "cust-s", "conv-s", "sales", service.clock())
                )
                service.handle(ev.OfferAccepted("chat-s", "1001", service.clock()))
                await expect(row).to_contain_text("webchat")
                # Three sales callers hang up after waiting past the threshold: the service level
                # drops below the target (1 of 4 in time, with the chat), and the banner says so.
                now = service.clock()
                for n in range(3):
                    service.handle(
                        ev.CallArrived(f"call-{n}", "100", "", "5000", f"PJSIP/trunk-{n}", now - 100)
                    )
                    service.handle(ev.IvrFinished(f"call-{n}", "1", "sales", now - 95 + n * 10))
                    service.handle(ev.CallerHungUp(f"call-{n}", "16", now))
                await expect(page.get_by_role("alert").first).to_contain_text(
                    "Queue sales: service level 25 % is below"
                )
                await expect(page.locator('#queues tr[data-queue="sales"] svg.chart circle')).to_have_count(1)
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(SCREENSHOTS / "supervisor.png"), full_page=True)

                # Force a state from the console: Pause on 1001.
                await row.get_by_role("button", name="Pause Sam Sales").click()
                await expect(row.locator(".state")).to_contain_text("paused")

                # Reassign Sam's chat to the billing queue: it leaves Sam and waits there.
                await row.get_by_label("Reassign webchat of Sam Sales to").select_option("queue:billing")
                await row.get_by_role("button", name="Reassign").click()
                await expect(page.locator("#action-result")).to_have_text("Reassigned to billing")
                billing_waiting = page.locator('#queues tr[data-queue="billing"] td.waiting-count')
                await expect(billing_waiting).to_have_text("2")
                await expect(row).not_to_contain_text("webchat")
                assert service.engine.interactions["chat-s"].queue == "billing"

                await page.get_by_role("button", name="Sign out").click()
                await sign_in(page, base, "root")
                await page.goto(base + "/admin/queues")
                editor = page.get_by_role("textbox", name="YAML", exact=True)
                await expect(editor).not_to_have_value("")
                text = await editor.input_value()
                await editor.fill(text.replace("target: 0.8}\n  billing", "target: 7}\n  billing"))
                await page.get_by_role("button", name="Save").click()
                problems = page.locator("#queues-status .problems")
                await expect(problems).to_contain_text("queues.yaml:4: queues.sales.service_level.target")
                await page.screenshot(path=str(SCREENSHOTS / "admin-queues.png"), full_page=True)
                assert service.engine.queues["sales"].service_level_target == 0.8  # nothing changed

                await editor.fill(text.replace("target: 0.8}\n  billing", "target: 0.9}\n  billing"))
                await page.get_by_role("button", name="Save").click()
                await expect(page.locator("#queues-status")).to_contain_text("Saved and applied")
                assert service.engine.queues["sales"].service_level_target == 0.9

                # The IVR editor: open a flow, break it, validate (line numbers), test it as saved.
                await page.goto(base + "/admin/ivr")
                await page.get_by_role("button", name="billing").click()
                flow = page.get_by_role("textbox", name="YAML", exact=True)
                await expect(flow).not_to_have_value("")
                await expect(page.locator("#flow-graph li").first).to_be_visible()
                good = await flow.input_value()
                await page.get_by_role("button", name="Run its tests").click()
                await expect(page.locator("#flow-status")).to_contain_text("Tests passed")
                await flow.fill(good + "\n  broken: {goto: nowhere}\n")
                await page.get_by_role("button", name="Validate").click()
                await expect(page.locator("#flow-status .problems")).to_contain_text("billing.yaml:")
                await page.screenshot(path=str(SCREENSHOTS / "ivr-editor.png"), full_page=True)
            finally:
                await browser.close()
    finally:
        await server.close()

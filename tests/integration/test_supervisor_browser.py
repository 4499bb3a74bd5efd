"""The supervisor console and the admin pages in a real Chromium (Playwright, /usr/bin/chromium):
a supervisor sees the wallboard follow an agent's state and a waiting chat; an admin edits a queue
with a bad value (sees the file:line error), then a good one; the IVR editor validates a flow."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer
from playwright.async_api import Page, async_playwright, expect

from callcenter.app import create_app
from callcenter.core import events as ev
from callcenter.core.omni.customers import Claim, Identity, IdentityKind
from callcenter.core.qa.scoring import Alert, Evidence
from callcenter.web.api import SERVICE
from callcenter.web.pages import ACCOUNTS
from callcenter.web.supervisor import WALLBOARD
from callcenter.web.webhooks import MESSAGING
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
                row = page.locator('#agents-section tr[data-agent="1001"]')
                await expect(row.locator(".state")).to_have_text("logged out")

                # The agent signs in on its own (its token): the board follows without a reload.
                async with aiohttp.ClientSession() as s:
                    async with s.post(
                        server.make_url("/api/agents/1001/login"),
                        headers={"Authorization": f"Bearer {AGENT}"},
                    ) as resp:
                        assert resp.status == 200
                await expect(row.locator(".state")).to_have_text("available")
                await expect(page.locator('#queues [data-queue="sales"] .states')).to_contain_text(
                    "available 1"
                )

                # A chat waits in billing, where nobody is signed in.
                service.handle(
                    ev.ConversationArrived(
                        "chat-b", "webchat", "cust-b", "conv-b", "billing", service.clock()
                    )
                )
                await expect(
                    page.locator('#queues [data-queue="billing"] .waiting-count .value')
                ).to_have_text("1")
                await expect(page.locator('#queues [data-queue="billing"] svg.chart')).to_be_visible()
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
                    "Queue sales: service level 25% is below"
                )
                await expect(page.locator('#queues [data-queue="sales"] svg.chart circle')).to_have_count(1)
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(SCREENSHOTS / "supervisor.png"), full_page=True)

                # Force a state from the console: Pause on 1001.
                await row.get_by_role("button", name="Pause Sam Sales").click()
                await expect(row.locator(".state")).to_contain_text("paused")

                # Reassign Sam's chat to the billing queue: it leaves Sam and waits there.
                await row.get_by_label("Reassign webchat of Sam Sales to").select_option("queue:billing")
                await row.get_by_role("button", name="Reassign").click()
                await expect(page.locator("#action-result")).to_have_text("Reassigned to billing")
                billing_waiting = page.locator('#queues [data-queue="billing"] .waiting-count .value')
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


SUPPORT_QUEUES = """\
queues:
  support:
    service_level: {seconds: 20, target: 0.8}
  sales:
    line: sales
    service_level: {seconds: 20, target: 0.8}
"""


async def test_the_readme_support_supervisor_sees_support_and_why_not(tmp_path: Path) -> None:
    """The README's supervisor (`--lines support`, the queue `support` has no `line:`) sees the
    support queue and its agent, the below-target marker, and his phone; a supervisor whose lines
    match nothing is told why, and that listen/whisper/barge need a phone. 1024 px, keyboard."""
    chromium = require("chromium", "chromium")
    agents = [
        {"id": "1001", "name": "Sam Sales", "extension": "1001", "queues": ["sales"]},
        {"id": "1004", "name": "Pat Support", "extension": "1004", "queues": ["support"]},
        {"id": "1009", "name": "Sam Visor", "extension": "1009", "queues": [], "auto_login": False},
    ]
    settings = supervisor_settings(tmp_path, queues_yaml=SUPPORT_QUEUES, agents=agents)
    server = TestServer(create_app(settings), host="127.0.0.1")
    await server.start_server()
    try:
        app = server.app
        accounts = app[ACCOUNTS]
        # As `callcenter user add sam --role supervisor --lines support --agent-id 1009` does.
        await accounts.create(
            "test", username="sam", password=PASSWORD, role="supervisor", lines=["support"], agent_id="1009"
        )
        await accounts.create("test", username="max", password=PASSWORD, role="supervisor", lines=["retail"])
        base = str(server.make_url("")).rstrip("/")
        service = app[SERVICE]
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
            try:
                page = await browser.new_page(viewport={"width": 1024, "height": 768})
                await keyboard_sign_in(page, base, "sam")
                await expect(page).to_have_url(base + "/supervisor")
                await expect(page.locator("#connection")).to_have_text("Live")
                await expect(page.locator('#queues [data-queue="support"]')).to_be_visible()
                await expect(page.locator('#queues [data-queue="sales"]')).to_have_count(0)
                await expect(
                    page.locator('#agents-section tr[data-agent="1004"]')
                ).to_be_attached()  # logged out: folded away
                await expect(page.locator('#agents-section tr[data-agent="1001"]')).to_have_count(0)
                await expect(page.locator("#empty-board")).to_be_hidden()
                await expect(page.locator("#phone-info")).to_contain_text("extension 1009")

                # Pat takes a support call: "Call me" rings sam's phone (1009).
                now = service.clock()
                service.dialer = None  # no Asterisk: the test answers for the phone
                service.handle(ev.AgentRegistered("1004", now))
                service.handle(ev.AgentLogin("1004", now))
                service.handle(ev.CallArrived("call-p", "200", "", "5000", "PJSIP/trunk-p", now))
                service.handle(ev.IvrFinished("call-p", "1", "support", now))
                service.handle(ev.AgentAnswered("call-p", "1004", now))
                pat = page.locator('#agents-section tr[data-agent="1004"]')
                await expect(pat.get_by_role("button", name="Call me (1009)")).to_be_enabled()

                # Three support callers give up past the threshold: below target, marked on the row.
                for n in range(3):
                    service.handle(
                        ev.CallArrived(f"call-{n}", "100", "", "5000", f"PJSIP/trunk-{n}", now - 100)
                    )
                    service.handle(ev.IvrFinished(f"call-{n}", "1", "support", now - 95 + n * 10))
                    service.handle(ev.CallerHungUp(f"call-{n}", "16", now))
                support = page.locator('#queues [data-queue="support"]')
                await expect(support).to_have_class(re.compile(r"\bbelow\b"))
                await expect(support).to_have_attribute("data-state", "bad")
                mark = support.locator("h3 .below-mark")
                await expect(mark).to_be_visible()
                await expect(mark).to_have_text("below target")
                edge = await support.evaluate("t => getComputedStyle(t).borderLeftColor")
                assert edge == "rgb(179, 38, 30)", edge  # --err
                await page.screenshot(path=str(tmp_path / "supervisor-support-1024.png"), full_page=True)

                # A supervisor whose lines match no queue is told why; no phone, no listening.
                await page.get_by_role("button", name="Sign out").focus()
                await page.keyboard.press("Enter")
                await expect(page.get_by_role("button", name="Sign in")).to_be_visible()
                await keyboard_sign_in(page, base, "max")
                await expect(page.locator("#connection")).to_have_text("Live")
                empty = page.locator("#empty-board")
                await expect(empty).to_be_visible()
                await expect(empty).to_contain_text("Your business lines (retail) match no queue")
                await expect(page.locator("#queues .empty")).to_have_text(
                    "No queues on your business lines (retail)."
                )
                await expect(page.locator("#agents td.empty")).to_have_text(
                    "No agents on your business lines (retail)."
                )
                await expect(page.locator("#phone-info")).to_contain_text("your account has no phone")
                await page.screenshot(path=str(tmp_path / "supervisor-empty-1024.png"), full_page=True)
            finally:
                await browser.close()
    finally:
        await server.close()


async def keyboard_sign_in(page: Page, base: str, username: str) -> None:
    await page.goto(base + "/login")
    await page.get_by_label("Username").focus()
    await page.keyboard.type(username)
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")


async def test_the_console_reads_at_a_glance(tmp_path: Path) -> None:
    """Tiles per queue coloured by their thresholds (with the words), agents coloured by time in
    state, logged-out agents folded away, a chat customer by email instead of the customer id, and
    an emergency alert that names the agent, shows its row and opens the call. 1024 px."""
    chromium = require("chromium", "chromium")
    server = TestServer(create_app(supervisor_settings(tmp_path)), host="127.0.0.1")
    await server.start_server()
    try:
        app = server.app
        await app[ACCOUNTS].create("test", username="sue", password=PASSWORD, role="supervisor")
        base = str(server.make_url("")).rstrip("/")
        service = app[SERVICE]
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
            try:
                page = await browser.new_page(viewport={"width": 1024, "height": 768})
                await sign_in(page, base, "sue")
                await expect(page.locator("#connection")).to_have_text("Live")
                # Everybody is logged out: folded away, counted, the table says nobody is in.
                fold = page.locator("#logged-out")
                await expect(fold.locator("summary")).to_have_text("Logged out (4)")
                await expect(page.locator("#agents td.empty")).to_have_text("Nobody is signed in.")
                await expect(page.locator('#agents-out tr[data-agent="1001"]')).to_be_hidden()
                await fold.locator("summary").click()
                await expect(page.locator('#agents-out tr[data-agent="1001"]')).to_be_visible()

                now = service.clock()
                for agent in ("1001", "1002"):
                    service.handle(ev.AgentRegistered(agent, now - 2000))
                    service.handle(ev.AgentLogin(agent, now - 2000))
                # Bea paused 12 minutes ago (amber), Sam available (never coloured).
                service.handle(ev.AgentPause("1002", "lunch", now - 720))
                await expect(fold.locator("summary")).to_have_text("Logged out (2)")
                bea = page.locator('#agents tr[data-agent="1002"]')
                await expect(bea.locator(".in-state")).to_have_class(re.compile(r"\bwarn\b"))
                await expect(bea.locator(".age-mark")).to_have_text("long")
                sam = page.locator('#agents tr[data-agent="1001"]')
                await expect(sam.locator(".in-state")).not_to_have_class(re.compile(r"warn|bad"))

                # A chat from a customer known by email only: shown by the email, not the id.
                book = app[MESSAGING].customers
                book.identify(
                    Claim(Identity(IdentityKind.EMAIL, "lou@example.com"), True), now, new_id="c0ffee01"
                )
                service.handle(
                    ev.ConversationArrived("chat-l", "webchat", "c0ffee01", "conv-l", "sales", now)
                )
                service.handle(ev.OfferAccepted("chat-l", "1001", now))
                await expect(sam.locator("ul.work")).to_contain_text("lou@example.com")
                await expect(sam.locator("ul.work")).not_to_contain_text("c0ffee01")

                # Billing: a chat waiting 30 s against 20 s: amber; sales: callers gave up: red.
                service.handle(
                    ev.ConversationArrived("chat-b", "webchat", "cust-b", "conv-b", "billing", now - 30)
                )
                billing = page.locator('#queues [data-queue="billing"]')
                await expect(billing).to_have_attribute("data-state", "warn")
                await expect(billing.locator(".figure.longest .word")).to_have_text("near the limit")
                for n in range(3):
                    service.handle(
                        ev.CallArrived(f"call-{n}", "100", "", "5000", f"PJSIP/trunk-{n}", now - 100)
                    )
                    service.handle(ev.IvrFinished(f"call-{n}", "1", "sales", now - 95 + n * 10))
                    service.handle(ev.CallerHungUp(f"call-{n}", "16", now))
                sales = page.locator('#queues [data-queue="sales"]')
                await expect(sales).to_have_attribute("data-state", "bad")
                await expect(sales.locator(".figure.sl .word")).to_have_text("over the limit")
                colours = await page.evaluate(
                    """() => [...document.querySelectorAll('#queues .tile')].map(
                        (t) => [t.dataset.queue, getComputedStyle(t).borderLeftColor])"""
                )
                assert dict(colours) == {"sales": "rgb(179, 38, 30)", "billing": "rgb(191, 135, 0)"}, colours
                # The chart is large enough to read: as wide as the tile, axes labelled.
                box = await sales.locator("svg.chart").bounding_box()
                assert box is not None and box["width"] >= 280 and box["height"] >= 110, box
                await expect(sales.locator("svg.chart text.axis").first).to_be_visible()

                # An emergency word in Sam's call: the banner names Sam, shows his row, opens the call.
                app[WALLBOARD].emergency(
                    "chat-l", Alert("fire", Evidence("customer", 1.0, 2.0, "there is a fire"))
                )
                banner = page.get_by_role("alert").filter(has_text="Emergency word")
                await expect(banner).to_contain_text('Emergency word "fire" heard in a call of Sam Sales')
                await expect(banner.get_by_role("link", name="Open the call")).to_have_attribute(
                    "href", "/qa/calls/chat-l"
                )
                await page.screenshot(path=str(SCREENSHOTS / "supervisor-tiles-1024-en.png"), full_page=True)
                await banner.get_by_role("button", name="Show Sam Sales").click()
                await expect(sam).to_be_focused()
            finally:
                await browser.close()
    finally:
        await server.close()

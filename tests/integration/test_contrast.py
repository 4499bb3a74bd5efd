"""A contrast check over every page, for every role, in a real Chromium (Playwright,
/usr/bin/chromium) at 1024 px: axe-core (vendored in tests/data/axe, checked against its published
hash; nothing fetched) runs its colour-contrast rule on each page in the states people see — the
supervisor's tiles green, amber and red, agents long in a state, alert banners, the admin forms with
a refusal, the IVR drawing, the widget before and after a chat, the QA list and call page — and the
test fails on any element whose text does not reach WCAG AA against what is behind it."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from playwright.async_api import Browser, Page, async_playwright, expect

from callcenter.app import create_app
from callcenter.core import events as ev
from callcenter.core.qa.scoring import Alert, Evidence
from callcenter.web.api import SERVICE
from callcenter.web.pages import ACCOUNTS
from callcenter.web.supervisor import WALLBOARD
from tests.integration.test_api import auth
from tests.integration.test_login_browser import CHROMIUM_FLAGS, PASSWORD
from tests.integration.test_qa import add_call, new_id, qa_settings
from tests.integration.test_qa_browser import CALL
from tests.integration.test_supervisor import supervisor_settings
from tests.integration.test_supervisor_browser import EXAMPLES, keyboard_sign_in
from tests.tools import require

AXE = Path(__file__).parents[1] / "data" / "axe" / "axe.min.js"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"  # 4.14.1, README.md
VIEWPORT = {"width": 1024, "height": 768}


def axe_source() -> str:
    data = AXE.read_bytes()
    assert hashlib.sha256(data).hexdigest() == AXE_SHA256, f"{AXE} is not the vendored axe-core 4.14.1"
    return data.decode("utf-8")


async def contrast_problems(page: Page, where: str) -> list[str]:
    """axe-core's colour-contrast rule over the page as it is now: one line per failing element."""
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        await page.add_script_tag(content=axe_source())
    result: dict[str, Any] = await page.evaluate(
        """async () => {
            const r = await axe.run(document, { runOnly: { type: "rule", values: ["color-contrast"] } });
            const nodes = (list) => list.flatMap((v) => v.nodes);
            const line = (n) => ({ target: n.target.join(" "), summary: n.failureSummary || "" });
            return { checked: nodes(r.passes).length, violations: nodes(r.violations).map(line),
                     unsure: nodes(r.incomplete).map(line) };
        }"""
    )
    assert result["checked"] > 0, f"{where}: axe checked no text at all"
    found = [
        f"{where}: {v['target']}: {' '.join(v['summary'].splitlines()[1:])}" for v in result["violations"]
    ]
    # axe leaves SVG text undecided (no background it can compute): the charts' and the IVR
    # drawing's labels are measured here, their fill against the first opaque background behind.
    texts = await page.evaluate(SVG_TEXT_CONTRAST)
    MEASURED_SVG[where] = len(texts)
    for target, ratio in texts:
        if ratio < 4.5:
            found.append(f"{where}: {target}: SVG text contrast {ratio:.2f} (expected 4.5:1)")
    return found


SVG_TEXT_CONTRAST = (AXE.parent / "svg-text-contrast.js").read_text(encoding="utf-8")
MEASURED_SVG: dict[str, int] = {}  # page -> SVG texts measured there


async def new_page(browser: Browser, **extra: Any) -> Page:
    context = await browser.new_context(viewport=VIEWPORT, bypass_csp=True, **extra)
    return await context.new_page()


async def test_every_page_and_role_passes_the_contrast_check(tmp_path: Path) -> None:
    chromium = require("chromium", "chromium")
    flows = tmp_path / "flows"
    shutil.copytree(EXAMPLES, flows)
    ivr = {"flows_dir": str(flows), "prompts_dir": str(tmp_path / "prompts"), "render_prompts": False}
    settings = supervisor_settings(tmp_path, ivr={**ivr, "check_audio": False})
    settings = settings.model_copy(
        update={"acd": settings.acd.model_copy(update={"agents_file": tmp_path / "agents.yaml"})}
    )
    server = TestServer(create_app(settings), host="127.0.0.1")
    await server.start_server()
    problems: list[str] = []
    try:
        app = server.app
        accounts = app[ACCOUNTS]
        await accounts.create("test", username="root", password=PASSWORD, role="admin")
        await accounts.create("test", username="sue", password=PASSWORD, role="supervisor", agent_id="1009")
        await accounts.create("test", username="ann", password=PASSWORD, role="agent", agent_id="1001")
        base = str(server.make_url("")).rstrip("/")
        service = app[SERVICE]
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
            try:
                # Anonymous: the sign-in page, with and without its error; a missing page.
                page = await new_page(browser)
                await page.goto(base + "/login")
                problems += await contrast_problems(page, "/login")
                # The check can fail: faint text added to the page is caught.
                await page.evaluate(
                    """() => document.querySelector("main").insertAdjacentHTML("beforeend",
                        '<p id="faint" style="color:#b8b8b8;background:#fff">faint words</p>')"""
                )
                assert [p for p in await contrast_problems(page, "control") if "#faint" in p], "not caught"
                await page.locator("#username").fill("nobody")
                await page.locator("#password").fill("not the password")
                await page.locator('form[action="/login"] button[type="submit"]').click()
                await expect(page.locator("#login-error")).to_be_visible()
                problems += await contrast_problems(page, "/login (refused)")
                await page.goto(base + "/no-such-page")
                problems += await contrast_problems(page, "404")

                # The supervisor: tiles green, amber and red, an agent long paused, banners.
                now = service.clock()
                for agent in ("1001", "1002"):
                    service.handle(ev.AgentRegistered(agent, now - 4000))
                    service.handle(ev.AgentLogin(agent, now - 4000))
                service.handle(ev.AgentPause("1002", "lunch", now - 2000))  # red: over 30 min
                service.handle(
                    ev.ConversationArrived("chat-b", "webchat", "cust-b", "conv-b", "billing", now - 30)
                )
                service.handle(ev.ConversationArrived("chat-s", "webchat", "cust-s", "conv-s", "sales", now))
                service.handle(ev.OfferAccepted("chat-s", "1001", now))
                for n in range(3):
                    service.handle(ev.CallArrived(f"c-{n}", "100", "", "5000", f"PJSIP/trunk-{n}", now - 100))
                    service.handle(ev.IvrFinished(f"c-{n}", "1", "sales", now - 95 + n * 10))
                    service.handle(ev.CallerHungUp(f"c-{n}", "16", now))
                page = await new_page(browser)
                await keyboard_sign_in(page, base, "sue")
                await expect(page.locator("#connection")).to_have_text("Live")
                await expect(page.locator('#queues [data-queue="sales"]')).to_have_attribute(
                    "data-state", "bad"
                )
                app[WALLBOARD].emergency("chat-s", Alert("fire", Evidence("customer", 1.0, 2.0, "fire")))
                await expect(page.get_by_role("alert").filter(has_text="Emergency word")).to_be_visible()
                await expect(page.locator('#agents tr[data-agent="1002"] .in-state')).to_have_class(
                    "in-state bad"
                )
                await page.locator("#logged-out summary").click()
                problems += await contrast_problems(page, "/supervisor")

                # The agent's panel.
                page = await new_page(browser)
                await keyboard_sign_in(page, base, "ann")
                await expect(page).to_have_url(base + "/agent")
                await expect(page.locator("#conn")).to_have_text("connected")
                problems += await contrast_problems(page, "/agent")

                # The admin: every page, with a form open and a refusal shown.
                page = await new_page(browser)
                await keyboard_sign_in(page, base, "root")
                await expect(page.get_by_role("button", name="Sign out")).to_be_visible()
                await page.goto(base + "/admin/users")
                problems += await contrast_problems(page, "/admin/users")
                await page.get_by_role("link", name="Edit ann").click()
                form = page.get_by_role("form", name="Edit ann")
                await form.get_by_label("Agent id / desk phone").select_option("")
                await form.get_by_role("button", name="Save ann").click()
                await expect(page.locator(".field-error")).to_be_visible()
                problems += await contrast_problems(page, "/admin/users (refused)")
                await page.goto(base + "/admin/agents")
                await page.get_by_role("button", name="Edit Bea Billing").click()
                await page.locator("#new-skill").fill("bad skill!")
                await page.get_by_role("button", name="Save").click()
                await expect(page.locator("#agent-form .field-error")).to_be_visible()
                problems += await contrast_problems(page, "/admin/agents (refused)")
                await page.goto(base + "/admin/queues")
                editor = page.get_by_role("textbox", name="YAML", exact=True)
                await expect(editor).not_to_have_value("")
                await editor.fill((await editor.input_value()).replace("target: 0.8}", "target: 7}", 1))
                await page.get_by_role("button", name="Save").click()
                await expect(page.locator("#queues-status .problems")).to_be_visible()
                problems += await contrast_problems(page, "/admin/queues (refused)")
                await page.goto(base + "/admin/ivr")
                await page.get_by_role("button", name="main").click()
                await expect(page.locator("#flow-drawing svg")).to_be_visible()
                problems += await contrast_problems(page, "/admin/ivr")

                # The widget on its demo page: the pre-chat form, then a chat and its end.
                page = await new_page(browser)
                await page.goto(base + "/chat-demo")
                await page.get_by_role("button", name="Chat with us").click()
                await expect(page.locator(".cc-form:not([hidden])")).to_be_visible()
                problems += await contrast_problems(page, "/chat-demo (widget)")
                shown = page.locator(".cc-form:not([hidden])")
                if await shown.get_by_label("How can we help?").count():
                    await shown.get_by_label("Your name").fill("Fay")
                    await shown.get_by_label("How can we help?").fill("Hello")
                    await shown.locator('button[type="submit"]').click()
                    await expect(page.get_by_role("log")).to_contain_text("Hello")
                    await page.get_by_role("button", name="End chat").click()
                    await expect(page.locator(".cc-ended")).to_be_visible()
                    problems += await contrast_problems(page, "/chat-demo (widget, ended)")
            finally:
                await browser.close()
    finally:
        await server.close()
    assert not problems, "\n".join(problems)
    assert MEASURED_SVG["/supervisor"] >= 12 and MEASURED_SVG["/admin/ivr"] >= 20, MEASURED_SVG


async def test_the_qa_pages_pass_the_contrast_check(tmp_path: Path) -> None:
    chromium = require("chromium", "chromium")
    agents = [{"id": "1001", "name": "Ana Lima", "extension": "1001", "queues": ["support"]}]
    settings = qa_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'qa.db'}", agents=agents)
    problems: list[str] = []
    async with TestClient(TestServer(create_app(settings))) as client:
        call = new_id()
        await add_call(client, call, CALL)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
            try:
                page = await new_page(browser, extra_http_headers=auth("qa"))
                await page.goto(str(client.make_url("/qa")))
                await expect(page.locator("#calls tr").first).to_be_visible()
                problems += await contrast_problems(page, "/qa")
                await page.goto(str(client.make_url(f"/qa/calls/{call}")))
                await expect(page.locator("#transcript li").first).to_be_visible()
                problems += await contrast_problems(page, "/qa/calls/{id}")
            finally:
                await browser.close()
    assert not problems, "\n".join(problems)

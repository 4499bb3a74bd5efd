"""The ticket access controls and the webhook delivery log in a real Chromium, keyboard first:
Ann, an agent, attaches a screenshot to a ticket's field on the panel and asks for a higher
priority; Sam, a supervisor, approves it on /tickets/access, gives Eve temporary access (she reads
the ticket on her panel, in Chinese) and ends another grant; Root, an admin, finds the failed
delivery of that ticket on /admin/webhooks and sends it again. Each page checked at 1024 px in
English and in Chinese; screenshots in docs/screenshots."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser, Page, async_playwright, expect

from callcenter.core.tickets import workflow as wfl
from callcenter.tickets.records import Actor
from callcenter.web.crm_api import DELIVERIES
from callcenter.web.pages import ACCOUNTS
from callcenter.web.tickets_api import TICKETS
from tests.integration.test_i18n_browser import sign_in
from tests.integration.test_login_browser import CHROMIUM_FLAGS, PASSWORD, SCREENSHOTS
from tests.integration.test_realtime import Node, start_node
from tests.integration.test_tickets_api import settings as ticket_settings
from tests.integration.test_tickets_api import until
from tests.tools import require

PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


def settings(tmp_path: Path) -> object:
    s = ticket_settings(tmp_path)
    closed = "http://127.0.0.1:9/crm"  # the discard port: nothing listens, every attempt fails
    hooks = {"subscriptions": [{"name": "crm", "url": closed, "secret": "s" * 16}], "max_attempts": 1}
    return s.model_copy(update={"webhooks": type(s.webhooks).model_validate(hooks)})


async def failed_deliveries(node: Node, count: int) -> bool:
    return len(await node.app[DELIVERIES].find(state="failed", subscription="crm")) >= count


async def page_in(browser: Browser, locale: str, base: str, user: str) -> Page:
    context = await browser.new_context(locale=locale, viewport={"width": 1024, "height": 900})
    page = await context.new_page()
    await sign_in(page, base, user)
    return page


async def fits(page: Page, name: str) -> None:
    """No sideways scrolling at 1024 px; the screenshot for the docs."""
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1024, (name, width)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


async def test_attach_ask_approve_grant_and_redeliver(tmp_path: Path) -> None:
    chromium = require("chromium", "chromium")
    node = await start_node(settings(tmp_path))
    try:
        accounts = node.app[ACCOUNTS]
        await accounts.create("test", username="ann", password=PASSWORD, role="agent", agent_id="1001")
        await accounts.create("test", username="eve", password=PASSWORD, role="agent", agent_id="1004")
        await accounts.create("test", username="sam", password=PASSWORD, role="supervisor")
        await accounts.create("test", username="root", password=PASSWORD, role="admin")
        draft = wfl.Draft("fault", "Router reboots", {"product": "router"})
        ticket = await node.app[TICKETS].create(draft, Actor("sam", "supervisor"))
        shot = tmp_path / "shot.png"
        shot.write_bytes(PNG)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
            errors: list[str] = []
            try:
                ann = await page_in(browser, "en-US", node.url, "ann")
                ann.on("pageerror", lambda err: errors.append(str(err)))
                await ann.goto(node.url + "/agent")
                row = ann.locator("#tickets-rows tr").filter(has_text=ticket.id)
                await row.get_by_role("button").click()
                detail = ann.locator("#ticket-detail")
                await detail.get_by_label("File to attach").set_input_files(str(shot))
                await detail.get_by_label("Attach to field").select_option("screenshot")
                await detail.get_by_role("button", name="Attach", exact=True).click()
                await expect(detail.get_by_role("link", name="shot.png")).to_be_visible()
                await expect(detail).to_contain_text("screenshot: A-")
                await detail.get_by_label("New priority").select_option("urgent")
                await detail.get_by_label("Reason for the request").fill("the customer's shop is down")
                await detail.get_by_role("button", name="Change priority").press("Enter")
                status = ann.locator("#tickets-status")
                await expect(status).to_contain_text("waiting for a supervisor's approval")
                await fits(ann, "tickets-attachments-1024-en.png")

                for locale, suffix in (("en-US", "en"), ("zh-CN", "zh-CN")):
                    sam = await page_in(browser, locale, node.url, "sam")
                    sam.on("pageerror", lambda err: errors.append(str(err)))
                    await sam.goto(node.url + f"/tickets/access?ticket={ticket.id}")
                    request = sam.locator("#approvals tbody tr")
                    await expect(request).to_have_count(1 if suffix == "en" else 0)
                    if suffix == "en":
                        await expect(request).to_contain_text("Priority normal → urgent")
                        await fits(sam, "tickets-access-1024-en.png")
                        await request.get_by_role("button", name="Approve").focus()
                        await sam.keyboard.press("Enter")
                        await expect(sam.locator("#status")).to_contain_text("approved and done")
                        await expect(sam.locator("#grant-ticket")).to_have_value(ticket.id)
                        await sam.locator("#grant-user").fill("eve")
                        await sam.locator("#grant-level").select_option("work")
                        await sam.locator("#grant-minutes").press("Enter")  # submits the form
                        grant = sam.locator("#grants tbody tr").filter(has_text="eve")
                        await expect(grant).to_have_count(1)
                        await grant.get_by_role("button", name="End now").press("Enter")
                        await expect(grant).to_have_count(0)
                    else:
                        await expect(sam.locator("h1")).to_have_text("工单权限")
                        await sam.locator("#grant-user").fill("eve")
                        await sam.locator("#grant-minutes").press("Enter")
                        await expect(sam.locator("#grants tbody tr")).to_have_count(1)
                        await fits(sam, "tickets-access-1024-zh-CN.png")
                # Eve (engineering) reads the ticket given to her, in Chinese, on her panel.
                eve = await page_in(browser, "zh-CN", node.url, "eve")
                eve.on("pageerror", lambda err: errors.append(str(err)))
                await eve.goto(node.url + "/agent")
                shared = eve.locator("#tickets-shared")
                await expect(shared).to_contain_text("与您共享")
                await shared.get_by_role("button").press("Enter")
                detail = eve.locator("#ticket-detail")
                await expect(detail.get_by_role("link", name="shot.png")).to_be_visible()
                await expect(detail.get_by_role("button", name="附加")).to_have_count(0)  # view only
                await fits(eve, "tickets-attachments-1024-zh-CN.png")
                assert (await node.app[TICKETS].store.get(ticket.id)).priority == "urgent"  # type: ignore[union-attr]

                # The owner's sender makes each delivery's single attempt (nothing listens): all failed.
                await until(lambda: failed_deliveries(node, 3), "three failed deliveries")
                for locale, suffix in (("en-US", "en"), ("zh-CN", "zh-CN")):
                    root = await page_in(browser, locale, node.url, "root")
                    root.on("pageerror", lambda err: errors.append(str(err)))
                    await root.goto(node.url + "/admin/webhooks")
                    await root.locator("#state").select_option("failed")
                    await root.locator("#subscription").select_option("crm")
                    # The first load's rows are marked, so that the filtered table is known when
                    # they are gone (both show failed deliveries here: a row of the first one,
                    # replaced under the keyboard, would hide the attempts opened on it).
                    shown = root.locator("#deliveries tbody tr[data-id]")
                    await expect(shown.first).to_be_visible()
                    await shown.evaluate_all("rows => rows.forEach(r => { r.dataset.first = '1'; })")
                    await root.locator("#filters button[type=submit]").press("Enter")
                    await expect(root.locator("#deliveries tbody tr[data-first]")).to_have_count(0)
                    failed = root.locator("#deliveries tbody tr[data-id]")
                    await expect(failed.filter(has_text="ticket.created")).to_have_count(1)
                    if suffix == "en":
                        await failed.first.get_by_role("button", name="Attempts").press("Enter")
                        await expect(root.locator("tr.attempts").first).to_be_visible()
                        await fits(root, "webhooks-log-1024-en.png")
                        await failed.first.get_by_role("button", name="Redeliver").press("Enter")
                        await expect(root.locator("#status")).to_contain_text("will be sent again")
                    else:
                        await expect(root.locator("h1")).to_have_text("Webhook 投递")
                        await fits(root, "webhooks-log-1024-zh-CN.png")
                assert errors == []
            finally:
                await browser.close()
    finally:
        await node.server.close()

"""A preview campaign on the agent panel in a real Chromium at 1024 px (English and Chinese): the
preview card with the record and its filled script (a list's HTML stays text), "Call" from the
keyboard, the campaign call's card with the script, the campaign's dispositions at wrap-up and
their count in the campaign's progress; another agent skips its own card. The dialling job is
driven round by round and the engine with the voice adapter's events (no Asterisk here)."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Page, async_playwright, expect

from callcenter.core import events as ev
from callcenter.core.outbound.campaign import CampaignMove
from callcenter.outbound import server as outbound_server
from callcenter.web.api import SERVICE
from callcenter.web.outbound_api import CAMPAIGNS
from callcenter.web.pages import ACCOUNTS
from tests.integration.test_agent_panel import CAMPAIGN
from tests.integration.test_login_browser import CHROMIUM_FLAGS, PASSWORD, SCREENSHOTS
from tests.integration.test_realtime import chat_settings, start_node
from tests.tools import require

VIEWPORT = {"width": 1024, "height": 768}
LIST = "number,name,contract,timezone\n+12025550143,<b>Ann</b>,C-7,UTC\n+12025550144,Bo,C-8,UTC\n"


async def sign_in(page: Page, url: str, username: str) -> None:
    await page.goto(url + "/agent")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page.locator("#conn")).to_have_class("badge ok")


async def fits(page: Page) -> None:
    assert await page.evaluate("document.documentElement.scrollWidth") <= VIEWPORT["width"]


async def test_a_preview_campaign_on_the_agents_panel(tmp_path: Path) -> None:
    chromium = require("chromium", "chromium")
    node = await start_node(chat_settings(tmp_path))
    service, campaigns = node.app[SERVICE], node.app[CAMPAIGNS]
    dialling = node.app[outbound_server.DIALLING]
    service.dialer = None  # no Asterisk: the test answers for the phones
    try:
        accounts = node.app[ACCOUNTS]
        await accounts.create("test", username="ana", password=PASSWORD, role="agent", agent_id="1001")
        await accounts.create(
            "test", username="li", password=PASSWORD, role="agent", agent_id="1002", language="zh-CN"
        )
        assert (await campaigns.import_definitions(CAMPAIGN, "c.yaml"))[1] == []
        assert (await campaigns.import_list("renewals", LIST, "l.csv")).added == 2
        await campaigns.move("renewals", CampaignMove.START, "test")
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
            try:
                page, chinese = (
                    await browser.new_page(viewport=VIEWPORT),
                    await browser.new_page(viewport=VIEWPORT),
                )
                errors: list[str] = []
                for p in (page, chinese):
                    p.on("pageerror", lambda err: errors.append(str(err)))
                await sign_in(page, node.url, "ana")
                await sign_in(chinese, node.url, "li")
                for agent, p in (("1001", page), ("1002", chinese)):
                    service.handle(ev.AgentRegistered(agent, service.clock()))
                    await p.keyboard.press("Alt+Shift+V")
                    await expect(p.locator("body")).to_have_attribute("data-agent-state", "available")
                await dialling.poll()
                await dialling.pace()  # one round: a card per free agent, the longest free first

                card = page.get_by_role("article", name="Preview: call +12025550143?")
                await expect(card).to_be_visible()
                await expect(card).to_contain_text("Call for campaign renewals")
                await expect(card.locator(".script")).to_have_text(
                    "Hello <b>Ann</b>, your contract C-7 ends soon."
                )
                assert await card.locator("b").count() == 0  # the list's HTML is text
                await fits(page)
                await page.screenshot(path=str(SCREENSHOTS / "agent-preview-1024-en.png"), full_page=True)
                other = chinese.get_by_role("article", name="预览：是否拨打 +12025550144？")  # noqa: RUF001
                await expect(other).to_be_visible()
                await expect(other.get_by_role("button", name="拨打")).to_be_visible()
                await fits(chinese)
                await chinese.screenshot(
                    path=str(SCREENSHOTS / "agent-preview-1024-zh-CN.png"), full_page=True
                )

                # "Call" from the keyboard; "Skip" on the other agent's own card.
                await page.keyboard.press("Alt+Shift+C")
                await expect(card).to_be_hidden()
                await other.get_by_role("button", name="跳过").click()
                await expect(other).to_be_hidden()
                await dialling.pace()
                decided = [(d.kind, d.reason) for _, d in await campaigns.decisions("renewals")]
                assert ("dial", "preview") in decided and ("skip", "agent_passed") in decided

                # The call as the placer queues it, for ana: the card with the script, then the
                # campaign's dispositions at wrap-up.
                [dial] = [d for _, d in await campaigns.decisions("renewals") if d.kind == "dial"]
                data = {"name": "<b>Ann</b>", "contract": "C-7", "campaign": "renewals"}
                data |= {
                    "record": str(dial.record_id),
                    "script": "Hello <b>Ann</b>, your contract C-7 ends soon.",
                }
                now = service.clock()
                service.handle(ev.CallArrived("ob-1", "+12025550143", "", "renewals", "PJSIP/t-1", now))
                service.handle(
                    ev.IvrFinished("ob-1", None, "support", now, data=data, outcome="outbound", agent="1001")
                )
                call = page.locator("[data-call='ob-1']")
                await expect(call.locator(".script")).to_have_text(
                    "Hello <b>Ann</b>, your contract C-7 ends soon."
                )
                service.handle(ev.AgentAnswered("ob-1", "1001", service.clock()))
                service.handle(ev.CallerHungUp("ob-1", "caller hung up", service.clock()))
                wrap = page.locator("form[data-wrapup='ob-1']")
                await expect(wrap).to_contain_text("Campaign renewals")
                await page.keyboard.press("Alt+Shift+W")
                await expect(wrap.locator("select")).to_be_focused()
                await wrap.locator("select").select_option("renewed")
                await wrap.get_by_role("button", name="Done").click()
                await expect(wrap).to_be_hidden()
                assert dict((await campaigns.progress("renewals")).dispositions) == {"renewed": 1}
                assert errors == []
            finally:
                await browser.close()
    finally:
        await node.server.close()

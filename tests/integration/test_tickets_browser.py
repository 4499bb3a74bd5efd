"""Tickets on the agent panel in a real Chromium: Ann takes a chat, creates a ticket from it with
the keyboard (the dialog built from the workflow's types), transfers it to engineering; Eve, of
engineering, signs in and finds it in her team's tickets and moves it on; a moved clock breaches
its SLA; Eve closes it and the customer's answer reopens it. Screenshots at 1024 px."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.async_api import Page, async_playwright, expect

from callcenter.core import events as ev
from callcenter.core.kb.articles import Draft
from callcenter.tickets import job
from callcenter.web.api import SERVICE
from callcenter.web.kb_api import KB
from callcenter.web.pages import ACCOUNTS
from callcenter.web.tickets_api import TICKETS
from tests.integration.test_login_browser import CHROMIUM_FLAGS, PASSWORD, SCREENSHOTS
from tests.integration.test_realtime import customer, start_node
from tests.integration.test_tickets_api import settings
from tests.tools import require


async def sign_in(page: Page, url: str, username: str) -> None:
    await page.goto(url + "/agent")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(url + "/agent")
    await expect(page.locator("#conn")).to_have_text("connected")


async def test_create_a_ticket_from_a_chat_transfer_it_and_see_it_as_the_other_team(tmp_path: Path) -> None:
    chromium = require("chromium", "chromium")
    node = await start_node(settings(tmp_path))
    service = node.app[SERVICE]
    visitor = None
    try:
        await node.app[ACCOUNTS].create(
            "test", username="ann", password=PASSWORD, role="agent", agent_id="1001"
        )
        await node.app[ACCOUNTS].create(
            "test", username="eve", password=PASSWORD, role="agent", agent_id="1004"
        )
        kb = node.app[KB]  # an article for the ticket's problem: suggested beside its comment box
        router = Draft(
            "router-reboots",
            "en",
            "Router reboots by itself",
            "Update the router's firmware: Settings, System, Update.",
            summary="A router that reboots every hour needs the latest firmware: Settings, System, Update.",
        )
        now = datetime.now(UTC)
        article = await kb.save(router, "test", now)
        await kb.publish(article.id, None, "test", now)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
            try:
                page = await browser.new_page(viewport={"width": 1024, "height": 900})
                errors: list[str] = []
                page.on("pageerror", lambda err: errors.append(str(err)))
                await sign_in(page, node.url, "ann")
                service.handle(ev.AgentLogin("1001", service.clock()))
                visitor = await customer(node.url)
                await visitor.call("start", {"name": "Dee", "message": "My router reboots every hour"})
                await expect(page.get_by_role("article", name="Offer: webchat from Dee")).to_be_visible()
                await page.keyboard.press("Alt+Shift+A")
                chat = page.get_by_role("article", name="Chat with Dee")
                await expect(chat).to_be_visible()

                # Create ticket, by keyboard: the dialog opens on the type, Tab moves through it.
                create = chat.get_by_role("button", name="Create ticket")
                await create.focus()
                await page.keyboard.press("Enter")
                dialog = page.get_by_role("dialog", name="Create ticket")
                await expect(dialog).to_be_visible()
                await expect(dialog.get_by_label("Type")).to_be_focused()
                await page.keyboard.press("Tab")
                await expect(dialog.get_by_label("Title *")).to_be_focused()
                await page.keyboard.type("Router reboots every hour")
                await dialog.get_by_label("product *").select_option("router")
                await dialog.get_by_label("serial").fill("SN-77")
                await page.screenshot(path=str(SCREENSHOTS / "tickets-create-1024-en.png"))
                await dialog.get_by_label("serial").press("Enter")
                await expect(dialog).to_be_hidden()
                await expect(create).to_be_focused()  # the focus goes back where it was
                status = page.locator("#tickets-status")
                await expect(status).to_contain_text("created for team support")
                row = page.locator("#tickets-rows tr").filter(has_text="Router reboots every hour")
                await expect(row).to_have_count(1)
                ticket_id = (await row.locator("button").inner_text()).strip()

                await row.get_by_role("button").click()
                detail = page.locator("#ticket-detail")
                await expect(detail).to_contain_text(f"{ticket_id}: Router reboots every hour")
                await detail.get_by_label("Transfer the ticket to").select_option("engineering")
                await detail.get_by_role("button", name="Transfer", exact=True).click()
                await expect(detail).to_contain_text("team engineering")
                await expect(detail).to_contain_text("Another team works this ticket.")
                await expect(row).to_have_count(0)  # no longer Ann's team's
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(SCREENSHOTS / "tickets-panel-1024-en.png"), full_page=True)

                eve = await (await browser.new_context(viewport={"width": 1024, "height": 900})).new_page()
                await sign_in(eve, node.url, "eve")
                theirs = eve.locator("#tickets-rows tr").filter(has_text=ticket_id)
                await expect(theirs).to_have_count(1)
                await theirs.get_by_role("button").click()
                eve_detail = eve.locator("#ticket-detail")
                await eve_detail.get_by_role("button", name="Move to open").click()
                await expect(eve_detail).to_contain_text("status open")
                # The knowledge base's suggestion for the ticket, from its title: "Insert" fills the comment.
                suggested = eve_detail.locator("aside.kb-suggestions li").first
                await expect(suggested).to_contain_text("Router reboots by itself")
                insert = "Insert the answer of Router reboots by itself"
                await expect(suggested.get_by_role("button", name=insert)).to_be_visible()
                await eve_detail.get_by_role("textbox", name="Comment").focus()
                await eve.keyboard.press("Alt+Shift+1")  # by keyboard, from the comment box
                await expect(eve_detail.get_by_role("textbox", name="Comment")).to_have_value(router.summary)
                await eve.screenshot(path=str(SCREENSHOTS / "tickets-suggestions-1024-en.png"))
                # Notifications: Eve's team was told of the transfer; Eve's note mentions Ann, whose
                # panel is pushed the news over its socket.
                await expect(eve.locator("#notes-list")).to_contain_text(
                    f"New for your team: {ticket_id} (Router reboots every hour)"
                )
                await eve_detail.get_by_role("textbox", name="Comment").fill("@ann which firmware is it?")
                await eve_detail.get_by_role("button", name="Add comment").click()
                mention = f"eve mentioned you on {ticket_id} (Router reboots every hour): @ann which firmware"
                await expect(page.locator("#notes-list")).to_contain_text(mention)
                await expect(page.locator("#notes-unread")).to_have_text("1 unread")
                await page.screenshot(
                    path=str(SCREENSHOTS / "tickets-notifications-1024-en.png"), full_page=True
                )
                await page.get_by_role("button", name="Mark all read").click()
                await expect(page.locator("#notes-unread")).to_be_hidden()

                # A week later (a moved clock): the SLA job breaches the first response.
                tickets = node.app[TICKETS]
                real = tickets.clock
                tickets.clock = lambda: real() + timedelta(days=7)
                assert await job.check_all(tickets) >= 1
                await theirs.get_by_role("button").click()
                await expect(
                    eve_detail.locator("p.error").filter(has_text="SLA first response")
                ).to_have_count(1)
                tickets.clock = real

                # Eve closes it; the customer answers quoting the id: it is back in Eve's list, open.
                for step in ("resolved", "closed"):
                    await eve_detail.get_by_role("button", name=f"Move to {step}").click()
                    await expect(eve_detail).to_contain_text(f"status {step}")
                await expect(theirs).to_have_count(0)
                await visitor.call("message", {"text": f"{ticket_id} is not solved: it rebooted again"})
                for _ in range(100):
                    again = await tickets.store.get(ticket_id)
                    if again is not None and again.status == "open":
                        break
                    await asyncio.sleep(0.05)
                await eve.get_by_role("button", name="Refresh").click()
                await expect(theirs).to_have_count(1)
                await expect(theirs).to_contain_text("open")

                # Ann closes the chat: its wrap-up offers "Create ticket" too, prefilled from the chat.
                await chat.get_by_role("button", name="Close").click()
                wrap = page.locator("form[data-wrapup]")
                await expect(wrap).to_have_count(1)
                await wrap.get_by_role("button", name="Create ticket").click()
                await expect(page.get_by_role("dialog", name="Create ticket")).to_be_visible()
                await page.keyboard.press("Escape")
                await expect(page.get_by_role("dialog", name="Create ticket")).to_be_hidden()
                assert errors == []
            finally:
                await browser.close()
    finally:
        if visitor is not None:
            await visitor.close()
        await node.server.close()

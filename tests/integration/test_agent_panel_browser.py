"""The agent panel in a real Chromium (Playwright, the system's /usr/bin/chromium): an agent account
signs in, goes available, takes a chat from a real python-socketio visitor (keyboard), replies,
sees a call pop up beside it (the engine driven with the voice adapter's events: no Asterisk
here), closes the chat and fills in the wrap-ups."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import aiohttp
from playwright.async_api import async_playwright, expect

from callcenter.core import events as ev
from callcenter.core.omni.conversations import MessagingChannel
from callcenter.core.omni.customers import Identity, IdentityKind
from callcenter.messaging.channels.base import InboundMessage
from callcenter.web.api import SERVICE
from callcenter.web.pages import ACCOUNTS
from tests.integration.test_login_browser import CHROMIUM_FLAGS, PASSWORD, SCREENSHOTS
from tests.integration.test_realtime import SUPERVISOR, chat_settings, customer, start_node
from tests.tools import require


async def test_agent_takes_a_chat_and_a_call_and_wraps_up(tmp_path: Path) -> None:
    chromium = require("chromium", "chromium")
    settings = chat_settings(tmp_path)
    acd = settings.acd.model_copy(update={"wrap_up_seconds": 120.0, "pause_reasons": ("lunch", "training")})
    node = await start_node(settings.model_copy(update={"acd": acd}))
    service = node.app[SERVICE]
    service.dialer = None  # no Asterisk: the test answers for the phone
    visitor = None
    try:
        await node.app[ACCOUNTS].create(
            "test", username="ana", password=PASSWORD, role="agent", agent_id="1001"
        )
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
            try:
                page = await browser.new_page(viewport={"width": 1366, "height": 900})
                errors: list[str] = []
                page.on("pageerror", lambda err: errors.append(str(err)))
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                await page.goto(node.url + "/agent")
                await page.get_by_label("Username").fill("ana")
                await page.get_by_label("Password").fill(PASSWORD)
                await page.get_by_role("button", name="Sign in").click()
                await expect(page).to_have_url(node.url + "/agent")
                await expect(page.locator("#conn")).to_have_text("connected"), errors
                await expect(page.locator("#me-ext")).to_have_text("1001")
                await expect(page.locator("#me-state")).to_have_text("Logged out")

                # Help overlay with Alt+Shift+?, closed with Escape.
                await page.keyboard.press("Alt+Shift+Slash")
                await expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
                await page.keyboard.press("Escape")
                await expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_hidden()

                await page.keyboard.press("Alt+Shift+V")
                await expect(page.locator("#me-state")).to_have_text("Available")
                await page.get_by_label("Pause reason").select_option("training")
                await page.keyboard.press("Alt+Shift+P")
                await expect(page.locator("#me-state")).to_have_text("Paused")
                await expect(page.locator("#me-reason")).to_have_text("(training)")
                await page.get_by_role("button", name="Available").click()
                await expect(page.locator("#me-state")).to_have_text("Available")

                # A visitor writes: the offer pops up with a countdown; "a" accepts it.
                visitor = await customer(node.url)
                started = await visitor.call("start", {"name": "Dee", "message": "Where is my parcel?"})
                assert started.get("conversation_id"), started
                offer = page.get_by_role("article", name="Offer: webchat from Dee")
                await expect(offer).to_be_visible()
                await expect(offer.locator(".countdown")).to_have_text(re.compile(r"^\d+:\d\d$"))
                await page.keyboard.press("Alt+Shift+A")
                chat = page.get_by_role("article", name="Chat with Dee")
                await expect(chat).to_be_visible()
                await expect(chat.get_by_text("Where is my parcel?")).to_be_visible()

                await visitor.call("typing", {"typing": True})
                await expect(chat.locator(".typing")).to_have_text("Dee is typing…")
                await page.keyboard.press("Alt+Shift+R")
                await expect(chat.get_by_label("Reply to Dee")).to_be_focused()
                await page.keyboard.type("It left our warehouse today.")
                await page.keyboard.press("Enter")
                got = await visitor.next("message")
                assert got["body"] == "It left our warehouse today."
                await expect(chat.get_by_text("It left our warehouse today.")).to_be_visible()

                # A call beside the chat: the caller's customer (they sent an SMS before: its
                # offer shows too), their earlier messages, what the IVR collected.
                now = service.clock()
                sms = InboundMessage(
                    MessagingChannel.SMS,
                    "SM-1",
                    Identity(IdentityKind.PHONE, "+14155550123"),
                    "+15550000",
                    "Is my refund through?",
                    now - 5,
                    name="Lou",
                )
                await node.messaging.receive(sms)
                service.handle(ev.AgentRegistered("1001", now))
                await expect(page.locator("#me-reg")).to_have_text("phone registered")
                service.handle(ev.CallArrived("call-1", "+14155550123", "Lou", "5000", "PJSIP/trunk-1", now))
                service.handle(ev.IvrFinished("call-1", "1", "support", now, data={"order": "77-31"}))
                call = page.get_by_role("article", name="Call from Lou")
                await expect(call.locator("[data-phase]")).to_have_text("Ringing: answer on your phone")
                await expect(call.get_by_label("What the IVR collected")).to_contain_text("77-31")
                await expect(call.get_by_label("Earlier messages")).to_contain_text("Is my refund through?")
                await expect(call.get_by_text("phone:+14155550123")).to_be_visible()
                service.handle(ev.AgentAnswered("call-1", "1001", service.clock()))
                await expect(call.locator("[data-phase]")).to_have_text("Talking")
                await expect(call.get_by_role("button", name="Hang up")).to_be_visible()
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(SCREENSHOTS / "agent-panel.png"), full_page=True)

                # The connection drops and comes back: the page rebuilds itself without a reload.
                marker = await page.evaluate("() => (window.__sameDocument = 1)")
                await page.context.set_offline(True)
                await expect(page.locator("#conn")).not_to_have_text("connected", timeout=20000)
                await page.context.set_offline(False)
                await expect(page.locator("#conn")).to_have_text("connected", timeout=20000)
                assert await page.evaluate("() => window.__sameDocument") == marker
                await expect(call.locator("[data-phase]")).to_have_text("Talking")
                await expect(chat.get_by_text("It left our warehouse today.")).to_be_visible()

                # The chat is closed: a wrap-up; the agent starts filling it in.
                await chat.get_by_role("button", name="Close").click()
                chat_wrap = page.locator("form[data-wrapup]").filter(has_text="webchat")
                await expect(chat_wrap).to_be_visible()
                await chat_wrap.get_by_label("Disposition").select_option("resolved")
                await chat_wrap.get_by_label("Notes").fill("parcel tracking sent")
                # Meanwhile the caller hangs up: a second wrap-up, with its timer. The form being
                # filled in keeps what the agent chose and typed.
                service.handle(ev.CallerHungUp("call-1", "caller hung up", service.clock()))
                await expect(call).to_be_hidden()
                call_wrap = page.get_by_role("form", name="Wrap-up of Lou")
                await expect(call_wrap).to_be_visible()
                await expect(call_wrap.locator(".countdown")).not_to_have_text("")
                await expect(page.locator("#me-state")).to_have_text("Wrap-up")
                await expect(chat_wrap.get_by_label("Disposition")).to_have_value("resolved")
                await expect(chat_wrap.get_by_label("Notes")).to_have_value("parcel tracking sent")
                await chat_wrap.get_by_role("button", name="Done").click()
                await expect(chat_wrap).to_be_hidden()

                await call_wrap.get_by_label("Disposition").select_option("follow-up")
                await call_wrap.get_by_role("button", name="Done").click()
                await expect(call_wrap).to_be_hidden()
                await expect(page.locator("#me-state")).to_have_text("Available")

                # Nothing left to wrap up; the call's record carries its disposition.
                assert service.engine.wrap_ups_of("1001") == []
                store = service.store
                for _ in range(100):
                    call_record = await store.get_interaction("call-1")
                    if call_record is not None and call_record.disposition == "follow-up":
                        break
                    await asyncio.sleep(0.05)
                assert call_record is not None and call_record.disposition == "follow-up"
            finally:
                await browser.close()
    finally:
        if visitor is not None:
            await visitor.close()
        await node.server.close()


async def test_typing_a_reply_survives_messages_and_offers_and_never_changes_state(tmp_path: Path) -> None:
    """The regression of issue 15: a customer message arrived while the agent typed a reply; the
    chat card was rebuilt, the reply box lost the focus, "ent please" was lost and its `p` paused
    the agent. Now the log grows in place, the draft and the focus stay, and plain keys never act.
    Also: the timer before the first state change, the warning for Available with no phone, and
    the page title while something rings. At 1024 px, keyboard only."""
    chromium = require("chromium", "chromium")
    node = await start_node(chat_settings(tmp_path))
    service = node.app[SERVICE]
    service.dialer = None  # no Asterisk: the test answers for the phone
    visitor = None
    try:
        await node.app[ACCOUNTS].create(
            "test", username="ana", password=PASSWORD, role="agent", agent_id="1001"
        )
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
            try:
                page = await browser.new_page(viewport={"width": 1024, "height": 768})
                errors: list[str] = []
                page.on("pageerror", lambda err: errors.append(str(err)))
                await page.goto(node.url + "/agent")
                await page.get_by_label("Username").focus()
                await page.keyboard.type("ana")
                await page.keyboard.press("Tab")
                await page.keyboard.type(PASSWORD)
                await page.keyboard.press("Enter")
                await expect(page).to_have_url(node.url + "/agent")
                await expect(page.locator("#conn")).to_have_text("connected")
                await expect(page.locator("#me-state")).to_have_text("Logged out")
                assert service.engine.agents["1001"].since == 0  # no change since the start
                await expect(page.locator("#me-timer")).to_have_text("\u2013")  # a dash: not hours since 1970

                # Plain keys do nothing, even with the focus on the page itself.
                await page.keyboard.press("v")
                await page.keyboard.press("Alt+Shift+V")
                await expect(page.locator("#me-state")).to_have_text("Available")
                await expect(page.locator("#me-timer")).to_have_text(re.compile(r"^0:0\d$"))
                warning = page.locator("#me-warning")
                await expect(warning).to_be_visible()
                await expect(warning).to_contain_text("calls cannot reach you (chats still can)")

                visitor = await customer(node.url)
                await visitor.call("start", {"name": "Dee", "message": "Where is my parcel?"})
                await expect(page).to_have_title(re.compile(r"^\(1\) Ringing: webchat from Dee"))
                await page.keyboard.press("Alt+Shift+A")
                chat = page.get_by_role("article", name="Chat with Dee")
                await expect(chat.get_by_text("Where is my parcel?")).to_be_visible()
                await expect(page).to_have_title(re.compile(r"^Agent panel"))

                reply = chat.get_by_label("Reply to Dee")
                await page.keyboard.press("Alt+Shift+R")
                await expect(reply).to_be_focused()
                await page.keyboard.type("I will check, one mom")
                await visitor.call("message", {"text": "Hello? Still there?"})
                await expect(chat.get_by_text("Hello? Still there?")).to_be_visible()
                await expect(reply).to_be_focused()
                await page.keyboard.type("ent please")
                await expect(reply).to_have_value("I will check, one moment please")

                # A call rings meanwhile: its card comes, the title says so, the typing goes on.
                now = service.clock()
                service.handle(ev.AgentRegistered("1001", now))
                await expect(warning).to_be_hidden()
                service.handle(ev.CallArrived("call-1", "+14155550123", "Lou", "5000", "PJSIP/trunk-1", now))
                service.handle(ev.IvrFinished("call-1", "1", "support", now))
                call = page.get_by_role("article", name="Call from Lou")
                await expect(call).to_be_visible()
                await expect(page).to_have_title(re.compile(r"^\(1\) Ringing: call from Lou"))
                await expect(reply).to_be_focused()
                await page.keyboard.type(" - parcel ok?")
                await expect(reply).to_have_value("I will check, one moment please - parcel ok?")
                await page.screenshot(path=str(tmp_path / "agent-typing-1024.png"), full_page=True)
                service.handle(ev.CallerHungUp("call-1", "caller hung up", service.clock()))
                await expect(call).to_be_hidden()
                await expect(page).to_have_title(re.compile(r"^Agent panel"))

                # Out of the text box, plain letters still do nothing; then the reply is sent. The
                # reply travels on the same socket after anything those keys could have sent.
                await page.keyboard.press("Escape")
                await expect(reply).not_to_be_focused()
                for key in "pahovd":
                    await page.keyboard.press(key)
                await page.keyboard.press("Alt+Shift+R")
                await page.keyboard.press("Enter")
                got = await visitor.next("message")
                assert got["body"] == "I will check, one moment please - parcel ok?"
                await expect(reply).to_have_value("")
                await expect(reply).to_be_focused()
                await expect(chat.locator("ol.log li")).to_have_count(3)
                state = service.engine.agents["1001"].state.value
                assert state != "paused", state
                await expect(page.locator("#me-state")).not_to_have_text("Paused")

                # A supervisor hands the chat to a queue: it leaves the panel, with a word of why.
                live = next(i for i in service.engine.live.values() if i.agent_id == "1001")
                service.handle(ev.AgentLogin("1002", service.clock()))
                async with aiohttp.ClientSession() as s:
                    async with s.post(
                        node.url + "/api/supervisor/reassign",
                        json={"interaction_id": live.id, "to_agent": "1002"},
                        headers={"Authorization": f"Bearer {SUPERVISOR}"},
                    ) as resp:
                        assert resp.status == 200, await resp.text()
                await expect(chat).to_be_hidden()
                await expect(page.locator("#panel-error")).to_have_text("sup reassigned your chat with Dee")
                assert not errors, errors
            finally:
                await browser.close()
    finally:
        if visitor is not None:
            await visitor.close()
        await node.server.close()

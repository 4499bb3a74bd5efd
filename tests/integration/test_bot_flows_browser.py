"""The virtual agent's flow in a real Chromium: a visitor of the web-chat widget is asked by the
bot's flow, answers the menu by words and gives an order number; the agent's panel offers the chat
with what the bot collected beside it, and keeps it on the chat once accepted (screenshots at 1024
px in English and Chinese)."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import async_playwright, expect

from callcenter.web.pages import ACCOUNTS
from tests.integration.test_bot_flows import FLOW
from tests.integration.test_login_browser import CHROMIUM_FLAGS, PASSWORD, SCREENSHOTS
from tests.integration.test_realtime import chat_settings, customer, start_node
from tests.tools import require


async def test_with_a_flow_on_web_chat_the_widget_is_open_with_no_agent_online(tmp_path: Path) -> None:
    """The flow answers (its ``agents`` node has the offline form): the widget does not show its
    own offline form just because no agent is logged in; a flow named but not loaded does not count."""
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "bot.yaml").write_text(FLOW)
    base = chat_settings(tmp_path)
    ivr = base.ivr.model_copy(
        update={"flows_dir": flows, "entry_flow": "bot", "check_audio": False, "render_prompts": False}
    )
    for choices, online in (({"channel:webchat": "bot"}, True), ({"support": "bot"}, True), ({}, False)):
        messaging = base.messaging.model_copy(update={"bot_flows": choices})
        node = await start_node(base.model_copy(update={"messaging": messaging, "ivr": ivr}))
        try:
            visitor = await customer(node.url)
            assert (await visitor.call("status"))["online"] is online, choices
            if online:  # and the flow does answer
                started = await visitor.call("start", {"name": "Dee", "message": "hello"})
                assert started["online"] is True and started["conversation_id"]
            await visitor.close()
        finally:
            await node.server.close()
    (flows / "bot.yaml").write_text("flow: bot\nchannels: [chat]\nstart: nowhere\nnodes: {}\n")  # invalid
    messaging = base.messaging.model_copy(update={"bot_flows": {"channel:webchat": "bot"}})
    node = await start_node(base.model_copy(update={"messaging": messaging, "ivr": ivr}))
    try:
        visitor = await customer(node.url)
        assert (await visitor.call("status"))["online"] is False
        await visitor.close()
    finally:
        await node.server.close()


async def test_a_web_chat_visitor_talks_to_the_flow_and_the_agent_sees_what_it_collected(
    tmp_path: Path,
) -> None:
    chromium = require("chromium", "chromium")
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "bot.yaml").write_text(FLOW)
    base = chat_settings(tmp_path)
    settings = base.model_copy(
        update={
            "messaging": base.messaging.model_copy(update={"bot_flows": {"channel:webchat": "bot"}}),
            "ivr": base.ivr.model_copy(
                update={
                    "flows_dir": flows,
                    "entry_flow": "bot",
                    "check_audio": False,
                    "render_prompts": False,
                }
            ),
        }
    )
    node = await start_node(settings)
    try:
        user = await node.app[ACCOUNTS].create(
            "test", username="ana", password=PASSWORD, role="agent", agent_id="1001"
        )
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
            try:
                agent = await browser.new_page(viewport={"width": 1024, "height": 900})
                errors: list[str] = []
                agent.on("pageerror", lambda err: errors.append(str(err)))
                await agent.goto(node.url + "/agent")
                await agent.get_by_label("Username").fill("ana")
                await agent.get_by_label("Password").fill(PASSWORD)
                await agent.get_by_role("button", name="Sign in").click()
                await expect(agent.locator("#conn")).to_have_text("connected")
                await agent.keyboard.press("Alt+Shift+V")
                await expect(agent.locator("#me-state")).to_have_text("Available")

                visitor = await browser.new_page(viewport={"width": 1024, "height": 800})
                visitor.on("pageerror", lambda err: errors.append(str(err)))
                await visitor.goto(node.url + "/chat-demo")
                await visitor.get_by_role("button", name="Chat with us").click()
                await visitor.locator("#cc-name").fill("Dee")
                await visitor.locator("#cc-first").fill("Hello")
                await visitor.get_by_role("button", name="Start chat").click()
                log = visitor.locator(".cc-log")
                await expect(log).to_contain_text("Is it about 1 billing or 2 something else?")
                await visitor.locator("#cc-input").fill("It is about an invoice")
                await visitor.locator("#cc-input").press("Enter")
                await expect(log).to_contain_text("Your order number (6 digits)?")
                offer = agent.get_by_role("article", name="Offer: webchat from Dee")
                await expect(offer).to_have_count(0)  # the bot still has it
                await visitor.locator("#cc-input").fill("123-456")
                await visitor.locator("#cc-input").press("Enter")
                await expect(log).to_contain_text("Thank you, a person will take over.")
                await expect(log.locator("li.cc-bot").first).to_contain_text("Assistant")
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                await visitor.screenshot(path=str(SCREENSHOTS / "bot-widget-1024-en.png"))

                collected = offer.get_by_label("What the virtual agent collected")
                await expect(collected).to_contain_text("123456")
                await expect(collected).to_contain_text("bot_outcome")
                await agent.screenshot(path=str(SCREENSHOTS / "bot-handoff-1024-en.png"), full_page=True)
                assert await agent.evaluate("() => document.documentElement.scrollWidth") <= 1024

                await node.app[ACCOUNTS].update("test", user.id, {"language": "zh-CN"})
                await agent.reload()
                await expect(agent.get_by_label("虚拟助手收集的信息")).to_contain_text("123456")
                await agent.screenshot(path=str(SCREENSHOTS / "bot-handoff-1024-zh-CN.png"), full_page=True)
                assert await agent.evaluate("() => document.documentElement.scrollWidth") <= 1024
                await agent.keyboard.press("Alt+Shift+A")  # accepted: the chat keeps it beside the messages
                chat = agent.locator("article.chat")
                await expect(chat.get_by_label("虚拟助手收集的信息")).to_contain_text("123456")
                await expect(chat.locator("li.bot").first).to_contain_text("虚拟助手")
                assert errors == []
            finally:
                await browser.close()
    finally:
        await node.server.close()

"""The web-chat widget: its files as served, and the widget itself in a real Chromium (Playwright,
the system's /usr/bin/chromium: no browser is downloaded) talking to a real server, with a real
python-socketio agent on the other side."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser, Locator, Page, WebSocketRoute, async_playwright, expect

from callcenter.app import DATABASE
from callcenter.core import events as ev
from callcenter.web.api import SERVICE
from tests.integration.test_login_browser import SCREENSHOTS
from tests.integration.test_realtime import AGENT_1001, WAIT, Node, agent, chat_settings, start_node
from tests.tools import require

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    n = await start_node(chat_settings(tmp_path))
    yield n
    await n.server.close()


async def test_files_are_served_with_types_and_caching(node: Node) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(node.url + "/widget.js") as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "text/javascript; charset=utf-8"
            assert resp.headers["Cache-Control"] == "public, max-age=300"
            assert resp.headers["X-Content-Type-Options"] == "nosniff"
            etag = resp.headers["ETag"]
            assert "document.currentScript" in await resp.text()
        async with http.get(node.url + "/widget.js", headers={"If-None-Match": etag}) as resp:
            assert resp.status == 304 and await resp.read() == b""
        async with http.get(node.url + "/static/widget.css") as resp:
            assert resp.headers["Content-Type"] == "text/css; charset=utf-8"
        async with http.get(node.url + "/static/socket.io.min.js?v=4.8.4") as resp:
            assert resp.status == 200 and resp.headers["Cache-Control"] == "public, max-age=86400"
            assert (await resp.text()).startswith("/*!\n * Socket.IO v4.8.4")
        async with http.get(node.url + "/static/socket.io-client.LICENSE") as resp:
            assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
            assert "MIT" in await resp.text() or "Permission is hereby granted" in await resp.text()
        for bad in ("/static/nope.js", "/static/..%2fwidget.py", "/static/vendor%2fsocket.io.min.js"):
            async with http.get(node.url + bad) as resp:
                assert resp.status == 404, bad
        async with http.get(node.url + "/chat-demo") as resp:
            page = await resp.text()
            assert resp.headers["Content-Type"].startswith("text/html")
            assert '<script src="/widget.js" async data-language="en"></script>' in page
        # The page's language: asked for, else the browser's; handed to the widget.
        async with http.get(node.url + "/chat-demo", headers={"Accept-Language": "zh-CN,zh;q=0.9"}) as resp:
            page = await resp.text()
            assert '<html lang="zh-CN">' in page and "网页聊天演示" in page
            assert '<script src="/widget.js" async data-language="zh-CN"></script>' in page
        async with http.get(node.url + "/chat-demo?language=en", headers={"Accept-Language": "zh"}) as resp:
            assert 'data-language="en"' in await resp.text()
        async with http.get(node.url + "/widget.js") as resp:
            script = await resp.text()
            assert '"zh-CN": {' in script and "\\u5728\\u7ebf\\u54a8\\u8be2" in script  # 在线咨询


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = require("chromium", "chromium")
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield b
        await b.close()


async def start_chat(page: Page, url: str, name: str, first: str) -> Locator:
    """The demo page's widget opened and a chat started through its pre-chat form; its log."""
    await page.goto(url + "/chat-demo")
    await page.get_by_role("button", name="Chat with us").click()
    pre_chat = page.get_by_role("form", name="Start a chat")
    await pre_chat.get_by_label("Your name").fill(name)
    await pre_chat.get_by_label("How can we help?").fill(first)
    await page.get_by_role("button", name="Start chat").click()
    log = page.get_by_role("log", name="Messages")
    await expect(log).to_contain_text(first, timeout=WAIT * 1000)
    return log


async def test_widget_chat_with_an_agent_in_chromium(node: Node, browser: Browser) -> None:
    service = node.app[SERVICE]
    service.handle(ev.AgentLogin("1001", service.clock()))
    a = await agent(node.url, AGENT_1001)
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    log = await start_chat(page, node.url, "Fay Widget", "Hello from the browser")

    # The message is stored as a web-chat message of a customer named in the pre-chat form.
    (conversation_id,) = [
        m.conversation_id
        for m in node.messaging.conversations.messages.values()
        if m.body == "Hello from the browser"
    ]
    customer_id = node.messaging.conversations.conversations[conversation_id].customer_id
    assert node.messaging.customers.current(customer_id).name == "Fay Widget"

    shown = await a.next("offer")  # the engine routed the new chat to the one agent logged in
    assert shown["conversation_id"] == conversation_id and shown["customer"]["name"] == "Fay Widget"
    assert [m["body"] for m in shown["timeline"]] == ["Hello from the browser"]
    assert (await a.call("accept", {"interaction_id": shown["interaction_id"]}))["ok"]
    await expect(page.get_by_role("status")).to_contain_text("Agent 1001 joined", timeout=WAIT * 1000)

    composer = page.get_by_role("form", name="Send a message").get_by_label("Your message")
    await composer.fill("Are you there?")
    await composer.press("Enter")
    assert (await a.next("typing"))["typing"] is True
    assert (await a.next("message"))["body"] == "Are you there?"
    assert (await a.call("reply", {"conversation_id": conversation_id, "text": "Yes, I am here."}))["ok"]
    await expect(log).to_contain_text("Agent 1001: Yes, I am here.", timeout=WAIT * 1000)

    # A reload keeps the visitor (localStorage) and shows the whole conversation again.
    await page.reload()
    await page.get_by_role("button", name="Chat with us").click()
    await expect(log).to_contain_text("Yes, I am here.", timeout=WAIT * 1000)
    await expect(log).to_contain_text("Hello from the browser")

    # Phone width: the open panel fits the screen.
    await page.set_viewport_size({"width": 375, "height": 700})
    box = await page.get_by_role("dialog").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375

    # The agent ends the chat: the conversation stays on screen (read only), the visitor is asked
    # to rate it under it, and the rating is stored; the conversation is still there after.
    await page.set_viewport_size({"width": 1024, "height": 768})
    assert (await a.call("close", {"conversation_id": conversation_id}))["ok"]
    await expect(log.locator(".cc-ended")).to_have_text("The chat has ended.", timeout=WAIT * 1000)
    await expect(log).to_be_visible()
    await expect(log).to_contain_text("Agent 1001: Yes, I am here.")
    await expect(page.get_by_role("form", name="Send a message")).to_be_hidden()
    await expect(page.get_by_role("button", name="Email me the transcript")).to_be_visible()
    await expect(page.get_by_label("1 star", exact=True)).to_be_focused()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "widget-ended-1024-en.png"))
    await page.get_by_label("4 stars").check()
    await page.get_by_role("button", name="Send rating").click()
    await expect(page.get_by_role("status")).to_contain_text("Thank you", timeout=WAIT * 1000)
    await expect(page.get_by_role("form", name="Rate this chat")).to_be_hidden()
    await expect(log).to_contain_text("Hello from the browser")  # still readable after the rating
    events = await node.app[DATABASE].events_for(conversation_id)
    assert [(e.kind, e.data["score"]) for e in events] == [("chat.rating", 4)]
    await a.close()
    await page.close()


async def test_offline_form_when_no_agent_is_staffed(node: Node, browser: Browser) -> None:
    page = await browser.new_page(viewport={"width": 375, "height": 700})
    await page.goto(node.url + "/chat-demo")
    await page.get_by_role("button", name="Chat with us").click()
    form = page.get_by_role("form", name="Leave a message")
    await expect(form).to_be_visible(timeout=WAIT * 1000)
    await form.get_by_label("Your name").fill("Gus")
    await form.get_by_label("Your email").fill("gus@example.com")
    await form.get_by_label("Your message").fill("Please call me tomorrow")
    await page.get_by_role("button", name="Send message").click()
    await expect(page.get_by_role("status")).to_contain_text("we will get back to you", timeout=WAIT * 1000)
    for _ in range(50):
        found = [c for c in node.messaging.conversations.conversations.values() if c.subject]
        if found:
            break
        await asyncio.sleep(0.05)
    assert [c.subject for c in found] == ["Offline message: callback requested"]
    await page.close()


HOST_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>A shop</title>
<style>.cc-widget {{ --cc-agent-bubble: #fff3cd; --cc-radius: 0px; }}</style></head>
<body><main><h1>A shop</h1></main>
<script src="{url}/widget.js" async data-accent="#8a1538" data-accent-text="#fffdf5"
        data-font="Georgia, serif" data-position="left" data-radius="not a length"></script>
</body></html>"""


async def test_a_site_restyles_the_widget(node: Node, browser: Browser) -> None:
    """The script tag's data-accent / data-accent-text / data-font / data-position and the site's
    own CSS custom properties restyle the widget; a value CSS does not accept is ignored."""
    page = await browser.new_page(viewport={"width": 1024, "height": 768})
    # The site's page, served by the browser itself at the widget's origin (its socket, its storage).
    shop = node.url + "/a-shop"
    await page.route(
        shop, lambda route: route.fulfill(content_type="text/html", body=HOST_PAGE.format(url=node.url))
    )
    await page.goto(shop)
    launch = page.get_by_role("button", name="Chat with us")
    await expect(launch).to_be_visible()
    style = await launch.evaluate(
        """b => {
            const s = getComputedStyle(b), w = b.closest('.cc-widget');
            const radius = getComputedStyle(w).getPropertyValue('--cc-radius');
            return [s.backgroundColor, s.color, s.fontFamily, w.getBoundingClientRect().left, radius];
        }"""
    )
    assert style[:3] == ["rgb(138, 21, 56)", "rgb(255, 253, 245)", "Georgia, serif"], style
    assert style[3] < 100  # on the left
    assert style[4].strip() == "0px"  # the site's own property; data-radius="not a length" ignored
    await launch.click()
    header = page.get_by_role("dialog").locator("header")
    assert await header.evaluate("h => getComputedStyle(h).backgroundColor") == "rgb(138, 21, 56)"
    await page.screenshot(path=str(SCREENSHOTS / "widget-restyled-1024-en.png"))
    await page.close()


async def test_a_message_sent_again_after_no_answer_is_stored_once(node: Node, browser: Browser) -> None:
    """The server stored the visitor's message, but its answer was lost on the way (dropped here):
    after the widget's 10 s without an answer the visitor sends it again, with the same id, and it
    is stored and shown once."""
    service = node.app[SERVICE]
    service.handle(ev.AgentLogin("1001", service.clock()))
    a = await agent(node.url, AGENT_1001)
    page = await browser.new_page(viewport={"width": 1024, "height": 768})
    await page.clock.install()  # the widget's timeout is run forward below, not waited for
    lost: list[str] = []  # the ack id of the first "message" event, whose answer is dropped

    def through(page_side: WebSocketRoute) -> None:
        server = page_side.connect_to_server()

        def from_page(frame: str | bytes) -> None:
            sent = re.match(r'42/customer,(\d+)\["message"', frame) if isinstance(frame, str) else None
            if sent and not lost:
                lost.append(sent.group(1))
            server.send(frame)

        def from_server(frame: str | bytes) -> None:
            answer = re.match(r"43/customer,(\d+)", frame) if isinstance(frame, str) else None
            if answer and lost and answer.group(1) == lost[0]:
                lost.append("dropped")
                return
            page_side.send(frame)

        page_side.on_message(from_page)
        server.on_message(from_server)

    await page.route_web_socket(re.compile(r".*/socket\.io/.*"), through)
    log = await start_chat(page, node.url, "Ida Retry", "Hello")
    composer = page.get_by_role("form", name="Send a message").get_by_label("Your message")
    await composer.fill("Did you get this?")
    await composer.press("Enter")

    def stored() -> list[str]:
        return [m.id for m in node.messaging.conversations.messages.values() if m.body == "Did you get this?"]

    for _ in range(100):
        if stored() and "dropped" in lost:
            break
        await asyncio.sleep(0.05)
    assert len(stored()) == 1 and "dropped" in lost
    await page.clock.fast_forward(11_000)
    await expect(page.get_by_role("status")).to_contain_text("No answer from the server", timeout=WAIT * 1000)
    await expect(log).not_to_contain_text("Did you get this?")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "widget-no-answer-1024-en.png"))
    await composer.press("Enter")  # the text is still there: sent again
    await expect(composer).to_have_value("", timeout=WAIT * 1000)
    await expect(log.get_by_text("Did you get this?")).to_have_count(1)
    assert len(stored()) == 1
    await a.close()
    await page.close()


async def test_typing_before_the_server_answers_keeps_its_place(node: Node, browser: Browser) -> None:
    """The pre-chat form shows at once and again when the server answers; a visitor already typing
    in it keeps typing where they are (the answer used to move the focus to the name field)."""
    service = node.app[SERVICE]
    service.handle(ev.AgentLogin("1001", service.clock()))
    page = await browser.new_page(viewport={"width": 1024, "height": 768})
    held: list[str | bytes] = []
    sides: list[WebSocketRoute] = []
    answered = asyncio.Event()

    def through(page_side: WebSocketRoute) -> None:
        server = page_side.connect_to_server()
        sides.append(page_side)

        def from_server(frame: str | bytes) -> None:
            if not answered.is_set() and len(sides) == 1 and not released:
                held.append(frame)  # the server's answers wait while the visitor types
                return
            if isinstance(frame, str) and frame.startswith("43/customer,"):
                answered.set()
            page_side.send(frame)

        page_side.on_message(server.send)
        server.on_message(from_server)

    released = False
    await page.route_web_socket(re.compile(r".*/socket\.io/.*"), through)
    await page.goto(node.url + "/chat-demo")
    await page.get_by_role("button", name="Chat with us").click()
    pre_chat = page.get_by_role("form", name="Start a chat")
    helped = pre_chat.get_by_label("How can we help?")
    await helped.click()
    await helped.press_sequentially("My order")
    for _ in range(100):  # the socket's opening is held back
        if held:
            break
        await asyncio.sleep(0.05)
    released = True
    for frame in held:
        sides[0].send(frame)
    await asyncio.wait_for(answered.wait(), WAIT)  # the status answer reached the page
    await page.keyboard.type(" never came", delay=30)
    await expect(helped).to_have_value("My order never came")
    await expect(helped).to_be_focused()
    await expect(pre_chat.get_by_label("Your name")).to_have_value("")
    await page.close()

"""An agent's day in the real browser, with a real SIP call: the whole stack at once.

An agent signs in (an account made with ``callcenter user add``), goes available, takes a web chat
from a visitor whom the company's site signed in with a verified phone, and replies; then that same
customer calls from that phone through the sandbox Asterisk: the agent's phone rings, the panel
pops the call up with the customer's earlier chat, the agent hangs up from the panel and fills in
the wrap-up. A supervisor, signed in beside, sees both on the wallboard.

Its own sandbox instance ("day"): the trunk's user is a phone number, as a carrier's caller id is,
so the call finds the customer.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import socketio
import yaml
from playwright.async_api import Page, async_playwright, expect

from callcenter.asterisk.sandbox import AsteriskSandbox
from callcenter.messaging.identity import web_token
from tests.calls import agent_phone, call_in, caller_phone, ended_record
from tests.conftest import ServerProcess, config_with, instance, port, settings_from
from tests.integration.test_login_browser import CHROMIUM_FLAGS
from tests.tools import require

pytestmark = pytest.mark.asterisk

CALLER = "14155550123"
E164 = "+" + CALLER
SITE_SECRET = "site-secret-of-the-day"
PASSWORD = "correct horse battery staple"
WAIT = 20_000  # ms, for the browser's expectations
DAY: dict[str, Any] = {
    "asterisk": {
        "sandbox_instance": instance("day"),
        "sip_port": port(25560),
        "ami_port": port(25538),
        "rtp_port_start": port(28400),
        "rtp_port_end": port(28599),
        "trunk_username": CALLER,
    },
    "agi": {"port": port(24773)},
    "http": {"port": port(28280)},
    "acd": {"ring_timeout": 15, "wrap_up_seconds": 120},
    "messaging": {"web_identity_secret": SITE_SECRET},
    "agents": [
        {"id": "1001", "name": "Ana", "extension": "1001", "queues": ["support"], "auto_login": False},
        {"id": "1009", "name": "Sue", "extension": "1009", "queues": [], "auto_login": False},
    ],
}


@pytest.fixture(scope="module")
def day() -> Iterator[AsteriskSandbox]:
    sandbox = AsteriskSandbox(settings_from(config_with(**DAY)))
    sandbox.down()
    sandbox.forget_state()
    sandbox.up(timeout=120)
    yield sandbox
    sandbox.down()


def add_user(server: ServerProcess, *args: str) -> None:
    config = server.workdir / "users.yaml"
    config.write_text(yaml.safe_dump(server.config))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "callcenter",
            "--config",
            str(config),
            "user",
            "add",
            *args,
            "--password-stdin",
        ],
        input=PASSWORD,
        text=True,
        capture_output=True,
        cwd=server.workdir,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


async def sign_in(page: Page, base: str, username: str, lands: str) -> None:
    await page.goto(base + "/login")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(base + lands)


def test_an_agents_day_chat_then_call_with_screen_pop_and_wrap_up(
    day: AsteriskSandbox, server_factory: Any, tmp_path: Path
) -> None:
    chromium = require("chromium", "chromium")
    server = server_factory(**DAY).start()
    add_user(server, "ana", "--role", "agent", "--agent-id", "1001")
    add_user(server, "sue", "--role", "supervisor")
    agent = agent_phone(day, "1001").start()
    caller = caller_phone(day).start()
    try:
        asyncio.run(_day(server, day, agent, caller, chromium))
    finally:
        caller.stop()
        agent.stop()


async def _day(
    server: ServerProcess, sandbox: AsteriskSandbox, agent: Any, caller: Any, chromium: str
) -> None:
    base = server.url
    visitor = socketio.AsyncClient(reconnection=False)
    replies: asyncio.Queue[Any] = asyncio.Queue()
    visitor.on("message", replies.put_nowait, namespace="/customer")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
        try:
            panel = await (await browser.new_context(viewport={"width": 1366, "height": 900})).new_page()
            board = await (await browser.new_context(viewport={"width": 1366, "height": 900})).new_page()
            await sign_in(panel, base, "ana", "/agent")
            await sign_in(board, base, "sue", "/supervisor")
            row = board.locator('#agents-section tr[data-agent="1001"]')
            await expect(panel.locator("#me-reg")).to_have_text("phone registered", timeout=WAIT)
            await panel.get_by_role("button", name="Available").click()
            await expect(panel.locator("#me-state")).to_have_text("Available", timeout=WAIT)
            await expect(row.locator(".state")).to_have_text("available", timeout=WAIT)

            # 1. A web chat from the site's customer Lou, whose phone the site verified.
            signed = {
                "user_id": "lou-1",
                "phone": E164,
                "signature": web_token("lou-1", SITE_SECRET.encode(), E164),
            }
            await visitor.connect(base, namespaces=["/customer"], transports=["websocket"])
            started = await visitor.call(
                "start",
                {"identity": signed, "name": "Lou", "message": "Where is my order 77-31?"},
                namespace="/customer",
                timeout=10,
            )
            assert started.get("conversation_id"), started
            offer = panel.get_by_role("article", name="Offer: webchat from Lou")
            await expect(offer).to_be_visible(timeout=WAIT)
            await panel.keyboard.press("Alt+Shift+A")
            chat = panel.get_by_role("article", name="Chat with Lou")
            await expect(chat).to_be_visible(timeout=WAIT)
            await expect(row).to_contain_text("webchat", timeout=WAIT)  # the supervisor sees the chat
            await panel.keyboard.press("Alt+Shift+R")
            await panel.keyboard.type("It ships today.")
            await panel.keyboard.press("Enter")
            got = await asyncio.wait_for(replies.get(), 10)
            assert got["body"] == "It ships today." and got["from"] == "agent"
            await chat.get_by_role("button", name="Close").click()
            chat_wrap = panel.locator("form[data-wrapup]").filter(has_text="webchat")
            await chat_wrap.get_by_label("Disposition").select_option("resolved")
            await chat_wrap.get_by_role("button", name="Done").click()
            await expect(chat_wrap).to_be_hidden(timeout=WAIT)
            await expect(panel.locator("#me-state")).to_have_text("Available", timeout=WAIT)

            # 2. Lou calls from that phone: a real call through Asterisk to the agent's phone.
            call, _heard = await asyncio.to_thread(call_in, caller, sandbox, "1")
            pop = panel.get_by_role("article", name="Call from Lou")
            await expect(pop).to_be_visible(timeout=WAIT)
            await expect(pop.get_by_label("Earlier messages")).to_contain_text("Where is my order 77-31?")
            await expect(pop.locator("[data-phase]")).to_have_text("Talking", timeout=WAIT)
            await expect(row).to_contain_text("voice", timeout=WAIT)  # the supervisor sees the call
            await pop.get_by_role("button", name="Hang up").click()
            record = await asyncio.to_thread(ended_record, server)
            assert record["outcome"] == "answered" and record["ended_by"] == "agent", record
            assert record["customer_id"], record  # the call joined Lou's record

            call_wrap = panel.get_by_role("form", name="Wrap-up of Lou")
            await expect(call_wrap).to_be_visible(timeout=WAIT)
            await call_wrap.get_by_label("Disposition").select_option("follow-up")
            await call_wrap.get_by_label("Notes").fill("order 77-31 ships today; call back Friday")
            await call_wrap.get_by_role("button", name="Done").click()
            await expect(call_wrap).to_be_hidden(timeout=WAIT)
            await expect(panel.locator("#me-state")).to_have_text("Available", timeout=WAIT)
            await expect(row.locator(".state")).to_have_text("available", timeout=WAIT)
            status, stored = await asyncio.to_thread(server.api, "GET", f"/api/interactions/{record['id']}")
            assert status == 200 and stored["disposition"] == "follow-up", stored
            del call
        finally:
            await browser.close()
            if visitor.connected:
                await visitor.disconnect()

"""Live transcription of a real call: while the call is up, the caller's words reach the agent
panel and the supervisor's console (Chromium), an emergency word reaches the supervisor's socket
and console, and a stretch said during the PCI recording pause reaches no live text at all (nor the
log).

Real parts: the sandbox Asterisk forks the call's two directions (ChanSpy into AudioSocket) to the
server, whose recognizer worker (pocketsphinx) hears flite speech played by pyVoIP phones over RTP.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import pytest
import socketio
from playwright.async_api import async_playwright, expect

from tests.calls import agent_phone, call_in, caller_phone, ended_record, latest_interaction, wait_agent
from tests.conftest import ADMIN_TOKEN, AGENT_TOKEN, ServerProcess, port
from tests.e2e.test_agent_day import PASSWORD, add_user
from tests.e2e.test_recording import CARD_SPOKEN, PAUSED_SPOKEN, card_leaks, say, speech
from tests.integration.test_login_browser import CHROMIUM_FLAGS
from tests.tools import require

pytestmark = pytest.mark.asterisk

RULES = """\
required:
  greeting: {phrases: ["thank you for calling"], where: start, within: 60}
emergency_words: ["ambulance", "lawyer"]
"""
WAIT = 30_000  # ms: recognition runs on a shared 2-core machine
FIRST = "i am calling about the internet connection at my house"
ALARM = "please call an ambulance. i will call my lawyer"
# Words of FIRST pocketsphinx hears through an 8-bit phone and G.711 (any one will do).
FIRST_WORDS = re.compile(r"\b(calling|internet|connection|house)\b", re.I)


def test_live_text_on_the_panel_alerts_and_nothing_from_the_pause(
    asterisk: Any, server_factory: Any, tmp_path: Path
) -> None:
    chromium = require("chromium", "chromium")
    rules = tmp_path / "qa_rules.yaml"
    rules.write_text(RULES)
    server = server_factory(
        live={"enabled": True, "port": port(24575), "partial_seconds": 0.5},
        transcription={"qa_rules": str(rules)},
    ).start()
    add_user(server, "ana", "--role", "agent", "--agent-id", "1001")
    add_user(server, "sue", "--role", "supervisor")
    # The recognizer worker makes its decoders first; calls before that are not transcribed live.
    server.wait_until(
        lambda: "live.worker_ready" in server.log_path.read_text(errors="replace"), 120, "live worker"
    )
    audio = {
        "greeting": speech("thank you for calling, this is ana, how can i help", tmp_path),
        "first": speech(FIRST, tmp_path),
        "alarm": speech(ALARM, tmp_path),
        "card": speech(CARD_SPOKEN, tmp_path),
        "paused": speech(PAUSED_SPOKEN, tmp_path),
        "bye": speech("thank you, goodbye", tmp_path),
    }
    agent = agent_phone(asterisk, "1001")
    agent.send_freq = None  # silence between sentences
    caller = caller_phone(asterisk)
    caller.send_freq = None
    agent.start()
    caller.start()
    try:
        asyncio.run(_call(server, asterisk, agent, caller, chromium, audio))
    finally:
        caller.stop()
        agent.stop()
    log_text = server.log_path.read_text(errors="replace")
    assert not card_leaks(log_text), f"card digits reached the log: {card_leaks(log_text)}"
    assert "live.forked" in log_text


async def settled(messages: list[dict[str, Any]], quiet: float = 2.0, limit: float = 30.0) -> None:
    """Until no live text came for ``quiet`` seconds (and the last one was final)."""
    deadline = time.monotonic() + limit
    seen, since = len(messages), time.monotonic()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        if len(messages) != seen:
            seen, since = len(messages), time.monotonic()
        elif time.monotonic() - since >= quiet and (not messages or messages[-1]["final"]):
            return
    raise AssertionError(f"the live text never settled: {messages[-5:]}")


async def _call(
    server: ServerProcess, sandbox: Any, agent: Any, caller: Any, chromium: str, audio: dict[str, bytes]
) -> None:
    # Everything the agent's screen is sent (partials too), and the supervisor's live events.
    heard_by_agent: list[dict[str, Any]] = []
    alerts: list[tuple[float, dict[str, Any]]] = []
    supervisor_text: list[dict[str, Any]] = []
    agent_socket = socketio.AsyncClient(reconnection=False)
    agent_socket.on("live_text", heard_by_agent.append, namespace="/agent")
    board = socketio.AsyncClient(reconnection=False)
    board.on("alert", lambda a: alerts.append((time.monotonic(), a)), namespace="/supervisor")
    board.on("live_text", supervisor_text.append, namespace="/supervisor")
    await agent_socket.connect(
        server.url, namespaces=["/agent"], auth={"token": AGENT_TOKEN}, transports=["websocket"]
    )
    await board.connect(
        server.url, namespaces=["/supervisor"], auth={"token": ADMIN_TOKEN}, transports=["websocket"]
    )
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
        try:
            page = await (await browser.new_context(viewport={"width": 1366, "height": 900})).new_page()
            await page.goto(server.url + "/login")
            await page.get_by_label("Username").fill("ana")
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_role("button", name="Sign in").click()
            await expect(page).to_have_url(server.url + "/agent")
            await expect(page.locator("#conn")).to_have_text("connected", timeout=WAIT)
            console = await (await browser.new_context(viewport={"width": 1366, "height": 900})).new_page()
            await console.goto(server.url + "/login")
            await console.get_by_label("Username").fill("sue")
            await console.get_by_label("Password").fill(PASSWORD)
            await console.get_by_role("button", name="Sign in").click()
            await expect(console).to_have_url(server.url + "/supervisor")

            await asyncio.to_thread(wait_agent, server, "1001", "available")
            call, heard = await asyncio.to_thread(call_in, caller, sandbox, "1")
            await asyncio.to_thread(lambda: wait_agent(server, "1001", "busy", timeout=30))
            live = await asyncio.to_thread(latest_interaction, server)
            assert live is not None
            interaction_id = live["id"]
            agent_audio = next(iter(agent.audio.values()))
            await asyncio.sleep(1.0)  # the forks connect (AMI Originate, ChanSpy)

            # 1. The caller's words on the panel while the call is up; the agent's greeting ticks
            # the checklist.
            await asyncio.to_thread(say, agent_audio, audio["greeting"])
            await asyncio.to_thread(say, heard, audio["first"])
            caller_lines = page.locator('#live-lines li[data-speaker="caller"]')
            await expect(caller_lines.filter(has_text=FIRST_WORDS).first).to_be_visible(timeout=WAIT)
            assert (await asyncio.to_thread(latest_interaction, server))["outcome"] is None
            # The supervisor's console shows the call's final text too.
            await expect(
                console.locator('#live-lines li[data-speaker="caller"]').filter(has_text=FIRST_WORDS).first
            ).to_be_visible(timeout=WAIT)

            # 2. An emergency word: the supervisor is alerted before the call ends.
            await asyncio.to_thread(say, heard, audio["alarm"])
            deadline = time.monotonic() + WAIT / 1000
            while not any(a.get("live") and a["kind"] == "emergency_word" for _, a in alerts):
                assert time.monotonic() < deadline, (
                    f"no live alert; alerts: {alerts}; heard: {heard_by_agent}"
                )
                await asyncio.sleep(0.2)
            alert = next(a for _, a in alerts if a.get("live"))
            banner = console.locator("#alerts .banner").filter(has_text=f'Emergency word "{alert["word"]}"')
            await expect(banner.first).to_be_visible(timeout=WAIT)
            assert alert["interaction_id"] == interaction_id and alert["word"] in ("ambulance", "lawyer")
            assert alert["agent_id"] == "1001"
            assert (await asyncio.to_thread(latest_interaction, server))["outcome"] is None

            # 3. PCI: during the recording pause, nothing said reaches the live text. First the
            # results of what was said before are all in (the recognizer lags on a busy machine).
            await settled(heard_by_agent)
            status, body = await asyncio.to_thread(
                server.api,
                "POST",
                f"/api/interactions/{interaction_id}/recording",
                {"paused": True},
                AGENT_TOKEN,
            )
            assert status == 200 and body["recording"] == "paused", body
            paused_from = len(heard_by_agent)
            await asyncio.to_thread(say, heard, audio["card"])
            await asyncio.to_thread(say, heard, audio["paused"])
            status, body = await asyncio.to_thread(
                server.api,
                "POST",
                f"/api/interactions/{interaction_id}/recording",
                {"paused": False},
                AGENT_TOKEN,
            )
            assert status == 200 and body["recording"] == "on", body
            await asyncio.sleep(2.0)  # any late result of the pause would arrive by now
            during = [m for m in heard_by_agent[paused_from:] if m["speaker"] == "caller"]
            assert not during, f"live text during the pause: {during}"
            await asyncio.to_thread(say, heard, audio["bye"])
            await asyncio.sleep(2.0)
            call.hangup()
            record = await asyncio.to_thread(ended_record, server)
            assert record["id"] == interaction_id
            await asyncio.sleep(1.0)

            everything = " ".join(m["text"] for m in heard_by_agent + supervisor_text)
            assert "security" not in everything and "seven three" not in everything, everything
            assert not card_leaks(everything), everything
            panel_text = await page.locator("#live-section").inner_text()
            assert not card_leaks(panel_text) and "security" not in panel_text
            # Both speakers reached the agent, finals reached the supervisor, all of this call.
            assert {m["speaker"] for m in heard_by_agent} == {"caller", "agent"}, heard_by_agent
            assert supervisor_text and all(m["final"] for m in supervisor_text)
            assert {m["interaction_id"] for m in heard_by_agent + supervisor_text} == {interaction_id}
        finally:
            await browser.close()
            await agent_socket.disconnect()
            await board.disconnect()

"""The agent panel's browser softphone with a real call: Chromium (Playwright, /usr/bin/chromium) with
a fake microphone fed from a WAV file (a 1 kHz tone, the agent's tone of the SIP tests) signs in as
an agent, turns the softphone on (JsSIP registers 1001-web over Asterisk's WebSocket); a pyVoIP
caller (its 440 Hz tone) goes through the menu; the browser rings instead of the desk phone, the
agent answers with the keyboard, and each side hears the other: the caller's audio is checked as
the SIP tests check it (Goertzel), the browser's with Web Audio on the call's remote stream. The
keypad's DTMF, the softphone's hold and mute, the call card's (the server's) hold and resume are
heard (or not) by the caller; the agent hangs up from the softphone; turning it off unregisters the
agent, and the next call goes to another agent's browser, in Chinese. Screenshots at 1024 px in
both languages go to docs/screenshots/. A supervisor listens from the console's softphone."""

from __future__ import annotations

import asyncio
import math
import struct
import time
import wave
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, async_playwright, expect

from tests.calls import (
    AGENT_FREQ,
    CALLER_FREQ,
    agent_phone,
    call_in,
    caller_phone,
    dominant,
    ended_record,
    wait_agent,
)
from tests.conftest import ServerProcess
from tests.e2e.test_agent_day import add_user, sign_in
from tests.integration.test_login_browser import CHROMIUM_FLAGS, SCREENSHOTS
from tests.sip import goertzel, wait_for
from tests.tools import require

pytestmark = pytest.mark.asterisk

WAIT = 20_000  # ms, for the browser's expectations
SUP_FREQ = 1700.0  # the supervisor's microphone (tests/e2e/test_supervisor_calls.py's tone)

# What the browser hears: the power at each frequency of the call's remote stream, through Web
# Audio (an analyser on the <audio> element's stream), summed over two seconds.
HEARD_JS = """
async ([mine, theirs]) => {
  const stream = document.getElementById("sp-audio").srcObject;
  if (!stream) return null;
  const ctx = new AudioContext();
  await ctx.resume();
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 8192;
  analyser.smoothingTimeConstant = 0;
  ctx.createMediaStreamSource(stream).connect(analyser);
  const data = new Float32Array(analyser.frequencyBinCount);
  const hz = ctx.sampleRate / analyser.fftSize;
  const power = (f) => {
    let best = -Infinity;
    for (let i = Math.round(f / hz) - 2; i <= Math.round(f / hz) + 2; i++) best = Math.max(best, data[i]);
    return Math.pow(10, best / 10);
  };
  const sum = { mine: 0, theirs: 0 };
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, 100));
    analyser.getFloatFrequencyData(data);
    sum.mine += power(mine);
    sum.theirs += power(theirs);
  }
  ctx.close();
  return sum;
}
"""


def tone_wav(path: Path, freq: float, seconds: float = 10.0, rate: int = 48000) -> Path:
    """A 16-bit mono WAV of bursts of ``freq`` (0.4 s on, 0.1 s off): a tone that comes and goes is
    not taken for steady noise by the browser's noise suppression."""
    frames = bytearray()
    for n in range(int(seconds * rate)):
        on = (n % (rate // 2)) < rate * 0.4
        value = int(12000 * math.sin(2 * math.pi * freq * n / rate)) if on else 0
        frames += struct.pack("<h", value)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))
    return path


def test_the_browser_answers_a_caller_and_both_hear_each_other(
    asterisk: Any, server_factory: Any, tmp_path: Path
) -> None:
    chromium = require("chromium", "chromium")
    server = server_factory().start()
    add_user(server, "ana", "--role", "agent", "--agent-id", "1001")
    add_user(server, "li", "--role", "agent", "--agent-id", "1002", "--language", "zh-CN")
    microphone = tone_wav(tmp_path / "agent-tone.wav", AGENT_FREQ)
    caller = caller_phone(asterisk).start()
    try:
        asyncio.run(_call(server, asterisk, caller, chromium, microphone))
    finally:
        caller.stop()


def browser_flags(microphone: Path) -> list[str]:
    """Headless Chromium whose microphone plays ``microphone`` (and asks no permission)."""
    return [
        *CHROMIUM_FLAGS,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={microphone}",
        "--autoplay-policy=no-user-gesture-required",
    ]


async def _call(server: ServerProcess, sandbox: Any, caller: Any, chromium: str, microphone: Path) -> None:
    flags = browser_flags(microphone)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, headless=True, args=flags)
        try:
            context = await browser.new_context(viewport={"width": 1024, "height": 900})
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda err: errors.append(str(err)))
            # Script errors and failed requests of the page (the browser's own favicon request aside).
            page.on(
                "console",
                lambda m: errors.append(m.text) if m.type == "error" and "resource" not in m.text else None,
            )
            page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            await sign_in(page, server.url, "ana", "/agent")
            phone = page.get_by_role("region", name="Softphone")
            await expect(phone).to_be_visible()
            # Nothing is registered until the agent turns the softphone on.
            await expect(page.locator("#me-reg")).not_to_have_text("phone registered")
            await phone.get_by_label("Use this browser as my phone").check()
            ready = "ready: calls ring here"
            await expect(phone.locator("#sp-status")).to_have_text(ready, timeout=WAIT), errors
            # The browser's registration is the agent's (auto_login: available).
            await expect(page.locator("#me-reg")).to_have_text("phone registered", timeout=WAIT)
            await asyncio.to_thread(wait_agent, server, "1001", "available")
            assert "1001-web" in sandbox.cli("pjsip show contacts")

            call, heard = await asyncio.to_thread(call_in, caller, sandbox, "1")
            await expect(phone.locator("#sp-state")).to_have_text("Ringing", timeout=WAIT)
            await expect(phone.get_by_role("button", name="Answer")).to_be_focused()
            await page.keyboard.press("Alt+Shift+N")
            await expect(phone.locator("#sp-state")).to_have_text("Connected", timeout=WAIT)
            await asyncio.to_thread(wait_agent, server, "1001", "busy")
            bridged = time.monotonic()
            await page.wait_for_timeout(2500)  # talk

            caller_heard = heard.heard_since(bridged)
            assert dominant(caller_heard, CALLER_FREQ, AGENT_FREQ) > 5, "the caller does not hear the browser"
            talking = goertzel(caller_heard, AGENT_FREQ)  # the agent's tone as the caller hears it
            browser_heard = await page.evaluate(HEARD_JS, [AGENT_FREQ, CALLER_FREQ])
            assert browser_heard is not None, "no remote stream on the softphone's audio element"
            assert browser_heard["theirs"] > 5 * browser_heard["mine"], (
                f"the browser does not hear the caller: {browser_heard}"
            )

            # The keypad sends RFC 4733 events; Asterisk plays them to this caller as tones (its
            # phone offers no telephone-event): '1' is 697 + 1209 Hz.
            before = time.monotonic()
            await page.wait_for_timeout(500)
            quiet = heard.heard_since(before)
            pressed = time.monotonic()
            await phone.get_by_role("button", name="1", exact=True).click()
            await page.wait_for_timeout(800)
            keyed = heard.heard_since(pressed)
            for freq in (697, 1209):
                assert goertzel(keyed, freq) > 10 * goertzel(quiet, freq), f"no {freq} Hz of the key '1'"

            # Hold (this phone's own, as a desk phone's button): the caller stops hearing the agent.
            await phone.get_by_role("button", name="Hold").click()
            await expect(phone.locator("#sp-state")).to_have_text("On hold", timeout=WAIT)
            await page.wait_for_timeout(600)
            held = time.monotonic()
            await page.wait_for_timeout(1500)
            # (Music on hold instead: its 1 kHz is far below the agent's tone heard while talking.)
            on_hold = heard.heard_since(held)
            assert goertzel(on_hold, AGENT_FREQ) * 10 < talking, "the caller still hears the agent"
            await phone.get_by_role("button", name="Resume").click()
            await expect(phone.locator("#sp-state")).to_have_text("Connected", timeout=WAIT)

            # Mute silences the browser's microphone.
            await phone.get_by_role("button", name="Mute").click()
            await expect(phone.get_by_role("button", name="Unmute")).to_have_attribute("aria-pressed", "true")
            await page.wait_for_timeout(600)
            muted_at = time.monotonic()
            await page.wait_for_timeout(1500)
            muted = heard.heard_since(muted_at)
            assert goertzel(muted, AGENT_FREQ) * 10 < talking, "mute let the tone through"
            await page.keyboard.press("Alt+Shift+M")
            await expect(phone.get_by_role("button", name="Mute")).to_have_attribute("aria-pressed", "false")

            # The call card's controls are the server's and work on the browser's leg as on a desk
            # phone's: its Hold puts the caller in cc-hold (music), Resume brings the agent back.
            card = page.get_by_role("article", name="Call from caller")
            await page.keyboard.press("Alt+Shift+O")
            await expect(card.locator("[data-phase]")).to_have_text("On hold (the caller hears music)")
            await page.wait_for_timeout(600)
            card_held = time.monotonic()
            await page.wait_for_timeout(1500)
            on_card_hold = heard.heard_since(card_held)
            assert goertzel(on_card_hold, AGENT_FREQ) * 10 < talking, "the caller hears the agent on hold"
            await page.keyboard.press("Alt+Shift+O")
            await expect(card.locator("[data-phase]")).to_have_text("Talking")
            await expect(phone.locator("#sp-state")).to_have_text("Connected")
            await page.wait_for_timeout(800)
            resumed = time.monotonic()
            await page.wait_for_timeout(1500)
            back = heard.heard_since(resumed)
            assert dominant(back, CALLER_FREQ, AGENT_FREQ) > 5, "the caller does not hear the agent again"

            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            await _shot(page, "agent-softphone-1024-en.png")

            await page.keyboard.press("Alt+Shift+X")  # hang up from the softphone
            record = await asyncio.to_thread(ended_record, server)
            assert record["outcome"] == "answered" and record["agent_id"] == "1001", record
            assert record["ended_by"] == "agent", record
            await expect(phone.locator("#sp-call")).to_be_hidden(timeout=WAIT)

            # Off: the browser unregisters and, with no desk phone, the agent is unreachable.
            await phone.get_by_label("Use this browser as my phone").uncheck()
            await expect(page.locator("#me-reg")).not_to_have_text("phone registered", timeout=WAIT)
            await asyncio.to_thread(
                wait_for, lambda: "1001-web" not in sandbox.cli("pjsip show contacts"), 10, "unregistration"
            )

            # Another agent, whose pages are in Chinese, uses the browser: the next caller goes to
            # that browser (1001 is unreachable now), answered in the Chinese panel.
            li = await (await browser.new_context(viewport={"width": 1024, "height": 900})).new_page()
            li.on("pageerror", lambda err: errors.append(str(err)))
            await sign_in(li, server.url, "li", "/agent")
            zh_phone = li.locator("#softphone")
            await expect(zh_phone.locator("h2")).to_have_text("软电话")
            await zh_phone.locator("#sp-enable").check()
            await expect(zh_phone.locator("#sp-status")).to_have_text("就绪：来电在此振铃", timeout=WAIT)  # noqa: RUF001
            await asyncio.to_thread(wait_agent, server, "1002", "available")
            second, _ = await asyncio.to_thread(call_in, caller, sandbox, "1")
            await expect(zh_phone.locator("#sp-state")).to_have_text("振铃中", timeout=WAIT)
            await li.keyboard.press("Alt+Shift+N")
            await expect(zh_phone.locator("#sp-state")).to_have_text("通话中", timeout=WAIT)
            await asyncio.to_thread(wait_agent, server, "1002", "busy")
            await _shot(li, "agent-softphone-1024-zh-CN.png")
            await li.keyboard.press("Alt+Shift+X")
            record = await asyncio.to_thread(ended_record, server)
            assert record["agent_id"] == "1002" and record["ended_by"] == "agent", record
            await zh_phone.locator("#sp-enable").uncheck()
            assert not errors, errors
            del call, second
        finally:
            await browser.close()


def test_a_supervisor_listens_from_the_consoles_softphone(
    asterisk: Any, server_factory: Any, tmp_path: Path
) -> None:
    """Listen rings the supervisor's browser (1009-web) instead of a desk phone: it hears the caller
    and the agent, and neither hears it."""
    chromium = require("chromium", "chromium")
    server = server_factory(
        agents=[
            {"id": "1001", "name": "Agent", "extension": "1001", "queues": ["support"]},
            {"id": "1009", "name": "Supervisor", "extension": "1009", "queues": [], "auto_login": False},
        ]
    ).start()
    add_user(server, "sue", "--role", "supervisor", "--agent-id", "1009")
    microphone = tone_wav(tmp_path / "supervisor-tone.wav", SUP_FREQ)
    agent = agent_phone(asterisk, "1001").start()
    caller = caller_phone(asterisk).start()
    try:
        asyncio.run(_listen(server, asterisk, agent, caller, chromium, microphone))
    finally:
        caller.stop()
        agent.stop()


async def _listen(
    server: ServerProcess, sandbox: Any, agent: Any, caller: Any, chromium: str, microphone: Path
) -> None:
    async with async_playwright() as pw:
        flags = browser_flags(microphone)
        browser = await pw.chromium.launch(executable_path=chromium, headless=True, args=flags)
        try:
            page = await (await browser.new_context(viewport={"width": 1024, "height": 900})).new_page()
            errors: list[str] = []
            page.on("pageerror", lambda err: errors.append(str(err)))
            await sign_in(page, server.url, "sue", "/supervisor")
            phone = page.get_by_role("region", name="Softphone")
            await phone.get_by_label("Use this browser as my phone").check()
            await expect(phone.locator("#sp-status")).to_have_text("ready: calls ring here", timeout=WAIT)

            await asyncio.to_thread(wait_agent, server, "1001", "available")
            _, heard = await asyncio.to_thread(call_in, caller, sandbox, "1")
            await asyncio.to_thread(
                wait_for, lambda: agent.incoming and agent.audio, 20, "the agent's phone to ring and answer"
            )
            await asyncio.to_thread(wait_agent, server, "1001", "busy")
            agent_heard = next(iter(agent.audio.values()))

            await page.get_by_role("button", name="Call me (1009)").click()  # listen, the default mode
            await expect(phone.locator("#sp-state")).to_have_text("Ringing", timeout=WAIT)
            await page.keyboard.press("Alt+Shift+N")
            await expect(phone.locator("#sp-state")).to_have_text("Connected", timeout=WAIT)
            await page.wait_for_timeout(1000)
            listening = time.monotonic()
            for other in (CALLER_FREQ, AGENT_FREQ):
                got = await page.evaluate(HEARD_JS, [SUP_FREQ, other])
                assert got is not None and got["theirs"] > 5 * got["mine"], f"no {other} Hz heard: {got}"
            for who, audio in (("caller", heard), ("agent", agent_heard)):
                said = audio.heard_since(listening)
                others = goertzel(said, CALLER_FREQ) + goertzel(said, AGENT_FREQ)
                assert goertzel(said, SUP_FREQ) * 5 < others, f"the {who} hears the listening supervisor"
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            await _shot(page, "supervisor-softphone-1024-en.png")
            await page.keyboard.press("Alt+Shift+X")
            await expect(phone.locator("#sp-call")).to_be_hidden(timeout=WAIT)
            await phone.get_by_label("Use this browser as my phone").uncheck()
            assert not errors, errors
        finally:
            await browser.close()


async def _shot(page: Page, name: str) -> None:
    await page.screenshot(path=str(SCREENSHOTS / name), full_page=True)

"""The QA call page in a real Chromium (Playwright, the system's /usr/bin/chromium; no download).

The browser authenticates with a bearer token sent as an extra HTTP header on every request (pages,
API calls and the audio element's range requests): accounts and session cookies are not merged yet.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from playwright.async_api import Locator, async_playwright, expect

from callcenter.app import create_app
from callcenter.storage.qa_store import CallFilter
from callcenter.web import qa_api
from tests.integration.test_api import auth
from tests.integration.test_qa import add_call, new_id, qa_settings, record, wav_bytes
from tests.tools import require

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
    "--mute-audio",
]
CALL: list[tuple[Any, float, str]] = [
    ("agent", 0.5, "thank you for calling acme support how can I help"),
    ("caller", 4.0, "my router keeps dropping the connection"),
    ("agent", 7.5, "calm down and give me your account number"),
    ("caller", 11.0, "it is on the letter thank you"),
    ("agent", 14.0, "is there anything else have a nice day"),
]
SCREENSHOT = Path(__file__).parents[2] / "docs" / "screenshots" / "qa.png"

# WCAG contrast of an element's text against the first opaque background behind it (its own or an
# ancestor's): what a reader sees, not what one stylesheet meant (app.css's button colours once
# made the transcript white on white).
CONTRAST = """(node) => {
  const rgb = (c) => {
    const m = c.match(/[\\d.]+/g).map(Number);
    return { v: m.slice(0, 3), a: m.length > 3 ? m[3] : 1 };
  };
  const lum = ([r, g, b]) => {
    const f = (x) => { x /= 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  let bg = node;
  while (bg && rgb(getComputedStyle(bg).backgroundColor).a === 0) bg = bg.parentElement;
  const back = bg ? rgb(getComputedStyle(bg).backgroundColor).v : [255, 255, 255];
  const [hi, lo] = [lum(rgb(getComputedStyle(node).color).v), lum(back)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}"""


async def contrasts(lines: Locator) -> list[tuple[str, float]]:
    """Each transcript line's words and the contrast of its text (the button) to what is behind."""
    out = []
    for n in range(await lines.count()):
        button = lines.nth(n).get_by_role("button")
        out.append(((await button.text_content()) or "", float(await button.evaluate(CONTRAST))))
    return out


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    app = create_app(qa_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'qa.db'}"))
    async with TestClient(TestServer(app)) as c:
        yield c


async def test_the_call_page_plays_follows_the_transcript_and_takes_a_review(
    client: TestClient[Any, Any], tmp_path: Path
) -> None:
    chromium = require("chromium", "chromium")
    call = new_id()
    await add_call(client, call, CALL)
    await add_call(client, new_id(), [("agent", 0.5, "yes what"), ("caller", 2.0, "I am furious")])
    record(client, tmp_path, call, wav_bytes(20.0))

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            context = await browser.new_context(
                extra_http_headers=auth("qa"), viewport={"width": 1280, "height": 900}
            )
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda err: errors.append(str(err)))

            # The list: search by words, follow the link.
            await page.goto(str(client.make_url("/qa")))
            await page.get_by_label("Words in the transcript").fill("router")
            await page.get_by_role("button", name="Search").click()
            await page.get_by_role("status").filter(has_text="Calls 1\u20131 of 1").wait_for()
            await page.get_by_role("link", name=call).click()
            await page.wait_for_url(f"**/qa/calls/{call}")

            # The transcript is there, beside the audio; the metadata of the recording loads.
            lines = page.locator("#transcript li")
            await lines.nth(len(CALL) - 1).wait_for()
            assert await lines.count() == len(CALL)
            # Readable: every line's text stands out from its background (WCAG AA: 4.5:1).
            for text, ratio in await contrasts(lines):
                assert ratio >= 4.5, (text, ratio)
            await page.wait_for_function("document.getElementById('player').readyState >= 1")
            duration = await page.evaluate("document.getElementById('player').duration")
            assert 19.9 < duration < 20.1

            # Clicking a line jumps there and the line is highlighted as the current one.
            await lines.nth(3).get_by_role("button").click()
            await page.wait_for_function("document.getElementById('player').currentTime >= 10.9")
            await page.locator("#transcript li.current").filter(has_text="it is on the letter").wait_for()
            assert await lines.nth(3).get_by_role("button").get_attribute("aria-current") == "true"
            await lines.nth(1).get_by_role("button").click()
            await page.wait_for_function(
                "(t => t >= 3.9 && t < 7.5)(document.getElementById('player').currentTime)"
            )
            await page.locator("#transcript li.current").filter(has_text="router").wait_for()
            for text, ratio in await contrasts(lines):  # the current line's highlight too
                assert ratio >= 4.5, (text, ratio)

            # The automatic score and the flag are shown, the flagged line marked, the evidence
            # a button that jumps to it.
            assert (await page.locator("#score").text_content()) == "68.4"  # rude lost 30 of 95 points
            await page.locator("#flags .flag").filter(has_text="rude").wait_for()
            flagged = page.locator("#transcript li.flagged")
            assert await flagged.count() == 1 and "calm down" in (await flagged.text_content() or "")
            await page.get_by_role("button", name="0:07\u20130:08 agent: \u201ccalm down\u201d").click()
            await page.wait_for_function(
                "(t => t >= 7.4 && t < 11)(document.getElementById('player').currentTime)"
            )

            # A review on the standard scorecard.
            for label in ("greeting", "identification", "closing"):
                await page.get_by_role("group", name=_legend(label)).get_by_label("1", exact=True).check()
            await page.get_by_role("group", name=_legend("listening")).get_by_label("3", exact=True).check()
            await page.get_by_role("group", name=_legend("resolution")).get_by_label("4", exact=True).check()
            await page.get_by_role("group", name=_legend("empathy")).get_by_label("not applicable").check()
            await page.get_by_label("Comment").fill("Clear and polite.")
            await page.get_by_role("button", name="Save review").click()
            await page.locator("#review-status").filter(has_text="Saved: total").wait_for()
            await page.locator("#reviews li").filter(has_text="Clear and polite.").wait_for()
            await page.locator("#calibration-summary").filter(has_text="One reviewer so far").wait_for()
            await page.screenshot(path=str(SCREENSHOT), full_page=True)
            assert errors == []
        finally:
            await browser.close()

    reviews = await client.app[qa_api.QA_STORE].reviews(call)
    assert [(r.reviewer, r.comment) for r in reviews] == [("qa", "Clear and polite.")]
    assert reviews[0].answers == {
        "greeting": 1,
        "identification": 1,
        "listening": 3,
        "resolution": 4,
        "empathy": None,
        "closing": 1,
    }
    # The browser's requests for the audio were all audited under the QA user.
    audits = await client.app[qa_api.QA_STORE].playbacks(call)
    assert audits and {(a.who, a.interaction_id) for a in audits} == {("qa", call)}


def _legend(criterion: str) -> str:
    return {
        "greeting": "Greeted the caller",
        "identification": "Checked the caller's identity",
        "listening": "Listened and did not talk over",
        "resolution": "Solved the problem",
        "empathy": "Showed empathy",
        "closing": "Summarised and closed",
    }[criterion]


async def test_the_calls_list_reads_at_1024_px(tmp_path: Path) -> None:
    """The list shows who called, the agent by name, how long and when, and fits a 1024 px screen
    (the page itself never scrolls sideways). Keyboard only: search, then follow a call's link."""
    chromium = require("chromium", "chromium")
    agents = [{"id": "1001", "name": "Ana Lima", "extension": "1001", "queues": ["support"]}]
    settings = qa_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'qa.db'}", agents=agents)
    async with TestClient(TestServer(create_app(settings))) as client:
        call = new_id()
        await add_call(client, call, CALL)
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
            try:
                context = await browser.new_context(
                    extra_http_headers=auth("qa"), viewport={"width": 1024, "height": 768}
                )
                page = await context.new_page()
                await page.goto(str(client.make_url("/qa")))
                await page.get_by_label("Words in the transcript").focus()
                await page.keyboard.type("router")
                await page.keyboard.press("Enter")
                await page.get_by_role("status").filter(has_text="Calls 1\u20131 of 1").wait_for()
                row = page.locator("#calls tr").first
                cells = [(await c.text_content() or "").strip() for c in await row.locator("td").all()]
                assert cells[1] == "+441234567890", cells  # the caller
                assert cells[2] == "Ana Lima 1001", cells  # the agent by name (and id)
                _, (stored,) = await client.app[qa_api.QA_STORE].search(CallFilter())
                seconds = int(stored.duration)
                assert seconds > 10 and cells[3] == f"{seconds // 60}:{seconds % 60:02d}", cells  # duration
                assert "2026" in cells[0] and call in cells[0], cells  # the date, then the call's id
                width = await page.evaluate("document.documentElement.scrollWidth")
                assert width <= 1024, width
                table = page.locator(".table-scroll")  # nor does the table: every column is seen
                assert await table.evaluate("t => t.scrollWidth <= t.clientWidth"), await table.evaluate(
                    "t => [t.scrollWidth, t.clientWidth]"
                )
                SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(SCREENSHOT.parent / "qa-list.png"), full_page=True)
                link = page.get_by_role("link", name=call)
                await link.focus()
                await page.keyboard.press("Enter")
                await page.wait_for_url(f"**/qa/calls/{call}")
                lines = page.locator("#transcript li")
                await lines.nth(len(CALL) - 1).wait_for()
                for text, ratio in await contrasts(lines):
                    assert ratio >= 4.5, (text, ratio)
                meta = page.locator("#meta")
                await expect(meta).to_contain_text("caller +441234567890 \u00b7 agent Ana Lima (1001)")
                await page.screenshot(path=str(tmp_path / "qa-call-1024.png"), full_page=True)
            finally:
                await browser.close()

"""The sign-in page in a real Chromium (Playwright, the system's /usr/bin/chromium; no download)."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestServer
from playwright.async_api import async_playwright, expect

from callcenter.app import create_app
from callcenter.web.pages import ACCOUNTS
from tests.integration.test_api import make_settings
from tests.tools import require

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "correct horse battery"


async def test_sign_in_through_the_form_lands_on_the_role_page(tmp_path: Path) -> None:
    chromium = require("chromium", "chromium")
    server = TestServer(create_app(make_settings(tmp_path)), host="127.0.0.1")
    await server.start_server()
    try:
        accounts = server.app[ACCOUNTS]
        await accounts.create("test", username="root", password=PASSWORD, role="admin")
        await accounts.create("test", username="bea", password=PASSWORD, role="supervisor", lines=["billing"])
        base = str(server.make_url("")).rstrip("/")
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
            try:
                page = await browser.new_page(viewport={"width": 1280, "height": 800})
                # Anonymous: any page sends the browser to the sign-in form, which remembers where to.
                await page.goto(base + "/admin/users")
                await expect(page).to_have_url(base + "/login?next=/admin/users")
                await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(SCREENSHOTS / "login.png"))

                await page.get_by_label("Username").fill("root")
                await page.get_by_label("Password").fill("not the password")
                await page.get_by_role("button", name="Sign in").click()
                await expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
                assert await page.get_by_label("Password").input_value() == ""  # never sent back

                await page.get_by_label("Password").fill(PASSWORD)
                await page.get_by_role("button", name="Sign in").click()
                await expect(page).to_have_url(base + "/admin/users")
                await expect(page.get_by_role("heading", name="Users", exact=True)).to_be_visible()
                await expect(page.get_by_role("navigation", name="Main").get_by_role("link")).to_have_text(
                    [
                        "Users",
                        "Queues",
                        "Agents",
                        "IVR",
                        "Ticket workflow",
                        "Supervisor",
                        "QA review",
                        "Reports",
                        "Planning",
                        "Ticket boards",
                        "Knowledge base",
                        "Campaigns",
                        "Webhooks",
                        "Nodes",
                    ]
                )
                await page.screenshot(path=str(SCREENSHOTS / "admin-users.png"), full_page=True)
                cookies = {c["name"]: c for c in await page.context.cookies()}
                assert cookies["cc_session"]["httpOnly"] and cookies["cc_session"]["sameSite"] == "Lax"

                # Signing out ends the session; the next page asks to sign in again.
                await page.get_by_role("button", name="Sign out").click()
                await expect(page).to_have_url(base + "/login")
                await page.goto(base + "/")
                await expect(page).to_have_url(base + "/login?next=/")

                # A supervisor lands on the supervisor console, with the lines shown by the name.
                await page.get_by_label("Username").fill("bea")
                await page.get_by_label("Password").fill(PASSWORD)
                await page.get_by_role("button", name="Sign in").click()
                await expect(page).to_have_url(base + "/supervisor")
                await expect(page.get_by_role("heading", name="Supervisor console")).to_be_visible()
                await expect(page.locator(".who")).to_contain_text("(supervisor: billing)")
            finally:
                await browser.close()
    finally:
        await server.close()

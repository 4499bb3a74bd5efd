"""Adding and removing an agent on /admin/agents in a real Chromium, keyboard only (docs/admin.md,
"Adding and removing agents"): the form refuses an extension in use next to its field, in words,
keeping what was typed; saved, the agent is in the engine, the name maps and the agents file, and
an account can be linked to it at once; removed (a second press confirms), it is gone again, and an
agent of the settings file is marked disabled instead. The Asterisk side is tests/e2e/test_add_agent.py.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from aiohttp.test_utils import TestServer
from playwright.async_api import Page, async_playwright, expect

from callcenter.app import create_app
from callcenter.web.api import DIRECTORY, SERVICE
from callcenter.web.pages import ACCOUNTS
from tests.integration.test_login_browser import CHROMIUM_FLAGS, PASSWORD, SCREENSHOTS
from tests.integration.test_supervisor import supervisor_settings
from tests.integration.test_supervisor_browser import keyboard_sign_in
from tests.tools import require


async def press(page: Page, key: str, times: int = 1) -> None:
    for _ in range(times):
        await page.keyboard.press(key)


async def test_an_admin_adds_and_removes_an_agent_by_keyboard(tmp_path: Path) -> None:
    chromium = require("chromium", "chromium")
    settings = supervisor_settings(tmp_path)
    agents_file = tmp_path / "agents.yaml"
    acd = settings.acd.model_copy(update={"agents_file": agents_file})
    settings = settings.model_copy(update={"acd": acd})
    server = TestServer(create_app(settings), host="127.0.0.1")
    await server.start_server()
    try:
        app = server.app
        await app[ACCOUNTS].create("test", username="root", password=PASSWORD, role="admin")
        engine = app[SERVICE].engine
        base = str(server.make_url("")).rstrip("/")
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
            try:
                page = await browser.new_page(viewport={"width": 1024, "height": 900})
                errors: list[str] = []
                page.on("pageerror", lambda err: errors.append(str(err)))
                await keyboard_sign_in(page, base, "root")
                await expect(page.get_by_role("button", name="Sign out")).to_be_visible()
                await page.goto(base + "/admin/agents")
                await expect(page.locator("#agents-table tbody tr")).to_have_count(4)
                await expect(page.get_by_label("Search")).to_be_focused()
                await press(page, "Tab")  # past the search field: the "Add an agent" button
                await expect(page.get_by_role("button", name="Add an agent")).to_be_focused()
                await press(page, "Enter")
                edit = page.locator("#agent-edit")
                await expect(edit.get_by_role("heading")).to_have_text("Add an agent")
                await expect(page.locator("#new-id")).to_be_focused()
                await page.keyboard.type("2001")
                await press(page, "Tab")
                await page.keyboard.type("Ann Added")
                await press(page, "Tab")
                await page.keyboard.type("1002")  # Bea Billing's phone
                await press(page, "Tab")  # the first queue box: billing
                await expect(edit.get_by_role("checkbox", name="billing")).to_be_focused()
                await press(page, "Space")
                await press(page, "Enter")
                extension = edit.locator('fieldset[data-field="extension"]')
                await expect(extension).to_have_attribute("aria-invalid", "true")
                await expect(extension.locator(".field-error")).to_have_text(
                    "extension 1002 is agent 1002's phone"
                )
                await expect(page.locator("#new-extension")).to_be_focused()
                assert "2001" not in engine.agents and not agents_file.exists()  # nothing changed
                await expect(page.locator("#new-name")).to_have_value("Ann Added")  # kept
                await page.screenshot(path=str(SCREENSHOTS / "admin-agents-add-1024-en.png"), full_page=False)
                await press(page, "Backspace", 4)
                await page.keyboard.type("2001")
                await press(page, "Enter")
                await expect(page.locator("#agents-status")).to_contain_text(
                    "Ann Added added: phone 2001 can register now."
                )
                await expect(page.locator('#agents-table tr[data-agent="2001"]')).to_contain_text("billing")
                assert engine.agents["2001"].extension == "2001"
                assert engine.agents["2001"].queues == frozenset({"billing"})
                assert app[DIRECTORY].names["2001"] == "Ann Added"
                saved = yaml.safe_load(agents_file.read_text())["agents"]["2001"]
                assert saved["name"] == "Ann Added" and saved["extension"] == "2001"
                user = await app[ACCOUNTS].create(
                    "test", username="ann", password=PASSWORD, role="agent", agent_id="2001"
                )
                assert user.agent_id == "2001"

                # Removing asks twice; an agent of the settings file is disabled, not deleted.
                for agent_id, name in (("2001", "Ann Added"), ("1003", "Bob Billing")):
                    await page.get_by_label("Search").fill(agent_id)
                    await press(page, "Enter")
                    remove = edit.get_by_role("button", name="Remove this agent")
                    await remove.focus()
                    await press(page, "Enter")
                    await expect(edit.locator("#agent-remove")).to_have_text(f"Press again to remove {name}")
                    assert agent_id in engine.agents
                    await press(page, "Enter")
                    await expect(page.locator("#agents-status")).to_contain_text(f"{name} removed.")
                    await expect(page.locator(f'#agents-table tr[data-agent="{agent_id}"]')).to_have_count(0)
                    assert agent_id not in engine.agents and agent_id not in app[DIRECTORY].names
                entries = yaml.safe_load(agents_file.read_text())["agents"]
                assert "2001" not in entries and entries["1003"]["disabled"] is True
                assert errors == []
            finally:
                await browser.close()
    finally:
        await server.close()

"""The admin pages at the scale of a real floor, in a real Chromium (Playwright, /usr/bin/chromium)
at 1024 px, used with the keyboard only: 200 agents with 200 accounts; the users page searched and
one account edited (agent id picked from the list, a refusal shown next to its field in words, what
was typed kept); the agents page searched and one profile edited from lists (queues, skills,
languages), a bad level refused next to its field; line numbers in the YAML editors; the IVR flow
drawn as a graph of nodes and labelled exits."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from aiohttp.test_utils import TestServer
from playwright.async_api import Page, async_playwright, expect

from callcenter.app import create_app
from callcenter.web.api import SERVICE
from callcenter.web.pages import ACCOUNTS
from tests.integration.test_login_browser import CHROMIUM_FLAGS, PASSWORD, SCREENSHOTS
from tests.integration.test_supervisor import supervisor_settings
from tests.integration.test_supervisor_browser import EXAMPLES, keyboard_sign_in
from tests.tools import require
from tests.unit.tickets_fixtures import EXAMPLE as TICKETS_EXAMPLE

AGENTS = 200
QUEUES = """\
queues:
  sales:
    skills: {spanish: 1}
    service_level: {seconds: 20, target: 0.8}
  billing:
    line: money
    skills: {billing: 2}
    service_level: {seconds: 20, target: 0.8}
"""


def floor(tmp_path: Path) -> object:
    agents = [
        {
            "id": str(2000 + n),
            "name": f"Agent {2000 + n}",
            "extension": str(2000 + n),
            "queues": ["sales" if n % 2 else "billing"],
            "auto_login": False,
        }
        for n in range(1, AGENTS + 1)
    ]
    flows = tmp_path / "flows"
    shutil.copytree(EXAMPLES, flows)
    ivr = {
        "flows_dir": str(flows),
        "prompts_dir": str(tmp_path / "prompts"),
        "render_prompts": False,
        "check_audio": False,
    }
    settings = supervisor_settings(tmp_path, queues_yaml=QUEUES, agents=agents, ivr=ivr)
    agents_file = tmp_path / "agents.yaml"
    tickets_file = tmp_path / "tickets.yaml"  # the tickets file's editor
    tickets_file.write_text(TICKETS_EXAMPLE.read_text())
    return settings.model_copy(
        update={
            "acd": settings.acd.model_copy(update={"agents_file": agents_file}),
            "tickets": settings.tickets.model_copy(update={"workflow_file": tickets_file}),
        }
    )


async def press(page: Page, key: str, times: int = 1) -> None:
    for _ in range(times):
        await page.keyboard.press(key)


async def test_admin_pages_with_200_agents_by_keyboard(tmp_path: Path) -> None:
    chromium = require("chromium", "chromium")
    server = TestServer(create_app(floor(tmp_path)), host="127.0.0.1")
    await server.start_server()
    try:
        app = server.app
        accounts = app[ACCOUNTS]
        await accounts.create("test", username="root", password=PASSWORD, role="admin")
        hashed = accounts.passwords.hash(PASSWORD)  # once: 200 argon2 hashes would only cost time
        for n in range(1, AGENTS + 1):
            await accounts.store.add_user(
                username=f"a{2000 + n}",
                display_name=f"Agent {2000 + n}",
                role="agent",
                lines=None,
                agent_id=str(2000 + n),
                password_hash=hashed,
                now=0.0,
            )
        base = str(server.make_url("")).rstrip("/")
        engine = app[SERVICE].engine
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
            try:
                page = await browser.new_page(viewport={"width": 1024, "height": 768})
                await keyboard_sign_in(page, base, "root")
                await expect(page.get_by_role("button", name="Sign out")).to_be_visible()
                await page.goto(base + "/admin/users")
                rows = page.locator("#users-table tbody tr")
                await expect(rows).to_have_count(AGENTS + 1)
                # No form per account: one table (forms: sign out, the folded new account), the search
                # has the focus.
                await expect(page.locator("form")).to_have_count(2)
                search = page.get_by_label("Search")
                await expect(search).to_be_focused()
                await page.keyboard.type("a2150")
                await expect(page.locator("#users-shown")).to_have_text("1 of 201 shown")
                await page.screenshot(path=str(SCREENSHOTS / "admin-users-1024-en.png"), full_page=False)
                await press(page, "Enter")  # the one match opens
                await expect(page).to_have_url(re.compile(r"/admin/users\?edit=\d+$"))
                form = page.get_by_role("form", name="Edit a2150")
                await expect(form.get_by_label("Display name")).to_be_focused()

                # Agent id "none" for an agent account: refused next to the field, in words.
                await press(page, "Tab", 2)
                agent_id = form.get_by_label("Agent id / desk phone")
                await expect(agent_id).to_be_focused()
                await expect(agent_id).to_have_value("2150")
                await press(page, "Home")
                await press(page, "Shift+Tab", 2)
                await press(page, "End")  # tabbing in selects the text
                await page.keyboard.type(" (late shift)")
                await press(page, "Enter")
                form = page.get_by_role("form", name="Edit a2150")
                agent_id = form.get_by_label("Agent id / desk phone")
                await expect(agent_id).to_have_attribute("aria-invalid", "true")
                await expect(agent_id).to_be_focused()
                problem = form.locator("#err-edit-agent_id")
                await expect(problem).to_have_text(
                    "an agent account needs agent_id (the ACD agent it acts as)"
                )
                await expect(form.get_by_label("Display name")).to_have_value(
                    "Agent 2150 (late shift)"
                )  # kept
                await page.screenshot(
                    path=str(SCREENSHOTS / "admin-users-error-1024-en.png"), full_page=False
                )
                # Picked from the list by typing its start (the select's own type-ahead).
                await page.keyboard.type("2199")
                await expect(agent_id).to_have_value("2199")
                await press(page, "Shift+Tab", 2)
                await press(page, "Enter")
                await expect(page.locator("p.notice")).to_have_text("Changes saved.")
                user = await accounts.store.by_username("a2150")
                assert user.agent_id == "2199" and user.display_name == "Agent 2150 (late shift)"

                # The agents page: 200 rows, one form, choices from lists.
                await page.goto(base + "/admin/agents")
                agent_rows = page.locator("#agents-table tbody tr")
                await expect(agent_rows).to_have_count(AGENTS)
                await expect(page.locator("#agents-table input")).to_have_count(0)
                await expect(page.get_by_label("Search")).to_be_focused()
                await page.keyboard.type("2077")
                await expect(page.locator("#agents-shown")).to_have_text("1 of 200 shown")
                await press(page, "Enter")
                edit = page.locator("#agent-edit")
                await expect(edit.get_by_role("heading")).to_have_text(
                    "Edit Agent 2077 (2077, extension 2077)"
                )
                queue_boxes = edit.locator('input[name="queue"]')
                await expect(queue_boxes).to_have_count(2)  # the queues, to tick
                billing = edit.get_by_role("checkbox", name="billing")
                await expect(edit.get_by_role("checkbox", name="sales")).to_be_checked()
                await expect(billing).to_be_focused()
                await press(page, "Space")  # billing ticked
                await expect(billing).to_be_checked()
                # The skills the queues ask for are listed, each with its level.
                await expect(edit.locator('input[name^="skill:"]')).to_have_count(2)
                level = edit.get_by_label("billing", exact=True).and_(
                    edit.locator('input[name="skill:billing"]')
                )
                await level.focus()
                await page.keyboard.type("12")
                await press(page, "Enter")
                skills = edit.locator('fieldset[data-field="skills"]')
                await expect(skills).to_have_attribute("aria-invalid", "true")
                await expect(skills.locator(".field-error")).to_have_text(
                    "a skill name is 1 to 64 letters, digits, _ . : or -; its level a whole number"
                    " from 1 to 10 (12 is not)"
                )
                await expect(level).to_be_focused()
                await page.screenshot(path=str(SCREENSHOTS / "admin-agents-1024-en.png"), full_page=False)
                assert engine.agents["2077"].queues == frozenset({"sales"})  # nothing changed
                await press(page, "Backspace", 2)
                await page.keyboard.type("3")
                await press(page, "Enter")
                await expect(page.locator("#agents-status")).to_contain_text("Agent 2077: saved and applied.")
                assert engine.agents["2077"].queues == frozenset({"sales", "billing"})
                assert engine.agents["2077"].skills == {"billing": 3}
                await expect(page.locator('#agents-table tr[data-agent="2077"]')).to_contain_text("billing 3")

                # The queues editor numbers its lines and marks the one with a problem.
                await page.goto(base + "/admin/queues")
                editor = page.get_by_role("textbox", name="YAML", exact=True)
                await expect(editor).not_to_have_value("")
                gutter = page.locator(".editor .gutter span")
                await expect(gutter).to_have_count(len(QUEUES.split("\n")))  # and the empty last line
                text = await editor.input_value()
                await editor.fill(text.replace("target: 0.8}\n  billing", "target: 7}\n  billing"))
                await page.get_by_role("button", name="Save").click()
                await expect(page.locator(".editor .gutter span.bad")).to_have_text("4")
                await page.get_by_role("button", name="Go to line 4").click()
                await expect(editor).to_be_focused()
                caret = await editor.evaluate("t => t.value.slice(0, t.selectionStart).split('\\n').length")
                assert caret == 4

                # The tickets file: a transfer to a team that does not exist is refused on its line;
                # put right, it is saved and the new team runs.
                await page.goto(base + "/admin/tickets")
                editor = page.get_by_role("textbox", name="YAML", exact=True)
                await expect(editor).not_to_have_value("")
                await expect(page.locator("#tickets-running")).to_contain_text("product")
                text = await editor.input_value()
                await editor.fill(
                    text.replace("transfers: [engineering, support], members: [pat]", "transfers: [legal]")
                )
                await page.get_by_role("button", name="Save").click()
                await expect(page.locator(".editor .gutter span.bad")).to_have_text("21")
                await expect(page.locator("#tickets-status")).to_contain_text("legal")
                await editor.fill(
                    text.replace(
                        "default_team: support", "  legal: {transfers: [support]}\ndefault_team: support"
                    )
                )
                await page.get_by_role("button", name="Save").click()
                await expect(page.locator("#tickets-status")).to_contain_text("Saved and applied.")
                await expect(page.locator("#tickets-running")).to_contain_text("legal")
                await page.screenshot(path=str(SCREENSHOTS / "admin-tickets-1024-en.png"), full_page=True)

                # The IVR flow drawn: a box per node, labelled exits, the start outlined.
                await page.goto(base + "/admin/ivr")
                await page.get_by_role("button", name="billing").click()
                drawing = page.locator("#flow-drawing svg")
                await expect(drawing).to_be_visible()
                await expect(drawing.locator("g.node")).to_have_count(5)
                await expect(drawing.locator("g.node.start")).to_have_attribute("data-node", "account")
                await expect(drawing.locator("text.exit", has_text="no_input")).to_have_count(1)
                await expect(drawing.locator("text.exit", has_text="failure")).to_have_count(1)
                edges = await drawing.locator("path.edge").count()
                assert edges >= 5 and edges == await drawing.locator("text.exit").count()
                await expect(page.locator(".editor .gutter span").first).to_have_text("1")
                await page.screenshot(path=str(SCREENSHOTS / "ivr-editor-1024-en.png"), full_page=True)
            finally:
                await browser.close()
    finally:
        await server.close()


async def test_admin_pages_in_chinese(tmp_path: Path) -> None:
    """A zh-CN admin: the agents form, the queues editor and the IVR drawing in Chinese (the
    server's words too: a refusal next to its field, the drawing's labels); screenshots."""
    chromium = require("chromium", "chromium")
    server = TestServer(create_app(floor(tmp_path)), host="127.0.0.1")
    await server.start_server()
    try:
        await server.app[ACCOUNTS].create(
            "test", username="wang", password=PASSWORD, role="admin", language="zh-CN"
        )
        base = str(server.make_url("")).rstrip("/")
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
            try:
                page = await browser.new_page(viewport={"width": 1024, "height": 768})
                await keyboard_sign_in(page, base, "wang")
                await expect(page.get_by_role("button", name="退出登录")).to_be_visible()
                await page.goto(base + "/admin/agents")
                await page.locator("#agent-search").fill("2042")
                await page.keyboard.press("Enter")
                edit = page.locator("#agent-edit")
                heading = "编辑 Agent 2042（2042，分机 2042）"  # noqa: RUF001
                await expect(edit.get_by_role("heading")).to_have_text(heading)
                await edit.locator('input[name="skill:billing"]').fill("0")
                await page.keyboard.press("Enter")
                await expect(edit.locator('fieldset[data-field="skills"] .field-error')).to_have_text(
                    "技能名为 1 到 64 个字母、数字、_ . : 或 -；其等级为 1 到 10 的整数 （0 不符合）"  # noqa: RUF001
                )
                await page.screenshot(path=str(SCREENSHOTS / "admin-agents-1024-zh-CN.png"), full_page=False)
                await page.goto(base + "/admin/queues")
                await expect(page.locator(".editor .gutter span").first).to_have_text("1")
                await page.screenshot(path=str(SCREENSHOTS / "admin-queues-1024-zh-CN.png"), full_page=True)
                await page.goto(base + "/admin/ivr")
                await page.get_by_role("button", name="main").click()
                drawing = page.locator("#flow-drawing svg")
                label = re.compile(r"^main：\d+ 个节点，起点 ")  # noqa: RUF001
                await expect(drawing).to_have_attribute("aria-label", label)
                await expect(drawing.locator("text.kind").first).to_contain_text("第 ")
                await page.screenshot(path=str(SCREENSHOTS / "ivr-editor-1024-zh-CN.png"), full_page=True)
            finally:
                await browser.close()
    finally:
        await server.close()

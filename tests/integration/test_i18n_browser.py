"""The pages and the widget in Chinese and in English, in a real Chromium (Playwright,
/usr/bin/chromium): an account's language wins over the browser's, an account without one gets
the browser's (Accept-Language), the scripts' texts follow the page's, the widget takes its
data-language. Screenshots at 1024 px go to docs/screenshots/ (*-1024-en.png, *-1024-zh-CN.png).
"""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, async_playwright, expect

from callcenter.app import create_app
from callcenter.core import events as ev
from callcenter.core.omni.conversations import MessagingChannel
from callcenter.core.omni.customers import Identity, IdentityKind
from callcenter.messaging.channels.base import InboundMessage
from callcenter.web.api import SERVICE
from callcenter.web.pages import ACCOUNTS
from tests.integration.test_login_browser import CHROMIUM_FLAGS, PASSWORD, SCREENSHOTS
from tests.integration.test_realtime import chat_settings, customer, start_node
from tests.integration.test_supervisor import ADMIN, supervisor_settings
from tests.tools import require

VIEWPORT = {"width": 1024, "height": 768}


async def sign_in(page: Page, base: str, username: str) -> None:
    """By the fields' ids: the labels are in the page's language."""
    await page.goto(base + "/login")
    await page.locator("#username").fill(username)
    await page.locator("#password").fill(PASSWORD)
    await page.locator('form[action="/login"] button[type="submit"]').click()


async def new_page(browser: Browser, locale: str) -> Page:
    context = await browser.new_context(locale=locale, viewport=VIEWPORT)  # sets Accept-Language
    return await context.new_page()


async def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


async def test_pages_and_widget_in_chinese_and_english(tmp_path: Path) -> None:
    chromium = require("chromium", "chromium")
    server = TestServer(create_app(supervisor_settings(tmp_path)), host="127.0.0.1")
    await server.start_server()
    try:
        accounts = server.app[ACCOUNTS]
        await accounts.create(
            "test", username="li", password=PASSWORD, role="agent", agent_id="1001", language="zh-CN"
        )
        await accounts.create(
            "test", username="ann", password=PASSWORD, role="agent", agent_id="1002", language="en"
        )
        await accounts.create("test", username="wang", password=PASSWORD, role="supervisor", language="zh-CN")
        await accounts.create("test", username="sue", password=PASSWORD, role="supervisor")
        await accounts.create("test", username="root", password=PASSWORD, role="admin")
        base = str(server.make_url("")).rstrip("/")
        # The API sets an account's language; one the pages do not have is a 400 that says why.
        sue = await accounts.store.by_username("sue")
        headers = {"Authorization": f"Bearer {ADMIN}"}
        async with aiohttp.ClientSession(headers=headers) as http:
            async with http.patch(f"{base}/api/users/{sue.id}", json={"language": "fr"}) as resp:
                assert (
                    resp.status == 400 and "language must be one of en, zh-CN" in (await resp.json())["error"]
                )
            async with http.patch(f"{base}/api/users/{sue.id}", json={"language": "zh-CN"}) as resp:
                assert resp.status == 200 and (await resp.json())["language"] == "zh-CN"
            async with http.patch(f"{base}/api/users/{sue.id}", json={"language": None}) as resp:
                assert resp.status == 200 and (await resp.json())["language"] is None
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
            try:
                # The sign-in page follows the browser: Chinese for a Chinese browser.
                page = await new_page(browser, "zh-CN")
                await page.goto(base + "/login")
                await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
                await expect(page.get_by_label("用户名")).to_be_visible()
                await expect(page.get_by_role("button", name="登录")).to_be_visible()
                await shot(page, "login-1024-zh-CN.png")
                # A wrong password is told in Chinese too (a message of the pages' Python).
                await page.locator("#username").fill("li")
                await page.locator("#password").fill("not the password")
                await page.locator('form[action="/login"] button[type="submit"]').click()
                await expect(page.locator("#login-error")).to_have_text("用户名或密码错误。")

                # A zh-CN agent in an English browser: the account's language wins.
                page = await new_page(browser, "en-US")
                await sign_in(page, base, "li")
                await expect(page).to_have_url(base + "/agent")
                await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
                await expect(page).to_have_title("坐席工作台 · callcenter")
                await expect(page.locator("#conn")).to_have_text("已连接")  # the script's t()
                await expect(page.locator("#go-available")).to_contain_text("示闲")
                await expect(page.locator("#me-reg")).to_have_text("话机未注册")
                await expect(page.locator("#me-state")).to_have_text(re.compile("^(示闲|示忙|已签出)$"))
                await expect(page.get_by_role("link", name="坐席工作台")).to_be_visible()
                await expect(page.get_by_role("button", name="退出登录")).to_be_visible()
                await page.locator("#help-open").click()
                await expect(page.locator("#help-title")).to_have_text("键盘快捷键")
                await page.keyboard.press("Escape")
                await shot(page, "agent-panel-1024-zh-CN.png")

                # An English agent in a Chinese browser: English.
                page = await new_page(browser, "zh-CN")
                await sign_in(page, base, "ann")
                await expect(page).to_have_url(base + "/agent")
                await expect(page.locator("html")).to_have_attribute("lang", "en")
                await expect(page.locator("#conn")).to_have_text("connected")
                await expect(page.locator("#go-available")).to_contain_text("Available")
                await expect(page.locator("#me-reg")).to_have_text("phone not registered")
                await shot(page, "agent-panel-1024-en.png")

                # A zh-CN supervisor: the console and its script in Chinese.
                page = await new_page(browser, "en-US")
                await sign_in(page, base, "wang")
                await expect(page).to_have_url(base + "/supervisor")
                await expect(page.get_by_role("heading", name="班长监控台")).to_be_visible()
                await expect(page.locator("#connection")).to_have_text("实时")
                row = page.locator('#agents-section tr[data-agent="1009"]')
                await expect(row.locator(".state")).to_have_text("已签出")
                await expect(page.locator("#queues .figure.longest .label").first).to_have_text("最长等待")
                await shot(page, "supervisor-1024-zh-CN.png")
                # QA review, in Chinese as well (no calls yet: the script says so).
                await page.get_by_role("link", name="质检").click()
                await expect(page.get_by_role("heading", name="质检")).to_be_visible()
                await expect(page.locator("#status")).to_have_text("没有符合条件的通话。")
                await expect(page.get_by_role("columnheader", name="来电者")).to_be_visible()
                await shot(page, "qa-list-1024-zh-CN.png")

                # A supervisor without a language, English browser: English.
                page = await new_page(browser, "en-US")
                await sign_in(page, base, "sue")
                await expect(page.get_by_role("heading", name="Supervisor console")).to_be_visible()
                await expect(page.locator("#connection")).to_have_text("Live")
                await expect(page.locator('#agents-section tr[data-agent="1009"] .state')).to_have_text(
                    "logged out"
                )
                await shot(page, "supervisor-1024-en.png")

                # An admin without a language in a Chinese browser: the users page in Chinese; the
                # language is set there and then wins over the browser.
                page = await new_page(browser, "zh-CN")
                await sign_in(page, base, "root")
                await page.goto(base + "/admin/users")
                await expect(page.get_by_role("heading", name="用户", exact=True)).to_be_visible()
                await page.get_by_role("link", name="编辑 root").click()  # the one edit form
                form = page.get_by_role("form", name="编辑 root")
                await expect(form).to_be_visible()
                await shot(page, "admin-users-1024-zh-CN.png")
                await form.locator('select[name="language"]').select_option("en")
                await form.locator('button[type="submit"]').click()
                await expect(page.locator("p.notice")).to_have_text("Changes saved.")
                await expect(page.locator("html")).to_have_attribute("lang", "en")
                await page.get_by_role("link", name="Edit root").click()
                await expect(
                    page.get_by_role("form", name="Edit root").locator('select[name="language"]')
                ).to_have_value("en")

                # The widget: data-language="zh-CN" on an English browser's page.
                page = await new_page(browser, "en-US")
                await page.goto(base + "/chat-demo?language=zh-CN")
                await page.get_by_role("button", name="在线咨询").click()
                # The pre-chat form, or the offline one when no agent is there: both ask the name.
                shown = page.locator(".cc-form:not([hidden])")
                await expect(shown.locator("label").first).to_have_text("您的姓名")
                await expect(shown.locator('button[type="submit"]')).to_have_text(
                    re.compile("^(开始咨询|提交留言)$")
                )
                await shot(page, "widget-1024-zh-CN.png")
                page = await new_page(browser, "en-US")
                await page.goto(base + "/chat-demo")
                await page.get_by_role("button", name="Chat with us").click()
                shown = page.locator(".cc-form:not([hidden])")
                await expect(shown.locator("label").first).to_have_text("Your name")
                await shot(page, "widget-1024-en.png")
            finally:
                await browser.close()
    finally:
        await server.close()


async def test_a_chinese_agent_takes_a_chat_and_a_call(tmp_path: Path) -> None:
    """The panel's script in Chinese through a working day's moments: an offer, a chat with a
    visitor typing, a call popping up beside it with the caller's earlier messages, answered."""
    chromium = require("chromium", "chromium")
    node = await start_node(chat_settings(tmp_path))
    service = node.app[SERVICE]
    service.dialer = None  # no Asterisk: the test answers for the phone
    visitor = None
    try:
        await node.app[ACCOUNTS].create(
            "test", username="li", password=PASSWORD, role="agent", agent_id="1001", language="zh-CN"
        )
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
            try:
                page = await new_page(browser, "en-US")
                errors: list[str] = []
                page.on("pageerror", lambda err: errors.append(str(err)))
                await sign_in(page, node.url, "li")
                await expect(page.locator("#conn")).to_have_text("已连接")
                await expect(page.locator("#me-state")).to_have_text("已签出")
                await page.keyboard.press("Alt+Shift+V")
                await expect(page.locator("#me-state")).to_have_text("示闲")

                visitor = await customer(node.url)
                started = await visitor.call("start", {"name": "Dee", "message": "我的包裹到哪儿了？"})
                assert started.get("conversation_id"), started
                offer = page.get_by_role("article", name="新分配：来自 Dee 的网页聊天")
                await expect(offer).to_be_visible()
                await expect(offer.get_by_role("button", name="接受 Alt+Shift+A")).to_be_visible()
                await page.keyboard.press("Alt+Shift+A")
                chat = page.get_by_role("article", name="与 Dee 的会话")
                await expect(chat).to_be_visible()
                await visitor.call("typing", {"typing": True})
                await expect(chat.locator(".typing")).to_have_text("Dee 正在输入…")
                await expect(chat.get_by_label("回复 Dee")).to_be_visible()

                now = service.clock()
                sms = InboundMessage(
                    MessagingChannel.SMS,
                    "SM-1",
                    Identity(IdentityKind.PHONE, "+14155550123"),
                    "+15550000",
                    "退款到账了吗？",
                    now - 5,
                    name="Lou",
                )
                await node.messaging.receive(sms)
                service.handle(ev.AgentRegistered("1001", now))
                await expect(page.locator("#me-reg")).to_have_text("话机已注册")
                service.handle(ev.CallArrived("call-1", "+14155550123", "Lou", "5000", "PJSIP/trunk-1", now))
                service.handle(ev.IvrFinished("call-1", "1", "support", now, data={"order": "77-31"}))
                call = page.get_by_role("article", name="来自 Lou 的来电")
                await expect(call.locator("[data-phase]")).to_have_text("振铃中：请在话机上接听")
                await expect(call.get_by_label("IVR 收集的信息")).to_contain_text("77-31")
                await expect(call.get_by_label("历史消息")).to_contain_text("短信")
                await expect(page).to_have_title(re.compile("振铃："))  # the title calls for attention
                service.handle(ev.AgentAnswered("call-1", "1001", service.clock()))
                await expect(call.locator("[data-phase]")).to_have_text("通话中")
                await expect(call.get_by_role("button", name="挂断 Alt+Shift+H")).to_be_visible()
                await expect(call.get_by_role("button", name="保持 Alt+Shift+O")).to_be_visible()
                await shot(page, "agent-panel-call-1024-zh-CN.png")
                assert not errors, errors
            finally:
                await browser.close()
    finally:
        if visitor is not None:
            await visitor.close()
        await node.server.close()

"""``GET /api/softphone``, the browser softphone's SIP account (web/softphone.py), in-process: only
the account's own extension, never another's, no secret in the page or the logs; the page's
Content-Security-Policy lets the softphone reach Asterisk's WebSocket and nothing else."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callcenter.app import create_app
from callcenter.settings import phones
from callcenter.web.pages import ACCOUNTS
from tests.conftest import port
from tests.integration.test_api import auth, make_settings

PASSWORD = "correct horse battery"
WEBSOCKET = f"ws://127.0.0.1:{port(25060) + 28}"  # asterisk.webrtc_port unset: the SIP port + 28


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(create_app(make_settings(tmp_path)))) as c:
        yield c


async def sign_in(client: TestClient[Any, Any], username: str, role: str, agent_id: str | None) -> None:
    import re

    await client.app[ACCOUNTS].create(  # type: ignore[index]
        "test", username=username, password=PASSWORD, role=role, agent_id=agent_id
    )
    form = await (await client.get("/login")).text()
    token = re.search(r'name="login_token" value="([^"]+)"', form)
    assert token is not None
    data = {"username": username, "password": PASSWORD, "login_token": token.group(1)}
    assert (await client.post("/login", data=data, allow_redirects=False)).status == 303


async def test_an_agent_gets_its_own_browser_endpoint_and_nothing_else(
    client: TestClient[Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    resp = await client.get("/api/softphone", headers=auth("agent"))  # the token of agent 1001
    assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
    body = await resp.json()
    secret = phones.web_password("agentpass", "1001")
    assert body == {
        "websocket": WEBSOCKET + "/ws",
        "uri": "sip:1001-web@127.0.0.1",
        "username": "1001-web",
        "password": secret,
        "extension": "1001",
        "display_name": "agent",
    }
    assert secret not in caplog.text and "agentpass" not in caplog.text


async def test_without_an_agent_id_there_is_no_phone_and_other_roles_are_refused(
    client: TestClient[Any, Any],
) -> None:
    resp = await client.get("/api/softphone", headers=auth("admin"))
    assert resp.status == 404 and "no phone" in (await resp.json())["error"]
    assert (await client.get("/api/softphone", headers=auth("qa"))).status == 403
    assert (await client.get("/api/softphone")).status == 401


async def test_the_panel_carries_no_secret_and_may_reach_only_asterisks_websocket(
    client: TestClient[Any, Any],
) -> None:
    await sign_in(client, "ana", "agent", "1001")
    page = await client.get("/agent")
    html = await page.text()
    assert 'id="softphone"' in html and "/static/jssip.min.js" in html
    assert phones.web_password("agentpass", "1001") not in html
    csp = page.headers["Content-Security-Policy"]
    assert f"connect-src 'self' {WEBSOCKET}" in csp and "default-src 'self'" in csp
    session = await (await client.get("/api/softphone")).json()  # the session cookie suffices
    assert session["username"] == "1001-web"
    script = await client.get("/static/jssip.min.js")
    assert script.status == 200 and "JsSIP 3.13.8" in (await script.text())[:400]


async def test_a_supervisor_with_a_phone_has_the_softphone_on_the_console(
    client: TestClient[Any, Any],
) -> None:
    await sign_in(client, "sue", "supervisor", "1009")
    html = await (await client.get("/supervisor")).text()
    assert 'id="softphone"' in html
    assert (await (await client.get("/api/softphone")).json())["username"] == "1009-web"


async def test_a_supervisor_without_a_phone_has_no_softphone(client: TestClient[Any, Any]) -> None:
    await sign_in(client, "sam", "supervisor", None)
    page = await client.get("/supervisor")
    assert 'id="softphone"' not in await page.text()
    assert "connect-src" not in page.headers["Content-Security-Policy"]

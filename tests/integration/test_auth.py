"""Sign-in, sessions, CSRF, throttling, business lines, the audit log and the users API, against a
real aiohttp server and a real SQLite database. Time is a clock the test moves (no sleeping)."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from callcenter.app import AUTH_CLOCK, create_app
from callcenter.core import events as ev
from callcenter.web import api, assets
from callcenter.web.auth import AUTH_KEY
from callcenter.web.pages import ACCOUNTS, STATIC_DIR
from callcenter.web.sessions import COOKIE
from tests.integration.test_api import TOKENS, make_settings

PASSWORD = "correct horse battery"
Client = TestClient[Any, Any]


class Clock:
    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


def build(tmp_path: Path, clock: Clock, **extra: Any) -> web.Application:
    app = create_app(make_settings(tmp_path, **extra))
    app[AUTH_CLOCK] = clock
    return app


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def client(tmp_path: Path, clock: Clock) -> AsyncIterator[Client]:
    async with TestClient(TestServer(build(tmp_path, clock))) as c:
        yield c


async def add_user(c: Client, username: str, role: str, **kw: Any) -> int:
    user = await c.app[ACCOUNTS].create("test", username=username, password=PASSWORD, role=role, **kw)  # type: ignore[index]
    return int(user.id)


async def login(c: Client, username: str, password: str = PASSWORD, next: str = "/") -> Any:
    page = await (await c.get("/login")).text()
    match = re.search(r'name="login_token" value="([^"]+)"', page)
    assert match, page
    return await c.post(
        "/login",
        data={"username": username, "password": password, "login_token": match.group(1), "next": next},
        allow_redirects=False,
    )


def session_cookie(resp: Any) -> str:
    return str(resp.cookies[COOKIE].value)


async def csrf(c: Client) -> str:
    page = await (await c.get("/")).text()
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
    assert match, page
    return match.group(1)


async def audit(c: Client, **query: str) -> list[dict[str, Any]]:
    resp = await c.get("/api/audit", params=query, headers={"Authorization": f"Bearer {TOKENS['admin']}"})
    assert resp.status == 200, await resp.text()
    return list((await resp.json())["entries"])


# --- signing in -----------------------------------------------------------------------------------


async def test_sign_in_sets_a_safe_cookie_and_lands_on_the_role_page(client: Client) -> None:
    await add_user(client, "root", "admin")
    resp = await login(client, "ROOT ")  # typed with capitals and a space: still the same user
    assert resp.status == 303 and resp.headers["Location"] == "/"
    header = next(h for h in resp.headers.getall("Set-Cookie") if h.startswith(f"{COOKIE}="))
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Path=/" in header
    assert "Secure" not in header  # plain http and cookie_secure "auto"
    home = await client.get("/", allow_redirects=False)
    assert home.status == 303 and home.headers["Location"] == "/admin/users"
    page = await client.get("/admin/users")
    assert page.status == 200 and "root" in await page.text()
    assert page.headers["Cache-Control"] == "no-store"
    entries = await audit(client, action="login.succeeded")
    assert [(e["who"], e["target"], e["client"]) for e in entries] == [("root", "root", "127.0.0.1")]


async def test_a_crlf_in_next_still_signs_in_and_lands_home(client: Client) -> None:
    """Issue 13, 8: a CRLF in the login form's ``next`` dropped the connection after the sign-in."""
    await add_user(client, "crlf", "admin")
    resp = await login(client, "crlf", next="/admin/users\r\nSet-Cookie: evil=1")
    assert resp.status == 303 and resp.headers["Location"] == "/"
    assert "evil" not in resp.cookies


async def test_cookie_is_secure_when_configured(tmp_path: Path, clock: Clock) -> None:
    app = build(tmp_path, clock, security={"sessions": {"cookie_secure": "always"}})
    async with TestClient(TestServer(app)) as c:
        await add_user(c, "root", "admin")
        form = await c.get("/login")
        assert "Secure" in form.headers["Set-Cookie"]  # the sign-in form's token too
        token = re.search(r'name="login_token" value="([^"]+)"', await form.text())
        assert token is not None
        # The client's jar keeps Secure cookies for https: the browser's part is played by hand.
        resp = await c.post(
            "/login",
            data={"username": "root", "password": PASSWORD, "login_token": token.group(1)},
            headers={"Cookie": f"cc_login={token.group(1)}"},
            allow_redirects=False,
        )
        assert resp.status == 303
        header = next(h for h in resp.headers.getall("Set-Cookie") if h.startswith(f"{COOKIE}="))
        assert "Secure" in header and "HttpOnly" in header


async def test_bad_username_or_password_get_the_same_answer(client: Client) -> None:
    await add_user(client, "sam", "supervisor")
    wrong = await login(client, "sam", "not the password")
    unknown = await login(client, "nobody", "not the password")
    assert wrong.status == unknown.status == 401
    assert COOKIE not in wrong.cookies and COOKIE not in unknown.cookies
    for resp in (wrong, unknown):
        assert "Wrong username or password." in await resp.text()
    failures = await audit(client, action="login.failed")
    assert {e["target"] for e in failures} == {"sam", "nobody"}


async def test_login_form_needs_its_token(client: Client) -> None:
    await add_user(client, "root", "admin")
    resp = await client.post("/login", data={"username": "root", "password": PASSWORD}, allow_redirects=False)
    assert resp.status == 403 and COOKIE not in resp.cookies


async def test_throttle_locks_then_lets_in_after_the_wait(tmp_path: Path, clock: Clock) -> None:
    app = build(
        tmp_path,
        clock,
        security={"login_throttle": {"free_attempts_per_user": 2, "first_lockout_seconds": 30}},
    )
    async with TestClient(TestServer(app)) as c:
        await add_user(c, "qa1", "qa")
        for _ in range(3):
            assert (await login(c, "qa1", "wrong password!")).status == 401
        locked = await login(c, "qa1")  # even the right password waits out the lockout
        assert locked.status == 429 and locked.headers["Retry-After"] == "31"
        assert "Too many failed attempts" in await locked.text() and COOKIE not in locked.cookies
        clock.now += 30
        assert (await login(c, "qa1")).status == 303
        assert len(await audit(c, action="login.throttled")) == 1


async def test_disabled_user_is_refused_and_loses_the_session(client: Client) -> None:
    user_id = await add_user(client, "sue", "supervisor")
    token = session_cookie(await login(client, "sue"))
    admin = {"Authorization": f"Bearer {TOKENS['admin']}"}
    resp = await client.patch(f"/api/users/{user_id}", json={"disabled": True}, headers=admin)
    assert resp.status == 200 and (await resp.json())["disabled"] is True
    client.session.cookie_jar.clear()
    assert (await client.get("/api/agents", headers={"Cookie": f"{COOKIE}={token}"})).status == 401
    refused = await login(client, "sue")
    assert refused.status == 401 and "Wrong username or password." in await refused.text()
    assert [e["target"] for e in await audit(client, action="user.disabled")] == ["sue"]


# --- sessions ---------------------------------------------------------------------------------------


async def test_logout_ends_the_session_on_the_server(client: Client) -> None:
    await add_user(client, "sam", "supervisor")
    token = session_cookie(await login(client, "sam"))
    assert (await client.get("/api/agents")).status == 200
    without = await client.post("/logout", allow_redirects=False)
    assert without.status == 403  # CSRF token missing
    resp = await client.post("/logout", data={"csrf_token": await csrf(client)}, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/login"
    client.session.cookie_jar.clear()
    # The old cookie value, replayed, is worth nothing.
    assert (await client.get("/api/agents", headers={"Cookie": f"{COOKIE}={token}"})).status == 401
    assert [e["who"] for e in await audit(client, action="logout")] == ["sam"]


async def test_idle_and_absolute_expiry(client: Client, clock: Clock) -> None:
    await add_user(client, "sam", "supervisor")
    await login(client, "sam")
    clock.now += 29 * 60  # default idle 30 min: still in
    assert (await client.get("/api/agents")).status == 200
    clock.now += 29 * 60  # the request above kept it alive
    assert (await client.get("/api/agents")).status == 200
    clock.now += 30 * 60
    assert (await client.get("/api/agents")).status == 401
    # Absolute: active all along, but 12 hours after signing in it ends.
    await login(client, "sam")
    signed_in = clock.now
    for _ in range(30):
        clock.now += 29 * 60
        if (await client.get("/api/agents")).status != 200:
            break
    assert 12 * 3600 <= clock.now - signed_in < 12 * 3600 + 29 * 60
    assert (await client.get("/api/agents")).status == 401


async def test_session_survives_a_restart_and_is_rotated_at_login(tmp_path: Path, clock: Clock) -> None:
    async with TestClient(TestServer(build(tmp_path, clock))) as c:
        await add_user(c, "sam", "supervisor")
        first = session_cookie(await login(c, "sam"))
        second = session_cookie(await login(c, "sam"))  # signing in again: a new id, the old one closed
        assert first != second
        c.session.cookie_jar.clear()
        assert (await c.get("/api/agents", headers={"Cookie": f"{COOKIE}={first}"})).status == 401
    async with TestClient(TestServer(build(tmp_path, clock))) as c:
        resp = await c.get("/api/agents", headers={"Cookie": f"{COOKIE}={second}"})
        assert resp.status == 200
        principal = await c.app[AUTH_KEY].principal_from_cookie(f"theme=dark; {COOKIE}={second}")  # type: ignore[index]
        assert principal is not None and (principal.name, principal.role) == ("sam", "supervisor")
        assert principal.user_id is not None and principal.lines is None
        assert await c.app[AUTH_KEY].principal_from_cookie(f"{COOKIE}=forged") is None  # type: ignore[index]
        assert await c.app[AUTH_KEY].principal_from_cookie('bad"cookie') is None  # type: ignore[index]


async def test_anonymous_pages_redirect_to_login(client: Client) -> None:
    resp = await client.get("/admin/users?x=1", allow_redirects=False)
    assert resp.status == 303
    location = URL(resp.headers["Location"])
    assert location.path == "/login" and location.query["next"] == "/admin/users?x=1"
    assert (await client.get("/api/users")).status == 401
    await add_user(client, "root", "admin")
    resp = await login(client, "root", next="/admin/users?x=1")
    assert resp.headers["Location"] == "/admin/users?x=1"
    resp = await login(client, "root", next="https://evil.example/")
    assert resp.headers["Location"] == "/"


async def test_static_files_have_cache_headers(client: Client) -> None:
    resp = await client.get("/static/app.css")
    assert resp.status == 200 and "max-age" in resp.headers["Cache-Control"]
    assert (await client.get("/static/../auth.py")).status == 404
    assert (await client.get("/static/nothing.css")).status == 404


async def test_static_files_come_from_memory_with_an_etag_and_a_304(client: Client) -> None:
    first = await client.get("/static/app.css")
    assert first.headers["Content-Type"] == "text/css; charset=utf-8"
    assert await first.read() == (STATIC_DIR / "app.css").read_bytes()
    again = await client.get("/static/app.css", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status == 304 and await again.read() == b""
    script = await client.get("/static/app.js")
    assert script.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert script.headers["ETag"] != first.headers["ETag"]
    # A page names its assets by versioned URLs, cached for good; a new version is a new URL.
    page = await (await client.get("/login")).text()
    [url] = re.findall(r'href="(/static/app\.css\?v=[0-9a-f]{12})"', page)
    versioned = await client.get(url)
    assert versioned.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    stale = await client.get("/static/app.css?v=000000000000")
    assert stale.status == 200 and "immutable" not in stale.headers["Cache-Control"]
    qa = await client.get("/static/qa/qa.css")
    assert (
        qa.status == 200
        and (await client.get("/static/qa/qa.css", headers={"If-None-Match": qa.headers["ETag"]})).status
        == 304
    )


def test_an_asset_changed_on_disk_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "page.css"
    path.write_text("a { color: red }")
    before = assets.load(path)
    path.write_text("a { color: blue }")
    os.utime(path, ns=(0, path.stat().st_mtime_ns + 1_000_000))
    after = assets.load(path)
    assert after.body == b"a { color: blue }" and after.etag != before.etag
    assert assets.load(path) is after


# --- CSRF -----------------------------------------------------------------------------------------------


async def test_csrf_is_required_for_cookie_requests_only(client: Client) -> None:
    await add_user(client, "root", "admin")
    await login(client, "root")
    body = {"username": "new1", "password": PASSWORD, "role": "qa"}
    assert (await client.post("/api/users", json=body)).status == 403
    wrong = await client.post("/api/users", json=body, headers={"X-CSRF-Token": "x" * 43})
    assert wrong.status == 403 and "CSRF" in (await wrong.json())["error"]
    token = await csrf(client)
    assert (await client.post("/api/users", json=body, headers={"X-CSRF-Token": token})).status == 201
    # A form post carries the token as a field.
    form = {"username": "new2", "password": PASSWORD, "role": "qa", "lines": "", "agent_id": ""}
    assert (await client.post("/admin/users", data=form, allow_redirects=False)).status == 403
    resp = await client.post("/admin/users", data={**form, "csrf_token": token}, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/admin/users?done=created"
    # Reading needs no token; a bearer token needs none either.
    assert (await client.get("/api/users")).status == 200
    client.session.cookie_jar.clear()
    bearer = {"Authorization": f"Bearer {TOKENS['admin']}"}
    resp = await client.post("/api/users", json={**body, "username": "new3"}, headers=bearer)
    assert resp.status == 201


# --- users API and admin page --------------------------------------------------------------------------


async def test_users_api_validates_and_audits(client: Client) -> None:
    h = {"Authorization": f"Bearer {TOKENS['admin']}"}
    ok = {"username": "bill", "password": PASSWORD, "role": "supervisor", "lines": ["billing"]}
    resp = await client.post("/api/users", json=ok, headers=h)
    created = await resp.json()
    assert resp.status == 201 and created["lines"] == ["billing"] and "password" not in str(created)
    assert (await client.post("/api/users", json=ok, headers=h)).status == 409
    for bad, message in [
        ({**ok, "username": "x2", "bogus": 1}, "bogus"),
        ({**ok, "username": "x3", "password": "short"}, "password"),
        ({**ok, "username": "x4", "role": "boss"}, "role"),
        ({**ok, "username": "x5", "role": "agent"}, "agent_id"),
        ({**ok, "username": "x6", "role": "admin"}, "admin sees every"),
        ({**ok, "username": "Bad Name"}, "username"),
        ({**ok, "username": "x7", "lines": ["no good"]}, "business line"),
    ]:
        resp = await client.post("/api/users", json=bad, headers=h)
        assert resp.status == 400 and message in (await resp.json())["error"], (bad, await resp.text())
    uid = created["id"]
    resp = await client.patch(f"/api/users/{uid}", json={"lines": None, "display_name": "Bill"}, headers=h)
    assert resp.status == 200 and (await resp.json())["lines"] is None
    assert (await client.patch(f"/api/users/{uid}", json={}, headers=h)).status == 400
    assert (await client.patch(f"/api/users/{uid}", json={"role": "agent"}, headers=h)).status == 400
    resp = await client.patch(f"/api/users/{uid}", json={"role": "agent", "agent_id": "1002"}, headers=h)
    assert resp.status == 200 and (await resp.json())["agent_id"] == "1002"
    assert (await client.patch("/api/users/99999", json={"role": "qa"}, headers=h)).status == 404
    assert (await client.patch("/api/users/abc", json={"role": "qa"}, headers=h)).status == 404
    users = (await (await client.get("/api/users", headers=h)).json())["users"]
    assert [u["username"] for u in users] == ["bill"]
    entries = await audit(client, action="user.*")
    assert [e["action"] for e in entries] == ["user.changed", "user.changed", "user.created"]
    assert entries[-1]["who"] == "admin" and entries[-1]["detail"]["lines"] == ["billing"]
    assert "password" not in str(entries)


async def test_an_admin_cannot_lock_themselves_out(client: Client) -> None:
    me = await add_user(client, "root", "admin")
    await login(client, "root")
    h = {"X-CSRF-Token": await csrf(client)}
    resp = await client.patch(f"/api/users/{me}", json={"disabled": True}, headers=h)
    assert resp.status == 409
    assert (await client.patch(f"/api/users/{me}", json={"role": "qa"}, headers=h)).status == 409


async def test_admin_page_edits_and_escapes(client: Client) -> None:
    await add_user(client, "root", "admin")
    other = await add_user(client, "amy", "agent", agent_id="1001", display_name="<script>x</script>")
    await login(client, "root")
    token = await csrf(client)
    page = await (await client.get("/admin/users")).text()
    assert "<script>x</script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert 'aria-label="Edit amy"' in page and '<label for="username">' not in page
    form = {"csrf_token": token, "display_name": "Amy", "role": "supervisor", "lines": "billing, sales"}
    resp = await client.post(f"/admin/users/{other}", data=form, allow_redirects=False)
    assert resp.status == 303
    changed = await client.app[ACCOUNTS].store.user(other)  # type: ignore[index]
    assert changed.role == "supervisor" and changed.lines == {"billing", "sales"} and changed.agent_id is None
    bad = await client.post(f"/admin/users/{other}", data={**form, "role": "agent"})
    assert bad.status == 400 and "agent_id" in await bad.text()


async def test_audit_filters(client: Client, clock: Clock) -> None:
    await add_user(client, "sam", "supervisor")
    await login(client, "sam", "wrong password!")
    clock.now += 100
    await login(client, "sam")
    assert [e["action"] for e in await audit(client, user="sam")] == ["login.succeeded", "login.failed"]
    since = str(clock.now - 50)
    assert [e["action"] for e in await audit(client, since=since)] == ["login.succeeded"]
    assert len(await audit(client, until="2031-01-01T00:00:00+00:00")) == 3  # with user.created
    h = {"Authorization": f"Bearer {TOKENS['admin']}"}
    for bad in ("since=yesterday", "until=2030-01-01T00:00:00", "limit=0"):
        assert (await client.get(f"/api/audit?{bad}", headers=h)).status == 400


# --- business lines ---------------------------------------------------------------------------------------

QUEUES = """queues:
  billing: {line: billing}
  sales: {line: sales}
  support: {}
"""


async def test_a_supervisor_of_billing_does_not_see_sales(tmp_path: Path, clock: Clock) -> None:
    queues = tmp_path / "queues.yaml"
    queues.write_text(QUEUES)
    agents = [
        {"id": "1001", "extension": "1001", "queues": ["billing"]},
        {"id": "1002", "extension": "1002", "queues": ["sales"]},
    ]
    app = build(tmp_path, clock, acd={"queues_file": str(queues)}, agents=agents)
    async with TestClient(TestServer(app)) as c:
        service = c.app[api.SERVICE]  # type: ignore[index]
        now = service.clock()
        for n, queue in enumerate(["billing", "sales", "support"]):
            service.handle(ev.CallArrived(f"i-{queue}", "+1555", "", "5000", f"PJSIP/x-{n}", now))
            service.handle(ev.IvrFinished(f"i-{queue}", "1", queue, now))
        admin = {"Authorization": f"Bearer {TOKENS['admin']}"}
        for _ in range(200):  # the service's writer stores them in the background
            listed = (await (await c.get("/api/interactions", headers=admin)).json())["interactions"]
            if len(listed) == 3:
                break
            await asyncio.sleep(0.02)
        assert len(listed) == 3
        await add_user(c, "bea", "supervisor", lines=["billing"])
        await login(c, "bea")
        queues_seen = [q["name"] for q in (await (await c.get("/api/queues")).json())["queues"]]
        assert queues_seen == ["billing"]
        agents_seen = [a["id"] for a in (await (await c.get("/api/agents")).json())["agents"]]
        assert agents_seen == ["1001"]
        assert (await c.get("/api/agents/1002")).status == 403
        h = {"X-CSRF-Token": await csrf(c)}
        assert (await c.post("/api/agents/1002/login", headers=h)).status == 403
        assert (await c.post("/api/agents/1001/login", headers=h)).status == 200
        seen = [i["id"] for i in (await (await c.get("/api/interactions")).json())["interactions"]]
        assert seen == ["i-billing"]
        assert (await c.get("/api/interactions/i-sales")).status == 404
        assert (await c.get("/api/interactions/i-support")).status == 404
        assert (await c.get("/api/interactions/i-billing")).status == 200
        # The admin sees everything; the forced state change is audited with who and from where.
        assert (await c.get("/api/interactions/i-sales", headers=admin)).status == 200
        (entry,) = await audit(c, action="agent.state_forced")
        assert (entry["who"], entry["role"], entry["target"]) == ("bea", "supervisor", "1001")
        assert entry["detail"] == {"action": "login"} and entry["client"] == "127.0.0.1"


def test_queue_line_is_validated(tmp_path: Path) -> None:
    from callcenter.settings import ConfigError
    from callcenter.settings.queues_file import parse_queues

    assert parse_queues(QUEUES, "q.yaml")["billing"].line == "billing"
    with pytest.raises(ConfigError, match=r"q.yaml:3: queues.billing.line"):
        parse_queues("queues:\n  billing:\n    line: Not Valid\n", "q.yaml")


async def test_an_old_hash_is_upgraded_at_sign_in(client: Client) -> None:
    from argon2 import PasswordHasher

    from callcenter.accounts.model import Passwords

    accounts = client.app[ACCOUNTS]  # type: ignore[index]
    old = Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)).hash(PASSWORD)
    await accounts.store.add_user(
        username="old", display_name="", role="qa", lines=None, agent_id=None, password_hash=old, now=1.0
    )
    assert (await login(client, "old")).status == 303
    found = await accounts.store.credentials("old")
    assert found is not None and found[1] != old and not accounts.passwords.needs_rehash(found[1])
    home = await client.get("/")  # still signed in: the upgrade does not end the new session
    assert home.status == 200 and home.url.path == "/qa"  # a QA user's first page
    assert "old <small>(qa)</small>" in await home.text()


async def test_a_supervisor_may_have_a_phone_by_page_and_api(client: Client) -> None:
    """docs/supervisor.md: the supervisor's desk phone is the agent id on the account (listen,
    whisper and barge ring it); the users page and the API accept it, and check it is an agent."""
    await add_user(client, "root", "admin")
    sam = await add_user(client, "sam", "supervisor", lines=["support"], agent_id="1001")
    await login(client, "root")
    token = await csrf(client)
    form = {"csrf_token": token, "display_name": "Sam", "role": "supervisor", "lines": "support"}
    resp = await client.post(f"/admin/users/{sam}", data={**form, "agent_id": "1002"}, allow_redirects=False)
    assert resp.status == 303
    assert (await client.app[ACCOUNTS].store.user(sam)).agent_id == "1002"  # type: ignore[index]
    bad = await client.post(f"/admin/users/{sam}", data={**form, "agent_id": "9999"})
    assert bad.status == 400 and "not an agent of the configuration" in await bad.text()
    h = {"X-CSRF-Token": token}
    resp = await client.patch(f"/api/users/{sam}", json={"agent_id": None}, headers=h)
    assert resp.status == 200 and (await resp.json())["agent_id"] is None
    resp = await client.patch(f"/api/users/{sam}", json={"agent_id": "1001"}, headers=h)
    assert resp.status == 200 and (await resp.json())["agent_id"] == "1001"
    qa = await client.post(
        "/api/users",
        json={"username": "quinn", "password": PASSWORD, "role": "qa", "agent_id": "1001"},
        headers=h,
    )
    assert qa.status == 400 and "only agent, supervisor and admin" in (await qa.json())["error"]

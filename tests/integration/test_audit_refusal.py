"""A failed audit write fails the audited action: the database itself refuses the audit row (a
trigger on the real SQLite or PostgreSQL ``audit`` table), and through the real HTTP API, the
sign-in form and the command line nothing happens — no account, no change, no session, no forced
state, no queue or agent edit. Healthy again, every action works and has its chained row."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import subprocess
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
import yaml
from aiohttp.test_utils import TestClient, TestServer

from callcenter.accounts.audit import Audit
from callcenter.accounts.model import Passwords
from callcenter.accounts.service import Accounts
from callcenter.app import FLOWS, create_app
from callcenter.core.calls import machine as cl
from callcenter.core.omni.customers import Identity, IdentityKind
from callcenter.errors import AuditUnavailable
from callcenter.storage.accounts_store import AccountStore
from callcenter.storage.db import Database, create_engine
from callcenter.web.api import SERVICE, SETTINGS
from callcenter.web.pages import ACCOUNTS
from callcenter.web.sessions import COOKIE
from callcenter.web.webhooks import MESSAGING
from tests.integration.test_api import auth, make_settings
from tests.integration.test_audit_chain import reports
from tests.integration.test_ivr_api import example_flows
from tests.integration.test_realtime import Node, start_node
from tests.integration.test_supervisor import ADMIN, QUEUES, SUP_ALL, answered, http, supervisor_settings
from tests.pg import new_database
from tests.tools import run_callcenter

PASSWORD = "correct horse battery"
REFUSED = "The audit log cannot be written now"
TRIGGER = "CREATE TRIGGER audit_down BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'audit down'); END"


def sqlite_file(url: str) -> Path:
    return Path(url.split("///", 1)[1])


def audit_down(db: Path, down: bool) -> None:
    """The database refuses (or accepts again) every new audit row."""
    with closing(sqlite3.connect(db, timeout=30)) as conn:
        conn.execute(TRIGGER if down else "DROP TRIGGER audit_down")
        conn.commit()


async def set_audit(db: Path, down: bool) -> None:
    """audit_down from a thread: the server in this process finishes what it holds meanwhile (a
    blocking call here would keep the event loop, and with it the server's open transaction)."""
    await asyncio.to_thread(audit_down, db, down)


async def rows_in(db: Path, table: str) -> int:
    return await asyncio.to_thread(count, db, table)


def read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def count(db: Path, table: str) -> int:
    with closing(sqlite3.connect(db, timeout=30)) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def run_cli(*args: str, url: str, cwd: Path, password: str | None = None) -> subprocess.CompletedProcess[str]:
    return run_callcenter("--set", f"database.url={url}", *args, cwd=cwd, stdin=password)


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    settings = supervisor_settings(tmp_path)
    agents_file = tmp_path / "agents.yaml"
    n = await start_node(
        settings.model_copy(update={"acd": settings.acd.model_copy(update={"agents_file": agents_file})})
    )
    yield n
    await n.server.close()


def browser() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))  # cookies for 127.0.0.1


async def sign_in(node: Node, s: aiohttp.ClientSession, username: str, password: str = PASSWORD) -> Any:
    async with s.get(node.url + "/login") as page:
        token = re.search(r'name="login_token" value="([^"]+)"', await page.text())
        assert token
    form = {"username": username, "password": password, "login_token": token.group(1), "next": "/"}
    return await s.post(node.url + "/login", data=form, allow_redirects=False)


async def sign_out(node: Node, s: aiohttp.ClientSession) -> Any:
    async with s.get(node.url + "/") as home:
        csrf = re.search(r'<meta name="csrf-token" content="([^"]+)">', await home.text())
        assert csrf
    return await s.post(node.url + "/logout", data={"csrf_token": csrf.group(1)}, allow_redirects=False)


async def signed_in(node: Node, s: aiohttp.ClientSession) -> bool:
    async with s.get(node.url + "/api/agents") as resp:
        return resp.status == 200


async def users(node: Node) -> dict[str, dict[str, Any]]:
    status, body = await http(node, "GET", "/api/users", ADMIN)
    assert status == 200
    return {u["username"]: u for u in body["users"]}


async def agent_state(node: Node, agent_id: str) -> str:
    status, body = await http(node, "GET", f"/api/agents/{agent_id}", ADMIN)
    assert status == 200, body
    return str(body["state"])


async def test_with_the_audit_refused_no_audited_action_happens_over_http(node: Node) -> None:
    db = sqlite_file(node.app[SETTINGS].database.url)
    queues_file, agents_file = (
        Path(str(node.app[SETTINGS].acd.queues_file)),
        node.app[SETTINGS].acd.agents_file,
    )
    assert agents_file is not None
    engine = node.app[SERVICE].engine
    status, sam = await http(
        node, "POST", "/api/users", ADMIN, {"username": "sam", "password": PASSWORD, "role": "supervisor"}
    )
    assert status == 201, sam
    async with browser() as kept, browser() as fresh:
        assert (await sign_in(node, kept, "sam")).status == 303 and await signed_in(node, kept)
        rows, sessions, state = (
            await rows_in(db, "audit"),
            await rows_in(db, "sessions"),
            await agent_state(node, "1001"),
        )
        edited = QUEUES + "  vip:\n    line: sales\n"
        profile = {
            "queues": ["sales", "billing"],
            "skills": {"french": 3},
            "languages": ["fr"],
            "max_chats": 3,
        }

        await set_audit(db, True)
        # Account changes: the change and its row are one transaction: neither is stored.
        status, body = await http(
            node, "POST", "/api/users", ADMIN, {"username": "amy", "password": PASSWORD, "role": "qa"}
        )
        assert status == 503 and REFUSED in body["error"]
        status, body = await http(node, "PATCH", f"/api/users/{sam['id']}", ADMIN, {"disabled": True})
        assert status == 503 and REFUSED in body["error"]
        assert set(await users(node)) == {"sam"} and not (await users(node))["sam"]["disabled"]
        assert await signed_in(node, kept)  # disabling would have ended it
        # Sign-in: refused with a page that says why, and no session exists.
        refused = await sign_in(node, fresh, "sam")
        assert refused.status == 503 and REFUSED in await refused.text()
        assert COOKIE not in refused.cookies and not await signed_in(node, fresh)
        # A wrong password: the refusal stands as it is (401), audited or not.
        assert (await sign_in(node, fresh, "sam", "wrong password!")).status == 401
        # Sign-out: refused, the session stays (until its expiry).
        out = await sign_out(node, kept)
        assert out.status == 503 and REFUSED in await out.text()
        assert await signed_in(node, kept)
        # A forced agent state does not happen.
        status, body = await http(node, "POST", "/api/agents/1001/login", SUP_ALL)
        assert status == 503 and REFUSED in body["error"]
        assert await agent_state(node, "1001") == state
        # Neither a queue edit nor an agent profile edit is written or applied.
        status, body = await http(node, "PUT", "/api/admin/queues", ADMIN, {"yaml": edited})
        assert status == 503 and REFUSED in body["error"]
        assert read(queues_file) == QUEUES and "vip" not in engine.queues
        status, body = await http(node, "PUT", "/api/admin/agents/1001", ADMIN, profile)
        assert status == 503 and not read(agents_file)
        assert engine.agents["1001"].skills == {}
        assert (await rows_in(db, "audit"), await rows_in(db, "sessions")) == (rows, sessions)

        await set_audit(db, False)
        assert (await http(node, "POST", "/api/agents/1001/login", SUP_ALL))[0] == 200
        assert await agent_state(node, "1001") != state
        assert (await http(node, "PUT", "/api/admin/queues", ADMIN, {"yaml": edited}))[0] == 200
        assert "vip" in engine.queues and read(queues_file) == edited
        assert (await http(node, "PUT", "/api/admin/agents/1001", ADMIN, profile))[0] == 200
        assert yaml.safe_load(read(agents_file))["agents"]["1001"]["skills"] == {"french": 3}
        assert (await sign_in(node, fresh, "sam")).status == 303 and await signed_in(node, fresh)
        assert (await sign_out(node, kept)).status == 303 and not await signed_in(node, kept)
        status, _ = await http(
            node, "POST", "/api/users", ADMIN, {"username": "amy", "password": PASSWORD, "role": "qa"}
        )
        assert status == 201
        assert (await http(node, "PATCH", f"/api/users/{sam['id']}", ADMIN, {"disabled": True}))[0] == 200
        assert not await signed_in(node, fresh)
    status, body = await http(node, "GET", "/api/audit", ADMIN)
    # Before: sam created and signed in. While down: nothing (not even the wrong password's row).
    assert [e["action"] for e in reversed(body["entries"])] == [
        "user.created",
        "login.succeeded",
        "agent.state_forced",
        "queues.edited",
        "agent.profile_edited",
        "login.succeeded",
        "logout",
        "user.created",
        "user.disabled",
    ]
    verify = run_cli("audit", "verify", url=node.app[SETTINGS].database.url, cwd=db.parent)
    assert verify.returncode == 0 and "audit: 9 rows, chain intact" in verify.stdout, (
        verify.stdout + verify.stderr
    )


async def test_with_the_audit_refused_nobody_listens_in(node: Node) -> None:
    """Listen / whisper / barge: the core accepts, the audit row is refused, and the supervisor's
    phone is not rung (the call-control adapter is never asked; the core hears it was not done)."""
    db = sqlite_file(node.app[SETTINGS].database.url)
    service = node.app[SERVICE]
    seen: list[object] = []
    service.observers.append(seen.append)
    answered(node, "call-a", "1001")
    assert await service.stored(service.enqueued)  # the server's writes done: the file is free
    rows = await rows_in(db, "audit")
    await set_audit(db, True)
    status, body = await http(node, "POST", "/api/supervisor/listen", SUP_ALL, {"agent_id": "1001"})
    assert status == 503 and REFUSED in body["error"]
    assert await rows_in(db, "audit") == rows
    assert [e.reason for e in seen if isinstance(e, cl.SpyFailed)] == ["not carried out"]
    assert await service.stored(service.enqueued)
    await set_audit(db, False)
    status, body = await http(node, "POST", "/api/supervisor/listen", SUP_ALL, {"agent_id": "1001"})
    assert status == 502  # audited, then the adapter asked: no leg of a real phone here
    assert await rows_in(db, "audit") == rows + 1
    assert [e.reason for e in seen if isinstance(e, cl.SpyFailed)][1:] == [
        "the agent's phone is not on this call"
    ]


def test_with_the_audit_refused_the_user_command_changes_nothing(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"
    db = sqlite_file(url)
    assert run_cli("db", "upgrade", url=url, cwd=tmp_path).returncode == 0
    audit_down(db, True)
    added = run_cli(
        "user", "add", "root", "--role", "admin", "--password-stdin", url=url, cwd=tmp_path, password=PASSWORD
    )
    assert added.returncode == 1 and "refused, nothing changed" in added.stderr, added.stderr
    assert "Traceback" not in added.stderr and PASSWORD not in added.stdout + added.stderr
    assert count(db, "users") == 0
    audit_down(db, False)
    assert (
        run_cli(
            "user",
            "add",
            "root",
            "--role",
            "admin",
            "--password-stdin",
            url=url,
            cwd=tmp_path,
            password=PASSWORD,
        ).returncode
        == 0
    )
    audit_down(db, True)
    disabled = run_cli("user", "disable", "root", url=url, cwd=tmp_path)
    assert disabled.returncode == 1 and "refused, nothing changed" in disabled.stderr
    passwd = run_cli(
        "user", "passwd", "root", "--password-stdin", url=url, cwd=tmp_path, password="another-password-43"
    )
    assert passwd.returncode == 1
    listed = run_cli("user", "list", url=url, cwd=tmp_path)
    assert listed.returncode == 0 and "\troot\tadmin\tall lines\tactive" in listed.stdout
    audit_down(db, False)
    assert run_cli("user", "disable", "root", url=url, cwd=tmp_path).returncode == 0
    verify = run_cli("audit", "verify", url=url, cwd=tmp_path)
    assert verify.returncode == 0 and "audit: 2 rows, chain intact" in verify.stdout, verify.stdout


async def test_with_the_audit_refused_customers_and_ivr_flows_do_not_change(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, ivr=example_flows(tmp_path))
    flows = tmp_path / "flows"
    db = sqlite_file(settings.database.url)
    async with TestClient(TestServer(create_app(settings))) as c:
        messaging = c.app[MESSAGING]
        now = messaging.clock()
        ann = await messaging.identify(Identity(IdentityKind.PHONE, "+15550000001"), now)
        bob = await messaging.identify(Identity(IdentityKind.PHONE, "+15550000002"), now)
        billing = flows / "billing.yaml"
        before, edited = read(billing), read(billing).replace("priority: 10", "priority: 20")
        admin = auth("admin")

        await set_audit(db, True)
        changed = await c.post(f"/api/customers/{ann}/attributes", headers=admin, json={"vip": True})
        assert changed.status == 503 and REFUSED in (await changed.json())["error"]
        merged = await c.post(
            f"/api/customers/{ann}/merge", headers=admin, json={"into": bob, "reason": "same"}
        )
        assert merged.status == 503
        assert not messaging.customers.get(ann).vip and messaging.customers.get(ann).active
        saved = await c.put("/api/ivr/flows/billing", headers=admin, json={"yaml": edited})
        assert saved.status == 503 and read(billing) == before
        assert c.app[FLOWS].flows.flows["billing"].nodes["vip_billing"].priority == 10
        assert await rows_in(db, "audit") == 0

        await set_audit(db, False)
        assert (
            await c.post(f"/api/customers/{ann}/attributes", headers=admin, json={"vip": True})
        ).status == 200
        merged = await c.post(
            f"/api/customers/{ann}/merge", headers=admin, json={"into": bob, "reason": "same"}
        )
        assert merged.status == 200 and not messaging.customers.get(ann).active
        assert (await c.put("/api/ivr/flows/billing", headers=admin, json={"yaml": edited})).status == 200
        assert read(billing) == edited
        entries = (await (await c.get("/api/audit", headers=admin)).json())["entries"]
        assert [e["action"] for e in reversed(entries)] == [
            "customer.changed",
            "customer.merged",
            "ivr.flow_saved",
        ]
    verify = run_cli("audit", "verify", url=settings.database.url, cwd=tmp_path)
    assert verify.returncode == 0 and "audit: 3 rows, chain intact" in verify.stdout, verify.stdout


PG_TRIGGER = (
    "CREATE OR REPLACE FUNCTION audit_down() RETURNS trigger LANGUAGE plpgsql AS"
    " $$ BEGIN RAISE EXCEPTION 'audit down'; END $$",
    "CREATE TRIGGER audit_down BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION audit_down()",
)


@pytest.fixture(params=["sqlite", "postgresql"])
async def url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "postgresql":
        url = await new_database(request.getfixturevalue("postgres_url"))
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'accounts.db'}"
    database = Database(url)
    await database.start()
    await database.stop()
    yield url


async def set_audit_down(url: str, down: bool) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            if url.startswith("sqlite"):
                await conn.exec_driver_sql(TRIGGER if down else "DROP TRIGGER audit_down")
            else:
                for statement in PG_TRIGGER if down else ("DROP TRIGGER audit_down ON audit",):
                    await conn.exec_driver_sql(statement)
    finally:
        await engine.dispose()


async def test_an_account_change_and_its_row_are_one_transaction(url: str) -> None:
    """On SQLite and PostgreSQL: the user row, its sessions and the audit row go together."""
    store = AccountStore(url)
    await store.start()

    def clock() -> float:
        return 1_900_000_000.0

    accounts = Accounts(store, Audit(store, clock), [], clock, Passwords())
    try:
        await set_audit_down(url, True)
        with pytest.raises(AuditUnavailable):
            await accounts.create("ann", username="amy", password=PASSWORD, role="qa")
        assert await store.users() == []
        await set_audit_down(url, False)
        amy = await accounts.create("ann", username="amy", password=PASSWORD, role="qa")
        await store.add_session("k1", amy.id, "csrf", clock(), None)
        await set_audit_down(url, True)
        with pytest.raises(AuditUnavailable):
            await accounts.update("ann", amy.id, {"disabled": True, "display_name": "Amy"})
        assert await store.user(amy.id) == amy and await store.session("k1") is not None
        with pytest.raises(AuditUnavailable):  # the other audited actions: record refuses too
            await accounts.audit.record("ann", "queues.edited", "queues.yaml")
        assert await accounts.audit.try_record("amy", "login.failed", "amy") is False
        await set_audit_down(url, False)
        changed = await accounts.update("ann", amy.id, {"disabled": True})
        assert changed.disabled and await store.session("k1") is None
    finally:
        await store.stop()
    report = (await reports(url))["audit"]
    assert report.ok and report.rows == 2
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.text("SELECT action, target FROM audit ORDER BY id"))).all()
    finally:
        await engine.dispose()
    assert [tuple(r) for r in rows] == [("user.created", "amy"), ("user.disabled", "amy")]


async def test_with_the_audit_refused_the_users_page_changes_nothing(tmp_path: Path) -> None:
    """The admin's page (HTML forms, cookie session): a 503 page that says why, the account as it was."""
    from tests.integration.test_auth import Clock, add_user, build, csrf, login

    async with TestClient(TestServer(build(tmp_path, Clock()))) as c:
        await add_user(c, "root", "admin")
        amy = await add_user(c, "amy", "qa")
        assert (await login(c, "root")).status == 303
        token = await csrf(c)
        db = sqlite_file(c.app[SETTINGS].database.url)
        await set_audit(db, True)
        edit = {"csrf_token": token, "display_name": "Amy", "role": "qa", "disabled": "on"}
        refused = await c.post(f"/admin/users/{amy}", data=edit, allow_redirects=False)
        assert refused.status == 503 and REFUSED in await refused.text()
        new = {"csrf_token": token, "username": "zed", "password": PASSWORD, "role": "qa"}
        created = await c.post("/admin/users", data=new, allow_redirects=False)
        assert created.status == 503 and REFUSED in await created.text()
        store = c.app[ACCOUNTS].store
        assert not (await store.user(amy)).disabled and await store.credentials("zed") is None
        await set_audit(db, False)
        assert (await c.post(f"/admin/users/{amy}", data=edit, allow_redirects=False)).status == 303
        assert (await store.user(amy)).disabled

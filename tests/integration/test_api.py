"""The HTTP API in-process, against a real SQLite database: roles, bad input, health, OpenAPI.

Asterisk is deliberately unreachable here (a closed port): the API must serve regardless.
"""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from openapi_spec_validator import validate

from callcenter.app import create_app
from callcenter.web.auth import PUBLIC, roles_of
from tests.conftest import config_with, settings_from

TOKENS = {
    "admin": "admin-token-0123456789abcdef",
    "supervisor": "supervisor-token-0123456789",
    "qa": "qa-token-0123456789abcdefgh",
    "agent": "agent-token-0123456789abcdef",
    "crm": "crm-token-0123456789abcdefgh",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_settings(tmp_path: Path, **extra: Any) -> Any:
    config = config_with(
        asterisk={"ami_port": free_port(), "reconnect_min_delay": 5.0},
        agi={"port": free_port()},
        database={"url": f"sqlite+aiosqlite:///{tmp_path}/api.db"},
        # Never the sandbox's spool: a real server of the e2e tests may be recording there.
        recordings={"directory": str(tmp_path / "recordings"), "spool_dir": str(tmp_path / "spool")},
        security={
            "api_tokens": [
                {
                    "name": role,
                    "role": role,
                    "token": token,
                    **({"agent_id": "1001"} if role == "agent" else {}),
                }
                for role, token in TOKENS.items()
            ],
            **extra.pop("security", {}),
        },
        **extra,
    )
    return settings_from(config)


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    # Tickets on (tickets.example.yaml), so their routes answer for real in the role matrix.
    tickets = {"workflow_file": str(Path(__file__).parents[2] / "tickets.example.yaml")}
    async with TestClient(TestServer(create_app(make_settings(tmp_path, tickets=tickets)))) as c:
        yield c


def auth(role: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role]}"} if role else {}


# (method, path) -> roles allowed; everything not listed is refused. The matrix is walked in full.
MATRIX: dict[tuple[str, str], set[str]] = {
    ("GET", "/healthz"): {PUBLIC},
    ("GET", "/metrics"): {PUBLIC},
    ("GET", "/api/openapi.json"): {PUBLIC},
    ("GET", "/api/agents"): {"supervisor", "admin"},
    ("GET", "/api/agents/1001"): {"agent", "supervisor", "admin"},
    ("POST", "/api/agents/1001/pause"): {"agent", "supervisor", "admin"},
    ("GET", "/api/queues"): {"supervisor", "admin"},
    ("GET", "/api/interactions"): {"supervisor", "admin", "qa"},
    ("GET", "/api/interactions/none"): {"supervisor", "admin", "qa"},
    ("POST", "/api/interactions/none/recording"): {"agent", "supervisor", "admin"},
    ("GET", "/api/ivr/flows"): {"supervisor", "admin"},
    ("GET", "/api/ivr/flows/main"): {"supervisor", "admin"},
    ("PUT", "/api/ivr/flows/main"): {"admin"},
    ("POST", "/api/ivr/flows/main/validate"): {"admin"},
    ("POST", "/api/ivr/flows/main/test"): {"supervisor", "admin"},
    ("GET", "/api/customers/none"): {"agent", "supervisor", "admin"},
    ("POST", "/api/customers/none/attributes"): {"supervisor", "admin"},
    ("POST", "/api/customers/none/merge"): {"supervisor", "admin"},
    ("POST", "/api/customer-merges/none/undo"): {"supervisor", "admin"},
    ("GET", "/api/customer-suggestions"): {"supervisor", "admin"},
    ("POST", "/api/conversations/none/reply"): {"agent", "supervisor", "admin"},
    ("GET", "/api/users"): {"admin"},
    ("POST", "/api/users"): {"admin"},
    ("PATCH", "/api/users/u1"): {"admin"},
    ("GET", "/api/audit"): {"admin"},
    # Pages and sign-in (tests/integration/test_auth.py has the details).
    ("GET", "/login"): {PUBLIC},
    ("POST", "/login"): {PUBLIC},
    ("POST", "/logout"): {"agent", "supervisor", "qa", "admin"},
    ("GET", "/"): {"agent", "supervisor", "qa", "admin"},
    ("GET", "/static/app.css"): {PUBLIC},
    ("GET", "/admin/users"): {"admin"},
    ("POST", "/admin/users"): {"admin"},
    ("POST", "/admin/users/u1"): {"admin"},
    # QA review (tests/integration/test_qa.py covers what they do).
    ("GET", "/qa"): {"qa", "supervisor", "admin"},
    # The agent panel (tests/integration/test_agent_panel.py, test_agent_panel_browser.py).
    ("GET", "/agent"): {"agent"},
    ("GET", "/api/softphone"): {"agent", "supervisor", "admin"},  # test_softphone_api.py
    ("GET", "/qa/calls/none"): {"qa", "supervisor", "admin"},
    ("GET", "/static/qa/qa.js"): {PUBLIC},
    ("GET", "/api/qa/calls"): {"qa", "supervisor", "admin"},
    ("GET", "/api/qa/scorecards"): {"qa", "supervisor", "admin"},
    ("GET", "/api/qa/calls/none"): {"qa", "supervisor", "admin"},
    ("POST", "/api/qa/calls/none/reviews"): {"qa", "supervisor", "admin"},
    ("GET", "/api/qa/calls/none/calibration"): {"qa", "supervisor", "admin"},
    ("POST", "/api/qa/calls/none/calibration"): {"qa", "supervisor", "admin"},
    ("GET", "/api/recordings/none/audio"): {"qa", "supervisor", "admin"},
    # Supervisor console and admin configuration (test_supervisor.py, test_admin_config.py).
    ("GET", "/supervisor"): {"supervisor", "admin"},
    ("GET", "/api/supervisor/wallboard"): {"supervisor", "admin"},
    ("POST", "/api/supervisor/reassign"): {"supervisor", "admin"},
    ("POST", "/api/supervisor/listen"): {"supervisor", "admin"},
    ("GET", "/admin/queues"): {"admin"},
    ("GET", "/admin/agents"): {"admin"},
    ("GET", "/admin/ivr"): {"admin"},
    ("GET", "/api/admin/queues"): {"admin"},
    ("PUT", "/api/admin/queues"): {"admin"},
    ("GET", "/admin/tickets"): {"admin"},  # the tickets file (test_tickets_api.py)
    ("GET", "/api/admin/tickets"): {"admin"},
    ("PUT", "/api/admin/tickets"): {"admin"},
    ("GET", "/api/admin/agents"): {"admin"},
    ("PUT", "/api/admin/agents/1001"): {"admin"},
    ("POST", "/api/admin/agents"): {"admin"},  # agents added and removed at runtime (test_admin_roster*)
    ("DELETE", "/api/admin/agents/1001"): {"admin"},
    # Historical reports (test_reports_api.py).
    ("GET", "/reports"): {"supervisor", "admin"},
    ("GET", "/api/reports/queues"): {"supervisor", "admin"},
    ("GET", "/api/reports/agents"): {"supervisor", "admin"},
    ("GET", "/api/reports/adherence"): {"supervisor", "admin"},
    ("GET", "/api/agent/schedule"): {"agent"},  # the agent's own shifts (test_reports_api.py)
    ("GET", "/api/reports/fcr"): {"supervisor", "admin"},
    ("GET", "/api/reports/surveys"): {"supervisor", "admin"},
    ("GET", "/api/reports/conversations"): {"supervisor", "admin"},
    # Planning: forecast, staffing and the simulated service level (test_planning_api.py).
    ("GET", "/planning"): {"supervisor", "admin"},
    ("GET", "/campaigns"): {"supervisor", "admin"},
    ("GET", "/api/planning"): {"supervisor", "admin"},
    # Tickets (test_tickets_api.py); each ticket is checked again (team, line) inside.
    ("GET", "/api/tickets/workflow"): {"agent", "supervisor", "admin"},
    ("GET", "/api/tickets/board"): {"supervisor", "admin"},
    ("GET", "/tickets/board"): {"supervisor", "admin"},
    ("GET", "/api/tickets/notifications"): {"agent", "supervisor", "admin"},
    ("POST", "/api/tickets/notifications/read"): {"agent", "supervisor", "admin"},
    ("GET", "/api/tickets"): {"agent", "supervisor", "admin"},
    ("POST", "/api/tickets"): {"agent", "supervisor", "admin"},
    ("GET", "/api/tickets/T-NONE"): {"agent", "supervisor", "admin"},
    ("POST", "/api/tickets/T-NONE/transition"): {"agent", "supervisor", "admin"},
    ("POST", "/api/tickets/T-NONE/transfer"): {"agent", "supervisor", "admin"},
    ("POST", "/api/tickets/T-NONE/comments"): {"agent", "supervisor", "admin"},
    ("POST", "/api/tickets/T-NONE/priority"): {"agent", "supervisor", "admin"},  # an agent's: a request
    ("DELETE", "/api/tickets/T-NONE"): {"agent", "supervisor", "admin"},  # an agent's: a request
    ("POST", "/api/tickets/T-NONE/attachments"): {"agent", "supervisor", "admin"},
    ("GET", "/api/tickets/T-NONE/attachments/A-NONE"): {"agent", "supervisor", "admin"},
    # Temporary access and approvals (test_ticket_access.py).
    ("POST", "/api/ticket-grants"): {"supervisor", "admin"},
    ("GET", "/api/ticket-grants"): {"agent", "supervisor", "admin"},
    ("DELETE", "/api/ticket-grants/1"): {"supervisor", "admin"},
    ("GET", "/api/ticket-approvals"): {"supervisor", "admin"},
    ("POST", "/api/ticket-approvals/1/approve"): {"supervisor", "admin"},
    ("POST", "/api/ticket-approvals/1/refuse"): {"supervisor", "admin"},
    ("GET", "/tickets/access"): {"supervisor", "admin"},
    # The knowledge base (test_kb_api.py): readers read, admins write.
    ("GET", "/kb"): {"agent", "qa", "supervisor", "admin"},
    ("GET", "/api/kb/articles"): {"agent", "qa", "supervisor", "admin"},
    ("POST", "/api/kb/articles"): {"admin"},
    ("GET", "/api/kb/articles/1"): {"agent", "qa", "supervisor", "admin"},
    ("PUT", "/api/kb/articles/1"): {"admin"},
    ("GET", "/api/kb/articles/1/versions"): {"admin"},
    ("POST", "/api/kb/articles/1/publish"): {"admin"},
    ("POST", "/api/kb/articles/1/archive"): {"admin"},
    ("GET", "/api/kb/search"): {"agent", "qa", "supervisor", "admin"},
    ("POST", "/api/kb/suggest"): {"agent", "supervisor", "admin"},
    # Outbound campaigns (test_outbound.py).
    ("GET", "/api/campaigns"): {"supervisor", "admin"},
    ("POST", "/api/campaigns"): {"supervisor", "admin"},
    ("GET", "/api/campaigns/renewals"): {"supervisor", "admin"},
    ("POST", "/api/campaigns/renewals/list"): {"supervisor", "admin"},
    ("GET", "/api/campaigns/renewals/decisions"): {"supervisor", "admin"},
    ("POST", "/api/campaigns/renewals/start"): {"supervisor", "admin"},
    ("POST", "/api/dnc"): {"supervisor", "admin"},
    # Scheduled callbacks (test_callbacks.py): agents file them, supervisors list and cancel.
    ("POST", "/api/callbacks"): {"agent", "supervisor", "admin"},
    ("GET", "/api/callbacks"): {"supervisor", "admin"},
    ("POST", "/api/callbacks/1/cancel"): {"supervisor", "admin"},
    # CRM webhooks (test_webhooks.py): admins only.
    ("GET", "/api/webhooks"): {"admin"},
    ("GET", "/api/webhooks/deliveries"): {"admin"},
    ("POST", "/api/webhooks/deliveries/1/redeliver"): {"admin"},
    ("GET", "/admin/webhooks"): {"admin"},  # the delivery log page (test_webhooks_page_browser.py)
    # The nodes of the cluster (test_cluster_nodes.py): admins only.
    ("GET", "/api/cluster"): {"admin"},
    ("GET", "/admin/cluster"): {"admin"},
    # The inbound update API: a CRM's token only (role crm, which may do nothing else).
    ("PATCH", "/api/crm/tickets/T-NONE"): {"crm"},
    ("PATCH", "/api/crm/customers/none"): {"crm"},
    # Provider webhooks: no API token is asked for; the provider's signature is (see WEBHOOKS).
    ("POST", "/webhooks/twilio/sms"): {PUBLIC},
    ("GET", "/webhooks/whatsapp"): {PUBLIC},
    ("POST", "/webhooks/whatsapp"): {PUBLIC},
    ("GET", "/webhooks/wechat"): {PUBLIC},
    ("POST", "/webhooks/wechat"): {PUBLIC},
    # The web-chat widget's files and demo page (public: any site's visitors load them).
    ("GET", "/widget.js"): {PUBLIC},
    ("GET", "/static/widget.css"): {PUBLIC},
    ("GET", "/chat-demo"): {PUBLIC},
    # Socket.IO: the transport is public; namespaces and events check roles (test_realtime.py).
    ("GET", "/socket.io/"): {PUBLIC},
    ("POST", "/socket.io/"): {PUBLIC},
}
# Public for the token middleware, but refused without the provider's signature (or, when the
# channel is not configured, not found) whoever calls, bearer token or not.
WEBHOOKS = {path for _, path in MATRIX if path.startswith("/webhooks/")}
# Public, but refused without the sign-in form's own token (double-submit cookie).
FORM_TOKEN = {("POST", "/login")}
# Pages: an anonymous (or wrongly authenticated) GET is redirected to the sign-in page.
PAGES = {
    ("GET", "/agent"),
    ("GET", "/"),
    ("GET", "/admin/users"),
    ("GET", "/qa"),
    ("GET", "/qa/calls/none"),
    ("GET", "/supervisor"),
    ("GET", "/admin/queues"),
    ("GET", "/admin/agents"),
    ("GET", "/admin/ivr"),
    ("GET", "/reports"),
    ("GET", "/planning"),
    ("GET", "/kb"),
    ("GET", "/campaigns"),
    ("GET", "/tickets/board"),
    ("GET", "/admin/webhooks"),
    ("GET", "/tickets/access"),
    ("GET", "/admin/tickets"),
    ("GET", "/admin/cluster"),
}
# Engine.IO answers 400 to a request that is not one of its own (no transport, no session).
SOCKETS = {"/socket.io/"}


async def test_every_route_declares_roles_and_is_in_the_matrix(client: TestClient[Any, Any]) -> None:
    routes = {
        (r.method, r.resource.canonical)  # type: ignore[union-attr]
        for r in client.app.router.routes()  # type: ignore[union-attr]
        if r.method != "HEAD"
    }
    for method, path in routes:
        assert roles_of(
            next(
                r.handler
                for r in client.app.router.routes()  # type: ignore[union-attr]
                if r.method == method and r.resource.canonical == path  # type: ignore[union-attr]
            )
        ), f"{method} {path} declares no roles"
    tested = {
        (
            m,
            p.replace("tickets/T-NONE", "tickets/{ticket_id}")
            .replace("attachments/A-NONE", "attachments/{attachment_id}")
            .replace("grants/1", "grants/{grant_id}")
            .replace("approvals/1/", "approvals/{approval_id}/")
            .replace("articles/1", "articles/{article_id}")
            .replace("deliveries/1/", "deliveries/{delivery_id}/")
            .replace("callbacks/1/", "callbacks/{callback_id}/")
            .replace("1001/pause", "{agent_id}/{action}")
            .replace("1001", "{agent_id}")
            .replace("customers/none", "customers/{customer_id}")
            .replace("merges/none", "merges/{merge_id}")
            .replace("conversations/none", "conversations/{conversation_id}")
            .replace("qa/qa.js", "qa/{name}")
            .replace("/none", "/{interaction_id}")
            .replace("flows/main", "flows/{name}")
            .replace("users/u1", "users/{user_id}")
            .replace("static/app.css", "static/{name}")
            .replace("static/widget.css", "static/{name}")
            .replace("renewals/start", "{name}/{action}")
            .replace("campaigns/renewals", "campaigns/{name}"),
        )
        for m, p in MATRIX
    }
    assert routes == tested


async def walk(
    client: TestClient[Any, Any],
    who: str | None,
    headers: dict[str, str],
    skip: frozenset[tuple[str, str]] = frozenset(),
) -> None:
    for (method, path), allowed in MATRIX.items():
        if (method, path) in skip:
            continue
        resp = await client.request(
            method,
            path,
            headers=headers,
            json={} if method in ("POST", "PUT", "PATCH") else None,
            allow_redirects=False,
        )
        if path in WEBHOOKS or (method, path) in FORM_TOKEN:
            assert resp.status in (400, 403, 404), (method, path, who, resp.status)
        elif path in SOCKETS:
            assert resp.status == 400, (method, path, who, resp.status)
        elif PUBLIC in allowed:
            assert resp.status in (200, 503), (method, path, who, resp.status)
        elif who in (None, "forged"):
            expected = 303 if (method, path) in PAGES else 401
            assert resp.status == expected, (method, path, who, resp.status)
        elif who not in allowed:
            assert resp.status == 403, (method, path, who, resp.status)
        else:
            assert resp.status not in (401, 403), (method, path, who, resp.status)


@pytest.mark.parametrize("who", [None, "agent", "supervisor", "qa", "admin", "crm", "forged"])
async def test_role_matrix(client: TestClient[Any, Any], who: str | None) -> None:
    headers = {"Authorization": "Bearer forged-token-0123456789abc"} if who == "forged" else auth(who)
    await walk(client, who, headers)


@pytest.mark.parametrize("who", [None, "agent", "supervisor", "qa", "admin", "forged"])
async def test_role_matrix_with_session_cookies(client: TestClient[Any, Any], who: str | None) -> None:
    """The same matrix signed in through /login: the session cookie plus the X-CSRF-Token header."""
    import re

    from callcenter.web.pages import ACCOUNTS

    headers: dict[str, str] = {}
    if who == "forged":
        headers = {"Cookie": "cc_session=forged-session-value"}
    elif who is not None:
        await client.app[ACCOUNTS].create(  # type: ignore[index]
            "test",
            username=f"{who}-user",
            password="correct horse battery",
            role=who,
            agent_id="1001" if who == "agent" else None,
        )
        form = await (await client.get("/login")).text()
        token = re.search(r'name="login_token" value="([^"]+)"', form)
        assert token is not None
        data = {"username": f"{who}-user", "password": "correct horse battery", "login_token": token.group(1)}
        signed_in = await client.post("/login", data=data, allow_redirects=False)
        assert signed_in.status == 303
        page = await (await client.get("/")).text()
        csrf = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
        assert csrf is not None
        headers = {"X-CSRF-Token": csrf.group(1)}
    # Signing out would end the walk: it comes last.
    await walk(client, who, headers, skip=frozenset({("POST", "/logout")}))
    logout = await client.post("/logout", headers=headers, allow_redirects=False)
    assert logout.status == (303 if who not in (None, "forged") else 401)


async def test_agent_may_act_only_on_itself(client: TestClient[Any, Any]) -> None:
    resp = await client.post("/api/agents/1002/pause", headers=auth("agent"), json={"reason": "x"})
    assert resp.status == 403
    resp = await client.get("/api/agents/1002", headers=auth("agent"))
    assert resp.status == 403


async def test_agent_state_changes_and_errors(client: TestClient[Any, Any]) -> None:
    h = auth("supervisor")
    resp = await client.post("/api/agents/1002/login", headers=h)
    assert resp.status == 200 and (await resp.json())["state"] == "available"
    resp = await client.post("/api/agents/1002/pause", headers=h, json={"reason": "lunch"})
    body = await resp.json()
    assert resp.status == 200 and body["state"] == "paused" and body["reason"] == "lunch"
    resp = await client.post("/api/agents/1002/resume", headers=h)
    assert (await resp.json())["state"] == "available"
    resp = await client.post("/api/agents/1002/logout", headers=h)
    assert (await resp.json())["state"] == "logged_out"
    # Unknown agent, unknown action, bad bodies: clear 4xx, state untouched.
    assert (await client.post("/api/agents/9999/login", headers=h)).status == 404
    assert (await client.post("/api/agents/1002/dance", headers=h)).status == 404
    bad = await client.post(
        "/api/agents/1002/pause", headers={**h, "Content-Type": "application/json"}, data=b"{not json"
    )
    assert bad.status == 400 and "JSON" in (await bad.json())["error"]
    assert (await client.post("/api/agents/1002/pause", headers=h, json=[1, 2])).status == 400
    assert (await client.post("/api/agents/1002/pause", headers=h, json={"reason": "x" * 65})).status == 400
    big = await client.post("/api/agents/1002/pause", headers=h, data=b"x" * 100_000)
    assert big.status == 413
    state = await (await client.get("/api/agents/1002", headers=h)).json()
    assert state["state"] == "logged_out"


async def test_illegal_move_is_a_conflict(client: TestClient[Any, Any]) -> None:
    h = auth("admin")
    resp = await client.post("/api/agents/1003/resume", headers=h)
    assert resp.status == 409 and "cannot resume while logged_out" in (await resp.json())["error"]


async def test_health_reports_asterisk_away_but_serves(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/healthz")
    body = await resp.json()
    assert resp.status == 200 and body["database"] is True and body["asterisk"] is False
    assert body["status"] == "degraded"
    metrics = await (await client.get("/metrics")).text()
    assert "callcenter_ami_connected 0.0" in metrics


async def test_interactions_listing_and_lookup(client: TestClient[Any, Any]) -> None:
    h = auth("qa")
    resp = await client.get("/api/interactions?limit=5", headers=h)
    assert resp.status == 200 and (await resp.json()) == {"interactions": []}
    assert (await client.get("/api/interactions?limit=0", headers=h)).status == 400
    assert (await client.get("/api/interactions?limit=abc", headers=h)).status == 400
    assert (await client.get("/api/interactions/nope", headers=h)).status == 404


async def test_openapi_lists_every_route(client: TestClient[Any, Any]) -> None:
    """Generated from the router: every route documented with its roles, nothing that is not a route."""
    doc = await (await client.get("/api/openapi.json")).json()
    validate(doc)  # a valid OpenAPI 3.1 document (raises with the first problem otherwise)
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    routes = {
        (r.method, r.resource.canonical): r.handler
        for r in client.app.router.routes()  # type: ignore[union-attr]
        if r.method != "HEAD"
    }
    assert documented == set(routes)
    for (method, path), handler in routes.items():
        op = doc["paths"][path][method.lower()]
        assert set(op["x-roles"]) == roles_of(handler), (method, path)
        assert op["description"].startswith("Roles: "), (method, path)
        params = {p["name"] for p in op.get("parameters", ()) if p["in"] == "path"}
        assert params == set(re.findall(r"{(\w+)}", path)), (method, path)
        if PUBLIC not in roles_of(handler):
            assert {"401", "403"} <= set(op["responses"]) and op["security"], (method, path)
    # Bodies and queries come from the handlers' pydantic models.
    pause = doc["paths"]["/api/agents/{agent_id}/{action}"]["post"]
    body_ref = pause["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = doc["components"]["schemas"][body_ref.rsplit("/", 1)[1]]
    assert body["properties"]["reason"]["maxLength"] == 64
    (limit,) = doc["paths"]["/api/interactions"]["get"]["parameters"]
    assert limit["in"] == "query" and limit["schema"]["maximum"] == 500


async def test_bad_bodies_get_field_messages(client: TestClient[Any, Any]) -> None:
    """One body reader for the web layer: malformed JSON, a non-object and invalid fields are 400s
    that say what is wrong; a body over the limit is 413."""
    h = auth("admin")
    url = "/api/agents/1001/pause"
    resp = await client.post(url, data=b"{oops", headers={**h, "Content-Type": "application/json"})
    assert resp.status == 400 and "not valid JSON" in (await resp.json())["error"]
    resp = await client.post(url, json=[1, 2], headers=h)
    assert resp.status == 400 and (await resp.json())["error"] == "body must be a JSON object"
    resp = await client.post(url, json={"reason": "x" * 65}, headers=h)
    found = await resp.json()
    assert resp.status == 400 and found["error"].startswith("invalid body: reason: ")
    assert [f["field"] for f in found["fields"]] == ["reason"]
    resp = await client.get("/api/interactions?limit=9999", headers=h)
    found = await resp.json()
    assert resp.status == 400 and found["fields"][0]["field"] == "limit", found
    resp = await client.post(url, json={"reason": "x" * 20_000}, headers=h)
    assert resp.status == 413


async def test_private_metrics(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path, security={"metrics_public": False}))
    async with TestClient(TestServer(app)) as c:
        assert (await c.get("/metrics")).status == 401
        assert (await c.get("/metrics", headers=auth("agent"))).status == 403
        assert (await c.get("/metrics", headers=auth("supervisor"))).status == 200


async def test_queue_figures(tmp_path: Path) -> None:
    from callcenter.core import events as ev
    from callcenter.web import api

    queues = tmp_path / "queues.yaml"
    queues.write_text("queues:\n  support:\n    service_level: {seconds: 30, target: 0.9}\n")
    settings = make_settings(tmp_path, acd={"queues_file": str(queues)})
    async with TestClient(TestServer(create_app(settings))) as c:
        service = c.app[api.SERVICE]  # type: ignore[index]
        now = service.clock()
        service.handle(ev.CallArrived("q-1", "+1555", "", "5000", "PJSIP/x-1", now - 40))
        service.handle(ev.IvrFinished("q-1", "1", "support", now - 40))
        resp = await c.get("/api/queues", headers=auth("supervisor"))
        assert resp.status == 200
        (support,) = [q for q in (await resp.json())["queues"] if q["name"] == "support"]
        assert support["waiting"] == 1 and support["longest_wait_seconds"] >= 40
        assert support["service_level_seconds"] == 30 and support["service_level_target"] == 0.9
        assert support["agents"]["logged_out"] == 10 and support["service_level"] is None
        assert {"asa_seconds", "abandonment_rate", "estimated_wait_seconds"} <= set(support)

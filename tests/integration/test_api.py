"""The HTTP API in-process, against a real SQLite database: roles, bad input, health, OpenAPI.

Asterisk is deliberately unreachable here (a closed port): the API must serve regardless.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callcenter.app import create_app
from callcenter.web.auth import PUBLIC, roles_of
from tests.conftest import config_with, settings_from

TOKENS = {
    "admin": "admin-token-0123456789abcdef",
    "supervisor": "supervisor-token-0123456789",
    "qa": "qa-token-0123456789abcdefgh",
    "agent": "agent-token-0123456789abcdef",
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
    async with TestClient(TestServer(create_app(make_settings(tmp_path)))) as c:
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
            p.replace("1001/pause", "{agent_id}/{action}")
            .replace("1001", "{agent_id}")
            .replace("customers/none", "customers/{customer_id}")
            .replace("merges/none", "merges/{merge_id}")
            .replace("conversations/none", "conversations/{conversation_id}")
            .replace("/none", "/{interaction_id}")
            .replace("flows/main", "flows/{name}")
            .replace("static/widget.css", "static/{name}"),
        )
        for m, p in MATRIX
    }
    assert routes == tested


@pytest.mark.parametrize("who", [None, "agent", "supervisor", "qa", "admin", "forged"])
async def test_role_matrix(client: TestClient[Any, Any], who: str | None) -> None:
    headers = {"Authorization": "Bearer forged-token-0123456789abc"} if who == "forged" else auth(who)
    for (method, path), allowed in MATRIX.items():
        resp = await client.request(
            method, path, headers=headers, json={} if method in ("POST", "PUT") else None
        )
        if path in WEBHOOKS:
            assert resp.status in (400, 403, 404), (method, path, who, resp.status)
        elif path in SOCKETS:
            assert resp.status == 400, (method, path, who, resp.status)
        elif PUBLIC in allowed:
            assert resp.status in (200, 503), (method, path, who, resp.status)
        elif who in (None, "forged"):
            assert resp.status == 401, (method, path, who, resp.status)
        elif who not in allowed:
            assert resp.status == 403, (method, path, who, resp.status)
        else:
            assert resp.status not in (401, 403), (method, path, who, resp.status)


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
    doc = await (await client.get("/api/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    routes = {
        (r.method, r.resource.canonical)
        for r in client.app.router.routes()  # type: ignore[union-attr]
        if r.method != "HEAD"
    }
    assert documented == routes


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

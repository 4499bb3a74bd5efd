"""Temporary access, approvals and attachments over HTTP, in-process against a real SQLite
database and the real attachments directory: a grant lets a user outside the team in and ends
(revoked, or expired by the database's clock), an agent's priority change and deletion wait for a
supervisor and run once, uploads are judged by their bytes (413, 415) and come back intact."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callcenter import metrics
from callcenter.app import create_app
from callcenter.tickets.access_records import NewGrant
from callcenter.tickets.records import Actor
from callcenter.web.tickets_api import TICKET_ACCESS
from tests.integration.test_api import make_settings
from tests.unit.tickets_fixtures import EXAMPLE

ANN = "agent-1001-token-0123456789abc"  # support
PAT = "agent-pat-token-0123456789abcd"  # product: outside support
SUP = "supervisor-token-0123456789ab"
BOSS = "supervisor2-token-0123456789a"
ADMIN = "admin-token-0123456789abcdefg"
TOKENS = [
    {"name": "ann", "role": "agent", "token": ANN, "agent_id": "1001"},
    {"name": "pat", "role": "agent", "token": PAT, "agent_id": "1003"},
    {"name": "sup", "role": "supervisor", "token": SUP},
    {"name": "boss", "role": "supervisor", "token": BOSS},
    {"name": "root", "role": "admin", "token": ADMIN},
]
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    tickets = {"workflow_file": str(EXAMPLE), "attachment_max_bytes": 4096}
    settings = make_settings(tmp_path, security={"api_tokens": TOKENS}, tickets=tickets)
    async with TestClient(TestServer(create_app(settings))) as c:
        yield c


async def call(
    c: TestClient[Any, Any], token: str, method: str, path: str, body: Any = None, data: bytes | None = None
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    resp = await c.request(method, path, json=body, data=data, headers=headers)
    return resp.status, await resp.json() if resp.content_type == "application/json" else await resp.read()


async def new_ticket(c: TestClient[Any, Any]) -> str:
    body = {"type": "fault", "title": "Router reboots", "fields": {"product": "router"}}
    status, ticket = await call(c, SUP, "POST", "/api/tickets", body)
    assert status == 201 and ticket["team"] == "support", ticket
    return str(ticket["id"])


async def audit_actions(c: TestClient[Any, Any], target: str) -> list[str]:
    """The audit trail's actions on ``target``, oldest first (the admins' GET /api/audit)."""
    status, found = await call(c, ADMIN, "GET", "/api/audit?action=ticket.*&limit=1000")
    assert status == 200, found
    return [e["action"] for e in reversed(found["entries"]) if e["target"] == target]


async def test_temporary_access_lets_one_user_in_until_revoked_or_expired(
    client: TestClient[Any, Any],
) -> None:
    tid = await new_ticket(client)
    assert (await call(client, PAT, "GET", f"/api/tickets/{tid}"))[0] == 404
    status, g = await call(
        client,
        SUP,
        "POST",
        "/api/ticket-grants",
        {"user": "pat", "ticket_id": tid, "level": "view", "minutes": 30},
    )
    assert status == 201 and g["level"] == "view"
    status, seen = await call(client, PAT, "GET", f"/api/tickets/{tid}")
    assert status == 200 and seen["may_work"] is False
    body = {"body": "note", "internal": True}
    assert (await call(client, PAT, "POST", f"/api/tickets/{tid}/comments", body))[0] == 403  # view only
    assert (
        await call(
            client, ANN, "POST", "/api/ticket-grants", {"user": "ann", "team": "product", "minutes": 5}
        )
    )[0] == 403
    status, bad = await call(
        client, SUP, "POST", "/api/ticket-grants", {"user": "pat", "team": "nope", "minutes": 5}
    )
    assert status == 400 and "unknown team" in bad["error"]
    body_nobody = {"user": "nobody", "ticket_id": tid, "minutes": 5}
    status, bad = await call(client, SUP, "POST", "/api/ticket-grants", body_nobody)
    assert status == 400 and "no account or API token named 'nobody'" in bad["error"]

    # Work on the whole team: the list shows support's tickets too, and comments are allowed.
    status, team = await call(
        client,
        SUP,
        "POST",
        "/api/ticket-grants",
        {"user": "pat", "team": "support", "level": "work", "minutes": 5},
    )
    assert status == 201
    status, listed = await call(client, PAT, "GET", "/api/tickets")
    assert [t["id"] for t in listed["tickets"]] == [tid]
    assert (await call(client, PAT, "POST", f"/api/tickets/{tid}/comments", body))[0] == 201
    status, mine = await call(client, PAT, "GET", "/api/ticket-grants")
    assert {x["id"] for x in mine["grants"]} == {g["id"], team["id"]}

    assert (await call(client, SUP, "DELETE", f"/api/ticket-grants/{team['id']}"))[0] == 200
    assert (await call(client, SUP, "DELETE", f"/api/ticket-grants/{team['id']}"))[0] == 404
    assert (await call(client, PAT, "POST", f"/api/tickets/{tid}/comments", body))[0] == 403
    assert (await call(client, PAT, "GET", "/api/tickets"))[1]["tickets"] == []

    # Expiry is the database's clock's judgement at each request: a grant that ends now is over.
    access = client.app[TICKET_ACCESS]
    await access.store.revoke_grant(g["id"], Actor("sup", "supervisor"))
    await access.store.add_grant(NewGrant("pat", tid, None, "work", None, 0), Actor("sup", "supervisor"))
    assert (await call(client, PAT, "GET", f"/api/tickets/{tid}"))[0] == 404
    actions = await audit_actions(client, tid)
    assert actions.count("ticket.access_granted") == 2 and actions.count("ticket.access_revoked") == 1
    assert (await audit_actions(client, "team:support")) == ["ticket.access_granted", "ticket.access_revoked"]


async def test_high_risk_actions_wait_for_a_supervisor_and_run_once(client: TestClient[Any, Any]) -> None:
    tid = await new_ticket(client)
    approved = metrics.TICKET_APPROVALS.labels(action="priority", step="approved")
    approved_before = approved._value.get()
    status, asked = await call(
        client, ANN, "POST", f"/api/tickets/{tid}/priority", {"priority": "urgent", "reason": "CEO"}
    )
    assert status == 202 and asked["approval"]["state"] == "pending"
    assert (await call(client, ANN, "GET", f"/api/tickets/{tid}"))[1]["priority"] == "normal"  # not yet
    aid = asked["approval"]["id"]
    assert (await call(client, ANN, "GET", "/api/ticket-approvals"))[0] == 403
    status, pending = await call(client, SUP, "GET", "/api/ticket-approvals")
    assert [a["id"] for a in pending["approvals"]] == [aid]

    # Two supervisors approve at the same moment: one carries it out, the other is told.
    results = await asyncio.gather(
        call(client, SUP, "POST", f"/api/ticket-approvals/{aid}/approve", {"note": "ok"}),
        call(client, BOSS, "POST", f"/api/ticket-approvals/{aid}/approve", {}),
    )
    assert sorted(s for s, _ in results) == [200, 409], results
    status, ticket = await call(client, ANN, "GET", f"/api/tickets/{tid}")
    assert ticket["priority"] == "urgent"
    assert [e["kind"] for e in ticket["events"]].count("priority") == 1
    assert (await call(client, SUP, "POST", f"/api/ticket-approvals/{aid}/refuse", {}))[0] == 409
    assert approved._value.get() == approved_before + 1  # callcenter_ticket_approvals_total

    # An agent's deletion: refused by a supervisor, nothing gone; asked again and approved: gone.
    status, asked = await call(client, ANN, "DELETE", f"/api/tickets/{tid}?reason=duplicate")
    assert status == 202
    assert (await call(client, SUP, "POST", f"/api/ticket-approvals/{asked['approval']['id']}/refuse", {}))[
        0
    ] == 200
    assert (await call(client, ANN, "GET", f"/api/tickets/{tid}"))[0] == 200
    status, again = await call(client, ANN, "DELETE", f"/api/tickets/{tid}")
    status, twice = await call(client, ANN, "DELETE", f"/api/tickets/{tid}")
    assert twice["approval"]["id"] == again["approval"]["id"]  # one pending request per action
    assert (await call(client, BOSS, "POST", f"/api/ticket-approvals/{again['approval']['id']}/approve", {}))[
        0
    ] == 200
    assert (await call(client, SUP, "GET", f"/api/tickets/{tid}"))[0] == 404
    actions = await audit_actions(client, tid)
    for action in ("ticket.approval_requested", "ticket.approval_approved", "ticket.approval_refused"):
        assert action in actions
    assert actions[-1] == "ticket.deleted" and actions.count("ticket.priority") == 1

    # A supervisor's own deletion needs nobody; what was still asked of the ticket is refused.
    other = await new_ticket(client)
    status, asked = await call(client, ANN, "POST", f"/api/tickets/{other}/priority", {"priority": "low"})
    assert status == 202
    assert (await call(client, SUP, "DELETE", f"/api/tickets/{other}"))[0] == 200
    assert (await call(client, SUP, "GET", f"/api/tickets/{other}"))[0] == 404
    status, refused = await call(client, SUP, "GET", "/api/ticket-approvals?state=refused")
    gone = next(a for a in refused["approvals"] if a["id"] == asked["approval"]["id"])
    assert gone["note"] == "the ticket was deleted"


async def test_attachments_are_judged_by_their_bytes_and_come_back_intact(
    client: TestClient[Any, Any], tmp_path: Path
) -> None:
    tid = await new_ticket(client)
    up = f"/api/tickets/{tid}/attachments"
    status, added = await call(client, ANN, "POST", f"{up}?name=shot.png&field=screenshot", data=PNG)
    assert status == 201, added
    aid = added["attachment"]["id"]
    assert added["ticket"]["fields"]["screenshot"] == aid
    stored = tmp_path / "recordings" / "attachments" / f"{aid}.bin"
    assert stored.read_bytes() == PNG  # no key configured: stored as is, named by its id only
    resp = await client.get(f"{up}/{aid}", headers={"Authorization": f"Bearer {ANN}"})
    assert resp.status == 200 and await resp.read() == PNG
    assert resp.headers["Content-Type"] == "image/png" and resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Content-Disposition"].startswith('attachment; filename="shot.png"')
    status, listed = await call(client, ANN, "GET", f"/api/tickets/{tid}")
    assert [a["id"] for a in listed["attachments"]] == [aid]
    assert (await call(client, PAT, "GET", f"{up}/{aid}"))[0] == 404  # not his team's

    status, err = await call(client, ANN, "POST", f"{up}?name=invoice.pdf", data=PNG)
    assert status == 415 and "png" in err["error"]
    status, err = await call(client, ANN, "POST", f"{up}?name=page.txt", data=b"<html><script>x</script>")
    assert status == 415
    status, err = await call(client, ANN, "POST", f"{up}?name=big.png", data=PNG + b"\0" * 4096)
    assert status == 413
    status, err = await call(client, ANN, "POST", f"{up}?name=x.png&field=product", data=PNG)
    assert status == 400 and "not an attachment field" in err["error"]
    assert sorted(p.name for p in stored.parent.iterdir()) == [stored.name]  # refused: nothing kept
    stored.write_bytes(PNG[:-1] + b"!")
    assert (await call(client, ANN, "GET", f"{up}/{aid}"))[0] == 503  # the checksum caught it

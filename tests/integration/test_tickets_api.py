"""Tickets over HTTP on a real server in-process (SQLite), with a real web-chat visitor and agent
sockets: created from a chat (prefilled, card numbers masked), moved along the table only,
transferred along the allowed paths and worked by the other team, a reply to the customer carried
by the outbox to the visitor with the ticket id, an SLA breached with a moved clock and escalated,
a closed ticket reopened by the customer's answer, the customer's timeline, the roles."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp

from callcenter.tickets import job
from callcenter.web.api import SERVICE
from callcenter.web.tickets_api import TICKETS
from tests.integration.test_api import make_settings
from tests.integration.test_realtime import SITE_SECRET, Node, agent, customer, start_node
from tests.unit.tickets_fixtures import EXAMPLE

ANN = "agent-1001-token-0123456789abc"  # support
BOB = "agent-1002-token-0123456789abc"  # support too
EVE = "agent-1004-token-0123456789abc"  # engineering
SUP = "supervisor-token-0123456789ab"
QA = "qa-token-0123456789abcdefghij"
ROOT = "admin-token-0123456789abcdefgh"
TOKENS = [
    {"name": "ann", "role": "agent", "token": ANN, "agent_id": "1001"},
    {"name": "bob", "role": "agent", "token": BOB, "agent_id": "1002"},
    {"name": "eve", "role": "agent", "token": EVE, "agent_id": "1004"},
    {"name": "sup", "role": "supervisor", "token": SUP},
    {"name": "qa", "role": "qa", "token": QA},
    {"name": "root", "role": "admin", "token": ROOT},
]


def settings(tmp_path: Path) -> Any:
    return make_settings(
        tmp_path,
        security={"api_tokens": TOKENS},
        messaging={"web_identity_secret": SITE_SECRET},
        realtime={"events_per_second": 50.0, "burst": 50},
        acd={"decline_seconds": 0},
        tickets={"workflow_file": str(EXAMPLE), "reply_seconds": 0.1, "sla_check_seconds": 600},
    )


async def call(node: Node, token: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http:
        async with http.request(
            method, node.url + path, json=body, headers={"Authorization": f"Bearer {token}"}
        ) as resp:
            return resp.status, await resp.json()


async def until(check: Any, what: str) -> Any:
    for _ in range(200):
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


async def test_a_ticket_from_a_chat_across_two_teams(tmp_path: Path) -> None:
    node = await start_node(settings(tmp_path))
    service = node.app[SERVICE]
    visitor = ann_socket = None
    try:
        from callcenter.core import events as ev

        service.handle(ev.AgentLogin("1001", service.clock()))
        ann_socket = await agent(node.url, ANN)
        visitor = await customer(node.url)
        started = await visitor.call(
            "start", {"name": "Dee", "message": "My router reboots. Card 4111 1111 1111 1111"}
        )
        offer = await ann_socket.next("offer")
        interaction_id = offer["interaction_id"]
        assert (await ann_socket.call("accept", {"interaction_id": interaction_id}))["ok"]

        body = {
            "type": "fault",
            "title": "Router reboots",
            "fields": {"product": "router"},
            "interaction_id": interaction_id,
        }
        status, _ = await call(node, BOB, "POST", "/api/tickets", body)
        assert status == 403  # not Bob's interaction
        status, bad = await call(
            node, ANN, "POST", "/api/tickets", {**body, "fields": {"product": "toaster"}}
        )
        assert status == 400 and "product: must be one of" in bad["error"]
        status, ticket = await call(node, ANN, "POST", "/api/tickets", body)
        assert status == 201, ticket
        tid = ticket["id"]
        assert (ticket["team"], ticket["priority"], ticket["status"]) == ("support", "normal", "new")
        assert ticket["interaction_id"] == interaction_id and ticket["customer_id"]
        assert "My router reboots" in ticket["context"]["chat"]
        assert "4111 1111 1111 1111" not in ticket["context"]["chat"]  # card numbers never copied
        customer_id = ticket["customer_id"]
        # Notifications: the team is told of the new ticket (not Ann, who made it).
        _, bobs = await call(node, BOB, "GET", "/api/tickets/notifications")
        assert [(n["kind"], n["ticket_id"]) for n in bobs["notifications"]] == [("assigned", tid)]
        assert (
            bobs["unread"] == 1
            and (await call(node, ANN, "GET", "/api/tickets/notifications"))[1]["notifications"] == []
        )

        status, refused = await call(
            node, ANN, "POST", f"/api/tickets/{tid}/transition", {"status": "resolved"}
        )
        assert status == 409 and "not allowed" in refused["error"]
        assert (await call(node, ANN, "POST", f"/api/tickets/{tid}/transition", {"status": "open"}))[0] == 200

        # A reply to the customer goes out through the outbox, on the chat, with the ticket id.
        status, added = await call(
            node, ANN, "POST", f"/api/tickets/{tid}/comments", {"body": "We are on it", "internal": False}
        )
        assert status == 201 and added["comment"]["delivery"] == "pending"
        got = await visitor.next("message")
        assert got["body"] == f"[{tid}] We are on it"
        await call(
            node,
            ANN,
            "POST",
            f"/api/tickets/{tid}/comments",
            {"body": "logs attached @bob", "internal": True},
        )
        _, bobs = await call(node, BOB, "GET", "/api/tickets/notifications")
        assert bobs["notifications"][0]["kind"] == "mention" and bobs["notifications"][0]["by"] == "ann"
        assert bobs["notifications"][0]["text"] == "logs attached @bob" and bobs["unread"] == 2
        assert (await call(node, BOB, "POST", "/api/tickets/notifications/read", {}))[1] == {"marked": 2}

        # Transfers: the allowed paths only; then the other team works it, Ann only reads it.
        assert (await call(node, ANN, "POST", f"/api/tickets/{tid}/transfer", {"team": "product"}))[0] == 409
        status, moved = await call(
            node, ANN, "POST", f"/api/tickets/{tid}/transfer", {"team": "engineering", "reason": "firmware"}
        )
        assert status == 200 and moved["team"] == "engineering"
        status, seen = await call(node, ANN, "GET", f"/api/tickets/{tid}")
        assert status == 200 and seen["may_work"] is False
        assert (await call(node, ANN, "POST", f"/api/tickets/{tid}/transition", {"status": "resolved"}))[
            0
        ] == 403
        assert (await call(node, BOB, "GET", f"/api/tickets/{tid}"))[0] == 404  # not his team, not his
        status, listed = await call(node, EVE, "GET", "/api/tickets?open=true")
        assert [t["id"] for t in listed["tickets"]] == [tid]
        status, eves = await call(node, EVE, "GET", f"/api/tickets/{tid}")
        assert eves["may_work"] and eves["next"] == ["resolved", "waiting_customer"]
        # Eve's team was told of the transfer; Eve mentions Ann, whose panel is pushed the news.
        _, notes = await call(node, EVE, "GET", "/api/tickets/notifications")
        assert [n["kind"] for n in notes["notifications"]] == ["assigned"]
        note = {"body": "@ann which firmware?", "internal": True}
        assert (await call(node, EVE, "POST", f"/api/tickets/{tid}/comments", note))[0] == 201
        pushed = [await ann_socket.next("ticket_notification") for _ in range(2)]
        assert pushed == [{"kind": "assigned", "ticket_id": tid}, {"kind": "mention", "ticket_id": tid}]
        _, anns = await call(node, ANN, "GET", "/api/tickets/notifications")
        assert [(n["kind"], n["by"]) for n in anns["notifications"]] == [("mention", "eve")]
        assert (await call(node, BOB, "GET", "/api/tickets/notifications"))[1]["notifications"] == []
        assert [c["internal"] for c in eves["comments"]] == [False, True]
        assert (await call(node, QA, "GET", f"/api/tickets/{tid}"))[0] == 403
        status, asked = await call(node, EVE, "POST", f"/api/tickets/{tid}/priority", {"priority": "high"})
        assert status == 202 and asked["approval"]["state"] == "pending"  # an agent's: a request
        assert (await call(node, SUP, "POST", f"/api/tickets/{tid}/priority", {"priority": "high"}))[0] == 200

        # The SLA job with a moved clock: resolution (high: 8 business hours) breached, escalated.
        tickets = node.app[TICKETS]
        real = tickets.clock
        tickets.clock = lambda: real() + timedelta(days=7)
        assert await job.check_all(tickets) >= 3
        status, late = await call(node, SUP, "GET", f"/api/tickets/{tid}")
        kinds = [e["kind"] for e in late["events"]]
        assert "sla_breached" in kinds and "escalated" in kinds
        assert late["priority"] == "urgent"  # raise_priority
        status, board = await call(node, SUP, "GET", "/api/tickets/board")
        engineering = next(b for b in board["teams"] if b["team"] == "engineering")
        assert engineering["open"] == 1 and engineering["overdue"] == [tid]
        assert (await call(node, EVE, "GET", "/api/tickets/board"))[0] == 403
        assert await job.check_all(tickets) == 0  # each once
        _, notes = await call(node, EVE, "GET", "/api/tickets/notifications")
        assert "sla_breached" in [n["kind"] for n in notes["notifications"]]
        tickets.clock = real

        # Eve closes it; the customer answers quoting the ticket id: it reopens with the reason.
        for step in ("resolved", "closed"):
            assert (await call(node, EVE, "POST", f"/api/tickets/{tid}/transition", {"status": step}))[
                0
            ] == 200
        await visitor.call("message", {"text": f"{tid} is not solved, it rebooted again"})

        async def reopened() -> Any:
            _, now = await call(node, EVE, "GET", f"/api/tickets/{tid}")
            return now if now["status"] == "open" else None

        again = await until(reopened, "the ticket reopened")
        assert again["reopened"] == 1 and "rebooted again" in again["reopen_reason"]

        status, person = await call(node, SUP, "GET", f"/api/customers/{customer_id}")
        assert status == 200
        assert [e["id"] for e in person["timeline"] if e["kind"] == "ticket"] == [tid]
        assert started["conversation_id"]
    finally:
        for socket in (visitor, ann_socket):
            if socket is not None:
                await socket.close()
        await node.server.close()


async def test_an_admin_edits_the_tickets_file_and_a_broken_edit_changes_nothing(tmp_path: Path) -> None:
    workflow = tmp_path / "tickets.yaml"
    workflow.write_text(EXAMPLE.read_text())
    node = await start_node(
        make_settings(
            tmp_path,
            security={"api_tokens": TOKENS},
            tickets={"workflow_file": str(workflow), "reload_seconds": 3600},
        )
    )
    try:
        status, got = await call(node, ROOT, "GET", "/api/admin/tickets")
        assert status == 200 and got["yaml"] == EXAMPLE.read_text() and "product" in got["teams"]
        assert (await call(node, SUP, "GET", "/api/admin/tickets"))[0] == 403
        # A team whose transfer names a team that does not exist: refused with its line, nothing written.
        broken = got["yaml"].replace(
            "  product: {transfers: [engineering, support], members: [pat]}",
            "  product: {transfers: [engineering, nowhere], members: [pat]}",
        )
        assert broken != got["yaml"]
        status, refused = await call(node, ROOT, "PUT", "/api/admin/tickets", {"yaml": broken})
        assert status == 422, refused
        assert any(p.startswith(f"{workflow}:21:") and "nowhere" in p for p in refused["problems"]), refused
        assert workflow.read_text() == EXAMPLE.read_text()
        # A new team: saved, running at once on this node, and audited.
        added = got["yaml"].replace(
            "  product: {transfers: [engineering, support], members: [pat]}",
            "  product: {transfers: [engineering, support], members: [pat]}\n  legal: {transfers: [support]}",
        )
        status, saved = await call(node, ROOT, "PUT", "/api/admin/tickets", {"yaml": added})
        assert status == 200 and "legal" in saved["teams"], saved
        assert workflow.read_text() == added and "legal" in node.app[TICKETS].workflow.teams
        status, audit = await call(node, ROOT, "GET", "/api/audit?limit=5")
        assert status == 200 and any(e["action"] == "tickets.edited" for e in audit["entries"]), audit
    finally:
        await node.server.close()

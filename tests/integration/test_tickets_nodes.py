"""Tickets on a cluster of two server processes (docs/tickets.md, "Several nodes"): a real
PostgreSQL elects the routing owner, a real Redis carries the follower's requests. Both nodes serve
the API from the database; a mention made on one node reaches the panel socket on the other
(Redis); the follower's reply to a customer is handled by the owner's job (here
the customer has no conversation: ``no_channel``); an edit of the shared workflow file reaches both
nodes, a broken one neither; when the owner stops, the follower takes over the job. The CRM
webhooks of the changes made on either node are sent once each, by the owner of the moment."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import ADMIN_TOKEN, AGENT_TOKEN, ServerProcess, config_with
from tests.integration.test_api import free_port
from tests.integration.test_realtime import agent
from tests.pg import new_database
from tests.redis_server import RedisServer
from tests.unit.tickets_fixtures import EXAMPLE


@pytest.fixture
def redis_url() -> Iterator[str]:
    server = RedisServer()
    yield server.start()
    server.stop()


SECRET = "crm-secret-0123456789"


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[dict[str, Any], bool]]]]:
    """A CRM endpoint on loopback (a thread: the nodes are processes): every body, and whether
    its signature checked out."""
    from callcenter.crm import signing

    got: list[tuple[dict[str, Any], bool]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            signed = signing.verify(SECRET, self.headers.get(signing.HEADER, ""), body, now=time.time())
            got.append((json.loads(body), signed))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", got
    server.shutdown()
    server.server_close()


def upload(node: ServerProcess, path: str, data: bytes) -> tuple[int, Any]:
    request = urllib.request.Request(node.url + path, data=data, method="POST")
    request.add_header("Authorization", f"Bearer {ADMIN_TOKEN}")
    request.add_header("Content-Type", "application/octet-stream")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def fetch(node: ServerProcess, path: str) -> bytes:
    request = urllib.request.Request(node.url + path)
    request.add_header("Authorization", f"Bearer {ADMIN_TOKEN}")
    with urllib.request.urlopen(request, timeout=10) as resp:
        data: bytes = resp.read()
        return data


def role(server: ServerProcess) -> str | None:
    health = server.health()
    return None if health is None else health.get("role")


def delivery(node: ServerProcess, ticket_id: str, comment_id: int) -> str | None:
    status, ticket = node.api("GET", f"/api/tickets/{ticket_id}")
    assert status == 200, ticket
    return next(c["delivery"] for c in ticket["comments"] if c["id"] == comment_id)


async def mention_pushed_across(a: ServerProcess, b: ServerProcess, ticket_id: str) -> None:
    socket = await agent(a.url, AGENT_TOKEN)
    try:
        note = {"body": "@1001 can you check the invoice?", "internal": True}
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as http:
            async with http.post(f"{b.url}/api/tickets/{ticket_id}/comments", json=note) as resp:
                assert resp.status == 201, await resp.text()
        assert await socket.next("ticket_notification") == {"kind": "mention", "ticket_id": ticket_id}
    finally:
        await socket.close()


def test_two_nodes_serve_the_tickets_and_the_owner_runs_the_job(
    tmp_path: Path, postgres_url: str, redis_url: str, receiver: tuple[str, list[tuple[dict[str, Any], bool]]]
) -> None:
    hook_url, got = receiver
    url = asyncio.run(new_database(postgres_url))
    workflow = tmp_path / "tickets.yaml"  # one file for both nodes (shared storage)
    workflow.write_text(EXAMPLE.read_text())
    nodes = {}
    for name in ("a", "b"):
        workdir = tmp_path / name
        workdir.mkdir()
        config = config_with(
            asterisk={"ami_port": free_port(), "reconnect_min_delay": 5.0},
            agi={"port": free_port()},
            http={"port": free_port()},
            database={"url": url, "node": name, "election_check_seconds": 0.5},
            realtime={"redis_url": redis_url},
            recordings={"spool_dir": str(workdir / "spool")},
            tickets={
                "workflow_file": str(workflow),
                "reload_seconds": 0.2,
                "reply_seconds": 0.2,
                "attachments_dir": str(tmp_path / "attachments"),  # shared storage
            },
            webhooks={
                "subscriptions": [{"name": "crm", "url": hook_url, "secret": SECRET}],
                "poll_seconds": 0.2,
            },
        )
        nodes[name] = ServerProcess(config, workdir)
    a, b = nodes["a"], nodes["b"]
    try:
        a.start(wait_asterisk=False)
        a.wait_until(lambda: role(a) == "owner", 30, "A routing")
        b.start(wait_asterisk=False)
        assert role(b) == "follower"

        status, ticket = b.api(
            "POST",
            "/api/tickets",
            {"type": "billing", "title": "Charged twice", "fields": {"invoice": "F-1"}},
        )
        assert status == 201, ticket
        tid = ticket["id"]
        # An attachment larger than a JSON body may be, uploaded to the follower (which must stream
        # it, not read it first for a forwarding), read back from the owner (shared storage).
        png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 160
        status, up = upload(b, f"/api/tickets/{tid}/attachments?name=scan.png", png)
        assert status == 201, up
        assert fetch(a, f"/api/tickets/{tid}/attachments/{up['attachment']['id']}") == png
        assert a.api("POST", f"/api/tickets/{tid}/transition", {"status": "waiting_customer"})[0] == 200
        assert b.api("GET", f"/api/tickets/{tid}")[1]["status"] == "waiting_customer"
        status, added = b.api("POST", f"/api/tickets/{tid}/comments", {"body": "Refunded", "internal": False})
        assert status == 201 and added["comment"]["delivery"] == "pending"
        comment = added["comment"]["id"]
        b.wait_until(
            lambda: delivery(b, tid, comment) == "no_channel", 20, "the owner's job to take the reply"
        )

        # The shared file edited: both nodes follow; a broken edit changes neither.
        workflow.write_text(EXAMPLE.read_text().replace("label: Billing question", "label: Invoices"))
        for node in (a, b):
            node.wait_until(
                lambda n=node: (
                    n.api("GET", "/api/tickets/workflow")[1]["types"]["billing"]["label"] == "Invoices"
                ),
                20,
                "the edited workflow",
            )
        workflow.write_text(EXAMPLE.read_text().replace("default_team: support", "default_team: nobody"))
        for node in (a, b):
            node.wait_until(
                lambda n=node: "tickets.reload_failed" in n.log_path.read_text(), 20, "the refusal"
            )
            assert node.api("GET", "/api/tickets/workflow")[1]["types"]["billing"]["label"] == "Invoices"

        # A note on B mentioning agent 1001, whose panel's socket is on A: pushed through Redis.
        asyncio.run(mention_pushed_across(a, b, tid))

        a.stop()  # B is elected and runs the job from now on
        b.wait_until(lambda: role(b) == "owner", 30, "B routing")
        status, added = b.api("POST", f"/api/tickets/{tid}/comments", {"body": "Done", "internal": False})
        assert status == 201
        comment = added["comment"]["id"]
        b.wait_until(lambda: delivery(b, tid, comment) == "no_channel", 20, "B's job to take the reply")

        # The webhooks: made on B, B, A, B, B (A owning), then on B (B owning); each sent once, signed.
        kinds = ["created", "attached", "status", "commented", "commented", "commented"]
        b.wait_until(lambda: len(got) >= len(kinds), 20, "the six webhooks")
        assert sorted(body["data"]["event"]["kind"] for body, _ in got) == sorted(kinds)
        assert len({body["id"] for body, _ in got}) == len(kinds) and all(signed for _, signed in got)
        status, log = b.api("GET", "/api/webhooks/deliveries")
        assert status == 200 and [(d["state"], d["attempts"]) for d in log["deliveries"]] == [
            ("delivered", 1)
        ] * len(kinds)
    finally:
        a.stop()
        b.stop()

"""Tickets on a cluster of two server processes (docs/tickets.md, "Several nodes"): a real
PostgreSQL elects the routing owner, a real Redis carries the follower's requests. Both nodes serve
the API from the database; the follower's reply to a customer is handled by the owner's job (here
the customer has no conversation: ``no_channel``); an edit of the shared workflow file reaches both
nodes, a broken one neither; when the owner stops, the follower takes over the job."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ServerProcess, config_with
from tests.integration.test_api import free_port
from tests.integration.test_db import _create_postgres_database
from tests.redis_server import RedisServer
from tests.unit.tickets_fixtures import EXAMPLE


@pytest.fixture
def redis_url() -> Iterator[str]:
    server = RedisServer()
    yield server.start()
    server.stop()


def role(server: ServerProcess) -> str | None:
    health = server.health()
    return None if health is None else health.get("role")


def delivery(node: ServerProcess, ticket_id: str, comment_id: int) -> str | None:
    status, ticket = node.api("GET", f"/api/tickets/{ticket_id}")
    assert status == 200, ticket
    return next(c["delivery"] for c in ticket["comments"] if c["id"] == comment_id)


def test_two_nodes_serve_the_tickets_and_the_owner_runs_the_job(
    tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    url = asyncio.run(_create_postgres_database(postgres_url))
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
            tickets={"workflow_file": str(workflow), "reload_seconds": 0.2, "reply_seconds": 0.2},
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

        a.stop()  # B is elected and runs the job from now on
        b.wait_until(lambda: role(b) == "owner", 30, "B routing")
        status, added = b.api("POST", f"/api/tickets/{tid}/comments", {"body": "Done", "internal": False})
        assert status == 201
        comment = added["comment"]["id"]
        b.wait_until(lambda: delivery(b, tid, comment) == "no_channel", 20, "B's job to take the reply")
    finally:
        a.stop()
        b.stop()

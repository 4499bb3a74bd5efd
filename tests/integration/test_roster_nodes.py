"""An agent added on a cluster of two server processes (docs/cluster.md, docs/admin.md): a real
PostgreSQL elects the routing owner, a real Redis carries the follower's requests (cc:requests),
and both nodes read the same agents file.

The admin adds agent 2001 through the *follower*: the request is carried out by the owner (its
engine knows the agent at once); the follower learns the agent from the file (an account on the
follower may link to it). Then the owner stops: the follower is elected and its engine, built from
the file, has the agent; removing it there takes it out of both the engine and the file.
(No Asterisk: the nodes keep trying to reach AMI; the Asterisk side is tests/e2e/test_add_agent.py.)
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import yaml

from tests.conftest import ServerProcess, config_with
from tests.integration.test_api import free_port
from tests.pg import new_database

NEW = {"id": "2001", "name": "Ann Added", "extension": "2001", "queues": ["support"]}


def role(server: ServerProcess) -> str | None:
    health = server.health()
    return None if health is None else health.get("role")


def test_an_agent_added_through_the_follower_reaches_both_nodes(
    tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    url = asyncio.run(new_database(postgres_url))
    agents_file = tmp_path / "agents.yaml"  # one file for both nodes (shared storage)
    nodes = {}
    for name in ("a", "b"):
        workdir = tmp_path / name
        workdir.mkdir()
        config = config_with(
            asterisk={"ami_port": free_port(), "reconnect_min_delay": 5.0},
            agi={"port": free_port()},
            http={"port": free_port()},
            acd={"agents_file": str(agents_file), "queues_reload_seconds": 0.2},
            database={"url": url, "node": name, "election_check_seconds": 0.5},
            realtime={"redis_url": redis_url},
            recordings={"spool_dir": str(workdir / "spool")},
        )
        nodes[name] = ServerProcess(config, workdir)
    a, b = nodes["a"], nodes["b"]
    try:
        a.start(wait_asterisk=False)
        a.wait_until(lambda: role(a) == "owner", 30, "A routing")
        b.start(wait_asterisk=False)
        assert role(b) == "follower"

        status, body = b.api("POST", "/api/admin/agents", NEW)  # forwarded to the owner
        assert status == 201, body
        assert body["asterisk"] == "not managed (asterisk.config_dir is not set)"
        status, agent = a.api("GET", "/api/agents/2001")
        assert status == 200 and agent["extension"] == "2001" and agent["queues"] == ["support"]
        assert yaml.safe_load(agents_file.read_text())["agents"]["2001"]["name"] == "Ann Added"
        # The follower's own accounts know the new agent id (its directory follows the file).
        account = {"username": "ann", "password": "correct horse battery", "role": "agent"}
        account["agent_id"] = "2001"

        def linked() -> tuple[int, object] | None:
            answer = b.api("POST", "/api/users", account)
            return None if answer[0] == 400 and "2001" in str(answer[1]) else answer

        status, body = b.wait_until(linked, 10, "the follower to know agent 2001")
        assert status == 201, body

        a.stop()  # B is elected; its engine is built from the agents file
        b.wait_until(lambda: role(b) == "owner", 30, "B routing")
        status, agent = b.api("GET", "/api/agents/2001")
        assert status == 200 and agent["extension"] == "2001" and agent["state"] == "logged_out"
        status, body = b.api("DELETE", "/api/admin/agents/2001")
        assert status == 200 and body["removed"], body
        assert b.api("GET", "/api/agents/2001")[0] == 404
        assert "2001" not in (yaml.safe_load(agents_file.read_text())["agents"] or {})
    finally:
        a.stop()
        b.stop()

"""Failover scenarios of several nodes (issue 14, docs/cluster.md, docs/deployment.md): the primary
database replaced by a promoted streaming replica (the second site), a rolling restart of every
node during calls, and a kill -9 of the owner with a line of callers (the short version of
`bench/failover.py --callers 50`).

Real parts: `callcenter serve` processes on PostgreSQL (a primary and its streaming replica for
the first test) and Redis, the sandbox Asterisk, pyVoIP phones. Their own sandbox instance
("failover-e2e", ports 24973-28999 moved by CC_TEST_SLOT), so they can run beside test_cluster.py.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pyVoIP.VoIP import VoIPCall
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from tests.calls import agent_phone, caller_phone
from tests.conftest import ServerProcess, config_with, instance, port, settings_from
from tests.e2e.test_cluster import calls_on, events, queue_callers, role, serve_in_order
from tests.integration.test_api import free_port
from tests.pg import PostgresServer, new_database
from tests.sip import Phone

pytestmark = pytest.mark.asterisk

AGI = {"a": port(24973), "b": port(24974)}
ASTERISK = {
    "sandbox_instance": instance("failover-e2e"),
    "sip_port": port(25760),
    "ami_port": port(25738),
    "rtp_port_start": port(28800),
    "rtp_port_end": port(28999),
    "reconnect_max_delay": 1.0,
}
AGENT = "1006"
CHECK = 1.0  # election checks (database.election_check_seconds, the default)
STARTUP = 90  # a node's start (migrations, HTTP) on a machine busy with load benches


def agi(name: str) -> dict[str, Any]:
    return {"port": AGI[name], "nodes": [f"127.0.0.1:{p}" for n, p in AGI.items() if n != name]}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Any]:
    from callcenter.asterisk.sandbox import AsteriskSandbox

    box = AsteriskSandbox(settings_from(config_with(asterisk=ASTERISK, agi=agi("a"))))
    box.down()
    box.forget_state()
    box.up(timeout=120)
    yield box
    box.down()


class Nodes:
    """Server processes of one cluster, made on demand for a database URL."""

    def __init__(self, root: Path, redis_url: str) -> None:
        self.root, self.redis_url = root, redis_url
        self.made: dict[str, ServerProcess] = {}

    def make(self, name: str, url: str, **overrides: Any) -> ServerProcess:
        workdir = self.root / name
        workdir.mkdir()
        config = config_with(
            asterisk=ASTERISK,
            agi=agi(name),
            http={"port": free_port()},
            database={"url": url, "node": name, "election_check_seconds": CHECK},
            realtime={"redis_url": self.redis_url},
            recordings={"spool_dir": str(workdir / "spool")},
            **overrides,
        )
        self.made[name] = ServerProcess(config, workdir)
        return self.made[name]

    def stop(self) -> None:
        for server in self.made.values():
            server.stop()


@pytest.fixture
def nodes(tmp_path: Path, redis_url: str) -> Iterator[Nodes]:
    made = Nodes(tmp_path, redis_url)
    yield made
    made.stop()


def owners(servers: list[ServerProcess]) -> list[ServerProcess]:
    return [s for s in servers if role(s) == "owner"]


def start_owner(server: ServerProcess) -> None:
    server.start(wait_asterisk=False, timeout=STARTUP)
    server.wait_until(lambda: role(server) == "owner", 30, "the routing owner")
    server.wait_until(lambda: (server.health() or {}).get("asterisk"), 30, "AMI login")


def start_follower(server: ServerProcess) -> None:
    server.start(wait_asterisk=False, timeout=STARTUP)
    server.wait_until(lambda: role(server) == "follower", 30, "a follower")


def offers(servers: list[ServerProcess]) -> list[tuple[str, str]]:
    """Every offer made by any node, in time order: (interaction, agent)."""
    found = []
    for server in servers:
        for entry in server.logs():
            if entry.get("event") == "voice.dial_agent":
                found.append((entry["ts"], entry["interaction"], entry["agent"]))
    return [(i, a) for _ts, i, a in sorted(found)]


# --- two sites: the primary database replaced by a promoted replica --------------------------------


def multi_host(url: str, *servers: PostgresServer) -> str:
    """The nodes' database URL: every site's server, the writable one chosen at each connection
    (libpq's multi-host form, which SQLAlchemy passes to asyncpg)."""
    parsed = make_url(url)
    multi = URL.create(
        parsed.drivername,
        parsed.username,
        parsed.password,
        database=parsed.database,
        query={"host": [f"127.0.0.1:{s.port}" for s in servers], "target_session_attrs": "read-write"},
    )
    return multi.render_as_string(hide_password=False)


async def _scalar(server: PostgresServer, database: str, sql: str) -> Any:
    url = make_url(server.url).set(database=database)
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as c:
            return await c.scalar(sa.text(sql))
    finally:
        await engine.dispose()


def scalar(server: PostgresServer, database: str, sql: str) -> Any:
    return asyncio.run(_scalar(server, database, sql))


def caught_up(primary: PostgresServer, replica: PostgresServer, database: str) -> bool:
    """The replica has replayed everything the primary had written when asked."""
    written = scalar(primary, database, "SELECT pg_current_wal_lsn()::text")
    return bool(scalar(replica, database, f"SELECT pg_last_wal_replay_lsn() >= '{written}'::pg_lsn"))


def test_the_primary_database_replaced_by_a_promoted_replica(sandbox: Any, nodes: Nodes) -> None:
    """Site A's PostgreSQL dies (SIGKILL of all its processes) with callers waiting; nobody routes
    until the streaming replica is promoted (pg_ctl promote); then the nodes, on a multi-host URL,
    elect exactly one owner there, the fencing token goes on from the lost primary's, and the
    callers reach the agent in their order."""
    primary = PostgresServer()
    replica = None
    caller = agent = None
    try:
        base = asyncio.run(new_database(primary.start()))
        database = make_url(base).database
        assert database is not None
        replica = primary.standby()
        url = multi_host(base, primary, replica)
        a, b = nodes.make("a", url), nodes.make("b", url)
        start_owner(a)
        start_follower(b)
        caller = caller_phone(sandbox).start()
        calls = queue_callers(caller, sandbox, a, 2)
        waiting = [i for i in calls_on(a) if i["queued_at"]]
        token = scalar(primary, database, "SELECT token FROM routing_owner")
        assert token >= 1 and scalar(replica, database, "SELECT pg_is_in_recovery()")
        a.wait_until(lambda: caught_up(primary, replica, database), 20, "the replica caught up")

        primary.kill()  # the first site is lost
        a.wait_until(lambda: role(a) == "follower", 30, "the owner deposed with its database")
        # No writable database: nobody routes (the replica refuses read-write sessions).
        time.sleep(4 * CHECK)
        assert owners([a, b]) == []
        replica.promote()

        new = a.wait_until(lambda: owners([a, b]), 60, "an owner on the promoted database")
        assert len(new) == 1
        owner = new[0]
        owner.wait_until(lambda: (owner.health() or {}).get("asterisk"), 30, "the new owner's AMI login")
        # The fencing token is a replicated row: the promoted database kept it and the new term's
        # is past the lost primary's.
        assert scalar(replica, database, "SELECT token FROM routing_owner") > token
        assert not scalar(replica, database, "SELECT pg_is_in_recovery()")
        still = [i for i in calls_on(owner) if i["queued_at"] and not i["outcome"]]
        assert [i["id"] for i in still] == [i["id"] for i in waiting]
        agent = agent_phone(sandbox, AGENT).start()
        serve_in_order(owner, calls, still)
        time.sleep(4 * CHECK)
        assert owners([a, b]) == [owner], "exactly one owner on the promoted database"
    finally:
        if caller is not None:
            caller.stop()
        if agent is not None:
            agent.stop()
        nodes.stop()
        if replica is not None:
            replica.stop()
        primary.stop()


# --- a rolling restart of every node during calls --------------------------------------------------


def talking(server: ServerProcess) -> list[dict[str, Any]]:
    return [i for i in calls_on(server) if i["answered_at"] and not i["outcome"]]


def test_a_rolling_restart_of_every_node_during_calls(sandbox: Any, postgres_url: str, nodes: Nodes) -> None:
    """SIGTERM each node in turn (the follower, then the owner), each back and healthy before the
    next: the caller talking keeps talking, the callers waiting reach the agent in order, every
    caller is offered once, no record is left open. The owner stops routing, marks its term ended,
    then lets the lock go: the follower takes over without waiting out a grace period."""
    url = asyncio.run(new_database(postgres_url))
    a, b = nodes.make("a", url), nodes.make("b", url)
    start_owner(a)
    start_follower(b)
    caller = caller_phone(sandbox).start()
    agent = agent_phone(sandbox, AGENT).start()
    try:
        first = queue_callers(caller, sandbox, a, 1)
        a.wait_until(lambda: talking(a), 30, "caller 1 talking with the agent")
        rest = queue_callers(caller, sandbox, a, 2)
        [in_call] = talking(a)
        waiting = [i for i in calls_on(a) if i["queued_at"] and not i["answered_at"]]
        assert len(waiting) == 2

        b.stop(signal.SIGTERM)
        start_follower(b)
        assert role(a) == "owner"
        a.stop(signal.SIGTERM)
        b.wait_until(lambda: role(b) == "owner", 30, "b taking over from the stopped owner")
        b.wait_until(lambda: (b.health() or {}).get("asterisk"), 30, "b's AMI login")
        start_follower(a)

        # The clean handover: a stopped routing before b started, and b did not wait the grace.
        assert events(a, "election.released"), "the stopping owner did not mark its term ended"
        stopped, started = events(a, "routing.stopped")[0], events(b, "routing.starting")[0]
        assert stopped["ts"] < started["ts"], "b routed while a still did"
        won = events(b, "election.won")
        assert won[0]["grace_s"] == 0, won
        # Each stopping node flushed what it had decided, under its own term, before letting go.
        for server in (a, b):
            lost = events(server, "service.write_failed") + events(server, "service.writes_not_flushed")
            assert not lost, lost

        # Caller 1 still talks to the agent, on the record b restored.
        assert [i["id"] for i in talking(b)] == [in_call["id"]]
        first[0].hangup()
        b.wait_until(
            lambda: any(i["id"] == in_call["id"] and i["outcome"] == "answered" for i in calls_on(b)),
            20,
            "caller 1's record ended",
        )
        serve_in_order(b, rest, waiting)
        served = offers([a, b])
        assert [i for i, _ in served] == [in_call["id"], *(i["id"] for i in waiting)], "a duplicate offer"
        assert all(i["outcome"] for i in calls_on(b)), "a record left open"
        assert role(a) == "follower" and role(b) == "owner"
    finally:
        caller.stop()
        agent.stop()


# --- kill -9 of the owner with a line of callers ---------------------------------------------------

CALLERS = 6  # the suite's size; bench/failover.py --callers 50 runs the issue's
AGENTS = ("1006", "1007")


def test_kill_9_of_the_owner_with_a_line_of_callers(sandbox: Any, postgres_url: str, nodes: Nodes) -> None:
    """Callers wait while no agent is in; the owner is killed; the follower takes over and two
    agents come in: every caller is offered once, in the order of the line, and no agent is ever
    offered a second contact while it has one."""
    url = asyncio.run(new_database(postgres_url))
    a, b = nodes.make("a", url), nodes.make("b", url)
    start_owner(a)
    start_follower(b)
    callers = [caller_phone(sandbox).start() for _ in range(2)]
    agents: list[Phone] = []
    try:
        calls: list[VoIPCall] = []
        for k in range(CALLERS):
            calls += queue_callers(callers[k % 2], sandbox, a, 1)
        line = [i["id"] for i in calls_on(a) if i["queued_at"]]
        assert len(line) == CALLERS
        a.stop(signal.SIGKILL)
        b.wait_until(lambda: role(b) == "owner", 30, "b taking over")
        b.wait_until(lambda: (b.health() or {}).get("asterisk"), 30, "b's AMI login")
        by_id = dict(zip(line, calls, strict=True))
        agents = [agent_phone(sandbox, ext).start() for ext in AGENTS]
        done: set[str] = set()

        def drained() -> bool:
            records = calls_on(b)
            for ext in AGENTS:
                held = [
                    i for i in records if i["outcome"] is None and ext in (i["offered_to"], i["agent_id"])
                ]
                assert len(held) <= 1, f"agent {ext} offered two contacts: {held}"
            for record in records:
                if record["answered_at"] and not record["outcome"] and record["id"] not in done:
                    by_id[record["id"]].hangup()
                    done.add(record["id"])
            return all(i["outcome"] for i in records)

        b.wait_until(drained, 120, "every caller served")
        assert [i for i, _ in offers([b])] == line, "offers out of the line's order, or one offered twice"
        final = {i["id"]: i for i in calls_on(b)}
        assert all(final[i]["outcome"] == "answered" and final[i]["agent_id"] in AGENTS for i in line)
    finally:
        for phone in [*callers, *agents]:
            phone.stop()

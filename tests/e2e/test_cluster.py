"""Several nodes (issue 14, docs/cluster.md): two `callcenter serve` processes on one PostgreSQL and
one Redis, the sandbox Asterisk, SIP phones. One node routes (the owner); when it dies (kill -9) or
loses its database session (its backend terminated), the other takes over: callers waiting keep
their order and reach the agent, the agent is never offered two contacts, and a caller who was in
the IVR of the dead node is served by the next one. A follower serves the routing API through the
owner (cc:requests), also while nobody owns.

These tests kill servers and point the dialplan at both nodes' FastAGI ports, so they use their own
sandbox instance ("cluster", ports 255xx).
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pyVoIP.VoIP import VoIPCall
from sqlalchemy.ext.asyncio import create_async_engine

from tests.calls import agent_phone, call_in, caller_phone
from tests.conftest import ADMIN_TOKEN, ServerProcess, config_with, instance, port, settings_from
from tests.integration.test_api import free_port
from tests.pg import new_database
from tests.sip import Phone, level, wait_for

pytestmark = pytest.mark.asterisk

AGI = {"a": port(24773), "b": port(24774)}
ASTERISK = {
    "sandbox_instance": instance("cluster"),
    "sip_port": port(25560),
    "ami_port": port(25538),
    "rtp_port_start": port(28400),
    "rtp_port_end": port(28599),
    "reconnect_max_delay": 1.0,
}
AGENT = "1006"
CHECK = 0.5  # election checks: a deposed owner notices within a second, a new one starts ~2.25 s later


def agi(name: str) -> dict[str, Any]:
    others = [f"127.0.0.1:{p}" for n, p in AGI.items() if n != name]
    return {"port": AGI[name], "nodes": others}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Any]:
    from callcenter.asterisk.sandbox import AsteriskSandbox

    box = AsteriskSandbox(settings_from(config_with(asterisk=ASTERISK, agi=agi("a"))))
    box.down()
    box.forget_state()
    box.up(timeout=120)
    yield box
    box.down()


@pytest.fixture
def nodes(tmp_path: Path, postgres_url: str, redis_url: str) -> Iterator[dict[str, ServerProcess]]:
    url = asyncio.run(new_database(postgres_url))
    made = {}
    for name in AGI:
        workdir = tmp_path / name
        workdir.mkdir()
        config = config_with(
            asterisk=ASTERISK,
            agi=agi(name),
            http={"port": free_port()},
            database={"url": url, "node": name, "election_check_seconds": CHECK},
            realtime={"redis_url": redis_url},
            recordings={"spool_dir": str(workdir / "spool")},
        )
        made[name] = ServerProcess(config, workdir)
    yield made
    for server in made.values():
        server.stop()


def role(server: ServerProcess) -> str | None:
    health = server.health()
    return None if health is None else health.get("role")


def start_owner(server: ServerProcess) -> None:
    server.start(wait_asterisk=False)
    server.wait_until(lambda: role(server) == "owner", 30, "the routing owner")
    server.wait_until(lambda: (server.health() or {}).get("asterisk"), 30, "AMI login")


def start_follower(server: ServerProcess, owner: str) -> None:
    server.start(wait_asterisk=False)
    assert role(server) == "follower"
    assert "asterisk" not in (server.health() or {}), "a follower does not drive Asterisk"
    follows(server, owner)


def follows(server: ServerProcess, owner: str) -> None:
    """The follower serves the routing API through the owner (cc:requests); a request that may
    not be forwarded again is refused 503 with the owner's name."""
    status, body = server.api("GET", f"/api/agents/{AGENT}")
    assert status == 200 and body["id"] == AGENT, (status, body)
    request = urllib.request.Request(server.url + f"/api/agents/{AGENT}", headers={"X-CC-Forwarded": "1"})
    request.add_header("Authorization", f"Bearer {ADMIN_TOKEN}")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 503 and json.loads(refused.value.read())["owner"] == owner


def calls_on(server: ServerProcess) -> list[dict[str, Any]]:
    """Voice interactions, oldest arrival first."""
    status, body = server.api("GET", "/api/interactions?limit=100")
    assert status == 200, body
    return sorted((i for i in body["interactions"] if i["channel"] == "voice"), key=lambda i: i["started_at"])


def queue_callers(caller: Phone, sandbox: Any, owner: ServerProcess, n: int) -> list[VoIPCall]:
    """n more calls, each in line (menu choice 1) before the next one dials."""
    calls = []
    before = sum(1 for i in calls_on(owner) if i["queued_at"])
    for k in range(1, n + 1):
        call, _heard = call_in(caller, sandbox, "1")
        calls.append(call)
        owner.wait_until(
            lambda k=k: sum(1 for i in calls_on(owner) if i["queued_at"]) == before + k,
            20,
            f"caller {k} in line",
        )
    return calls


def _in_line(sandbox: Any) -> bool:
    out = sandbox.cli("core show channels concise", timeout=10)
    return any("!cc-wait!" in line and "!BridgeWait!" in line for line in out.splitlines())


def serve_in_order(owner: ServerProcess, calls: list[VoIPCall], waiting: list[dict[str, Any]]) -> None:
    """The agent answers the callers one by one: each must be the earliest still waiting, with its
    place kept, and the agent never holds (or is rung for) two contacts at once."""
    for k, expected in enumerate(waiting):

        def answered(expected: dict[str, Any] = expected) -> dict[str, Any] | None:
            now = calls_on(owner)
            mine = [i for i in now if i["outcome"] is None and AGENT in (i["offered_to"], i["agent_id"])]
            assert len(mine) <= 1, f"agent {AGENT} offered two contacts: {mine}"
            talking = [i for i in mine if i["answered_at"] is not None]
            if talking:
                assert talking[0]["id"] == expected["id"], "a caller was served out of order"
                return talking[0]
            return None

        record = owner.wait_until(answered, 40, f"caller {k + 1} answered")
        assert record["queued_at"] == expected["queued_at"], "the caller lost its place in line"
        calls[k].hangup()
        owner.wait_until(
            lambda i=expected["id"]: any(r["id"] == i and r["outcome"] for r in calls_on(owner)),
            20,
            f"caller {k + 1}'s record",
        )
    final = {i["id"]: i for i in calls_on(owner)}
    for expected in waiting:
        done = final[expected["id"]]
        assert done["outcome"] == "answered" and done["agent_id"] == AGENT, done


def test_kill_9_of_the_owner_with_callers_waiting(sandbox: Any, nodes: dict[str, ServerProcess]) -> None:
    a, b = nodes["a"], nodes["b"]
    start_owner(a)
    start_follower(b, "a")
    caller = caller_phone(sandbox).start()
    agent = None
    try:
        calls = queue_callers(caller, sandbox, a, 3)
        waiting = [i for i in calls_on(a) if i["queued_at"]]
        a.stop(signal.SIGKILL)
        # Asked of b while nobody owns: it waits in cc:requests and is served once b owns.
        assert [i["id"] for i in calls_on(b) if i["queued_at"] and not i["outcome"]] == [
            i["id"] for i in waiting
        ]
        assert role(b) == "owner"
        b.wait_until(lambda: (b.health() or {}).get("asterisk"), 30, "the new owner's AMI login")
        agent = agent_phone(sandbox, AGENT).start()
        serve_in_order(b, calls, waiting)
    finally:
        caller.stop()
        if agent is not None:
            agent.stop()


async def _terminate_owner_backend(url: str) -> int:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as c:
            pid = await c.scalar(
                sa.text("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = :key AND granted"),
                {"key": 0x43430001},
            )
            assert pid is not None, "nobody holds the routing lock"
            await c.scalar(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            return int(pid)
    finally:
        await engine.dispose()


def events(server: ServerProcess, name: str) -> list[dict[str, Any]]:
    return [e for e in server.logs() if e.get("event") == name]


def test_terminated_backend_stops_the_owner_before_the_other_starts(
    sandbox: Any, nodes: dict[str, ServerProcess]
) -> None:
    a, b = nodes["a"], nodes["b"]
    start_owner(a)
    start_follower(b, "a")
    caller = caller_phone(sandbox).start()
    agent = None
    try:
        calls = queue_callers(caller, sandbox, a, 1)
        waiting = [i for i in calls_on(a) if i["queued_at"]]
        asyncio.run(_terminate_owner_backend(a.config["database"]["url"]))
        b.wait_until(lambda: role(b) == "owner", 30, "the follower taking over")
        # A stopped routing (its AMI session, its engine) before B started routing, and stays a follower.
        stopped = events(a, "routing.stopped")
        started = events(b, "routing.starting")
        timeline = [
            (e["ts"], name, e["event"])
            for name, server in (("a", a), ("b", b))
            for e in server.logs()
            if str(e.get("event", "")).startswith(("routing.", "election."))
        ]
        assert stopped and started, (
            f"no routing.stopped on a, or no routing.starting on b: {sorted(timeline)}"
        )
        assert stopped[0]["ts"] < started[0]["ts"], "b routed while a still did"
        assert role(a) == "follower" and "asterisk" not in (a.health() or {})
        follows(a, "b")
        b.wait_until(lambda: (b.health() or {}).get("asterisk"), 30, "the new owner's AMI login")
        agent = agent_phone(sandbox, AGENT).start()
        serve_in_order(b, calls, waiting)
        time.sleep(4 * CHECK)
        assert role(a) == "follower" and role(b) == "owner"
    finally:
        caller.stop()
        if agent is not None:
            agent.stop()


def test_a_caller_in_the_ivr_of_a_dead_node_is_served_by_the_next(
    sandbox: Any, nodes: dict[str, ServerProcess]
) -> None:
    a, b = nodes["a"], nodes["b"]
    start_owner(a)
    start_follower(b, "a")
    caller = caller_phone(sandbox).start()
    agent = None
    try:
        call, heard = call_in(caller, sandbox)  # no choice in the opening: the menu goes on over FastAGI
        a.wait_until(lambda: calls_on(a), 20, "the FastAGI session on a")
        a.stop(signal.SIGKILL)
        b.wait_until(lambda: role(b) == "owner", 30, "the follower taking over")
        # The dialplan found b's FastAGI: the caller hears the menu again and chooses.
        b.wait_until(
            lambda: [
                i
                for i in calls_on(b)
                if i["caller_channel"] and not i["queue"] and i["started_at"] > 0 and not i["outcome"]
            ],
            30,
            "the caller's session on b",
        )
        since = time.monotonic()
        wait_for(lambda: level(heard.heard_since(since)) > 3, 15, "the menu from b")
        caller.press(heard, "1")
        b.wait_until(
            lambda: [i for i in calls_on(b) if i["queued_at"] and not i["outcome"]], 20, "in line on b"
        )
        agent = agent_phone(sandbox, AGENT).start()
        waiting = [i for i in calls_on(b) if i["queued_at"] and not i["outcome"]]
        serve_in_order(b, [call], waiting)
        # Nothing is left behind of the session a was running: every record of the call ended.
        b.wait_until(lambda: all(i["outcome"] for i in calls_on(b)), 20, "every record of the call ended")
    finally:
        caller.stop()
        if agent is not None:
            agent.stop()


async def _hold_interactions(url: str, held: asyncio.Event, release: asyncio.Event) -> None:
    """Lock the interactions table until ``release``: the owner decides but cannot store."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as c:
            await c.execute(sa.text("LOCK TABLE interactions IN ACCESS EXCLUSIVE MODE"))
            held.set()
            await release.wait()
    finally:
        await engine.dispose()


def test_a_caller_queued_but_not_stored_by_the_dead_owner_is_taken_back(
    sandbox: Any, nodes: dict[str, ServerProcess]
) -> None:
    """The owner's writes come after its decisions: killed in between, it leaves a caller waiting
    in Asterisk that the database does not have. The new owner takes Asterisk's word for it."""
    a, b = nodes["a"], nodes["b"]
    start_owner(a)
    start_follower(b, "a")
    caller = caller_phone(sandbox).start()
    agent = None
    loop = asyncio.new_event_loop()
    held, release = asyncio.Event(), asyncio.Event()
    locker = loop.create_task(_hold_interactions(a.config["database"]["url"], held, release))
    try:
        loop.run_until_complete(asyncio.wait_for(held.wait(), 10))
        call, _heard = call_in(caller, sandbox, "1")
        a.wait_until(lambda: events(a, "voice.ivr_finished"), 20, "the caller queued on a")
        # Killed once the caller waits in Asterisk's line (cc-wait), not while its FastAGI session
        # is still closing: a kill then is the IVR failover's case (the next node runs the menu).
        a.wait_until(lambda: _in_line(sandbox), 20, "the caller in cc-wait")
        a.stop(signal.SIGKILL)
        release.set()
        loop.run_until_complete(locker)
        b.wait_until(lambda: role(b) == "owner", 30, "the follower taking over")
        b.wait_until(lambda: events(b, "voice.waiting_caller_taken_back"), 30, "the caller taken back")
        # The log line comes as b decides; /api/interactions reads what b's batched writer stored.
        waiting = b.wait_until(
            lambda: [i for i in calls_on(b) if i["queued_at"] and not i["outcome"]], 10, "b storing it"
        )
        assert len(waiting) == 1 and waiting[0]["caller_channel"], waiting
        agent = agent_phone(sandbox, AGENT).start()
        serve_in_order(b, [call], waiting)
    finally:
        release.set()
        if not locker.done():
            loop.run_until_complete(locker)
        loop.close()
        caller.stop()
        if agent is not None:
            agent.stop()

"""Failover time (issue 14): from a kill -9 of the routing owner to the next offer by the new one.

Two `callcenter serve` processes on one PostgreSQL and one Redis (throwaway servers from tests/),
the sandbox Asterisk, agent 1006's phone registered but never answering, so the owner keeps
offering a waiting caller to it (a long ring; a new call is placed when none waits). Each round
kills the owner with SIGKILL,
notes the time, and waits for the other node's first ``voice.dial_agent`` (the offer: the agent's
phone is rung again); the killed node is started again as a follower before the next round. The
failover time is the offer's log timestamp minus the kill's (one machine, one clock).

    .venv/bin/python bench/failover.py [--kills 20] [--check 1.0]

Needs root (the sandbox); starts its own sandbox instance ("failover", ports 255xx + 100, moved by
CC_TEST_SLOT like the tests'). Prints each round and the p50/p95/max.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import signal
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from callcenter.asterisk.sandbox import AsteriskSandbox
from tests.calls import agent_phone, call_in, caller_phone
from tests.conftest import ServerProcess, config_with, instance, port, settings_from
from tests.integration.test_api import free_port
from tests.integration.test_db import _create_postgres_database
from tests.pg import PostgresServer
from tests.redis_server import RedisServer

AGI = {"a": port(24873), "b": port(24874)}
ASTERISK = {
    "sandbox_instance": instance("failover"),
    "sip_port": port(25660),
    "ami_port": port(25638),
    "rtp_port_start": port(28600),
    "rtp_port_end": port(28799),
    "reconnect_max_delay": 1.0,
}
OFFER = "voice.dial_agent"


def agi(name: str) -> dict[str, Any]:
    return {"port": AGI[name], "nodes": [f"127.0.0.1:{p}" for n, p in AGI.items() if n != name]}


def node(name: str, url: str, redis_url: str, root: Path, check: float) -> ServerProcess:
    workdir = root / name
    workdir.mkdir()
    config = config_with(
        asterisk=ASTERISK,
        agi=agi(name),
        http={"port": free_port()},
        database={"url": url, "node": name, "election_check_seconds": check},
        realtime={"redis_url": redis_url},
        recordings={"spool_dir": str(workdir / "spool")},
        logging={"level": "INFO", "format": "json"},
        acd={"ring_timeout": 300},  # the agent never answers: one offer rings through a round
    )
    return ServerProcess(config, workdir)


def offers(server: ServerProcess, since: int) -> list[float]:
    """Times of the offers in the server's log after its first ``since`` lines."""
    found = []
    for entry in server.logs()[since:]:
        if entry.get("event") == OFFER:
            found.append(datetime.fromisoformat(entry["ts"].replace("Z", "+00:00")).timestamp())
    return found


def waiting(server: ServerProcess) -> bool:
    """Whether a caller is waiting (the owner is offering it to the agent)."""
    status, body = server.api("GET", "/api/interactions?limit=20")
    return status == 200 and any(i["queued_at"] and not i["outcome"] for i in body["interactions"])


def role(server: ServerProcess) -> str | None:
    return (server.health() or {}).get("role")


def one_kill(owner: ServerProcess, follower: ServerProcess) -> float | None:
    """Kill the owner; seconds until the follower's first offer (None: a void round, the test
    phone had dropped the call, so the new owner had nobody to offer). The killed node comes back
    as a follower before the next kill."""
    seen = len(follower.logs())
    killed_at = time.time()
    owner.stop(signal.SIGKILL)
    try:
        offered: float | None = follower.wait_until(lambda: offers(follower, seen), 30, "the offer")[0]
    except AssertionError:
        if role(follower) != "owner" or waiting(follower):
            raise
        offered = None
    owner.start(wait_asterisk=False)
    owner.wait_until(lambda: role(owner) == "follower", 30, "the restarted node as follower")
    return None if offered is None else offered - killed_at


def run(kills: int, check: float) -> list[float]:
    sandbox = AsteriskSandbox(settings_from(config_with(asterisk=ASTERISK, agi=agi("a"))))
    sandbox.down()
    sandbox.forget_state()
    sandbox.up(timeout=120)
    pg, redis = PostgresServer(), RedisServer()
    root = Path(tempfile.mkdtemp(prefix="cc-failover-"))
    nodes: dict[str, ServerProcess] = {}
    phones = []
    times: list[float] = []
    try:
        url = asyncio.run(_create_postgres_database(pg.start()))
        redis_url = redis.start()
        nodes = {name: node(name, url, redis_url, root, check) for name in AGI}
        owner, follower = nodes["a"], nodes["b"]
        owner.start(wait_asterisk=False)
        owner.wait_until(lambda: (owner.health() or {}).get("asterisk"), 60, "the first owner")
        follower.start(wait_asterisk=False)
        phones.append(agent_phone(sandbox, "1006", answer=False).start())
        caller = caller_phone(sandbox).start()
        phones.append(caller)
        for k in range(1, kills + 1):
            if not waiting(owner):  # the first round, or pyVoIP dropped the long call: a new one
                seen = len(owner.logs())
                call_in(caller, sandbox, "1")
                owner.wait_until(functools.partial(offers, owner, seen), 30, "the owner's offer")
            took = one_kill(owner, follower)
            if took is None:
                print(f"kill {k:3d}: void (the test call had dropped: nobody to offer)", flush=True)
            else:
                times.append(took)
                print(f"kill {k:3d}: next offer after {took:.2f} s", flush=True)
            owner, follower = follower, owner
    finally:
        for phone in phones:
            phone.stop()
        for server in nodes.values():
            server.stop()
        redis.stop()
        pg.stop()
        sandbox.down()
    return times


def main(argv: list[str] | None = None) -> int:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--check", type=float, default=1.0, help="database.election_check_seconds")
    args = parser.parse_args(argv)
    times = sorted(run(args.kills, args.check))
    if not times:
        return 1
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    print(
        f"failover, kill -9 of the owner -> next offer, {len(times)} kills, check {args.check} s: "
        f"p50 {statistics.median(times):.2f} s, p95 {p95:.2f} s, max {times[-1]:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

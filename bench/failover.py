"""Failover time (issue 14): from a kill -9 of the routing owner to the next offer by the new one.

Two `callcenter serve` processes on one PostgreSQL and one Redis (throwaway servers from tests/),
the sandbox Asterisk, agent 1006's phone registered but never answering, so the owner keeps
offering a waiting caller to it (a long ring; a new call is placed when none waits). Each round
kills the owner with SIGKILL,
notes the time, and waits for the other node's first ``voice.dial_agent`` (the offer: the agent's
phone is rung again); the killed node is started again as a follower before the next round. The
failover time is the offer's log timestamp minus the kill's (one machine, one clock).

    .venv/bin/python bench/failover.py [--kills 20] [--check 1.0] [--signal kill|term]

``--signal term`` stops the owner with SIGTERM instead (a rolling restart's handover: the owner
stops routing, marks its term ended and lets the lock go; the follower starts without the grace).

``--callers N`` runs the other scenario, a line at the kill: N callers wait (menu choice 1) while
no agent is in, the owner is killed with SIGKILL, then ``--agents`` agents' phones register and
answer every offer; each call is hung up ``--talk`` seconds after it is answered. It checks that
every caller is offered once, in the order of the line, and that no agent ever holds two contacts,
and prints the times from the kill to the first offer, to the last offer and to the last call ended:

    .venv/bin/python bench/failover.py --callers 50 --agents 5

``--chats M`` (with ``--callers``) also has M web chats open at the kill, their agents' panels on
the follower and half of their visitors on the owner (bench/chats_at_kill.py: each chat stays with
its agent, nothing lost, nothing seen twice):

    .venv/bin/python bench/failover.py --callers 50 --agents 3 --chats 20

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

from chats_at_kill import ChatsAtKill

from callcenter.asterisk.sandbox import AsteriskSandbox
from tests.calls import agent_phone, call_in, caller_phone
from tests.conftest import ServerProcess, config_with, instance, port, settings_from
from tests.integration.test_api import free_port
from tests.pg import PostgresServer, new_database
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


def node(
    name: str,
    url: str,
    redis_url: str,
    root: Path,
    check: float,
    ring_timeout: int = 300,
    **extra: Any,
) -> ServerProcess:
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
        acd={"ring_timeout": ring_timeout},  # 300: the agent never answers, one offer rings through a round
        **extra,
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


def one_kill(owner: ServerProcess, follower: ServerProcess, sig: int = signal.SIGKILL) -> float | None:
    """Kill the owner; seconds until the follower's first offer (None: a void round, the test
    phone had dropped the call, so the new owner had nobody to offer). The killed node comes back
    as a follower before the next kill."""
    seen = len(follower.logs())
    killed_at = time.time()
    owner.stop(sig)
    try:
        offered: float | None = follower.wait_until(lambda: offers(follower, seen), 30, "the offer")[0]
    except AssertionError:
        if role(follower) != "owner" or waiting(follower):
            raise
        offered = None
    owner.start(wait_asterisk=False, timeout=90)
    owner.wait_until(lambda: role(owner) == "follower", 30, "the restarted node as follower")
    return None if offered is None else offered - killed_at


def up_sandbox() -> AsteriskSandbox:
    sandbox = AsteriskSandbox(settings_from(config_with(asterisk=ASTERISK, agi=agi("a"))))
    sandbox.fresh(timeout=120)
    return sandbox


def run(kills: int, check: float, sig: int = signal.SIGKILL) -> list[float]:
    sandbox = up_sandbox()
    pg, redis = PostgresServer(), RedisServer()
    root = Path(tempfile.mkdtemp(prefix="cc-failover-"))
    nodes: dict[str, ServerProcess] = {}
    phones = []
    times: list[float] = []
    try:
        url = asyncio.run(new_database(pg.start()))
        redis_url = redis.start()
        nodes = {name: node(name, url, redis_url, root, check) for name in AGI}
        owner, follower = nodes["a"], nodes["b"]
        owner.start(wait_asterisk=False, timeout=90)
        owner.wait_until(lambda: (owner.health() or {}).get("asterisk"), 60, "the first owner")
        follower.start(wait_asterisk=False, timeout=90)
        phones.append(agent_phone(sandbox, "1006", answer=False).start())
        caller = caller_phone(sandbox).start()
        phones.append(caller)
        for k in range(1, kills + 1):
            if not waiting(owner):  # the first round, or pyVoIP dropped the long call: a new one
                seen = len(owner.logs())
                call_in(caller, sandbox, "1")
                owner.wait_until(functools.partial(offers, owner, seen), 30, "the owner's offer")
            took = one_kill(owner, follower, sig)
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


def seconds(entry: dict[str, Any]) -> float:
    return datetime.fromisoformat(entry["ts"].replace("Z", "+00:00")).timestamp()


CHATS_PER_AGENT = 4


def chat_people(agents: int, chats: int) -> tuple[dict[str, Any], dict[str, str]]:
    """Settings for ``--chats``: voice agents 1001... take no chats; the next agents take chats
    only (no phone, no call while chatting), ``CHATS_PER_AGENT`` each, with their panels' tokens."""
    chat_agents = -(-chats // CHATS_PER_AGENT)
    voice = [
        {"id": str(n), "name": f"Agent {n}", "extension": str(n), "max_chats": 0}
        for n in range(1001, 1001 + agents)
    ]
    on_chat = [
        {"id": str(n), "name": f"Agent {n}", "extension": str(n), "max_chats": CHATS_PER_AGENT,
         "auto_login": False, "call_while_chatting": False}
        for n in range(1001 + agents, 1001 + agents + chat_agents)
    ]  # fmt: skip
    tokens = {a["id"]: f"bench-chat-agent-{a['id']}-token-0123456789" for a in on_chat}
    api_tokens = [*config_with()["security"]["api_tokens"]]
    api_tokens += [
        {"name": f"agent-{i}", "role": "agent", "token": t, "agent_id": i} for i, t in tokens.items()
    ]
    return {"agents": voice + on_chat, "security": {"api_tokens": api_tokens}}, tokens


def line(callers: int, agents: int, check: float, talk: float, chats: int = 0) -> int:
    """The line scenario (``--callers``, with ``--chats`` open at the kill); returns the number of
    failed checks."""
    sandbox = up_sandbox()
    pg, redis = PostgresServer(), RedisServer()
    root = Path(tempfile.mkdtemp(prefix="cc-failover-line-"))
    nodes: dict[str, ServerProcess] = {}
    phones: list[Any] = []
    failures = 0
    try:
        url = asyncio.run(new_database(pg.start()))
        redis_url = redis.start()
        people, chat_tokens = chat_people(agents, chats) if chats else ({}, {})
        nodes = {name: node(name, url, redis_url, root, check, ring_timeout=15, **people) for name in AGI}
        a, b = nodes["a"], nodes["b"]
        a.start(wait_asterisk=False, timeout=90)
        a.wait_until(lambda: (a.health() or {}).get("asterisk"), 90, "the first owner")
        b.start(wait_asterisk=False, timeout=90)
        b.wait_until(lambda: role(b) == "follower", 60, "the follower")
        if chats:
            open_chats = ChatsAtKill(a.url, b.url, chat_tokens, chats)
            open_chats.open()
        per_phone = 8  # calls per pyVoIP phone: its RTP range (tests/calls.py) is 18 ports
        caller_phones = [caller_phone(sandbox).start() for _ in range(-(-callers // per_phone))]
        phones += caller_phones
        calls = []
        started = time.monotonic()
        for k in range(callers):
            call, _heard = call_in(caller_phones[k // per_phone], sandbox, "1")
            calls.append(call)
            a.wait_until(functools.partial(in_line, a, k + 1), 30, f"caller {k + 1} in line")
        print(f"{callers} callers in line after {time.monotonic() - started:.1f} s", flush=True)
        line_ids = [i["id"] for i in interactions(a) if i["queued_at"] and not i["outcome"]]
        if len(line_ids) != callers:
            print(f"FAIL: {len(line_ids)} callers waiting, not {callers}")
            return 1
        seen = len(b.logs())
        killed_at = time.time()
        a.stop(signal.SIGKILL)
        if chats:
            open_chats.after_kill()
        b.wait_until(lambda: role(b) == "owner", 60, "b taking over")
        b.wait_until(lambda: (b.health() or {}).get("asterisk"), 60, "b's AMI login")
        by_id = dict(zip(line_ids, calls, strict=True))
        phones += [agent_phone(sandbox, str(1001 + n)).start() for n in range(agents)]
        answered_at: dict[str, float] = {}
        hung: set[str] = set()
        double: list[str] = []

        def drained() -> bool:
            records = interactions(b)
            held: dict[str, list[str]] = {}
            for r in records:
                if r["outcome"] is None and (r["offered_to"] or r["agent_id"]):
                    held.setdefault(r["agent_id"] or r["offered_to"], []).append(r["id"])
                if r["answered_at"] and not r["outcome"]:
                    answered_at.setdefault(r["id"], time.monotonic())
            double.extend(f"{agent}: {ids}" for agent, ids in held.items() if len(ids) > 1)
            for rid, at in answered_at.items():
                if rid not in hung and time.monotonic() - at >= talk:
                    by_id[rid].hangup()
                    hung.add(rid)
            return all(r["outcome"] for r in records if r["id"] in by_id)

        b.wait_until(drained, 60 + 10 * callers, "every caller served")
        offered = [e for e in b.logs()[seen:] if e.get("event") == OFFER]
        order = [e["interaction"] for e in offered]
        final = {i["id"]: i for i in interactions(b)}
        ended = [final[i]["ended_at"] for i in line_ids if final[i]["ended_at"]]
        served = sum(1 for i in line_ids if final[i]["outcome"] == "answered")
        print(
            f"served {served} of {callers}; offers {len(order)} (once each: {len(set(order)) == len(order)})"
        )
        print(
            f"offers in the line's order: {order == line_ids}; an agent holding two: {double[:3] or 'never'}"
        )
        if offered:
            print(
                f"kill -> first offer {seconds(offered[0]) - killed_at:.2f} s, "
                f"-> last offer {seconds(offered[-1]) - killed_at:.2f} s"
                + (f", -> last call ended {max(ended) - killed_at:.2f} s" if ended else "")
            )
        terms = [e for e in b.logs()[seen:] if e.get("event") == "election.won"]
        print(f"terms of b after the kill: {len(terms)} (more than 1: a check too slow deposed it)")
        failures = (served != callers) + (order != line_ids) + bool(double)
        if chats:
            problems = open_chats.result()
            print(f"chats open at the kill: {chats}, whole after it: {chats - len(problems)}")
            for problem in problems:
                print(f"FAIL: {problem}")
            failures += len(problems)
    finally:
        for phone in phones:
            phone.stop()
        for server in nodes.values():
            server.stop()
        redis.stop()
        pg.stop()
        sandbox.down()
    return failures


def interactions(server: ServerProcess) -> list[dict[str, Any]]:
    """Voice interactions, oldest first (every one: the API's largest page). A machine busy with
    50 calls may answer late (a socket timeout), or a node may be between terms (503: a check
    too slow deposed it, see the terms printed): asked again for 60 s at most."""
    deadline = time.monotonic() + 60
    while True:
        try:
            status, body = server.api("GET", "/api/interactions?limit=500")
        except OSError:
            status, body = 0, "timed out"
        if status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert status == 200, body
    return sorted((i for i in body["interactions"] if i["channel"] == "voice"), key=lambda i: i["started_at"])


def in_line(server: ServerProcess, n: int) -> bool:
    return sum(1 for i in interactions(server) if i["queued_at"]) == n


def main(argv: list[str] | None = None) -> int:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--check", type=float, default=1.0, help="database.election_check_seconds")
    parser.add_argument("--signal", choices=("kill", "term"), default="kill", help="how the owner is stopped")
    parser.add_argument(
        "--callers", type=int, default=0, help="the line scenario: callers waiting at the kill"
    )
    parser.add_argument("--agents", type=int, default=5, help="agents answering after the kill (--callers)")
    parser.add_argument(
        "--talk", type=float, default=1.0, help="seconds each answered call lasts (--callers)"
    )
    parser.add_argument(
        "--chats", type=int, default=0, help="web chats open at the kill (--callers; agents 1001+agents...)"
    )
    args = parser.parse_args(argv)
    if args.callers:
        return 1 if line(args.callers, args.agents, args.check, args.talk, args.chats) else 0
    sig = signal.SIGKILL if args.signal == "kill" else signal.SIGTERM
    times = sorted(run(args.kills, args.check, sig))
    if not times:
        return 1
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    how = "kill -9" if sig == signal.SIGKILL else "SIGTERM"
    print(
        f"failover, {how} of the owner -> next offer, {len(times)} rounds, check {args.check} s: "
        f"p50 {statistics.median(times):.2f} s, p95 {p95:.2f} s, max {times[-1]:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

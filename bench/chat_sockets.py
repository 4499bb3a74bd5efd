"""Web chat under load: customer -> agent delivery latency and memory per idle connection, for our
server and, in the same run, for a bare python-socketio relay on the same machine.

    python bench/chat_sockets.py                                  (2,000 customers, 100 agents, 500 msg/s)
    python bench/chat_sockets.py --customers 300 --agents 20 --rate 100 --seconds 10   (a quick check)
    python bench/chat_sockets.py --stock-gc      (ours is also run with runtime.gc_freeze: false)
    python bench/chat_sockets.py --nodes 2       (ours on PostgreSQL + Redis: one node, then two)
    python bench/chat_sockets.py --nodes 2 --rounds 3   (... three times over, the median ratio)
    python bench/chat_sockets.py --nodes 2 --visitors-on last   (every visitor on the follower)
    python bench/chat_sockets.py --nodes 2 --scaled   (two nodes carry twice what one node carries)
    python bench/chat_sockets.py --unstored      (also ours with the message write left out: its cost)

Each server runs in its own process (its memory is read from /proc); every client runs in this one.
The scene, for both servers:

1. The server starts; its resident memory is read. ``--agents`` agent sockets and ``--customers``
   customer sockets connect and stay idle; memory is read again: (after - before) / sockets is the
   memory per idle connection.
2. Every customer starts a chat. On ours that is the real path: pre-chat ``start`` with a first
   message, stored through Messaging (SQLite), routed by the ACD (each agent may hold
   customers / agents chats at once), the ``OfferConversation`` to an agent and its ``accept``.
   On the bare relay a customer is simply paired with an agent.
3. Customers send ``--rate`` messages per second in total for ``--seconds``; each message carries
   its number and the agent's socket notes when it arrives. Delivery = agent receipt - customer
   send, on this process's monotonic clock. p50/p99 are over the messages that arrived; the count
   that did not (within 10 s after the last send) is printed too.

With ``--nodes 2`` (docs/cluster.md), ours runs on a PostgreSQL and a Redis of its own (tests/pg.py,
tests/redis_server.py), first as one node, then as two (``callcenter`` processes electing a routing
owner); the sockets alternate between the nodes, agents make themselves available from their
panels, and the follower's events reach the owner over ``cc:sockets``, but for a visitor's messages
in a chat an agent holds, which the follower stores and shows itself and the owner files in its
books (docs/cluster.md, "Web chats an agent holds"). The server CPU is given per node. At a rate no node
saturates, both runs deliver the offered rate; what the nodes could carry is the *capacity*, the
messages per CPU-second of the busiest node (a core each), and two nodes' capacity over one node's
is the throughput ratio (on this 2-core machine the load generator shares the cores, so the
delivered rate itself cannot show it). A node's CPU per message falls as its rate rises (more
messages per commit, per read, per wake-up), and at the same total rate each of two nodes sees half
of it: ``--scaled`` gives the two nodes twice the visitors, agents and rate, so each node carries
what the one node carried, the nearest this machine comes to comparing them at saturation, where
throughput is decided. ``--rounds N`` runs one node then two N times and prints the median of the
ratios: the machine's speed drifts between runs by more than a change's effect.

Ours does much more per message than the relay (authorisation, rate limit, storing the message and
its conversation in SQLite, customer resolution), so the ratio is the cost of all that.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import socketio
from aiohttp import web

CONNECT_BATCH = 50


# --- the servers (run with --serve) ---------------------------------------------------------------


def agent_token(n: int) -> str:
    return f"bench-agent-token-{n:04d}-0123456789"


def serve_ours(
    port: int,
    agents: int,
    workdir: Path,
    max_chats: int,
    gc_freeze: bool = True,
    db_url: str | None = None,
    redis_url: str | None = None,
    node: str | None = None,
    unstored: bool = False,
    group_commit_ms: float | None = None,
) -> None:
    from callcenter.app import create_app
    from callcenter.core import events as ev
    from callcenter.settings import load_settings
    from callcenter.web.api import SERVICE

    settings = load_settings(
        environ={},
        overrides={
            "http": {"host": "127.0.0.1", "port": port},
            "database": {"url": db_url or f"sqlite+aiosqlite:///{workdir}/bench.db"}
            | ({"node": node} if node else {}),
            "asterisk": {"ami_port": 1, "reconnect_min_delay": 30.0, "reconnect_max_delay": 60.0},
            "agi": {"port": free_port()},
            "agents": [
                {"id": f"a{n}", "name": f"Agent {n}", "extension": f"a{n}", "max_chats": max_chats}
                for n in range(agents)
            ],
            "security": {
                "api_tokens": [
                    {"name": f"a{n}", "role": "agent", "token": agent_token(n), "agent_id": f"a{n}"}
                    for n in range(agents)
                ]
            },
            "realtime": {"events_per_second": 20.0, "burst": 100, "redis_url": redis_url},
            "runtime": {"gc_freeze": gc_freeze},
        }
        | ({"messaging": {"group_commit_ms": group_commit_ms}} if group_commit_ms is not None else {}),
    )
    if unstored:  # a measurement of what the write costs, never a way to run: nothing is kept
        from callcenter.storage.messaging_store import MessagingStore

        async def nothing(*args: object, **kwargs: object) -> None:
            return None

        MessagingStore.save_received_batch = nothing  # type: ignore[method-assign]
    app = create_app(settings)

    async def wire(app: web.Application) -> None:
        service = app[SERVICE]
        for n in range(agents):
            service.handle(ev.AgentLogin(f"a{n}", service.clock()))

    if db_url is None:  # several nodes: the routing starts when elected; agents log in from their panels
        app.on_startup.append(wire)
    import logging

    logging.basicConfig(level=logging.WARNING, format="server: %(levelname)s %(message)s", force=True)
    logging.getLogger("callcenter.asterisk.ami").setLevel(logging.ERROR)  # no Asterisk here
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def serve_bare(port: int) -> None:
    sio = socketio.AsyncServer(async_mode="aiohttp", max_http_buffer_size=16 * 1024)
    app = web.Application()
    sio.attach(app)
    pairs: dict[str, str] = {}

    @sio.on("connect", namespace="/agent")
    async def agent_connect(sid: str, environ: Any, auth: Any) -> None:
        await sio.enter_room(sid, f"agent:{auth['agent_id']}", namespace="/agent")

    @sio.on("start", namespace="/customer")
    async def start(sid: str, data: Any) -> Any:
        pairs[sid] = data["agent"]
        return {"ok": True}

    @sio.on("message", namespace="/customer")
    async def message(sid: str, data: Any) -> Any:
        await sio.emit("message", {"body": data["text"]}, room=f"agent:{pairs[sid]}", namespace="/agent")
        return {"ok": True}

    @sio.on("disconnect", namespace="/customer")
    async def gone(sid: str, reason: Any = None) -> None:
        pairs.pop(sid, None)

    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# --- the load (this process) ----------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/<pid>/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Result:
    name: str
    rss_before: int = 0
    rss_idle: int = 0
    rss_end: int = 0  # after the timed messages: what the chats and their messages hold
    cpu_s: float = 0.0  # the server's CPU time during the timed messages (every node's)
    cpu_by_node: list[float] = field(default_factory=list)
    redis_calls: dict[str, int] = field(default_factory=dict)  # Redis commands while sending
    span_s: float = 0.0  # first send to last arrival
    sockets: int = 0
    latencies: list[float] = field(default_factory=list)
    sent: int = 0
    connect_s: float = 0.0
    start_s: float = 0.0  # until every chat is accepted by its agent
    started_s: float = 0.0  # until every customer's ``start`` is acknowledged

    @property
    def per_connection_kib(self) -> float:
        return (self.rss_idle - self.rss_before) / max(1, self.sockets)


async def wait_port(port: int, proc: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            raise RuntimeError("the server exited")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError("the server did not start")


async def gather_batches(make: list[Any]) -> list[Any]:
    out: list[Any] = []
    for i in range(0, len(make), CONNECT_BATCH):
        out += await asyncio.gather(*(m() for m in make[i : i + CONNECT_BATCH]))
    return out


@dataclass(frozen=True)
class Shared:
    """PostgreSQL and Redis for ``--nodes``."""

    db_url: str
    redis_url: str


async def redis_calls(shared: Shared | None) -> dict[str, int]:
    """Redis commands served so far, by command (``INFO commandstats``), with ``--nodes``."""
    if shared is None:
        return {}
    from redis.asyncio import Redis

    client = Redis.from_url(shared.redis_url)
    try:
        stats = await client.info("commandstats")
    finally:
        await client.aclose()
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


async def is_owner(port: int) -> bool:
    import json
    import urllib.request

    def get() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                return bool(json.loads(resp.read()).get("role") == "owner")
        except Exception:
            return False

    return await asyncio.to_thread(get)


async def profile(
    args: argparse.Namespace, kind: str, nodes: int, procs: list[asyncio.subprocess.Process]
) -> list[asyncio.subprocess.Process]:
    """``--profile DIR``: py-spy samples every server process during the timed messages, the
    thread holding the GIL only (where Python spends CPU; a wait for I/O is left out), into a
    file of folded stacks per process, one line per stack and its count: flamegraph.pl's input)."""
    if args.profile is None:
        return []
    args.profile.mkdir(parents=True, exist_ok=True)
    spy = str(Path(sys.executable).with_name("py-spy"))
    spies = []
    for k, p in enumerate(procs):
        output = args.profile / f"{kind}-{nodes}n-node{k}.txt"
        options = ["--duration", str(int(args.seconds)), "--nonblocking", "--gil", "--rate", "400"]
        spies.append(
            await asyncio.create_subprocess_exec(
                *(spy, "record", "--pid", str(p.pid), *options, "--format", "raw", "--output", str(output)),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    return spies


async def run(kind: str, args: argparse.Namespace, shared: Shared | None = None, nodes: int = 1) -> Result:
    ports = [free_port() for _ in range(nodes)]
    workdir = Path(tempfile.mkdtemp(prefix="bench-chat-"))
    procs = []
    database = None
    if shared is not None:
        from tests.pg import new_database

        database = await new_database(shared.db_url)
    for k, port in enumerate(ports):
        cmd = [sys.executable, __file__, "--serve", kind, "--port", str(port), "--agents", str(args.agents),
               "--workdir", str(workdir), "--max-chats", str(-(-args.customers // args.agents))]  # fmt: skip
        if args.group_commit_ms is not None:
            cmd += ["--group-commit-ms", str(args.group_commit_ms)]
        if shared is not None and database is not None:
            cmd += ["--db-url", database, "--redis-url", shared.redis_url, "--node", f"node{k}"]
        procs.append(await asyncio.create_subprocess_exec(*cmd, stdout=subprocess.DEVNULL))
        await wait_port(port, procs[-1])
        if shared is not None and k == 0:
            deadline = time.monotonic() + 60
            while not await is_owner(port):
                if time.monotonic() > deadline:
                    raise RuntimeError("no routing owner")
                await asyncio.sleep(0.2)
    proc = procs[0]
    names = {
        "ours": "ours",
        "ours-stock": "ours, stock garbage collector (runtime.gc_freeze: false)",
        "ours-unstored": "ours without the write of received messages (their cost, by difference)",
    }
    result = Result(names.get(kind, "bare python-socketio relay"))
    if shared is not None:
        result.name = f"ours on PostgreSQL + Redis, {nodes} node{'s' if nodes > 1 else ''}"
    clients: list[socketio.AsyncClient] = []
    try:
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        await asyncio.sleep(1.0)
        result.rss_before = rss_kib(proc.pid)
        sent_at: dict[int, float] = {}
        latencies: list[float] = []
        sending_done = False
        all_arrived = asyncio.Event()

        def on_message(data: Any) -> None:
            body = data.get("body", "")
            if body.startswith("m:"):
                seq = int(body.split(":")[1])
                t0 = sent_at.pop(seq, None)
                if t0 is not None:
                    latencies.append(time.perf_counter() - t0)
                if sending_done and not sent_at:
                    all_arrived.set()

        accepted = asyncio.Event()
        accepted_count = 0

        def make_agent(n: int) -> Any:
            async def connect() -> socketio.AsyncClient:
                client = socketio.AsyncClient(reconnection=False)

                async def offer(data: Any) -> None:
                    nonlocal accepted_count
                    ack = await client.call("accept", {"interaction_id": data["interaction_id"]},
                                            namespace="/agent", timeout=30)  # fmt: skip
                    if ack.get("ok"):
                        accepted_count += 1
                        if accepted_count >= args.customers:
                            accepted.set()

                client.on("message", on_message, namespace="/agent")
                client.on("offer", offer, namespace="/agent")
                auth = {"token": agent_token(n)} if kind != "bare" else {"agent_id": f"a{n}"}
                url = urls[n % len(urls)]
                await client.connect(url, namespaces=["/agent"], auth=auth, transports=["websocket"])
                while shared is not None:  # available from the panel, through whichever node
                    state = {"state": "available"}
                    ack = await client.call("set_state", state, namespace="/agent", timeout=30)
                    if ack.get("ok"):
                        break
                    await asyncio.sleep(0.5)
                return client

            return connect

        def make_customer(i: int) -> Any:
            async def connect() -> socketio.AsyncClient:
                client = socketio.AsyncClient(reconnection=False)
                url = urls[-1] if args.visitors_on == "last" else urls[i % len(urls)]
                await client.connect(url, namespaces=["/customer"], transports=["websocket"])
                return client

            return connect

        t = time.perf_counter()
        agents = await gather_batches([make_agent(n) for n in range(args.agents)])
        customers = await gather_batches([make_customer(i) for i in range(args.customers)])
        clients = agents + customers
        result.connect_s = time.perf_counter() - t
        result.sockets = len(clients)
        await asyncio.sleep(2.0)
        result.rss_idle = rss_kib(proc.pid)

        t = time.perf_counter()

        async def start(i: int, c: socketio.AsyncClient) -> None:
            if kind != "bare":
                ack = await c.call("start", {"name": f"Visitor {i}", "message": "hello"},
                                   namespace="/customer", timeout=60)  # fmt: skip
            else:
                pair = {"agent": f"a{i % args.agents}"}
                ack = await c.call("start", pair, namespace="/customer", timeout=60)
            assert "error" not in ack, ack

        await gather_batches([lambda i=i, c=c: start(i, c) for i, c in enumerate(customers)])
        result.started_s = time.perf_counter() - t
        if kind != "bare":
            await asyncio.wait_for(accepted.wait(), 120)
        result.start_s = time.perf_counter() - t

        total = int(args.rate * args.seconds)
        interval = 1.0 / args.rate
        cpu_at_begin = [cpu_seconds(p.pid) for p in procs]
        redis_at_begin = await redis_calls(shared)
        spies = await profile(args, kind, nodes, procs)
        begin = time.perf_counter()

        async def send(seq: int, c: socketio.AsyncClient) -> None:
            sent_at[seq] = time.perf_counter()
            await c.emit("message", {"text": f"m:{seq}"}, namespace="/customer")

        pending: set[asyncio.Task[None]] = set()
        for seq in range(total):
            due = begin + seq * interval
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(send(seq, customers[seq % len(customers)]))
            pending.add(task)
            task.add_done_callback(pending.discard)
        result.sent = total
        await asyncio.gather(*pending, return_exceptions=True)
        sending_done = True
        if sent_at:
            try:
                await asyncio.wait_for(all_arrived.wait(), 10)
            except TimeoutError:
                pass  # counted as not arrived
        result.span_s = time.perf_counter() - begin
        result.latencies = latencies
        result.rss_end = rss_kib(proc.pid)
        result.cpu_by_node = [cpu_seconds(p.pid) - c for p, c in zip(procs, cpu_at_begin, strict=True)]
        redis_at_end = await redis_calls(shared)
        result.redis_calls = {k: n - redis_at_begin.get(k, 0) for k, n in redis_at_end.items()}
        result.cpu_s = sum(result.cpu_by_node)
        for spy in spies:
            await spy.wait()
        return result
    finally:
        await asyncio.gather(*(c.disconnect() for c in clients), return_exceptions=True)
        for p in reversed(procs):
            if p.returncode is None:
                p.terminate()
                try:
                    await asyncio.wait_for(p.wait(), 20)
                except TimeoutError:
                    p.kill()
                    await p.wait()
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(r: Result) -> dict[str, float]:
    ms = [v * 1000 for v in r.latencies]
    figures = {
        "p50": pct(ms, 0.50),
        "p99": pct(ms, 0.99),
        "mean": statistics.fmean(ms) if ms else float("nan"),
        "kib": r.per_connection_kib,
        "cpu": 1000 * r.cpu_s / max(1, r.sent),
    }
    print(f"\n{r.name}")
    print(
        f"  sockets: {r.sockets} connected in {r.connect_s:.1f} s; chats started in {r.start_s:.1f} s"
        f" (every start acknowledged after {r.started_s:.1f} s, then offered and accepted)"
    )
    print(
        f"  server memory: {r.rss_before / 1024:.1f} MiB before, {r.rss_idle / 1024:.1f} MiB with the idle"
        f" sockets -> {figures['kib']:.1f} KiB per idle connection; {r.rss_end / 1024:.1f} MiB after"
        " the messages"
    )
    print(
        f"  delivery customer -> agent: {len(ms)}/{r.sent} arrived; p50 {figures['p50']:.2f} ms,"
        f" p99 {figures['p99']:.2f} ms, mean {figures['mean']:.2f} ms"
    )
    print(
        f"  server CPU while sending: {r.cpu_s:.1f} s, {1000 * r.cpu_s / max(1, r.sent):.2f} ms per message"
    )
    figures["throughput"] = len(ms) / r.span_s if r.span_s else float("nan")
    print(f"  delivered {figures['throughput']:.0f} messages/s (first send to last arrival)")
    if len(r.cpu_by_node) > 1:
        each = ", ".join(f"node{k} {c:.1f} s" for k, c in enumerate(r.cpu_by_node))
        print(f"  CPU per node (node0 is the routing owner): {each}")
    if r.redis_calls:
        top = sorted(((n, k) for k, n in r.redis_calls.items() if n), reverse=True)[:6]
        each = ", ".join(f"{k} {n / max(1, r.sent):.2f}" for n, k in top)
        print(f"  Redis commands per message: {sum(r.redis_calls.values()) / max(1, r.sent):.2f} ({each})")
    # What the nodes could carry with a core each: the busiest node saturates first.
    figures["capacity"] = len(ms) / max(r.cpu_by_node or [r.cpu_s]) if r.cpu_s else float("nan")
    print(f"  capacity: {figures['capacity']:.0f} messages per CPU-second of the busiest node")
    return figures


def scaled(args: argparse.Namespace) -> argparse.Namespace:
    """``--scaled``: the nodes together get ``--nodes`` times the one node's visitors, agents and
    rate, so each node carries what the one node carried."""
    more = argparse.Namespace(**vars(args))
    more.customers, more.agents, more.rate = (
        args.nodes * x for x in (args.customers, args.agents, args.rate)
    )
    return more


async def main_nodes(args: argparse.Namespace) -> None:
    from tests.pg import PostgresServer
    from tests.redis_server import RedisServer

    pg, redis = PostgresServer(), RedisServer()
    try:
        shared = Shared(pg.start(), redis.start())
        ratios: dict[str, list[float]] = {}
        for n in range(args.rounds):
            if args.rounds > 1:
                print(f"\n--- round {n + 1} of {args.rounds}")
            one = report(await run("ours", args, shared, 1))
            two = report(await run("ours", args if not args.scaled else scaled(args), shared, args.nodes))
            for key, value in two.items():
                ratios.setdefault(key, []).append(value / one[key])
        rounds = f", median of {args.rounds} rounds" if args.rounds > 1 else ""
        load = f", carrying {args.nodes} times the load" if args.scaled else ""
        print(f"\n{args.nodes} nodes{load} / 1 node{rounds}:")
        labels = (
            ("throughput", "messages delivered per second (the offered rate, unless a node saturated)"),
            ("capacity", "capacity, by the busiest node's CPU per message (the issue's throughput aim)"),
            ("p50", "p50 delivery"),
        )
        for key, label in labels:
            each = " (" + ", ".join(f"{r:.2f}" for r in ratios[key]) + ")" if args.rounds > 1 else ""
            print(f"  {label}: {statistics.median(ratios[key]):.2f}x{each}")
    finally:
        redis.stop()
        pg.stop()


async def main_async(args: argparse.Namespace) -> None:
    print(
        f"{args.customers} customer sockets + {args.agents} agent sockets, {args.rate:g} messages/s for"
        f" {args.seconds:g} s (cores: {os.cpu_count()})"
    )
    if args.nodes > 1:
        await main_nodes(args)
        return
    ours = report(await run("ours", args))
    stock = report(await run("ours-stock", args)) if args.stock_gc else None
    unstored = report(await run("ours-unstored", args)) if args.unstored else None
    bare = report(await run("bare", args))
    print("\nours / bare relay:")
    rows = (("cpu", "server CPU per message"), ("p50", "p50 delivery"), ("p99", "p99 delivery"))
    for key, label in (*rows, ("kib", "memory per connection")):
        print(f"  {label}: {ours[key] / bare[key]:.2f}x")
    if unstored is not None:
        print("\nours without the write / bare relay:")
        for key, label in rows:
            print(f"  {label}: {unstored[key] / bare[key]:.2f}x")
        cost = ours["cpu"] - unstored["cpu"]
        print(f"  the write of a received message: {cost:.2f} ms of CPU (by difference)")
    if stock is not None:
        print("\nours / ours with the stock garbage collector:")
        for key, label in (("p50", "p50 delivery"), ("p99", "p99 delivery")):
            print(f"  {label}: {ours[key] / stock[key]:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--rate", type=float, default=500.0, help="customer messages per second, in total")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--stock-gc", action="store_true", help="also run ours with CPython's stock garbage collector policy"
    )
    parser.add_argument(
        "--nodes", type=int, default=1, help="2: ours on PostgreSQL + Redis, one node then two (no relay)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="with --nodes: one node then two, this many times (the machine's drift between runs "
        "moves a single ratio; the median is printed)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="sample every server process with py-spy while the messages are sent, into this directory",
    )
    parser.add_argument("--max-chats", type=int, default=20, help=argparse.SUPPRESS)
    parser.add_argument("--db-url", help=argparse.SUPPRESS)
    parser.add_argument("--redis-url", help=argparse.SUPPRESS)
    parser.add_argument("--node", help=argparse.SUPPRESS)
    parser.add_argument(
        "--visitors-on",
        choices=("every", "last"),
        default="every",
        help="with --nodes: customer sockets alternate between the nodes (every), or all on the last"
        " node, a follower (last: the owner's cost of what the visitors' node stores, alone)",
    )
    parser.add_argument(
        "--scaled",
        action="store_true",
        help="with --nodes: the nodes get N times the visitors, agents and rate, each node what the"
        " one node got (at the same total rate each node of two sees half the rate, and batches less)",
    )
    parser.add_argument(
        "--unstored",
        action="store_true",
        help="also run ours with the write of received messages left out (what it costs, by difference)",
    )
    parser.add_argument(
        "--group-commit-ms",
        type=float,
        help="ours with this messaging.group_commit_ms (default: the setting's)",
    )
    parser.add_argument(
        "--serve", choices=["ours", "ours-stock", "ours-unstored", "bare"], help=argparse.SUPPRESS
    )
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve in ("ours", "ours-stock", "ours-unstored"):
        serve_ours(
            args.port,
            args.agents,
            args.workdir,
            args.max_chats,
            gc_freeze=args.serve != "ours-stock",
            db_url=args.db_url,
            redis_url=args.redis_url,
            node=args.node,
            unstored=args.serve == "ours-unstored",
            group_commit_ms=args.group_commit_ms,
        )
    elif args.serve == "bare":
        serve_bare(args.port)
    else:
        asyncio.run(main_async(args))


if __name__ == "__main__":
    main()

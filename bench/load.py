"""Load and soak: concurrent real calls through IVR, queue, agent and recording, stepped until failures.

The server (``callcenter serve``, SQLite, recordings on) runs with its own sandbox Asterisk
("loadsrv"); a second sandbox Asterisk ("loadgen", bench/load_asterisk/) is the load generator:
its callers dial the inbound number over a loopback trunk, hear the menu, press 1 (RFC 4733 by
default, ``--dtmf inband`` for tones), wait in the queue, talk ``--talk-seconds`` with an agent and
hang up; it is also every agent's phone (registered as each agent, answers after
``--agent-answer-seconds`` and plays audio). See bench/load_generator.py for what is measured.

    sudo .venv/bin/python bench/load.py --steps 5,10,20
    sudo .venv/bin/python bench/load.py --steps 20 --soak-minutes 10

Per step, printed as a table: calls attempted / completed / failed; dead air before the menu and
keypress-to-agent-dial (Asterisk's AMI timestamps), /healthz latency sampled during the step, CPU
seconds of the server process beside its Asterisk's (and the generator's), the comparison of the
two per call, channels left on the server's Asterisk after the step, interactions left open in the
server's database, and the load average. Steps stop at the first one with a failure (or a leak)
unless ``--keep-going``. ``--soak-minutes M`` then holds the last step's number of calls up for M
minutes (a new call as soon as one ends) and reports the same figures, with the server's and
Asterisk's memory (RSS) at the start and the end; a soak passes with 0 failed calls, 0 leaked
channels and 0 open interactions.

The agents behave like a floor of people at their panels: an agent whose offer rang out is paused
by the server (as a production ACD does); the bench sees it (``GET /api/agents`` every
``--floor-interval`` seconds) and resumes it (``POST /api/agents/<id>/resume``), and reports those
offers apart from the calls. The server rings an agent for ``--ring-timeout`` seconds (30 by
default; the generator's phones answer after ``--agent-answer-seconds``, but a starved generator
may take far longer). Every failed call is blamed on the server or the generator
(``load_generator.blame``), from both Asterisks' AMI timestamps: the bench logs in to the server's
Asterisk as a user of its own that also reads dialplan events (``Newexten``, ``VarSet``).

``--memory`` follows the server's memory over the soak: tracemalloc starts in the server at the
first step (bench/load_memory/sitecustomize.py, not part of the server), and at the soak's start,
every minute and its end the bench asks for a sample (RSS, Python objects traced, malloc's figures,
the allocation sites that grew), printed after the soak and kept in ``--memory-out``.

Ports: 31000 + 5000 * CC_TEST_SLOT upwards (SIP, AMI, FastAGI, HTTP, RTP 31100-33099). Needs root.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import math
import os
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.load_generator import (
    CallPlan,
    CallTrace,
    GeneratorSandbox,
    HealthSampler,
    LoadCalls,
    blame,
    channel_count,
    channels,
    contact_count,
    dead_air,
    detail,
    key_to_dial,
    p99,
    percentiles,
    proc_sample,
    wait_until,
)
from callcenter.asterisk.sandbox import AsteriskSandbox, SandboxError
from tests.conftest import SLOT, ServerProcess, config_with, settings_from

BASE = 31000 + 5000 * SLOT
MEMORY_PROBE = Path(__file__).resolve().parent / "load_memory"


class ServerSandbox(AsteriskSandbox):
    """The server's Asterisk with one more AMI user, the bench's own: it also reads dialplan
    events (which the server's user does not: the server needs none of them)."""

    def __init__(self, settings: Any, bench_user: tuple[str, str]) -> None:
        super().__init__(settings)
        self.bench_user = bench_user

    def render(self) -> dict[str, str]:
        out = super().render()
        name, secret = self.bench_user
        out["manager.conf"] += (
            f"\n; bench/load.py: the bench's own user (dialplan events to blame failed calls)\n"
            f"[{name}]\nsecret = {secret}\ndeny = 0.0.0.0/0.0.0.0\npermit = 127.0.0.1/255.255.255.255\n"
            "read = call,dialplan,dtmf,user\nwrite = system\nwritetimeout = 5000\n"
        )
        return out


class AgentFloor:
    """The agents at their panels: every ``interval`` seconds they look at their state; an agent
    seen paused (the server pauses an agent whose offer rang out) for ``resume_after`` seconds
    resumes itself through the API, as a person back at the panel would. Counts the resumes by the
    pause's reason."""

    def __init__(self, server: ServerProcess, interval: float, resume_after: float = 0.0) -> None:
        self.server, self.interval, self.resume_after = server, interval, resume_after
        self._paused_seen: dict[tuple[str, Any], float] = {}  # (agent, since) -> first seen paused
        self.resumed: dict[str, int] = {}
        self.errors = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def total(self) -> int:
        return sum(self.resumed.values())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                status, body = await asyncio.to_thread(self.server.api, "GET", "/api/agents")
                if status != 200:
                    self.errors += 1
                    continue
                now = time.monotonic()
                paused = {(a["id"], a.get("since")): a for a in body["agents"] if a["state"] == "paused"}
                self._paused_seen = {k: self._paused_seen.get(k, now) for k in paused}
                for key, agent in paused.items():
                    if now - self._paused_seen[key] < self.resume_after:
                        continue
                    status, _ = await asyncio.to_thread(
                        self.server.api, "POST", f"/api/agents/{agent['id']}/resume"
                    )
                    if status == 200:
                        why = agent.get("reason") or "?"
                        self.resumed[why] = self.resumed.get(why, 0) + 1
                    else:
                        self.errors += 1
            except (OSError, ValueError, KeyError):
                self.errors += 1


class MemoryProbe:
    """Asks the server's memory probe (bench/load_memory/sitecustomize.py) for samples."""

    def __init__(self, server: ServerProcess, path: Path) -> None:
        self.server, self.path = server, path
        self.tracing = False

    def signal(self, full: bool = False) -> None:
        """A sample (SIGUSR1); ``full``: with a snapshot of the allocation sites (SIGUSR2)."""
        if self.server.proc is not None:
            os.kill(self.server.proc.pid, signal.SIGUSR2 if full else signal.SIGUSR1)

    def start_tracing(self) -> None:
        if not self.tracing:
            self.signal()
            self.tracing = True

    def samples(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]

    async def sample(self) -> None:
        before = len(self.samples())
        self.signal(full=True)

        async def written() -> bool:
            return len(self.samples()) > before

        await wait_until(written, 60)


def server_config(agents: int, workdir: Path, log_level: str, ring_timeout: float) -> dict[str, Any]:
    return config_with(
        asterisk={
            "sandbox_instance": f"loadsrv{SLOT}" if SLOT else "loadsrv",
            "sip_port": BASE + 60,
            "ami_port": BASE + 38,
            "rtp_port_start": BASE + 100,
            "rtp_port_end": BASE + 2099,
        },
        agi={"port": BASE + 573},
        http={"port": BASE + 80},
        logging={"level": log_level, "format": "json"},
        acd={"ring_timeout": ring_timeout},
        agents=[
            {"id": f"{1001 + n}", "extension": f"{1001 + n}", "queues": ["support"]} for n in range(agents)
        ],
        recordings={
            "encryption_key": base64.b64encode(os.urandom(32)).decode(),
            "settle_seconds": 0.5,
            "directory": str(workdir / "recordings"),
        },
        database={"url": f"sqlite+aiosqlite:///{workdir}/load.db"},
    )


def generator_config(server: dict[str, Any]) -> dict[str, Any]:
    return config_with(
        asterisk={
            "sandbox_instance": f"loadgen{SLOT}" if SLOT else "loadgen",
            "sip_port": BASE + 61,
            "ami_port": BASE + 39,
            "rtp_port_start": BASE + 2100,
            "rtp_port_end": BASE + 4099,
            "ami_username": "load",
            "ami_secret": base64.b16encode(os.urandom(12)).decode(),
        },
        agents=server["agents"],
    )


def renice(pid: int | None, niceness: int) -> None:
    """Every thread of ``pid`` (Linux keeps a niceness per thread; new threads inherit it)."""
    if pid is None:
        return
    for task in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(ProcessLookupError):
            os.setpriority(os.PRIO_PROCESS, int(task), niceness)


def ami_of(sandbox: AsteriskSandbox) -> tuple[str, int, str, str]:
    s = sandbox.settings.asterisk
    return s.host, s.ami_port, s.ami_username, s.ami_secret.get_secret_value()


@dataclass
class Rig:
    """Everything a step runs against."""

    server: ServerProcess
    server_asterisk: AsteriskSandbox
    generator: GeneratorSandbox
    calls: LoadCalls
    db: Path
    recordings: Path
    health_interval: float
    floor: AgentFloor
    memory: MemoryProbe | None = None
    #: CPU seconds per second of the server and its Asterisk with no call (the /healthz sampler on).
    idle: tuple[float, float] = (0.0, 0.0)

    def pids(self) -> tuple[int | None, int | None, int | None]:
        return (
            self.server.proc.pid if self.server.proc else None,
            self.server_asterisk.pid(),
            self.generator.pid(),
        )


@dataclass
class StepFigures:
    label: str
    concurrent: int
    traces: list[CallTrace]
    seconds: float
    health: list[float]
    health_errors: int
    cpu: tuple[float, float, float]  # server, its Asterisk, the generator
    rss_start: tuple[int, int]  # server, its Asterisk (KiB)
    rss_end: tuple[int, int]
    leaked: int  # channels left on the server's Asterisk
    leaked_generator: int
    stray_hung_up: int  # the generator's channels still up after 120 s, hung up there by the bench
    leftovers: list[str]  # the server's Asterisk's channels left, as `core show channels concise`
    open_records: int
    closed_records: int
    missing_records: int
    open_anywhere: int  # every interaction of the database without an outcome
    answered: int  # the step's records closed as answered
    recorded: int  # ... of which the recording is stored
    load: tuple[float, float]  # 1-minute load average at the start and the end
    plan: CallPlan
    resumed: dict[str, int]  # agents resumed after an offer rang out, by the pause's reason

    @property
    def completed(self) -> int:
        return sum(t.completed for t in self.traces)

    @property
    def failed(self) -> int:
        return len(self.traces) - self.completed

    @property
    def ok(self) -> bool:
        return (
            self.failed == 0
            and self.leaked == 0
            and self.open_records == 0
            and self.missing_records == 0
            and self.open_anywhere == 0
            and self.answered == self.completed
            and self.recorded == self.answered
        )


@dataclass(frozen=True)
class Records:
    """The server's interaction records of a step's calls (found by caller name)."""

    opened: int
    closed: int
    anywhere: int  # records of any call without an outcome
    answered: frozenset[str]  # interaction ids

    def recorded(self, directory: Path) -> int:
        """How many answered calls have their recording stored (the mix's metadata file)."""
        return sum((directory / f"{i}.mixed.json").exists() for i in self.answered)


def records(db: Path, ids: set[str]) -> Records:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        rows = conn.execute("SELECT id, caller_name, outcome FROM interactions").fetchall()
    found = [(i, outcome) for i, name, outcome in rows if name in ids]
    return Records(
        opened=sum(o is None for _, o in found),
        closed=sum(o is not None for _, o in found),
        anywhere=sum(outcome is None for _, _, outcome in rows),
        answered=frozenset(i for i, o in found if o == "answered"),
    )


async def idle_cpu(rig: Rig, seconds: float) -> tuple[float, float]:
    """CPU seconds per second of the server and its Asterisk with no call, the sampler on."""
    pids = rig.pids()
    with HealthSampler(rig.server.url + "/healthz", rig.health_interval):
        before = [proc_sample(p) for p in pids[:2]]
        await asyncio.sleep(seconds)
        after = [proc_sample(p) for p in pids[:2]]
    return (
        (after[0].cpu_seconds - before[0].cpu_seconds) / seconds,
        (after[1].cpu_seconds - before[1].cpu_seconds) / seconds,
    )


async def run(rig: Rig, label: str, concurrent: int, rate: float, minutes: float | None) -> StepFigures:
    """``concurrent`` calls started at ``rate`` per second; with ``minutes``, each ended call is
    replaced by a new one until then (soak)."""
    resumed_before = dict(rig.floor.resumed)
    pids = rig.pids()
    before = [proc_sample(p) for p in pids]
    load_start = os.getloadavg()[0]
    started = time.monotonic()
    traces: list[CallTrace] = []
    with HealthSampler(rig.server.url + "/healthz", rig.health_interval) as health:
        in_flight: set[asyncio.Task[None]] = set()

        plan = rig.calls.plan
        longest = plan.agent_timeout + plan.talk_seconds + 60

        async def one(delay: float) -> None:
            await asyncio.sleep(delay)  # a replacement waits its turn: failing calls do not spin
            trace = await rig.calls.call()
            traces.append(trace)
            try:
                await asyncio.wait_for(trace.done.wait(), longest)
            except TimeoutError:
                trace.failure = trace.failure or f"not over after {longest:g} s"

        for _ in range(concurrent):
            task = asyncio.create_task(one(0.0))
            in_flight.add(task)
            await asyncio.sleep(1 / rate)
        deadline = started + minutes * 60 if minutes else None
        next_sample = time.monotonic() + 60
        while in_flight:
            done, in_flight = await asyncio.wait(
                in_flight, return_when=asyncio.FIRST_COMPLETED, timeout=5 if rig.memory else None
            )
            if rig.memory and minutes and time.monotonic() >= next_sample:
                next_sample += 60
                rig.memory.signal()  # a sample every minute of the soak
            if deadline is not None and time.monotonic() < deadline:
                for _ in done:
                    in_flight.add(asyncio.create_task(one(1 / rate)))
    seconds = time.monotonic() - started
    after = [proc_sample(p) for p in pids]
    load_end = os.getloadavg()[0]

    async def quiet() -> bool:
        return await asyncio.to_thread(channel_count, rig.server_asterisk) == 0

    await wait_until(quiet, 120)  # a starved generator may still be hanging up its callers
    stray = 0
    if await asyncio.to_thread(channel_count, rig.server_asterisk) > 0:
        # Calls the bench gave up on that the generator's Asterisk still holds (it did not take its
        # Hangup while starved) keep their server side up too: hang them up at the generator, the
        # way their callers would, so that what is then left on the server's Asterisk is a leak.
        stray = max(0, await asyncio.to_thread(channel_count, rig.generator))
        if stray:
            try:
                await asyncio.to_thread(rig.generator.cli, "channel request hangup all", timeout=30)
            except SandboxError as err:  # a starved generator: report what is left, do not crash
                print(f"  (the generator did not take the hangup: {err})", flush=True)
            await wait_until(quiet, 60)
    leaked = await asyncio.to_thread(channel_count, rig.server_asterisk)
    leaked_gen = await asyncio.to_thread(channel_count, rig.generator)
    leftovers = await asyncio.to_thread(channels, rig.server_asterisk) if leaked else []
    ids = {t.id for t in traces if t.srv_channel is not None}

    async def all_closed() -> bool:
        found = await asyncio.to_thread(records, rig.db, ids)
        done = found.opened == 0 and found.closed == len(ids) and found.anywhere == 0
        return done and found.recorded(rig.recordings) == len(found.answered)

    await wait_until(all_closed, 30)
    found = await asyncio.to_thread(records, rig.db, ids)
    return StepFigures(
        label=label,
        concurrent=concurrent,
        traces=traces,
        seconds=seconds,
        health=health.latencies,
        health_errors=health.errors,
        cpu=(
            after[0].cpu_seconds - before[0].cpu_seconds,
            after[1].cpu_seconds - before[1].cpu_seconds,
            after[2].cpu_seconds - before[2].cpu_seconds,
        ),
        rss_start=(before[0].rss_kib, before[1].rss_kib),
        rss_end=(after[0].rss_kib, after[1].rss_kib),
        leaked=leaked,
        leaked_generator=leaked_gen,
        stray_hung_up=stray,
        leftovers=leftovers,
        open_records=found.opened,
        closed_records=found.closed,
        missing_records=len(ids) - found.opened - found.closed,
        open_anywhere=found.anywhere,
        answered=len(found.answered),
        recorded=found.recorded(rig.recordings),
        load=(load_start, load_end),
        plan=rig.calls.plan,
        resumed={
            why: count - resumed_before.get(why, 0)
            for why, count in rig.floor.resumed.items()
            if count > resumed_before.get(why, 0)
        },
    )


def ms(values: tuple[float, float, float] | None) -> str:
    return "-" if values is None else " / ".join(f"{v * 1000:.0f}" for v in values)


def report(f: StepFigures, idle: tuple[float, float]) -> None:
    air = percentiles([d for t in f.traces if (d := dead_air(t, f.plan.noise_ms)) is not None])
    dial = percentiles([d for t in f.traces if (d := key_to_dial(t)) is not None])
    health = percentiles(f.health)
    n = max(1, len(f.traces))
    server_ms, asterisk_ms = f.cpu[0] / n * 1000, f.cpu[1] / n * 1000
    ratio = f.cpu[1] / f.cpu[0] if f.cpu[0] else math.inf
    # Less what each would have used idle over the same time (timers, the /healthz sampler).
    server_net = max(0.0, f.cpu[0] - idle[0] * f.seconds) / n * 1000
    asterisk_net = max(0.0, f.cpu[1] - idle[1] * f.seconds) / n * 1000
    net_ratio = asterisk_net / server_net if server_net else math.inf
    print(
        f"\n== {f.label}: {f.concurrent} concurrent, {len(f.traces)} calls in {f.seconds:.0f} s "
        f"(load average {f.load[0]:.2f} -> {f.load[1]:.2f})"
    )
    print(f"  calls        attempted {len(f.traces)}, completed {f.completed}, failed {f.failed}")
    print(f"  dead air     before the menu, p50 / p90 / max: {ms(air)} ms")
    print(f"  key -> dial  keypress to agent dial, p50 / p90 / max: {ms(dial)} ms")
    tail = p99(f.health)
    tail_ms = "-" if tail is None else f"{tail * 1000:.0f}"
    print(
        f"  /healthz     p50 / p90 / max: {ms(health)} ms, p99 {tail_ms} ms"
        f" ({len(f.health)} samples, {f.health_errors} errors)"
    )
    print(
        f"  CPU          server {f.cpu[0]:.2f} s, its Asterisk {f.cpu[1]:.2f} s, generator {f.cpu[2]:.2f} s"
    )
    print(
        f"  per call     server {server_ms:.0f} ms, Asterisk {asterisk_ms:.0f} ms: "
        f"Asterisk used {ratio:.1f}x the server's CPU"
    )
    print(
        f"  less idle    server {server_net:.0f} ms, Asterisk {asterisk_net:.0f} ms per call: "
        f"{net_ratio:.1f}x"
    )
    print(
        f"  after        channels left: server's Asterisk {f.leaked}, generator {f.leaked_generator}; "
        f"records open {f.open_records}, closed {f.closed_records}, missing {f.missing_records}; "
        f"open in the database {f.open_anywhere}; answered {f.answered}, recordings stored {f.recorded}"
        + (
            f"; the generator's channels still up after 120 s, hung up there: {f.stray_hung_up}"
            if f.stray_hung_up
            else ""
        )
    )
    print(
        f"  memory (RSS) server {f.rss_start[0] / 1024:.1f} -> {f.rss_end[0] / 1024:.1f} MiB, "
        f"Asterisk {f.rss_start[1] / 1024:.1f} -> {f.rss_end[1] / 1024:.1f} MiB"
    )
    offers = sum(t.offers for t in f.traces)
    unanswered = sum(t.offers_unanswered for t in f.traces)
    print(
        f"  offers       {offers} agent legs dialled, {unanswered} not answered; agents resumed after"
        f" a pause: {sum(f.resumed.values())}"
        + "".join(f", {count} x {why!r}" for why, count in sorted(f.resumed.items()))
    )
    for line in f.leftovers[:10]:
        print(f"  left         {line}")
    failures: dict[tuple[str, str], int] = {}
    for t in f.traces:
        if not t.completed:
            key = blame(t, f.plan)
            failures[key] = failures.get(key, 0) + 1
    by_side: dict[str, int] = {}
    for (side, _), count in failures.items():
        by_side[side] = by_side.get(side, 0) + count
    if by_side:
        print("  blamed on    " + ", ".join(f"{side} {count}" for side, count in sorted(by_side.items())))
    for (side, why), count in sorted(failures.items(), key=lambda kv: -kv[1])[:12]:
        print(f"  failed       {count} x [{side}] {why}")
    for t in [t for t in f.traces if not t.completed][:40]:
        print(f"    {detail(t)}")
    print("  verdict      " + ("OK" if f.ok else "FAILED"), flush=True)


def report_memory(samples: list[dict[str, Any]], calls: int) -> None:
    """The soak's memory samples: RSS against the Python objects traced, and what grew."""
    if len(samples) < 2:
        print("  memory       no samples from the server's probe")
        return
    first, last = samples[0], samples[-1]
    print(
        "  memory       minute: RSS (anonymous) / traced Python objects / malloc in use + free"
        " / mmapped (MiB)"
    )
    for s in samples:
        m = s.get("malloc", {})
        print(
            f"               {(s['time'] - first['time']) / 60:5.1f}: {s['rss_kib'] / 1024:7.1f}"
            f" ({s.get('rss_anon_kib', 0) / 1024:.1f})"
            f" / {s['traced'] / 2**20:6.1f}"
            f" / {m.get('in_use', 0) / 2**20:.1f} + {m.get('free', 0) / 2**20:.1f}"
            f" / {m.get('mmapped', 0) / 2**20:.1f} (sample took {s['seconds'] * 1000:.0f} ms)"
        )
    rss = (last["rss_kib"] - first["rss_kib"]) * 1024
    traced = last["traced"] - first["traced"]
    print(
        f"  memory grew  RSS {rss / 2**20:+.2f} MiB, Python objects {traced / 2**20:+.2f} MiB over"
        f" {calls} calls ({rss / max(1, calls) / 1024:+.2f} / {traced / max(1, calls) / 1024:+.2f}"
        " KiB per call)"
    )
    for g in last.get("grew", [])[:10]:
        print(f"    {g['size_diff'] / 1024:+9.1f} KiB {g['count_diff']:+7d} blocks  {g['where']}")
    if "traced_after_sweep" in last:
        swept = last["traced"] - last["traced_after_sweep"]
        rss_after = (last["rss_after_sweep_kib"] - first["rss_kib"]) * 1024
        kept = last["traced_after_sweep"] - first["traced"]
        m = last.get("malloc_after_sweep", {})
        print(
            f"  after sweep  (unfreeze + full collection, as the hourly gc sweep): {last['swept_objects']}"
            f" objects, {swept / 2**20:.2f} MiB freed; Python objects {kept / 2**20:+.2f} MiB, RSS"
            f" {rss_after / 2**20:+.2f} MiB since the soak's start; malloc in use + free"
            f" {m.get('in_use', 0) / 2**20:.1f} + {m.get('free', 0) / 2**20:.1f} MiB"
        )
        for g in last.get("grew_after_sweep", [])[:10]:
            print(f"    {g['size_diff'] / 1024:+9.1f} KiB {g['count_diff']:+7d} blocks  {g['where']}")


async def bench(args: argparse.Namespace, rig: Rig, steps: list[int]) -> int:
    await rig.calls.start()
    rig.floor.start()
    try:
        rig.idle = await idle_cpu(rig, args.idle_seconds)
        print(
            f"idle for {args.idle_seconds:g} s: server {rig.idle[0] * 1000:.1f} ms of CPU per second, "
            f"its Asterisk {rig.idle[1] * 1000:.1f} ms (/healthz sampled every {rig.health_interval:g} s)",
            flush=True,
        )
        if rig.memory:
            rig.memory.start_tracing()
        last_ok: int | None = None
        for n in steps:
            figures = await run(rig, f"step {n}", n, args.rate, None)
            report(figures, rig.idle)
            if figures.ok:
                last_ok = n
            elif not args.keep_going:
                print(f"\nstopped at the first failing step ({n}); highest clean step: {last_ok}")
                break
            await asyncio.sleep(args.pause)
        if args.soak_minutes:
            n = args.soak_calls or last_ok or steps[0]
            if rig.memory:
                await rig.memory.sample()  # the baseline
            figures = await run(rig, f"soak {args.soak_minutes:g} min", n, args.rate, args.soak_minutes)
            if rig.memory:
                await rig.memory.sample()  # after every call of the soak has ended and been stored
            report(figures, rig.idle)
            if rig.memory:
                report_memory(rig.memory.samples(), len(figures.traces))
            grew = figures.rss_end[0] - figures.rss_start[0]
            print(
                f"  soak         server memory grew {grew / 1024:+.1f} MiB over {len(figures.traces)} calls"
                f" ({grew / max(1, len(figures.traces)):+.1f} KiB per call)"
            )
            return 0 if figures.ok else 1
        return 0 if last_ok == steps[-1] else 1
    finally:
        await rig.floor.stop()
        await rig.calls.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", default="5,10,20", help="concurrent calls per step, comma-separated")
    parser.add_argument("--soak-minutes", type=float, default=0.0)
    parser.add_argument(
        "--soak-calls",
        type=int,
        default=0,
        help="concurrent calls of the soak (default: the highest clean step)",
    )
    parser.add_argument(
        "--calls-per-agent",
        type=int,
        default=1,
        help="agents = the largest step / this (callers beyond wait in the queue)",
    )
    parser.add_argument("--talk-seconds", type=float, default=10.0)
    parser.add_argument("--agent-answer-seconds", type=float, default=1.0)
    parser.add_argument("--rate", type=float, default=10.0, help="new calls per second at a step's start")
    parser.add_argument("--dtmf", choices=("rfc4733", "inband"), default="rfc4733")
    parser.add_argument(
        "--ring-timeout",
        type=float,
        default=30.0,
        help="seconds the server rings an agent (acd.ring_timeout) before pausing it; the generator's"
        " phones answer after --agent-answer-seconds, a starved generator later",
    )
    parser.add_argument(
        "--floor-interval",
        type=float,
        default=2.0,
        help="seconds between the agents' looks at their state (a paused agent resumes itself)",
    )
    parser.add_argument(
        "--resume-after",
        type=float,
        default=0.0,
        help="seconds an agent stays paused (as seen by its look) before it resumes itself",
    )
    parser.add_argument("--memory", action="store_true", help="follow the server's memory (tracemalloc)")
    parser.add_argument("--memory-out", type=Path, help="keep the memory samples (JSON lines) here")
    parser.add_argument(
        "--keep-logs", type=Path, help="copy the server's log and its Asterisk's log into this directory"
    )
    parser.add_argument("--pause", type=float, default=5.0, help="seconds between steps")
    parser.add_argument("--keep-going", action="store_true", help="run every step even after a failure")
    parser.add_argument("--log-level", default="INFO", help="the server's log level")
    parser.add_argument("--health-interval", type=float, default=0.5, help="seconds between /healthz samples")
    parser.add_argument("--idle-seconds", type=float, default=10.0, help="idle CPU measured this long first")
    parser.add_argument(
        "--server-set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="a setting of the server (YAML value), e.g. runtime.gc_full_collection_seconds=60; repeatable",
    )
    parser.add_argument(
        "--generator-nice",
        type=int,
        default=0,
        help="run the generator's Asterisk at this niceness (e.g. 10)",
    )
    args = parser.parse_args()
    try:
        steps = [int(s) for s in args.steps.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--steps: comma-separated numbers, not {args.steps!r}")
    if not steps or min(steps) < 1 or args.calls_per_agent < 1:
        parser.error("--steps and --calls-per-agent must be positive")
    agents = math.ceil(max([*steps, args.soak_calls]) / args.calls_per_agent)
    if agents > 900:
        parser.error("at most 900 agents (extensions 1001-1900)")

    with tempfile.TemporaryDirectory(prefix="cc-bench-load-") as tmp:
        workdir = Path(tmp)
        config = server_config(agents, workdir, args.log_level, args.ring_timeout)
        for item in args.server_set:
            path, sep, value = item.partition("=")
            section, dot, key = path.partition(".")
            if not (sep and dot and section and key):
                parser.error(f"--server-set: SECTION.KEY=VALUE, not {item!r}")
            config.setdefault(section, {})[key] = yaml.safe_load(value)
        bench_user = ("loadbench", base64.b16encode(os.urandom(12)).decode())
        server_asterisk = ServerSandbox(settings_from(config), bench_user)
        generator = GeneratorSandbox(
            settings_from(generator_config(config)),
            server_sip_port=config["asterisk"]["sip_port"],
            dtmf_mode=args.dtmf,
            agent_answer_seconds=args.agent_answer_seconds,
        )
        for sandbox in (generator, server_asterisk):
            sandbox.down()
            sandbox.forget_state()
        server_asterisk.up(timeout=120)
        server = ServerProcess(config, workdir)
        memory_file = args.memory_out or workdir / "memory.jsonl"
        if args.memory:
            memory_file.unlink(missing_ok=True)
            os.environ["CC_BENCH_MEMORY"] = str(memory_file.resolve())
            os.environ["PYTHONPATH"] = os.pathsep.join(
                p for p in (str(MEMORY_PROBE), os.environ.get("PYTHONPATH")) if p
            )
        try:
            server.start()
            generator.up(timeout=120)
            if args.generator_nice:
                renice(generator.pid(), args.generator_nice)
            server.wait_until(
                lambda: contact_count(server_asterisk) >= agents, 60, f"{agents} agent registrations"
            )
            server.wait_until(
                lambda: all(a["state"] == "available" for a in server.api("GET", "/api/agents")[1]["agents"]),
                60,
                "every agent available",
            )
            print(
                f"server pid {server.proc.pid if server.proc else '?'}, "
                f"Asterisk pid {server_asterisk.pid()}, "
                f"generator pid {generator.pid()}; {agents} agents, talk {args.talk_seconds:g} s, "
                f"DTMF {args.dtmf}, {os.cpu_count()} CPUs",
                flush=True,
            )
            plan = CallPlan(
                inbound_number=server_asterisk.settings.asterisk.inbound_number,
                trunk_username=server_asterisk.settings.asterisk.trunk_username,
                talk_seconds=args.talk_seconds,
                agent_timeout=60 + args.calls_per_agent * (args.talk_seconds + args.agent_answer_seconds + 5),
            )
            srv = server_asterisk.settings.asterisk
            calls = LoadCalls(
                ami_of(generator),
                (srv.host, srv.ami_port, *bench_user),
                plan,
                [a["extension"] for a in config["agents"]],
            )
            rig = Rig(
                server,
                server_asterisk,
                generator,
                calls,
                workdir / "load.db",
                workdir / "recordings",
                args.health_interval,
                AgentFloor(server, args.floor_interval, args.resume_after),
                MemoryProbe(server, memory_file) if args.memory else None,
            )
            return asyncio.run(bench(args, rig, steps))
        finally:
            server.stop()
            if args.keep_logs:
                args.keep_logs.mkdir(parents=True, exist_ok=True)
                with contextlib.suppress(OSError):
                    shutil.copy(server.log_path, args.keep_logs / "server.log")
                with contextlib.suppress(Exception):
                    (args.keep_logs / "asterisk.log").write_text(server_asterisk.read_log())
            generator.down()
            server_asterisk.down()


if __name__ == "__main__":
    raise SystemExit(main())

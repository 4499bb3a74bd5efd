"""How long the report tables take to build from the event log, and a month's report to read.

    .venv/bin/python bench/reports_build.py --calls 20000 --days 30 [--url sqlite+aiosqlite:///...]

Writes a synthetic event log (calls spread over the days in 3 queues: queued, answered by one of
20 agents or abandoned, some held, wrapped up; agents' state changes), then times: the first
incremental run (which rebuilds the whole period), a rebuild of the month, an incremental run after
one more hour of calls, and reading the month's queue report by day. Figures go to
docs/performance.md ("Reports").
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path

from callcenter.core import notices as nt
from callcenter.core.calls.machine import CallHeld, CallResumed
from callcenter.core.interaction import EndedBy, Outcome
from callcenter.core.reports.intervals import Granularity
from callcenter.reports.query import ReportQuery, queues_report
from callcenter.storage.db import Database
from callcenter.storage.reports_store import ReportsStore

T0 = 1_796_083_200  # 2026-12-01 00:00 UTC
QUEUES = ("support", "sales", "billing")


def calls(n: int, first: int, seconds: int, rng: random.Random, start_id: int = 0) -> list[nt.Notice]:
    out: list[nt.Notice] = []
    for k in range(n):
        iid, t = f"b{start_id + k}", first + rng.random() * seconds
        out.append(nt.Queued(iid, t, rng.choice(QUEUES), "1", None, None))
        wait = rng.expovariate(1 / 25)
        if rng.random() < 0.1:
            out.append(nt.Ended(iid, t + wait, Outcome.ABANDONED, EndedBy.CALLER))
            continue
        agent = f"a{rng.randrange(20)}"
        out.append(nt.Answered(iid, t + wait, agent))
        talk = rng.expovariate(1 / 180)
        if rng.random() < 0.2:
            out += [CallHeld(iid, t + wait + talk / 3, agent), CallResumed(iid, t + wait + talk / 2, agent)]
        out.append(nt.Ended(iid, t + wait + talk, Outcome.ANSWERED, EndedBy.AGENT))
        out.append(nt.WrappedUp(iid, t + wait + talk + 15, agent, "done", ""))
    for a in range(20):
        for day in range(seconds // 86400 or 1):
            base = first + day * 86400 + 8 * 3600
            for h, state in enumerate(("available", "paused", "available", "logged_out")):
                reason = "lunch" if state == "paused" else ""
                out.append(nt.AgentStateLogged(f"agent:a{a}", base + h * 3 * 3600, f"a{a}", state, reason))
    out.sort(key=lambda x: x.at)
    return out


async def main(args: argparse.Namespace) -> None:
    url = args.url or f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    rng = random.Random(7)
    log = calls(args.calls, T0, args.days * 86400, rng)
    database = Database(url)
    await database.start()
    t = time.perf_counter()
    for n in range(0, len(log), 5000):
        await database.write_batch(log[n : n + 5000])
    took = time.perf_counter() - t
    print(f"log: {len(log)} events of {args.calls} calls over {args.days} days, written in {took:.1f} s")
    store = ReportsStore(url)
    await store.start()
    end = T0 + args.days * 86400
    t = time.perf_counter()
    done = await store.catch_up(end)
    print(f"first run (whole period): {time.perf_counter() - t:.1f} s, {done.intervals} intervals")
    t = time.perf_counter()
    await store.rebuild(T0, end, end)
    print(f"rebuild of the period: {time.perf_counter() - t:.1f} s")
    hour = calls(args.calls // (args.days * 24), end - 3600, 3600, rng, start_id=args.calls)
    await database.write_batch([x for x in hour if not x.interaction_id.startswith("agent:")])
    t = time.perf_counter()
    done = await store.catch_up(end + 60)
    print(f"incremental run after one more hour ({done.events} events): {time.perf_counter() - t:.2f} s")
    query = ReportQuery(T0, end, Granularity.DAY)
    t = time.perf_counter()
    _, rows = await queues_report(store, query)
    print(f"the period's queue report by day ({len(rows)} rows): {time.perf_counter() - t:.2f} s")
    await store.stop()
    await database.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--url")
    asyncio.run(main(parser.parse_args()))

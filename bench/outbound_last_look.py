"""The cost of the last look before a campaign call, on SQLite and PostgreSQL.

    .venv/bin/python bench/outbound_last_look.py [--rounds 200] [--calls 10] [--records 2000]
        [--backend sqlite|postgresql|both]

Each round is what the dialling job stores before it hands a round's calls to the placer
(``OutboundStore.apply``): ``--calls`` records with their attempt counted and a "dial" decision
row each, in one transaction. Three ways, interleaved round by round (the machine is shared):

- ``plain``: the attempt stored over the revision the dialler knows, as before the last look;
- ``guarded``: the last look as built: the dialled records' update also requires the row not
  finished, and its row count says whether the row changed since the decision (a read only when
  it did);
- ``read``: ``plain`` plus one indexed read of each record (its own transaction, by primary key)
  just before its call, the other way a last look could be made.

Prints the median time of a round per call for each, and the difference to ``plain``. Figures go
to docs/performance.md ("The last look before a campaign call").
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

from callcenter.core.outbound import dialler as dl
from callcenter.outbound.lists import ListRow
from callcenter.storage.outbound_store import Decision, OutboundStore

CAMPAIGN = {"mode": "progressive", "queue": "sales", "windows": [{"from": "00:00", "to": "24:00"}]}


async def _setup(url: str, records: int) -> tuple[OutboundStore, list[dl.Record]]:
    store = OutboundStore(url)
    await store.start()
    await store.save_definitions([("bench", CAMPAIGN, None)], 0.0)
    rows = [ListRow(n + 2, f"+1212{n:07d}", "America/New_York") for n in range(records)]
    await store.add_records("bench", rows, time.time())
    stored = await store.records("bench")
    utc = ZoneInfo("UTC")
    return store, [dl.Record(r.id, r.number, utc, r.attempts, r.due_at) for r in stored]


async def _bench(url: str, args: argparse.Namespace) -> dict[str, float]:
    store, records = await _setup(url, args.records)
    try:
        at = time.time()
        nth = 0

        def batch() -> list[dl.Record]:
            nonlocal nth
            chosen = []
            for k in range(args.calls):  # the attempt counted, as the dialler's RecordChanged says
                i = (nth + k) % len(records)
                records[i] = replace(records[i], attempts=records[i].attempts + 1)
                chosen.append(records[i])
            nth += args.calls
            return chosen

        def rows(chosen: list[dl.Record]) -> list[Decision]:
            return [
                Decision("bench", r.id, at, "dial", "progressive", {"attempt": r.attempts}) for r in chosen
            ]

        async def plain() -> None:
            chosen = batch()
            await store.apply("bench", chosen, (), rows(chosen))

        async def guarded() -> None:
            chosen = batch()
            changed = await store.apply("bench", chosen, (), rows(chosen), {r.id for r in chosen})
            assert not changed, changed

        async def read() -> None:
            chosen = batch()
            await store.apply("bench", chosen, (), rows(chosen))
            for r in chosen:
                found = await store.record(r.id)
                assert found is not None and found.revision == r.revision

        ways: dict[str, Callable[[], Awaitable[None]]] = {"plain": plain, "guarded": guarded, "read": read}
        times: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(5):  # warm the connection pool and the caches
            for way in ways.values():
                await way()
        for _ in range(args.rounds):
            for name, way in ways.items():
                started = time.perf_counter()
                await way()
                times[name].append((time.perf_counter() - started) / args.calls)
        return {name: statistics.median(t) * 1000 for name, t in times.items()}
    finally:
        await store.stop()


def _report(backend: str, figures: dict[str, float], args: argparse.Namespace) -> None:
    base = figures["plain"]
    print(f"{backend}: a round of {args.calls} calls, median of {args.rounds} rounds, per call")
    for name, ms in figures.items():
        print(f"  {name:8s} {ms:7.3f} ms   {ms - base:+7.3f} ms against plain ({ms / base:5.2f}x)")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
            _report("SQLite (file)", asyncio.run(_bench(url, args)), args)
    if args.backend in ("postgresql", "both"):
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from tests.pg import PostgresServer  # a throwaway server on loopback, fsync off

        server = PostgresServer()
        try:
            _report("PostgreSQL 15 (loopback, fsync off)", asyncio.run(_bench(server.start(), args)), args)
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How many CRM webhook deliveries the routing owner's sender gets through per second.

Run:  python bench/webhooks.py              (1,000 deliveries per run, SQLite in a temporary dir)
      python bench/webhooks.py --n 200      (quicker)

The scene: N ticket events' deliveries are pending in the database (written as the tickets store
writes them); a CRM endpoint on loopback (aiohttp) answers 204 to each, after ``--latency`` ms (a
CRM's own work and the network; 0 by default). The sender is the server's (``crm/sender.py``): it
claims a batch, POSTs the batch at once (signed), writes each outcome and attempt, and claims the
next. The figure is deliveries per second from the first claim until none is pending.

Compared in the same run: a batch of 1 (one delivery at a time: each waits for the one before it)
against the server's batch (``BATCH``, attempted together).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiohttp import web
from aiohttp.test_utils import TestServer

from callcenter.crm.sender import BATCH, Sender
from callcenter.settings.webhooks import Subscription, WebhooksSettings
from callcenter.storage import webhooks_store
from callcenter.storage.db import Database
from callcenter.storage.webhooks_store import WebhooksStore


async def run(n: int, batch: int, latency: float) -> float:
    received = 0

    async def hook(request: web.Request) -> web.Response:
        nonlocal received
        await request.read()
        if latency:
            await asyncio.sleep(latency)
        received += 1
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        database = Database(url)
        await database.start()
        subscription = Subscription(
            name="crm", url=str(server.make_url("/hook")), secret="bench-secret-0123456789"
        )
        settings = WebhooksSettings(subscriptions=(subscription,))
        at = datetime.now(UTC)
        async with database.engine.begin() as c:
            for i in range(n):
                data = {"ticket": {"id": f"T-{i:08d}", "title": "Router reboots", "status": "new"}}
                await webhooks_store.enqueue(c, (subscription,), "ticket.created", f"bench-{i}", at, data)
        store = WebhooksStore(url, database.engine)
        await store.start()
        sender = Sender(store, settings, batch=batch)
        await sender.open()
        started = time.perf_counter()
        while await sender.run_once():
            pass
        seconds = time.perf_counter() - started
        await sender.stop()
        await store.stop()
        await database.stop()
    await server.close()
    assert received == n, (received, n)
    return n / seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.0, help="the endpoint's answer time, in ms")
    args = parser.parse_args()
    latency = args.latency / 1000
    print(f"{args.n} deliveries, SQLite, endpoint on loopback answering after {args.latency:g} ms")
    one = asyncio.run(run(args.n, 1, latency))
    print(f"  batch 1 (one at a time):          {one:8.0f} deliveries/s")
    many = asyncio.run(run(args.n, BATCH, latency))
    print(f"  batch {BATCH} (the server's):        {many:8.0f} deliveries/s  ({many / one:.1f} x)")


if __name__ == "__main__":
    main()

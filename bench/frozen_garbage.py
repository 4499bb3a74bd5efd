"""Do the objects of closed connections outlive their calls under the collector policy?

``python bench/frozen_garbage.py`` runs, twice (``runtime.gc_freeze`` on, then off), the server's
own ``GcPolicy`` (callcenter/gc_policy.py) beside an asyncio TCP server like the FastAGI one
(callcenter/asterisk/agi.py): 300 connections, each held 1.5 s while the loop allocates (objects
get promoted, so the policy freezes the survivors each second), then closed by both sides. An
asyncio transport is in a reference cycle with its own bound method, so a closed one is freed
only by the cyclic collector; frozen, only by the policy's sweep (``gc_full_collection_seconds``,
hourly). Prints the closed transports still alive after ``gc.collect()`` and after the sweep.
On 2026-12-03: with the freeze 600 (every one, both ends), 0 after the sweep; without it 0.
"""

from __future__ import annotations

import asyncio
import gc
import sys
from asyncio.selector_events import _SelectorSocketTransport  # type: ignore[attr-defined]
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from callcenter.gc_policy import GcPolicy
from callcenter.settings.server import RuntimeSettings

CONNECTIONS, WAVES = 30, 10


def closed_transports_alive() -> int:
    gc.unfreeze()  # get_objects() does not list the frozen (permanent) generation
    alive = sum(1 for o in gc.get_objects() if isinstance(o, _SelectorSocketTransport) and o.is_closing())
    gc.freeze()
    return alive


async def trial(freeze: bool) -> tuple[int, int]:
    policy = GcPolicy(RuntimeSettings(gc_freeze=freeze))
    await policy.start()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        writer.write(b"ok\n")
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]

    async def client() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.sleep(1.5)
        writer.write(b"hi\n")
        await reader.readline()
        writer.close()
        await writer.wait_closed()

    churn: list[object] = []
    for _ in range(WAVES):
        clients = [asyncio.create_task(client()) for _ in range(CONNECTIONS)]
        for _ in range(30):  # allocate while the connections are open
            churn = [[{} for _ in range(200)] for _ in range(20)]
            await asyncio.sleep(0.05)
        await asyncio.gather(*clients)
    del churn
    await asyncio.sleep(2.5)
    gc.collect()
    before = closed_transports_alive()
    policy.sweep()
    after = closed_transports_alive()
    server.close()
    await server.wait_closed()
    await policy.stop()
    return before, after


def main() -> None:
    for freeze in (True, False):
        before, after = asyncio.run(trial(freeze))
        print(
            f"gc_freeze={freeze}: of {2 * CONNECTIONS * WAVES} closed transports, {before} alive after"
            f" gc.collect(), {after} after the policy's sweep"
        )


if __name__ == "__main__":
    main()

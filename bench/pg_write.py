"""The write of a received message and its conversation on PostgreSQL, as the routing owner makes it:
the messaging store's lane (``storage/pg_write.py``: one statement through asyncpg on a kept
connection, the rows as arrays) against SQLAlchemy's session (the path before it, still taken by
batches that change customers), both fenced by the owner's token, in the same run.

    python bench/pg_write.py                 (600 one-message writes each, one every 3 ms)
    python bench/pg_write.py --writes 2000 --pace-ms 1

A throwaway PostgreSQL 15 (``tests/pg.py``: on this machine, fsync off) is started and migrated.
Each path writes ``--writes`` one-message batches, one after the other with ``--pace-ms`` between
them, as chats arrive; the figure is this process's CPU time (user + system) per write, the CPU of
the pacing alone (measured in the same run) taken off. The rows written are the same (the test
suite checks both paths against the same reads); each path's rows go to conversations of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa

from callcenter.core.omni.conversations import Conversation, Delivery, Direction, Message, MessagingChannel
from callcenter.storage.db import Database
from callcenter.storage.messaging_store import MessagingStore
from tests.pg import PostgresServer, new_database

TOKEN = 7


def message(n: int, conversation: Conversation) -> Message:
    body = "Hello, my order has not arrived yet and I would like to know where it is."
    return Message(
        f"m-{uuid.uuid4().hex}",
        conversation.id,
        MessagingChannel.WEBCHAT,
        Direction.IN,
        body,
        time.time(),
        Delivery.RECEIVED,
        f"wc-{uuid.uuid4().hex}",
    )


async def paced(writes: int, pace: float, write: object = None) -> float:
    """CPU seconds of ``writes`` paced rounds (``write``: the coroutine function of one, or none)."""
    started = time.process_time()
    for n in range(writes):
        if write is not None:
            await write(n)  # type: ignore[operator]
        await asyncio.sleep(pace)
    return time.process_time() - started


async def measure(url: str, label: str, lane: bool, args: argparse.Namespace) -> float:
    store = MessagingStore(url, fencing=lambda: TOKEN)
    await store.start()
    try:
        if not lane:
            store._received = None  # the session path, as a batch that changes customers takes
        now = time.time()
        conversations = [
            Conversation(f"{label}-{k}", f"cust-{label}-{k}", MessagingChannel.WEBCHAT, now, now)
            for k in range(50)
        ]

        async def write(n: int) -> None:
            conversation = conversations[n % len(conversations)]
            batch = [(message(n, conversation), conversation.customer_id)]
            await store.save_received_batch(batch, [(conversation, f"visitor-{n % 50}")])

        await paced(50, args.pace_ms / 1000, write)  # warm: connections, prepared statements
        return await paced(args.writes, args.pace_ms / 1000, write)
    finally:
        await store.stop()


async def main_async(args: argparse.Namespace) -> None:
    server = PostgresServer()
    try:
        url = await new_database(server.start(), prefix="bench")
        database = Database(url)  # migrates
        await database.start()
        engine = database.engine
        async with engine.begin() as connection:
            owner = "UPDATE routing_owner SET token = :token, node = 'bench' WHERE id = 1"  # its row: 0012
            await connection.execute(sa.text(owner), {"token": TOKEN})
        print(
            f"{args.writes} one-message writes per path, one every {args.pace_ms:g} ms, {args.rounds} rounds"
        )
        figures: dict[str, list[float]] = {"lane": [], "session": []}
        for round_ in range(args.rounds):
            idle = await paced(args.writes, args.pace_ms / 1000)
            for name in ("lane", "session"):
                cpu = await measure(url, f"{name}{round_}", name == "lane", args)
                figures[name].append(1000 * (cpu - idle) / args.writes)
            lane, session = figures["lane"][-1], figures["session"][-1]
            print(
                f"  round {round_ + 1}: lane {lane:.3f} ms, session {session:.3f} ms of CPU per write"
                f" (pacing alone {1000 * idle / args.writes:.3f} ms, taken off)"
            )
        lane, session = statistics.median(figures["lane"]), statistics.median(figures["session"])
        print(f"\nmedian CPU per write: lane (asyncpg) {lane:.3f} ms, SQLAlchemy's session {session:.3f} ms")
        print(f"session / lane: {session / lane:.2f}x")
        await database.stop()
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--writes", type=int, default=600)
    parser.add_argument("--pace-ms", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()

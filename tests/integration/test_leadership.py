"""The routing owner's election through PostgreSQL (issue 14), on a real server: one owner at a
time, a cut connection deposes the owner before another node takes over, and fencing refuses the
writes of a deposed owner."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from callcenter.core.omni.conversations import Conversation, Delivery, Direction, Message, MessagingChannel
from callcenter.errors import StorageError
from callcenter.storage.db import Database, DatabaseError
from callcenter.storage.leadership import Deposed, PostgresElection, SoleOwner, fence
from callcenter.storage.messaging_store import MessagingStore
from tests.pg import new_database

pytestmark = pytest.mark.postgres
CHECK = 0.2  # seconds between a node's checks; every wait below is a multiple of it


@dataclass
class Node:
    """A server node as the election sees it: the log of its terms, with monotonic times."""

    name: str
    url: str
    terms: list[tuple[str, int | str, float]] = field(default_factory=list)
    election: PostgresElection = field(init=False)

    def __post_init__(self) -> None:
        self.election = PostgresElection(self.url, self.name, self.elected, self.deposed, check_every=CHECK)

    async def elected(self, token: int) -> None:
        self.terms.append(("elected", token, time.monotonic()))

    async def deposed(self, reason: str) -> None:
        self.terms.append(("deposed", reason, time.monotonic()))

    @property
    def owner(self) -> bool:
        return self.election.token is not None


@pytest.fixture
async def url(postgres_url: str) -> AsyncIterator[str]:
    url = await new_database(postgres_url)
    database = Database(url)  # the migrations make routing_owner
    await database.start()
    await database.stop()
    yield url


@pytest.fixture
async def admin(url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(url)
    yield engine
    await engine.dispose()


async def until(check: object, timeout: float = 20.0) -> None:
    assert callable(check)
    async with asyncio.timeout(timeout):
        while not check():  # noqa: ASYNC110 - the elections run in their own tasks
            await asyncio.sleep(CHECK / 4)


async def owner_backend(admin: AsyncEngine) -> int:
    """The PostgreSQL backend holding the routing lock."""
    async with admin.connect() as c:
        pid = await c.scalar(
            sa.text("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = :key AND granted"),
            {"key": 0x43430001},
        )
    assert isinstance(pid, int)
    return pid


async def test_one_owner_at_a_time_and_a_clean_handover(url: str) -> None:
    nodes = [Node(n, url) for n in ("a", "b", "c")]
    for node in nodes:
        await node.election.start()
    try:
        await until(lambda: any(n.owner for n in nodes))
        await asyncio.sleep(5 * CHECK)  # the others keep trying meanwhile
        owners = [n for n in nodes if n.owner]
        assert len(owners) == 1
        first = owners[0]
        assert [t[:2] for t in first.terms] == [("elected", 1)]
        await first.election.stop()
        assert first.terms[-1][:2] == ("deposed", "stopping") and not first.owner
        await until(lambda: any(n.owner for n in nodes if n is not first))
        [second] = [n for n in nodes if n.owner]
        assert second.election.token == 2  # every term has a new fencing token
    finally:
        for node in nodes:
            await node.election.stop()


async def test_a_cut_connection_deposes_the_owner_before_another_starts(url: str, admin: AsyncEngine) -> None:
    a, b = Node("a", url), Node("b", url)
    await a.election.start()
    await until(lambda: a.owner)
    await b.election.start()
    try:
        async with admin.connect() as c:
            await c.scalar(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": await owner_backend(admin)})
        await until(lambda: b.owner)
        deposed_at = next(t for kind, _, t in a.terms if kind == "deposed")
        elected_at = next(t for kind, _, t in b.terms if kind == "elected")
        assert deposed_at < elected_at, "the new owner started before the old one stopped"
        assert b.election.token == 2
        # The old owner is a candidate again, and stays a follower while b owns.
        await asyncio.sleep(5 * CHECK)
        assert not a.owner and b.owner
    finally:
        await a.election.stop()
        await b.election.stop()


def grace_of_wins(caplog: pytest.LogCaptureFixture, node: str) -> list[float]:
    return [r.grace_s for r in caplog.records if r.msg == "election.won" and r.node == node]  # type: ignore[attr-defined]


async def test_a_clean_stop_hands_over_without_the_grace(
    url: str, admin: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    """A stopping owner steps down, marks its term ended, then lets the lock go: the next owner
    starts at once. After a crash (a terminated backend) the next owner waits the grace."""
    caplog.set_level("INFO", logger="callcenter.storage.leadership")
    a, b = Node("a", url), Node("b", url)
    await a.election.start()
    await until(lambda: a.owner)
    await b.election.start()
    try:
        await asyncio.sleep(2 * CHECK)
        assert not b.owner
        await a.election.stop()
        stopped_at = time.monotonic()
        assert a.terms[-1][:2] == ("deposed", "stopping")
        await until(lambda: b.owner)
        assert stopped_at < next(t for kind, _, t in b.terms if kind == "elected")
        assert grace_of_wins(caplog, "b") == [0.0]
        await a.election.start()
        await asyncio.sleep(2 * CHECK)
        assert not a.owner
        async with admin.connect() as c:
            await c.scalar(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": await owner_backend(admin)})
        await until(lambda: a.owner)
        assert grace_of_wins(caplog, "a") == [0.0, a.election.grace], "a crashed term must be waited out"
        assert a.election.token == 3
    finally:
        await a.election.stop()
        await b.election.stop()


async def test_fencing_refuses_a_deposed_owners_write(url: str, admin: AsyncEngine) -> None:
    a, b = Node("a", url), Node("b", url)
    await a.election.start()
    await until(lambda: a.owner)
    old = a.election.token
    assert old is not None
    async with admin.begin() as c:
        await fence(c, old)  # the owner's write goes through
    await a.election.stop()
    await b.election.start()
    try:
        await until(lambda: b.owner)
        with pytest.raises(Deposed):
            async with admin.begin() as c:
                await fence(c, old)
        async with admin.begin() as c:
            await fence(c, b.election.token or -1)
    finally:
        await b.election.stop()


async def test_a_deposed_owner_cannot_write_messaging_state(url: str) -> None:
    """Conversations, messages, customers and the outbox are the owner's books too: a deposed
    owner's messaging store is refused (a DatabaseError: the message is not acknowledged, its
    sender retries on the new owner), the new owner's goes through."""
    a, b = Node("a", url), Node("b", url)
    await a.election.start()
    await until(lambda: a.owner)
    old = a.election.token
    stale = MessagingStore(url, fencing=lambda: old)
    await stale.start()
    conversation = Conversation("conv-1", "cust-1", MessagingChannel.SMS, 1.0, 1.0)
    try:
        await stale.save_conversation(conversation, "+15550100")  # while a owns: written
        await a.election.stop()
        await b.election.start()
        await until(lambda: b.owner)
        current = MessagingStore(url, fencing=lambda: b.election.token)
        await current.start()
        try:
            with pytest.raises(DatabaseError, match="token"):
                await stale.save_conversation(replace(conversation, subject="from the old term"), "+15550100")
            # A received message goes by the PostgreSQL lane (``pg_write``), fenced the same way.
            message = Message(
                "m-1", "conv-1", MessagingChannel.SMS, Direction.IN, "hi", 2.0, Delivery.RECEIVED, "p-1"
            )
            with pytest.raises(DatabaseError, match="token"):
                await stale.save_received_batch([(message, "cust-1")], [(conversation, "+15550100")])
            follower = MessagingStore(url, fencing=lambda: None)  # a node that does not own
            await follower.start()
            try:
                with pytest.raises(DatabaseError, match="not the routing owner"):
                    await follower.save_conversation(conversation, "x")
            finally:
                await follower.stop()
            await current.save_conversation(replace(conversation, subject="new term"), "+15550100")
            stored = {c.id: c.subject for c, _ in await current.conversations()}
            assert stored == {"conv-1": "new term"}
            assert await current.messages() == []  # the old term's message was not written
            await current.save_received_batch(
                [(message, "cust-1")], [(replace(conversation, last_at=2.0), "+15550100")]
            )
            assert [(m.id, c) for m, c in await current.messages()] == [("m-1", "cust-1")]
            with pytest.raises(DatabaseError, match="UniqueViolation"):  # delivered again: refused
                await current.save_received_batch([(replace(message, id="m-2"), "cust-1")], [])
        finally:
            await current.stop()
    finally:
        await stale.stop()
        await b.election.stop()
        await a.election.stop()


async def test_a_write_under_way_finishes_before_the_next_term(url: str, admin: AsyncEngine) -> None:
    """The new owner's token increment waits for a fenced transaction of the old term: that
    write lands in the old term, never after the new owner has begun."""
    a, b = Node("a", url), Node("b", url)
    await a.election.start()
    await until(lambda: a.owner)
    old = a.election.token or -1
    async with admin.connect() as c:
        transaction = await c.begin()
        await fence(c, old)
        await a.election.stop()  # the lock is free: b wins it but waits on our share lock
        await b.election.start()
        await asyncio.sleep(4 * CHECK)
        async with admin.connect() as look:
            assert await look.scalar(sa.text("SELECT token FROM routing_owner")) == old
        await transaction.commit()
    try:
        await until(lambda: b.owner)
        assert b.election.token == old + 1
    finally:
        await b.election.stop()


async def test_sqlite_or_one_node_owns_from_the_start() -> None:
    terms: list[object] = []

    async def elected(token: int) -> None:
        terms.append(token)

    async def deposed(reason: str) -> None:
        terms.append(reason)

    sole = SoleOwner(elected, deposed)
    await sole.start()
    assert sole.token == 1 and terms == [1]
    await sole.stop()
    assert sole.token is None and terms == [1, "stopping"]
    with pytest.raises(StorageError, match="PostgreSQL"):
        PostgresElection("sqlite+aiosqlite:///x.db", "a", elected, deposed)

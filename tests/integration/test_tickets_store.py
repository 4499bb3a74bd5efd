"""The tickets' store on a real SQLite and a real PostgreSQL 15: changes with their events and
chained audit rows in one transaction, changes from two stores (two nodes) at once applied one
after the other, comments and the replies waiting for the owner."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from callcenter.core.tickets import workflow as wfl
from callcenter.storage import audit_chain
from callcenter.storage.db import Database, create_engine
from callcenter.storage.db_models import Base
from callcenter.storage.tickets_store import TicketsStore
from callcenter.tickets.records import Actor, TicketFilter
from callcenter.tickets.service import Tickets
from tests.pg import new_database
from tests.unit.tickets_fixtures import example

WF = example()
T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
ANN = Actor("ann", "agent", "127.0.0.1")


@pytest.fixture(params=["sqlite", "postgresql"])
async def url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "postgresql":
        url = await new_database(request.getfixturevalue("postgres_url"))
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'tickets.db'}"
    database = Database(url)
    await database.start()  # migrates
    await database.stop()
    yield url


def service(store: TicketsStore, at: list[datetime]) -> Tickets:
    return Tickets(WF, store, clock=lambda: at[0])


async def started(url: str) -> TicketsStore:
    store = TicketsStore(url, closed=lambda t: t.status in WF.types[t.type].closed)
    await store.start()
    return store


async def test_a_ticket_and_every_change_are_stored_audited_and_read_back(url: str) -> None:
    store = await started(url)
    at = [T0]
    tickets = service(store, at)
    try:
        draft = wfl.Draft("fault", "Router reboots", {"product": "router", "devices": 2}, customer_id="c1",
                          line="support", context={"chat": "customer: it reboots"})  # fmt: skip
        created = await tickets.create(draft, ANN)
        assert await store.get(created.id) == created
        at[0] = T0 + timedelta(minutes=5)
        await tickets.transition(created.id, "open", ANN)
        with pytest.raises(wfl.TicketRefused):
            await tickets.transition(created.id, "closed", ANN)  # open -> closed: not in the table
        moved = await tickets.transfer(created.id, "engineering", "firmware", ANN)
        changed, comment = await tickets.comment(created.id, "We are on it", False, ANN)
        assert changed.first_response_at == at[0] and comment.delivery == "pending"
        assert (await store.get(created.id)) == changed and moved.team == "engineering"
        assert [c.id for c in await store.pending_replies()] == [comment.id]
        await store.set_delivery(comment.id, "queued", "m-1")
        assert await store.pending_replies() == []
        kinds = [e.kind for e in await store.events(created.id)]
        assert kinds == ["created", "status", "transferred", "commented"]
        listed = await store.find(TicketFilter(teams=frozenset({"engineering"}), open=True))
        assert [t.id for t in listed] == [created.id]
        assert await store.find(TicketFilter(lines=frozenset({"sales"}))) == []
        assert await store.find(TicketFilter(teams=frozenset({"support"}))) == []
    finally:
        await store.stop()
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            report = await audit_chain.verify(conn, Base.metadata.tables["audit"])
            rows = (await conn.execute(sa.text("SELECT action, target, who FROM audit ORDER BY id"))).all()
    finally:
        await engine.dispose()
    assert report.ok and report.rows == 4, report
    assert [r[0] for r in rows] == [
        "ticket.created",
        "ticket.status",
        "ticket.transferred",
        "ticket.commented",
    ]
    assert {r[1] for r in rows} == {created.id} and {r[2] for r in rows} == {"ann"}


async def test_two_nodes_changing_one_ticket_at_once_apply_one_after_the_other(url: str) -> None:
    one, two = await started(url), await started(url)
    at = [T0]
    first, second = service(one, at), service(two, at)
    try:
        ticket = await first.create(wfl.Draft("fault", "x", {"product": "app"}), ANN)
        await first.transition(ticket.id, "open", ANN)
        # Both nodes ask for moves valid from "open"; whichever goes second sees the first's result.
        outcomes = await asyncio.gather(
            first.transition(ticket.id, "waiting_customer", ANN),
            second.transition(ticket.id, "resolved", ANN),
            return_exceptions=True,
        )
        final = await one.get(ticket.id)
        assert final is not None
        assert wfl.is_legal_history(WF.types["fault"], final.history)
        applied = [o for o in outcomes if not isinstance(o, BaseException)]
        assert len(final.history) == 2 + len(applied)
        assert all(isinstance(o, wfl.TicketRefused) for o in outcomes if isinstance(o, BaseException))
    finally:
        await one.stop()
        await two.stop()

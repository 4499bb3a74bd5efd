"""Temporary access and approvals in the store on a real SQLite and a real PostgreSQL 15, with two
stores on their own engines standing for two nodes: a grant ends by the database's clock on both,
and a request approved on both nodes at once is carried out once, with one set of audit rows."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import sqlalchemy as sa

from callcenter.core.tickets import workflow as wfl
from callcenter.core.tickets.access import Approval
from callcenter.storage import audit_chain
from callcenter.storage.db import create_engine
from callcenter.storage.db_models import Base
from callcenter.storage.ticket_access_store import TicketAccessStore
from callcenter.tickets.access_records import NewGrant
from callcenter.tickets.records import Actor
from tests.integration.test_tickets_store import WF, service, started
from tests.integration.test_tickets_store import url as url

SUP, BOSS, ANN = Actor("sup", "supervisor"), Actor("boss", "supervisor"), Actor("ann", "agent")


async def test_grants_end_by_the_database_clock_and_approvals_run_once_across_nodes(url: str) -> None:
    nodes = [await started(url) for _ in range(2)]
    access = [TicketAccessStore(url, None, n) for n in nodes]
    for a in access:
        await a.start()
    try:
        at = [datetime.now(UTC)]
        tickets = service(nodes[0], at)
        ticket = await tickets.create(wfl.Draft("fault", "Router", {"product": "router"}), ANN)

        kept = await access[0].add_grant(NewGrant("pat", ticket.id, None, "view", None, 600), SUP)
        await access[0].add_grant(NewGrant("pat", None, "support", "work", None, 0), SUP)  # over at once
        now, grants = await access[1].grants_of("pat")  # the other node sees the same
        assert [g.id for g in grants] == [kept.id] and kept.granted_at <= now < kept.expires_at

        asked = Approval(
            0, ticket.id, "priority", {"priority": "urgent"}, None, "support", "Router", "", "", now
        )
        pending = await access[0].request(asked, ANN)
        assert (await access[1].request(asked, ANN)).id == pending.id  # one pending request per action

        def raise_priority(t: wfl.Ticket) -> wfl.Result:
            return wfl.set_priority(WF, t, "urgent", at[0], "sup")

        results = await asyncio.gather(
            access[0].decide(pending.id, "approved", SUP, "", raise_priority),
            access[1].decide(pending.id, "approved", BOSS, "", raise_priority),
        )
        assert sorted(acted for _, _, acted in results) == [False, True]
        assert [e.kind for e in await nodes[1].events(ticket.id)].count("priority") == 1
        assert (await nodes[1].get(ticket.id)).priority == "urgent"  # type: ignore[union-attr]

        gone = Approval(0, ticket.id, "delete", {}, None, "support", "Router", "dup", "", now)
        pending = await access[1].request(gone, ANN)
        results = await asyncio.gather(
            access[0].decide(pending.id, "approved", SUP, "", None),
            access[1].decide(pending.id, "approved", BOSS, "", None),
        )
        assert sorted(acted for _, _, acted in results) == [False, True]
        assert await nodes[0].get(ticket.id) is None
    finally:
        for store in (*access, *nodes):
            await store.stop()
    engine = create_engine(url)
    try:
        async with engine.connect() as c:
            report = await audit_chain.verify(c, Base.metadata.tables["audit"])
            actions = [r[0] for r in await c.execute(sa.text("SELECT action FROM audit ORDER BY id"))]
    finally:
        await engine.dispose()
    assert report.ok, report
    assert actions == [
        "ticket.created",
        "ticket.access_granted",
        "ticket.access_granted",
        "ticket.approval_requested",
        "ticket.approval_approved",
        "ticket.priority",
        "ticket.approval_requested",
        "ticket.approval_approved",
        "ticket.deleted",
    ]

"""Tickets opened by trigger rules, on a real SQLite and a real PostgreSQL 15: QA flags written by
the real writer (``raise_review``, the survey's ``survey_low`` path), two nodes' passes at once
open exactly one ticket per flag (the claim in the ticket's transaction), later passes none, a flag
no rule matches is claimed with no ticket."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import sqlalchemy as sa

from callcenter.storage.db import create_engine
from callcenter.storage.qa_store import raise_review
from callcenter.storage.tickets_store import TicketsStore, triggers_t
from callcenter.tickets.records import TicketFilter
from callcenter.tickets.service import Tickets
from callcenter.tickets.triggers_job import run_triggers
from callcenter.tickets.workflow_file import parse_workflow
from tests.integration.test_tickets_store import T0, url  # noqa: F401
from tests.unit.tickets_fixtures import EXAMPLE

RULES = """
triggers:
  - when: {qa_flag: survey_low}
    type: question
    team: billing
    priority: high
    title: A customer rated us low
  - when: {qa_flag: emergency, line: insurance}
    type: question
    title: Emergency words on an insurance call
"""
WF = parse_workflow(EXAMPLE.read_text() + RULES, "tickets.yaml")


async def flag(url: str, interaction_id: str, name: str) -> None:  # noqa: F811
    engine = create_engine(url)
    try:
        async with engine.begin() as c:
            await raise_review(c, interaction_id, name, T0, None)
    finally:
        await engine.dispose()


async def test_each_flag_opens_one_ticket_whatever_the_nodes_and_passes(url: str) -> None:  # noqa: F811
    stores = [TicketsStore(url), TicketsStore(url)]
    for store in stores:
        await store.start()
    nodes = [Tickets(WF, s, clock=lambda: T0 + timedelta(minutes=5)) for s in stores]
    try:
        await flag(url, "call-1", "survey_low")
        await flag(url, "call-2", "emergency")  # no line: rule 2 does not match
        await flag(url, "call-3", "long_hold")  # no rule watches it
        opened = await asyncio.gather(*(run_triggers(n) for n in nodes))
        assert sorted(opened) == [0, 1]
        [ticket] = await stores[0].find(TicketFilter())
        assert (ticket.type, ticket.team, ticket.priority) == ("question", "billing", "high")
        assert (ticket.title, ticket.interaction_id) == ("A customer rated us low", "call-1")
        assert ticket.context["qa_flag"] == "survey_low" and ticket.created_by == "system"
        [created] = await stores[0].events(ticket.id)
        assert created.data["rule"] == "trigger rule 1 (qa_flag survey_low)"
        assert await asyncio.gather(*(run_triggers(n) for n in nodes)) == [0, 0]

        await flag(url, "call-4", "survey_low")
        assert await run_triggers(nodes[1]) == 1
        engine = create_engine(url)
        try:
            async with engine.connect() as c:
                claims = dict((await c.execute(sa.select(triggers_t.c.key, triggers_t.c.ticket_id))).all())
        finally:
            await engine.dispose()
        assert claims.keys() == {"qa:call-1:survey_low", "qa:call-2:emergency", "qa:call-4:survey_low"}
        assert claims["qa:call-1:survey_low"] == ticket.id and claims["qa:call-2:emergency"] is None
        assert len(await stores[0].find(TicketFilter())) == 2
    finally:
        for store in stores:
            await store.stop()

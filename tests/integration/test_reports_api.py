"""``/api/reports/...`` and ``/reports`` in-process against SQLite: figures from a stored event log,
roles and business-line scope, CSV, bad input, the OpenAPI document."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer

from callcenter.app import DATABASE, create_app
from callcenter.core import notices as nt
from callcenter.core.interaction import Channel, EndedBy, Interaction, Outcome
from callcenter.core.reports.adherence import Shift
from callcenter.reports.job import SCHEDULE_STORE, STORE
from callcenter.storage.db_models import CustomerRow, MessageRow
from tests.integration.test_api import TOKENS, auth, make_settings

DAY = 1_796_083_200  # 2026-12-01 00:00 UTC
QUEUES_YAML = """
queues:
  billing: {line: money, service_level: {seconds: 20, target: 0.8}, short_abandon_seconds: 5}
  support: {}
"""


def _call(
    iid: str, queue: str, at: float, wait: float, talk: float | None, agent: str = "1001"
) -> list[nt.Notice]:
    out: list[nt.Notice] = [nt.Queued(iid, at, queue, "1", None, None)]
    if talk is None:
        return [*out, nt.Ended(iid, at + wait, Outcome.ABANDONED, EndedBy.CALLER)]
    return [
        *out,
        nt.Answered(iid, at + wait, agent),
        nt.Ended(iid, at + wait + talk, Outcome.ANSWERED, EndedBy.AGENT),
    ]


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    queues = tmp_path / "queues.yaml"
    queues.write_text(QUEUES_YAML)
    security = {
        "api_tokens": [
            *(
                {"name": r, "role": r, "token": t, **({"agent_id": "1001"} if r == "agent" else {})}
                for r, t in TOKENS.items()
            ),
            {
                "name": "money-sup",
                "role": "supervisor",
                "token": "money-supervisor-0123456789",
                "lines": ["money"],
            },
        ]
    }
    settings = make_settings(tmp_path, acd={"queues_file": str(queues)}, security=security)
    async with TestClient(TestServer(create_app(settings))) as c:
        notices = [
            *_call("b1", "billing", DAY + 36000, 10, 120),  # 10:00, answered in 10 s
            *_call("b2", "billing", DAY + 36060, 40, 60),  # answered in 40 s: outside the SL
            *_call("b3", "billing", DAY + 36120, 2, None),  # short abandon
            *_call("s1", "support", DAY + 37800, 5, 30, agent="1002"),  # 10:30
            nt.AgentStateLogged("agent:1001", DAY + 35000, "1001", "available", ""),
            nt.AgentStateLogged("agent:1001", DAY + 39600, "1001", "paused", "lunch"),
            nt.AgentStateLogged("agent:1001", DAY + 41400, "1001", "logged_out", ""),
        ]
        await c.app[DATABASE].write_batch(notices)
        await c.app[STORE].catch_up(DAY + 86400)
        yield c


async def test_queue_figures_for_the_day(client: TestClient[Any, Any]) -> None:
    params = {"from": "2026-12-01", "to": "2026-12-01", "interval": "day"}
    resp = await client.get("/api/reports/queues", params=params, headers=auth("supervisor"))
    assert resp.status == 200
    body = await resp.json()
    rows = [dict(zip(body["columns"], r, strict=True)) for r in body["rows"]]
    billing = next(r for r in rows if r["queue"] == "billing")
    assert (billing["offered"], billing["answered"], billing["answered_in_sl"]) == (3, 2, 1)
    assert (billing["abandoned"], billing["short_abandoned"], billing["service_level"]) == (1, 1, 0.5)
    assert (billing["asa"], billing["average_talk"], billing["longest_wait"]) == (25.0, 90.0, 40.0)
    assert billing["start"] == "2026-12-01T00:00Z"
    assert [r["queue"] for r in rows] == ["billing", "support"]
    by_line = await client.get("/api/reports/queues", params={**params, "by": "line"}, headers=auth("admin"))
    lines = {r[1]: r[2] for r in (await by_line.json())["rows"]}
    assert lines == {"money": 3, "support": 1} and (await by_line.json())["columns"][1] == "line"
    hourly = await client.get(
        "/api/reports/queues", params={**params, "interval": "hour"}, headers=auth("admin")
    )
    assert [r[0] for r in (await hourly.json())["rows"]] == ["2026-12-01T10:00Z", "2026-12-01T10:00Z"]


async def test_adherence_of_a_scheduled_agent(client: TestClient[Any, Any]) -> None:
    # 1001 is available from 09:43, paused at 11:00, logged out at 11:30; scheduled 10:00-12:00
    # with a break 11:00-11:15: in adherence 10:00-11:15 (75 min), out 11:15-12:00 (45 min).
    shift = Shift(DAY + 36000, DAY + 43200, DAY + 39600, DAY + 40500, "1001")
    await client.app[SCHEDULE_STORE].replace(DAY, DAY + 86400, [shift, Shift(DAY, DAY + 3600)], "test")
    params = {"from": "2026-12-01", "to": "2026-12-01", "interval": "day"}
    resp = await client.get("/api/reports/adherence", params=params, headers=auth("supervisor"))
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["columns"] == [
        "start", "agent", "scheduled_minutes", "working_minutes", "in_adherence_minutes",
        "out_of_adherence_minutes", "adherence",
    ]  # fmt: skip
    assert body["rows"] == [["2026-12-01T00:00Z", "1001", 120.0, 105.0, 75.0, 45.0, 0.625]]
    hourly = await client.get(
        "/api/reports/adherence",
        params={**params, "interval": "hour", "format": "csv"},
        headers=auth("admin"),
    )
    rows = list(csv.DictReader(io.StringIO(await hourly.text())))
    assert [(r["start"], r["in_adherence_minutes"], r["adherence"]) for r in rows] == [
        ("2026-12-01T10:00Z", "60.0", "1.0"),
        ("2026-12-01T11:00Z", "15.0", "0.25"),
    ]
    other = await client.get(
        "/api/reports/adherence", params={**params, "agent": "1002"}, headers=auth("admin")
    )
    assert (await other.json())["rows"] == []
    assert (await client.get("/api/reports/adherence", params=params, headers=auth("agent"))).status == 403


async def test_an_agent_reads_its_own_shifts_only(client: TestClient[Any, Any]) -> None:
    today = int(time.time()) // 86400 * 86400
    mine = Shift(
        today + 86400 + 8 * 3600,
        today + 86400 + 16 * 3600,
        today + 86400 + 12 * 3600,
        today + 86400 + 13 * 3600,
        "1001",
    )
    theirs = Shift(today + 86400 + 8 * 3600, today + 86400 + 16 * 3600, agent="1002")
    late = Shift(today + 9 * 86400, today + 9 * 86400 + 3600, agent="1001")  # past the week asked
    await client.app[SCHEDULE_STORE].replace(today, today + 10 * 86400, [mine, theirs, late], "test")
    resp = await client.get("/api/agent/schedule", params={"days": "7"}, headers=auth("agent"))
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["agent"] == "1001" and len(body["shifts"]) == 1
    shift = body["shifts"][0]
    assert shift["end"] > shift["break_end"] > shift["break_start"] > shift["start"]
    assert (
        await client.get("/api/agent/schedule", params={"days": "99"}, headers=auth("agent"))
    ).status == 400
    assert (await client.get("/api/agent/schedule", headers=auth("supervisor"))).status == 403


async def test_agent_figures_and_csv(client: TestClient[Any, Any]) -> None:
    params = {"from": "2026-12-01", "to": "2026-12-01", "interval": "day", "format": "csv"}
    resp = await client.get("/api/reports/agents", params=params, headers=auth("admin"))
    assert resp.status == 200 and resp.content_type == "text/csv"
    rows = list(csv.DictReader(io.StringIO(await resp.text())))
    by_agent = {r["agent"]: r for r in rows}
    assert float(by_agent["1001"]["logged_in"]) == 41400 - 35000
    assert float(by_agent["1001"]["pause:lunch"]) == 1800
    assert by_agent["1001"]["handled:voice"] == "2" and by_agent["1002"]["handled:voice"] == "1"


async def test_queue_figures_as_an_excel_workbook(client: TestClient[Any, Any]) -> None:
    from openpyxl import load_workbook

    params = {"from": "2026-12-01", "to": "2026-12-01", "interval": "day"}
    table = await (await client.get("/api/reports/queues", params=params, headers=auth("admin"))).json()
    resp = await client.get(
        "/api/reports/queues", params={**params, "format": "xlsx"}, headers=auth("supervisor")
    )
    assert resp.status == 200 and resp.content_type.endswith("spreadsheetml.sheet")
    assert 'filename="queues-2026-12-01-2026-12-01.xlsx"' in resp.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(await resp.read())).active
    assert sheet is not None and sheet.title == "queues"
    cells = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert cells[0] == table["columns"]
    assert cells[1:] == table["rows"]  # numbers stay numbers, empty figures empty
    refused = await client.get("/api/reports/queues", params={**params, "format": "xlsx"}, headers=auth("qa"))
    assert refused.status == 403


async def test_a_supervisor_limited_to_a_line_sees_only_it(client: TestClient[Any, Any]) -> None:
    money = {"Authorization": "Bearer money-supervisor-0123456789"}
    params = {"from": "2026-12-01", "to": "2026-12-02"}
    body = await (await client.get("/api/reports/queues", params=params, headers=money)).json()
    assert {r[1] for r in body["rows"]} == {"billing"}
    resp = await client.get("/api/reports/queues", params={**params, "line": "support"}, headers=money)
    assert resp.status == 403
    # Agents: only those serving the line's queues (none are configured here: nobody).
    body = await (await client.get("/api/reports/agents", params=params, headers=money)).json()
    assert body["rows"] == []


@pytest.mark.parametrize(
    ("params", "word"),
    [
        ({"from": "yesterday", "to": "2026-12-01"}, "from"),
        ({"from": "2026-12-02", "to": "2026-12-01"}, "to"),
        ({"from": "2026-12-01", "to": "2026-12-01", "interval": "minute"}, "interval"),
        ({"from": "2026-12-01", "to": "2026-12-01", "queue": "a b"}, "queue"),
        ({"from": "2026-12-01", "to": "2026-12-01", "bogus": "1"}, "bogus"),
        ({"to": "2026-12-01"}, "from"),
        ({"from": "2020-01-01", "to": "2026-12-01"}, "days"),
    ],
)
async def test_bad_queries_are_400_with_the_reason(
    client: TestClient[Any, Any], params: dict[str, str], word: str
) -> None:
    resp = await client.get("/api/reports/queues", params=params, headers=auth("supervisor"))
    assert resp.status == 400
    assert word in await resp.text()


async def test_roles_page_and_openapi(client: TestClient[Any, Any]) -> None:
    params = {"from": "2026-12-01", "to": "2026-12-01"}
    for who, status in ((None, 401), ("agent", 403), ("qa", 403), ("supervisor", 200)):
        assert (await client.get("/api/reports/agents", params=params, headers=auth(who))).status == status
    page = await client.get("/reports", headers=auth("supervisor"))
    assert page.status == 200 and "/static/reports.js" in await page.text()
    document = await (await client.get("/api/openapi.json")).json()
    assert {"/api/reports/queues", "/api/reports/agents", "/api/reports/fcr", "/reports"} <= set(
        document["paths"]
    )


async def test_first_contact_resolution_across_channels(client: TestClient[Any, Any]) -> None:
    db = client.app[DATABASE]

    def contact(
        iid: str, customer: str, at: float, channel: Channel, queue: str, agent: str | None
    ) -> Interaction:
        return Interaction(
            iid,
            channel,
            "",
            at,
            queue=queue,
            agent_id=agent,
            answered_at=None if agent is None else at + 5,
            ended_at=at + 60,
            outcome=Outcome.ANSWERED if agent is not None else Outcome.ABANDONED,
            customer_id=customer,
        )

    for i in [
        contact("f1", "cust-a", DAY + 36000, Channel.VOICE, "billing", "1001"),  # a comes back on WhatsApp:
        contact("f2", "cust-a", DAY + 36000 + 3600, Channel.WHATSAPP, "support", None),  # repeated elsewhere
        contact("f3", "cust-b", DAY + 37000, Channel.WEBCHAT, "support", "1002"),  # b never comes back
        contact("f4", "cust-c", DAY + 38000, Channel.VOICE, "billing", "1001"),  # c comes back as d,
        contact("f5", "cust-d", DAY + 40000, Channel.SMS, "billing", "1001"),  # which was merged into c
        contact("f6", "cust-e", DAY + 2 * 86400, Channel.VOICE, "billing", "1001"),  # after the 1-day window
    ]:
        await db.save_interaction(i)
    async with db.engine.begin() as conn:
        await conn.execute(
            sa.insert(CustomerRow),
            [
                {"id": "cust-c", "record": {}, "merged_into": None},
                {"id": "cust-d", "record": {}, "merged_into": "cust-c"},
            ],
        )
    params = {"from": "2026-12-01", "to": "2026-12-01", "interval": "day", "days": "1", "by": "queue"}
    body = await (await client.get("/api/reports/fcr", params=params, headers=auth("supervisor"))).json()
    assert body["columns"] == [
        "start", "queue", "handled", "resolved", "repeated", "repeated_elsewhere", "pending", "fcr"
    ]  # fmt: skip
    rows = {r[1]: r[2:] for r in body["rows"]}
    # billing: f1 repeated on WhatsApp, f4 repeated by the merged customer over SMS, f5 resolved.
    assert rows == {"billing": [3, 1, 2, 2, 0, 0.333], "support": [1, 1, 0, 0, 0, 1.0]}
    money = {"Authorization": "Bearer money-supervisor-0123456789"}
    scoped = await (await client.get("/api/reports/fcr", params=params, headers=money)).json()
    assert [r[1] for r in scoped["rows"]] == ["billing"], "support has no line: not the money supervisor's"
    by_agent = await client.get("/api/reports/fcr", params={**params, "by": "agent"}, headers=auth("admin"))
    assert {r[1] for r in (await by_agent.json())["rows"]} == {"1001", "1002"}
    for bad, word in (({"days": "0"}, "days"), ({"by": "nobody"}, "by")):
        resp = await client.get("/api/reports/fcr", params={**params, **bad}, headers=auth("admin"))
        assert resp.status == 400 and word in await resp.text()
    assert (await client.get("/api/reports/fcr", params=params, headers=auth("agent"))).status == 403


async def test_conversation_figures_from_the_stored_messages(client: TestClient[Any, Any]) -> None:
    db = client.app[DATABASE]
    start = DAY + 36000
    chat = Interaction(
        "cv1",
        Channel.WEBCHAT,
        "",
        start,
        queue="support",
        agent_id="1002",
        answered_at=start + 20,
        ended_at=start + 600,
        outcome=Outcome.ANSWERED,
        customer_id="cust-x",
        conversation_id="conv-1",
    )
    await db.save_interaction(chat)
    when = [(-300, "in"), (0, "in"), (45, "out"), (50, "in"), (90, "out"), (900, "in")]  # 2 outside it
    async with db.engine.begin() as conn:
        await conn.execute(
            sa.insert(MessageRow),
            [
                {
                    "id": f"m{n}",
                    "conversation_id": "conv-1",
                    "customer_id": "cust-x",
                    "channel": "webchat",
                    "direction": direction,
                    "body": "hello",
                    "at": datetime.fromtimestamp(start + offset, UTC),
                    "status": "delivered",
                    "provider_id": None,
                    "email_message_id": None,
                    "status_detail": "",
                }
                for n, (offset, direction) in enumerate(when)
            ],
        )
    params = {"from": "2026-12-01", "to": "2026-12-01", "interval": "day", "by": "agent"}
    resp = await client.get("/api/reports/conversations", params=params, headers=auth("supervisor"))
    assert resp.status == 200
    body = await resp.json()
    row = dict(zip(body["columns"], body["rows"][0], strict=True))
    assert row["agent"] == "1002"
    assert (row["conversations"], row["answered"], row["replied"], row["resolved"]) == (1, 1, 1, 1)
    assert row["average_first_response"] == 45.0 and row["average_resolution"] == 600.0
    assert (row["messages_in"], row["messages_out"]) == (2, 2), "messages outside the interaction are not its"
    assert (await client.get("/api/reports/conversations", params=params, headers=auth("qa"))).status == 403

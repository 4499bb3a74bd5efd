"""``/api/reports/...`` and ``/reports`` in-process against SQLite: figures from a stored event log,
roles and business-line scope, CSV, bad input, the OpenAPI document."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callcenter.app import DATABASE, create_app
from callcenter.core import notices as nt
from callcenter.core.interaction import EndedBy, Outcome
from callcenter.reports.job import STORE
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
    assert {"/api/reports/queues", "/api/reports/agents", "/reports"} <= set(document["paths"])

"""Survey responses stored (SQLite, in-process app): CSAT and NPS through ``/api/reports/surveys``,
business-line scope, CSV; a low answer puts the contact on the QA review list (``survey_low``)."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from callcenter.app import DATABASE, SURVEYS
from callcenter.core.interaction import Channel, Outcome
from callcenter.core.interaction import Interaction as I
from callcenter.core.surveys.model import Question, Response, Source
from tests.integration.test_api import auth
from tests.integration.test_reports_api import DAY, client

__all__ = ["client"]


def _asked(n: str, q: Question, at: float, queue: str, line: str, channel: str, agent: str) -> Response:
    return Response(f"r-{n}", n, "s", q, Source.MESSAGE, channel, at, agent, queue, line, "cust")


async def test_csat_nps_per_group_scope_and_the_qa_review(client: TestClient[Any, Any]) -> None:
    db = client.app[DATABASE]
    store = client.app[SURVEYS].store
    t = DAY + 36000
    for iid, queue in (("v1", "billing"), ("v2", "billing"), ("v3", "support"), ("v4", "support")):
        await db.save_interaction(
            I(iid, Channel.VOICE, "", t, queue=queue, agent_id="1001", answered_at=t + 5, ended_at=t + 60,
              outcome=Outcome.ANSWERED)
        )  # fmt: skip
    a1 = _asked("v1", Question.CSAT, t, "billing", "money", "voice", "1001")
    a2 = _asked("v2", Question.CSAT, t + 10, "billing", "money", "sms", "1002")
    a3 = _asked("v3", Question.NPS, t + 20, "support", "support", "voice", "1001")
    a4 = _asked("v4", Question.NPS, t + 30, "support", "support", "voice", "1001")
    for asked, low in ((a1, 2), (a2, 2), (a3, 6), (a4, 6)):
        assert await store.ask(asked, low)
    assert not await store.ask(a1, 2), "one survey per interaction"
    assert await store.answer(a1.answered(5, t + 70, 2))
    assert await store.answer(a2.answered(1, t + 80, 2, "slow"))  # low: a QA review
    assert not await store.answer(a2.answered(4, t + 90, 2)), "answered once"
    assert await store.answer(a3.answered(10, t + 90, 6))
    # a4 is never answered: asked, in neither NPS part
    params = {"from": "2026-12-01", "to": "2026-12-01", "interval": "day", "by": "queue"}
    body = await (await client.get("/api/reports/surveys", params=params, headers=auth("supervisor"))).json()
    assert body["columns"][:2] == ["start", "queue"]
    rows = {r[1]: dict(zip(body["columns"], r, strict=True)) for r in body["rows"]}
    billing = rows["billing"]
    assert [billing[k] for k in ("asked", "answered", "csat_answers", "satisfied", "csat", "low")] == [
        2, 2, 2, 1, 0.5, 1
    ]  # fmt: skip
    support = rows["support"]
    assert (support["asked"], support["answered"], support["response_rate"]) == (2, 1, 0.5)
    assert (support["nps_answers"], support["promoters"], support["nps"], support["csat"]) == (
        1,
        1,
        100.0,
        None,
    )
    money = {"Authorization": "Bearer money-supervisor-0123456789"}
    scoped = await (
        await client.get("/api/reports/surveys", params={**params, "by": "agent"}, headers=money)
    ).json()
    assert [(r[1], r[2]) for r in scoped["rows"]] == [("1001", 1), ("1002", 1)], "the money line's only"
    csv_text = await (
        await client.get("/api/reports/surveys", params={**params, "format": "csv"}, headers=auth("admin"))
    ).text()
    assert csv_text.splitlines()[0].startswith("start,queue,asked,answered,response_rate")
    assert (
        await client.get("/api/reports/surveys", params={**params, "by": "customer"}, headers=auth("admin"))
    ).status == 400
    assert (await client.get("/api/reports/surveys", params=params, headers=auth("agent"))).status == 403
    # The reviewer sees the answer on the call's page.
    detail = await (await client.get("/api/qa/calls/v2", headers=auth("qa"))).json()
    assert detail["survey"] == {
        "question": "csat",
        "score": 1,
        "comment": "slow",
        "source": "message",
        "low": True,
    }
    # The low answer is on the QA list, flagged, with the call's queue and line.
    found = await (
        await client.get("/api/qa/calls", params={"flag": "survey_low"}, headers=auth("qa"))
    ).json()
    assert [(c["interaction_id"], c["queue"], c["flags"]) for c in found["calls"]] == [
        ("v2", "billing", ["survey_low"])
    ]

"""Real calls through the sandbox, then the day's report: two answered calls and one abandoned
reach the report tables through the event log (the routing owner's job) and the API."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.calls import agent_phone, call_in, caller_phone, ended_record, queued_record, wait_agent

pytestmark = pytest.mark.asterisk


def _rows(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(zip(body["columns"], row, strict=True)) for row in body["rows"]]


SHORT_ABANDON = 2.0  # seconds: the queue's short-abandon threshold, shorter than the default 5


def test_the_days_figures_after_real_calls(asterisk: Any, server_factory: Any, tmp_path: Path) -> None:
    queues = tmp_path / "queues.yaml"
    queues.write_text(f"queues:\n  support:\n    short_abandon_seconds: {SHORT_ABANDON}\n")
    server = server_factory(database={"reports_update_seconds": 1}, acd={"queues_file": str(queues)}).start()
    agent = agent_phone(asterisk, "1001").start()
    try:
        wait_agent(server, "1001", "available")
        for n in range(2):
            caller = caller_phone(asterisk).start()
            try:
                call, _heard = call_in(caller, asterisk, "1")
                wait_agent(server, "1001", "busy", timeout=30)
                time.sleep(1.0 + n)
                call.hangup()
                record = ended_record(server)
                assert record["outcome"] == "answered" and record["agent_id"] == "1001"
            finally:
                caller.stop()
            wait_agent(server, "1001", "available", timeout=40)  # after the wrap-up
        status, _ = server.api("POST", "/api/agents/1001/pause", {"reason": "coaching"})
        assert status == 200
        caller = caller_phone(asterisk).start()
        try:
            call, _heard = call_in(caller, asterisk, "1")
            queued_record(server)
            time.sleep(SHORT_ABANDON + 2.0)  # longer than the short-abandon threshold
            call.hangup()
            assert ended_record(server)["outcome"] == "abandoned"
        finally:
            caller.stop()
        today = time.strftime("%Y-%m-%d", time.gmtime())
        query = f"from={today}&to={today}&interval=day"

        def support() -> dict[str, Any] | None:
            status, body = server.api("GET", f"/api/reports/queues?{query}")
            assert status == 200, body
            found = [r for r in _rows(body) if r["queue"] == "support"]
            return found[0] if found and found[0]["offered"] == 3 and found[0]["abandoned"] == 1 else None

        day = server.wait_until(support, 30, "the day's report with the three calls")
        assert (day["answered"], day["answered_in_sl"], day["short_abandoned"]) == (2, 2, 0)
        # SL: 2 answered in time / (2 answered + 1 abandoned after the short-abandon threshold).
        assert day["service_level"] == pytest.approx(2 / 3, abs=1e-3)
        assert day["abandon_rate"] == pytest.approx(1 / 3, abs=1e-3)
        assert 0 < day["asa"] <= 20 and day["longest_wait"] > SHORT_ABANDON
        assert day["average_talk"] >= 1.0 and day["aht"] >= day["average_talk"]

        def agent_row() -> dict[str, Any] | None:
            status, body = server.api("GET", f"/api/reports/agents?{query}&agent=1001")
            assert status == 200, body
            rows = _rows(body)
            return rows[0] if rows and rows[0].get("pause:coaching", 0) > 0 else None

        row = server.wait_until(agent_row, 30, "the agent's day with its pause")
        assert row["handled:voice"] == 2 and row["busy"] >= 3.0
        assert row["logged_in"] >= row["busy"] + row["available"] + row["pause:coaching"] - 0.1
    finally:
        agent.stop()

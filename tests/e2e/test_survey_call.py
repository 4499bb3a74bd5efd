"""A real call through the sandbox, then the IVR survey: the agent hangs up, the caller stays on
the line, hears the survey's prompt, keys 2 (in-band DTMF) and the answer is stored, counted in the
survey report and, being low, puts the call on the QA list. The prompt is one of Asterisk's own
sounds: the project's (callcenter/survey-csat) are rendered into the shared sandbox root, where a
run with another prompts.yaml may have removed them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.calls import agent_phone, call_in, caller_phone, ended_record, wait_agent
from tests.sip import level, wait_for

pytestmark = pytest.mark.asterisk

SURVEYS = """\
surveys:
  calls:
    question: csat
    channels: [voice]
    text: "How satisfied were you? 1 to 5."
    prompt: if-correct-press
"""


def test_the_caller_rates_the_call_after_the_agent_hangs_up(
    asterisk: Any, server_factory: Any, tmp_path: Path
) -> None:
    (tmp_path / "surveys.yaml").write_text(SURVEYS)
    server = server_factory(surveys={"file": str(tmp_path / "surveys.yaml")}).start()
    agent = agent_phone(asterisk, "1004").start()
    caller = caller_phone(asterisk).start()
    try:
        wait_agent(server, "1004", "available")
        _call, heard = call_in(caller, asterisk, "1")
        wait_agent(server, "1004", "busy", timeout=30)
        time.sleep(1.0)
        agent.incoming[0].hangup()
        record = ended_record(server)
        assert record["outcome"] == "answered" and record["ended_by"] == "agent"
        # The caller is still on the line: the survey's prompt plays; the caller keys 2.
        after = time.monotonic()
        wait_for(lambda: level(heard.heard_since(after)) > 3, 10, "the survey prompt")
        caller.press(heard, "2")
        today = time.strftime("%Y-%m-%d", time.gmtime())

        def answered() -> dict[str, Any] | None:
            status, body = server.api(
                "GET", f"/api/reports/surveys?from={today}&to={today}&interval=day&by=agent"
            )
            assert status == 200, body
            rows = [dict(zip(body["columns"], r, strict=True)) for r in body["rows"]]
            return rows[0] if rows and rows[0]["answered"] == 1 else None

        row = server.wait_until(answered, 15, "the survey's answer")
        assert (row["agent"], row["asked"], row["csat_answers"], row["satisfied"], row["low"]) == (
            "1004",
            1,
            1,
            0,
            1,
        )
        status, found = server.api("GET", "/api/qa/calls?flag=survey_low")
        assert status == 200 and [c["interaction_id"] for c in found["calls"]] == [record["id"]]
    finally:
        caller.stop()
        agent.stop()

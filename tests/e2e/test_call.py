"""One real call, end to end: pyVoIP caller -> Asterisk -> FastAGI menu -> our ACD -> pyVoIP agent.

Real SIP, real RTP. The caller sends a 440 Hz tone and the agent a 1000 Hz tone; each side must hear
the other's frequency once bridged, so audio is proven to flow both ways (not merely "not silent").
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.calls import (
    AGENT_FREQ,
    CALLER_FREQ,
    agent_phone,
    caller_phone,
    dominant,
    ended_record,
    wait_agent,
)
from tests.sip import level, wait_for

pytestmark = pytest.mark.asterisk


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_inbound_call_reaches_agent_with_audio_both_ways(
    asterisk: Any, server_factory: Any, backend: str, request: pytest.FixtureRequest
) -> None:
    database = {"url": request.getfixturevalue("postgres_url")} if backend == "postgresql" else {}
    server = server_factory(**({"database": database} if database else {})).start()
    agent = agent_phone(asterisk, "1001").start()
    caller = caller_phone(asterisk).start()
    try:
        wait_agent(server, "1001", "available")
        call, heard = caller.dial(asterisk.settings.asterisk.inbound_number)
        answered_at = time.monotonic()
        # The menu prompt plays: the caller hears speech, not silence.
        wait_for(lambda: level(heard.heard_since(answered_at)) > 3, 10, "the menu prompt")
        caller.press(heard, "1")
        wait_for(lambda: agent.incoming and agent.audio, 20, "the agent's phone to ring and answer")
        wait_agent(server, "1001", "busy")
        agent_audio = next(iter(agent.audio.values()))
        time.sleep(2.5)  # talk
        bridged_at = time.monotonic() - 2.0
        caller_heard = heard.heard_since(bridged_at)
        agent_heard = agent_audio.heard_since(bridged_at)
        assert level(caller_heard) > 3 and level(agent_heard) > 3, "silence on a bridged call"
        assert dominant(caller_heard, CALLER_FREQ, AGENT_FREQ) > 5, "caller does not hear the agent"
        assert dominant(agent_heard, AGENT_FREQ, CALLER_FREQ) > 5, "agent does not hear the caller"
        call.hangup()
        hung_up_at = time.monotonic()

        record = ended_record(server)
        assert record["outcome"] == "answered" and record["ended_by"] == "caller"
        assert record["caller_number"] == asterisk.settings.asterisk.trunk_username
        assert record["dialed_number"] == asterisk.settings.asterisk.inbound_number
        assert record["ivr_choice"] == "1" and record["queue"] == "support"
        assert record["agent_id"] == "1001"
        # Recorded durations agree with what the test did (it talked 2.5 s before hanging up).
        assert record["wait_seconds"] > 0
        assert 2.0 <= record["talk_seconds"] <= hung_up_at - answered_at + 1.0
        assert record["answered_at"] is not None and record["ended_at"] is not None
        wait_agent(server, "1001", "available")
    finally:
        caller.stop()
        agent.stop()

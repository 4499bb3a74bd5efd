"""One real call, end to end: pyVoIP caller -> Asterisk -> FastAGI menu -> our ACD -> pyVoIP agent.

Real SIP, real RTP. The caller sends a 440 Hz tone and the agent a 1000 Hz tone; each side must hear
the other's frequency once bridged, so audio is proven to flow both ways (not merely "not silent").
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.conftest import ServerProcess
from tests.sip import Phone, goertzel, level, wait_for

pytestmark = pytest.mark.asterisk

CALLER_FREQ, AGENT_FREQ = 440.0, 1000.0


def agent_phone(asterisk: Any, ext: str, n: int, *, answer: bool = True) -> Phone:
    s = asterisk.settings.asterisk
    return Phone(
        s.sip_port,
        ext,
        s.agent_password.get_secret_value(),
        25100 + n,
        27000 + 100 * n,
        27000 + 100 * n + 98,
        answer=answer,
        send_freq=AGENT_FREQ,
    )


def caller_phone(asterisk: Any, n: int = 9) -> Phone:
    s = asterisk.settings.asterisk
    return Phone(
        s.sip_port,
        s.trunk_username,
        s.trunk_password.get_secret_value(),
        25100 + n,
        27000 + 100 * n,
        27000 + 100 * n + 98,
        send_freq=CALLER_FREQ,
    )


def latest_interaction(server: ServerProcess) -> dict[str, Any] | None:
    status, body = server.api("GET", "/api/interactions?limit=1")
    assert status == 200, body
    return body["interactions"][0] if body["interactions"] else None


def wait_agent(server: ServerProcess, agent_id: str, state: str, timeout: float = 15) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        status, body = server.api("GET", f"/api/agents/{agent_id}")
        return body if status == 200 and body["state"] == state else None

    return server.wait_until(check, timeout, f"agent {agent_id} {state}")  # type: ignore[no-any-return]


def dominant(audio: bytes, mine: float, theirs: float) -> float:
    return goertzel(audio, theirs) / max(goertzel(audio, mine), 1e-9)


def test_inbound_call_reaches_agent_with_audio_both_ways(asterisk: Any, server_factory: Any) -> None:
    server = server_factory().start()
    agent = agent_phone(asterisk, "1001", 1).start()
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

        def ended() -> dict[str, Any] | None:
            record = latest_interaction(server)
            return record if record and record["outcome"] else None

        record = server.wait_until(ended, 15, "the call record")
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

"""Listen, whisper and barge on a live call, end to end: a real caller bridged to a real agent phone, and
the supervisor's own phone (another agent extension, linked to the supervisor's token) rung by
AMI Originate into ChanSpy on the agent's leg.

Each phone plays its own tone (caller 440 Hz, agent 1000 Hz, supervisor 1700 Hz); Goertzel on what
each one hears tells who hears whom.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.calls import AGENT_FREQ, CALLER_FREQ, _ports, agent_phone, call_in, caller_phone, wait_agent
from tests.sip import CallAudio, Phone, goertzel, level, wait_for

pytestmark = pytest.mark.asterisk

SUP_FREQ = 1700.0
SUPERVISOR_TOKEN = "test-supervisor-token-0123456789"


def supervisor_phone(asterisk: Any, ext: str) -> Phone:
    s = asterisk.settings.asterisk
    return Phone(
        s.sip_port, ext, s.agent_password.get_secret_value(), *_ports(), answer=True, send_freq=SUP_FREQ
    )


def ratio(audio: bytes, wanted: float, other: float) -> float:
    return goertzel(audio, wanted) / max(goertzel(audio, other), 1e-9)


def joined(heard: CallAudio, wanted: float, other: float, what: str) -> None:
    """Until the last half second ``heard`` is ``wanted``'s tone over ``other``'s (the spy has joined),
    instead of a fixed wait before the measured stretch."""

    def now_hears() -> bool:
        recent = heard.heard_since(time.monotonic() - 0.5)
        return level(recent) > 3 and ratio(recent, wanted, other) > 5

    wait_for(now_hears, 20, what, interval=0.1)


def test_listen_whisper_barge(asterisk: Any, server_factory: Any) -> None:
    server = server_factory(
        agents=[
            {"id": "1001", "name": "Agent", "extension": "1001", "queues": ["support"]},
            # The supervisor's phone: an extension serving no queue, never logged in.
            {"id": "1009", "name": "Supervisor", "extension": "1009", "queues": [], "auto_login": False},
        ],
        security={
            "api_tokens": [
                {"name": "test-admin", "role": "admin", "token": "test-admin-token-0123456789abcdef"},
                {"name": "sup", "role": "supervisor", "token": SUPERVISOR_TOKEN, "agent_id": "1009"},
            ]
        },
    ).start()
    agent = agent_phone(asterisk, "1001").start()
    sup = supervisor_phone(asterisk, "1009").start()
    caller = caller_phone(asterisk).start()
    try:
        wait_agent(server, "1001", "available")
        call, caller_audio = call_in(caller, asterisk, "1")
        wait_for(lambda: agent.incoming and agent.audio, 20, "the agent's phone to ring and answer")
        wait_agent(server, "1001", "busy")
        agent_audio = next(iter(agent.audio.values()))
        time.sleep(1.5)
        before = time.monotonic()
        time.sleep(1.5)
        agent_before = agent_audio.heard_since(before)
        caller_before = caller_audio.heard_since(before)

        # Listen: the supervisor hears the caller; nobody hears the supervisor.
        status, body = server.api(
            "POST", "/api/supervisor/listen", {"agent_id": "1001"}, token=SUPERVISOR_TOKEN
        )
        assert status == 200, body
        wait_for(lambda: sup.incoming and sup.audio, 20, "the supervisor's phone to ring and answer")
        listen_call = sup.incoming[-1]
        listen_audio = sup.audio_for(listen_call)
        joined(listen_audio, CALLER_FREQ, SUP_FREQ, "the supervisor hearing the caller")  # the spy joins
        t0 = time.monotonic()
        time.sleep(2.5)
        sup_heard = listen_audio.heard_since(t0)
        caller_heard = caller_audio.heard_since(t0)
        agent_heard = agent_audio.heard_since(t0)
        assert level(sup_heard) > 3, "the supervisor hears silence"
        assert ratio(sup_heard, CALLER_FREQ, SUP_FREQ) > 5, "the supervisor does not hear the caller"
        assert ratio(caller_heard, AGENT_FREQ, SUP_FREQ) > 5, "the caller hears the listening supervisor"
        assert ratio(agent_heard, CALLER_FREQ, SUP_FREQ) > 5, "the agent hears the listening supervisor"
        listen_call.hangup()
        time.sleep(1.0)

        # Whisper: the agent hears the supervisor; the caller does not.
        status, body = server.api(
            "POST", "/api/supervisor/listen", {"agent_id": "1001", "mode": "whisper"}, token=SUPERVISOR_TOKEN
        )
        assert status == 200, body
        wait_for(lambda: len(sup.audio) >= 2, 20, "the supervisor's phone to ring again and answer")
        whisper_call = sup.incoming[-1]
        joined(agent_audio, SUP_FREQ, 2500.0, "the agent hearing the whisper")
        t1 = time.monotonic()
        time.sleep(2.5)
        agent_heard = agent_audio.heard_since(t1)
        caller_heard = caller_audio.heard_since(t1)
        heard_sup = goertzel(agent_heard, SUP_FREQ)
        assert heard_sup > 20 * max(goertzel(agent_before, SUP_FREQ), 1e-9), (
            "the agent does not hear the whisper"
        )
        assert ratio(agent_heard, SUP_FREQ, 2500.0) > 5, "the whisper is not the supervisor's tone"
        assert ratio(caller_heard, AGENT_FREQ, SUP_FREQ) > 5, "the caller hears the whisper"
        whisper_call.hangup()
        time.sleep(1.0)

        # Barge: the caller hears the supervisor too.
        status, body = server.api(
            "POST", "/api/supervisor/listen", {"agent_id": "1001", "mode": "barge"}, token=SUPERVISOR_TOKEN
        )
        assert status == 200, body
        wait_for(lambda: len(sup.audio) >= 3, 20, "the supervisor's phone to ring a third time and answer")
        barge_call = sup.incoming[-1]
        joined(caller_audio, SUP_FREQ, 2500.0, "the caller hearing the barging supervisor")
        t2 = time.monotonic()
        time.sleep(2.5)
        caller_heard = caller_audio.heard_since(t2)
        agent_heard = agent_audio.heard_since(t2)
        assert goertzel(caller_heard, SUP_FREQ) > 20 * max(goertzel(caller_before, SUP_FREQ), 1e-9), (
            "the caller does not hear the barging supervisor"
        )
        assert goertzel(agent_heard, SUP_FREQ) > 20 * max(goertzel(agent_before, SUP_FREQ), 1e-9), (
            "the agent does not hear the barging supervisor"
        )
        barge_call.hangup()
        call.hangup()

        status, body = server.api("GET", "/api/audit?limit=20")
        assert status == 200
        actions = [e["action"] for e in body["entries"]]
        assert {"call.listen", "call.whisper", "call.barge"} <= set(actions)
    finally:
        caller.stop()
        sup.stop()
        agent.stop()

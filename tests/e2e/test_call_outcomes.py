"""How calls end when things do not go to plan: every path leaves a correct record."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.calls import (
    agent_phone,
    call_in,
    caller_phone,
    ended_record,
    latest_record_where,
    queued_record,
    wait_agent,
)
from tests.sip import level

pytestmark = pytest.mark.asterisk


def test_caller_abandons_while_waiting(asterisk: Any, server_factory: Any) -> None:
    server = server_factory().start()
    caller = caller_phone(asterisk).start()
    try:
        call, heard = call_in(caller, asterisk, "2")
        queued_record(server)
        # On hold: the caller hears music, not silence, while nobody is available.
        t1 = time.monotonic()
        time.sleep(1.5)
        assert level(heard.heard_since(t1)) > 3, "a waiting caller hears silence"
        status, queues = server.api("GET", "/api/queues")
        assert status == 200
        sales = next(q for q in queues["queues"] if q["name"] == "sales")
        assert sales["waiting"] == 1 and sales["agents_available"] == 0
        call.hangup()
        record = ended_record(server)
        assert record["outcome"] == "abandoned" and record["ended_by"] == "caller"
        assert record["queue"] == "sales" and record["ivr_choice"] == "2"
        assert record["agent_id"] is None and record["answered_at"] is None
        assert record["wait_seconds"] >= 1.5
    finally:
        caller.stop()


def test_caller_hangs_up_in_the_menu(asterisk: Any, server_factory: Any) -> None:
    server = server_factory().start()
    caller = caller_phone(asterisk).start()
    try:
        call, _heard = call_in(caller, asterisk)
        call.hangup()
        record = ended_record(server)
        assert record["outcome"] == "ivr_hangup" and record["queue"] is None
        assert record["ended_by"] == "caller"
    finally:
        caller.stop()


def test_no_choice_ends_the_call(asterisk: Any, server_factory: Any) -> None:
    # Asterisk's 0.4 s beep for the menu's prompt: the 4.9 s greeting said twice adds nothing here.
    server = server_factory(acd={"menu_timeout": 1.5, "menu_attempts": 2, "menu_prompt": "beep"}).start()
    caller = caller_phone(asterisk).start()
    try:
        caller.dial(asterisk.settings.asterisk.inbound_number)
        record = ended_record(server, timeout=40)
        assert record["outcome"] == "ivr_no_input" and record["queue"] is None
        assert record["ended_by"] == "system"
    finally:
        caller.stop()


def test_ring_no_answer_pauses_agent_and_next_agent_gets_the_caller(
    asterisk: Any, server_factory: Any
) -> None:
    server = server_factory(acd={"ring_timeout": 3}).start()
    sleepy = agent_phone(asterisk, "1002", answer=False).start()
    caller = caller_phone(asterisk).start()
    awake = None
    try:
        wait_agent(server, "1002", "available")
        call, _heard = call_in(caller, asterisk, "1")
        paused = wait_agent(server, "1002", "paused", timeout=30)
        assert paused["reason"] == "ring no answer"
        assert sleepy.incoming, "the agent's phone never rang"
        record = latest_record_where(server, lambda r: r["offered_to"] is None, "the offer withdrawn")
        assert record["outcome"] is None
        awake = agent_phone(asterisk, "1003").start()
        wait_agent(server, "1003", "busy", timeout=30)
        call.hangup()
        record = ended_record(server)
        assert record["outcome"] == "answered" and record["agent_id"] == "1003"
        assert record["offer_attempts"] == 2
        # The paused agent stays paused until someone resumes it, and then it is available.
        status, body = server.api("POST", "/api/agents/1002/resume")
        assert status == 200 and body["state"] == "available"
    finally:
        caller.stop()
        sleepy.stop()
        if awake is not None:
            awake.stop()


def test_agent_hangs_up_first(asterisk: Any, server_factory: Any) -> None:
    server = server_factory().start()
    agent = agent_phone(asterisk, "1004").start()
    caller = caller_phone(asterisk).start()
    try:
        wait_agent(server, "1004", "available")
        _call, _heard = call_in(caller, asterisk, "1")
        wait_agent(server, "1004", "busy", timeout=30)
        time.sleep(1.0)
        agent.incoming[0].hangup()
        record = ended_record(server)
        assert record["outcome"] == "answered" and record["ended_by"] == "agent"
        assert record["agent_id"] == "1004"
        wait_agent(server, "1004", "available")
    finally:
        caller.stop()
        agent.stop()

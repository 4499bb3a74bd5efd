"""Skills-based routing over real calls: the engine picks the agent whose skills meet the queue's
requirement (not merely the longest idle), and widens the requirement when the overflow time comes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.calls import agent_phone, call_in, caller_phone, ended_record, queued_record, wait_agent
from tests.e2e.test_ivr_calls import empty_mailbox, leave_message
from tests.sip import ended_by_far_end

pytestmark = pytest.mark.asterisk

QUEUES = """\
queues:
  support:
    skills: {billing: 4}
    strategy: longest_idle
    overflow:
      - {after: 5, skills: {billing: 1}}
"""
MAX_WAIT = 2  # seconds in line before the queue's exit (the max-wait tests)
AGENTS = [
    {"id": "1001", "extension": "1001", "queues": ["support"], "skills": {"billing": 2}},
    {"id": "1002", "extension": "1002", "queues": ["support"], "skills": {"billing": 5}},
]


@pytest.fixture
def queues_file(tmp_path: Path) -> str:
    path = tmp_path / "queues.yaml"
    path.write_text(QUEUES)
    return str(path)


def test_the_skilled_agent_gets_the_call_not_the_longest_idle(
    asterisk: Any, server_factory: Any, queues_file: str
) -> None:
    server = server_factory(acd={"queues_file": queues_file}, agents=AGENTS).start()
    junior = agent_phone(asterisk, "1001").start()
    senior = None
    caller = caller_phone(asterisk).start()
    try:
        wait_agent(server, "1001", "available")  # idle longest
        senior = agent_phone(asterisk, "1002").start()
        wait_agent(server, "1002", "available")
        call, _heard = call_in(caller, asterisk, "1")
        wait_agent(server, "1002", "busy", timeout=30)
        _status, junior_now = server.api("GET", "/api/agents/1001")
        assert junior_now["state"] == "available" and not junior.incoming
        record = queued_record(server)
        assert record["offered_to"] is None and record["agent_id"] == "1002"
        assert "billing" in record["routing_reason"]
        call.hangup()
        assert ended_record(server)["outcome"] == "answered"
    finally:
        caller.stop()
        junior.stop()
        if senior is not None:
            senior.stop()


def test_overflow_widens_the_requirement_when_its_time_comes(
    asterisk: Any, server_factory: Any, queues_file: str
) -> None:
    server = server_factory(acd={"queues_file": queues_file}, agents=AGENTS[:1]).start()
    junior = agent_phone(asterisk, "1001").start()
    caller = caller_phone(asterisk).start()
    try:
        wait_agent(server, "1001", "available")
        call, _heard = call_in(caller, asterisk, "1")
        queued = queued_record(server)
        assert queued["offered_to"] is None  # level 2 < 4: nobody may take it yet
        wait_agent(server, "1001", "busy", timeout=30)  # after the 5 s overflow step
        call.hangup()
        record = ended_record(server)
        assert record["outcome"] == "answered" and record["agent_id"] == "1001"
        assert record["wait_seconds"] >= 5.0  # not offered before the overflow time
        assert "overflow" in record["routing_reason"]
    finally:
        caller.stop()
        junior.stop()


def test_callback_keeps_the_place_and_calls_the_customer_back(asterisk: Any, server_factory: Any) -> None:
    # Nobody is free: the caller presses * on hold, hears the confirmation and is hung up; when an
    # agent comes, the server rings the agent first, then calls the customer back.
    server = server_factory(agents=AGENTS[:1]).start()
    customer = caller_phone(asterisk, answer=True).start()
    agent = None
    try:
        _call, heard = call_in(customer, asterisk, "1")
        queued_record(server)
        customer.press(heard, "*")
        record = server.wait_until(
            lambda: (r := queued_record(server)) and r["callback_number"] and r, 20, "the callback request"
        )
        assert record["callback_number"] == asterisk.settings.asterisk.trunk_username
        assert record["outcome"] is None  # still in line, without a phone line
        agent = agent_phone(asterisk, "1001").start()
        # The agent answers, then the customer's phone rings and answers (auto-answer).
        server.wait_until(lambda: customer.incoming, 40, "the call back to the customer")
        wait_agent(server, "1001", "busy", timeout=20)
        agent.incoming[0].hangup()
        record = ended_record(server)
        assert record["outcome"] == "called_back" and record["agent_id"] == "1001"
        assert record["queued_at"] == queued_record(server)["queued_at"]
    finally:
        customer.stop()
        if agent is not None:
            agent.stop()


def test_agents_change_state_from_their_phone(asterisk: Any, server_factory: Any) -> None:
    server = server_factory(agents=AGENTS[:1]).start()
    phone = agent_phone(asterisk, "1001").start()
    try:
        wait_agent(server, "1001", "available")
        for code, state in (
            ("*23", "paused"),
            ("*24", "available"),
            ("*22", "logged_out"),
            ("*21", "available"),
        ):
            call, _heard = phone.dial(code)
            wait_agent(server, "1001", state)
            ended_by_far_end(call)
        _status, agent = server.api("GET", "/api/agents/1001")
        assert agent["registered"] is True
        # A move the state does not allow (pause while logged out) is refused and changes nothing.
        call, _heard = phone.dial("*22")
        wait_agent(server, "1001", "logged_out")
        ended_by_far_end(call)
        call, _heard = phone.dial("*23")
        server.wait_until(
            lambda: any(e.get("event") == "voice.feature_refused" for e in server.logs()), 15, "the refusal"
        )
        ended_by_far_end(call)
        assert server.api("GET", "/api/agents/1001")[1]["state"] == "logged_out"
    finally:
        phone.stop()


def test_announcements_then_an_agent_still_gets_the_caller(
    asterisk: Any, server_factory: Any, tmp_path: Path
) -> None:
    queues = tmp_path / "announce.yaml"
    queues.write_text("queues:\n  support:\n    announce_every: 10\n")
    server = server_factory(acd={"queues_file": str(queues)}, agents=AGENTS[:1]).start()
    caller = caller_phone(asterisk).start()
    agent = None
    try:
        call, _heard = call_in(caller, asterisk, "1")
        server.wait_until(
            lambda: [e for e in server.logs() if e.get("event") == "voice.announced"], 20, "an announcement"
        )
        # Asterisk really said it: position, then the estimated wait, back on hold afterwards.
        server.wait_until(lambda: "queue-minutes" in asterisk.read_log(), 20, "the announcement played")
        assert queued_record(server)["outcome"] is None
        agent = agent_phone(asterisk, "1001").start()
        wait_agent(server, "1001", "busy", timeout=30)
        call.hangup()
        assert ended_record(server)["outcome"] == "answered"
    finally:
        caller.stop()
        if agent is not None:
            agent.stop()


def test_max_wait_sends_the_caller_to_voicemail(asterisk: Any, server_factory: Any, tmp_path: Path) -> None:
    queues = tmp_path / "exit.yaml"
    queues.write_text(f"queues:\n  support:\n    max_wait: {MAX_WAIT}\n    exit: {{kind: voicemail}}\n")
    mailbox = asterisk.instance_dir / "spool" / "voicemail" / "default" / "100"
    inbox = mailbox / "INBOX"
    empty_mailbox(mailbox)
    server = server_factory(acd={"queues_file": str(queues)}, agents=AGENTS[:1]).start()
    caller = caller_phone(asterisk).start()
    try:
        call, _heard = call_in(caller, asterisk, "1")
        record = ended_record(server, timeout=30)
        assert record["outcome"] == "exited" and record["wait_seconds"] >= MAX_WAIT
        server.wait_until(
            lambda: [e for e in server.logs() if e.get("event") == "voice.queue_exit"], 10, "the redirect"
        )
        leave_message(mailbox)  # our prompt and the beep, then the caller's tone is the message
        call.hangup()
        server.wait_until(lambda: list(inbox.glob("msg*.wav")), 15, "the voicemail message")
    finally:
        caller.stop()


def test_max_wait_offers_a_callback_and_keeps_the_place(
    asterisk: Any, server_factory: Any, tmp_path: Path
) -> None:
    queues = tmp_path / "exit.yaml"
    queues.write_text(f"queues:\n  support:\n    max_wait: {MAX_WAIT}\n    exit: {{kind: callback}}\n")
    server = server_factory(acd={"queues_file": str(queues)}, agents=AGENTS[:1]).start()
    customer = caller_phone(asterisk, answer=True).start()
    agent = None
    try:
        _call, _heard = call_in(customer, asterisk, "1")
        record = server.wait_until(
            lambda: (r := queued_record(server)) and r["callback_number"] and r, 30, "the callback"
        )
        assert record["outcome"] is None
        server.wait_until(
            lambda: [e for e in server.logs() if e.get("event") == "voice.queue_exit"], 10, "the confirmation"
        )
        agent = agent_phone(asterisk, "1001").start()
        server.wait_until(lambda: customer.incoming, 40, "the call back to the customer")
        wait_agent(server, "1001", "busy", timeout=20)
        agent.incoming[0].hangup()
        assert ended_record(server)["outcome"] == "called_back"
    finally:
        customer.stop()
        if agent is not None:
            agent.stop()

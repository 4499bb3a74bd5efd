"""An agent added while the server runs, with real calls (docs/admin.md, "Adding and removing agents").

Agent 1001 is on a call with a pyVoIP caller when an admin adds agent 2001 (extension 2001, which
no configuration has: its endpoints come only from the server's pjsip_added_agents.inc). The
server writes the endpoints, Asterisk reloads res_pjsip, and:

- the call in progress goes on with audio both ways, and 1001's phone stays registered;
- a pyVoIP phone registers as 2001, the agent logs in by itself, a second caller goes through the
  menu, is offered to 2001 (1001 is busy) and talks with audio both ways;
- 2001's feature codes work (*23 pause, *24 resume), an account can be linked to it;
- removing 2001 on a call is refused (409, in words); taken out of the agents file by hand while
  on the call, it finishes the call first (its phone keeps its endpoint), then it is removed, its
  endpoints leave Asterisk, and its id is unknown again.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from callcenter.files import write_atomically
from tests.calls import (
    AGENT_FREQ,
    CALLER_FREQ,
    agent_phone,
    call_in,
    caller_phone,
    dominant,
    latest_record_where,
    wait_agent,
)
from tests.e2e.test_agent_day import add_user
from tests.sip import CallAudio, ended_by_far_end, level, wait_for

pytestmark = pytest.mark.asterisk

AGENTS = [{"id": "1001", "name": "Ana", "extension": "1001", "queues": ["support"]}]
NEW = {"id": "2001", "name": "Ann Added", "extension": "2001", "queues": ["support"]}


def talks(caller: CallAudio, agent: CallAudio, what: str) -> None:
    """Both sides hear each other's tone over the last two seconds."""
    time.sleep(2.5)
    since = time.monotonic() - 2.0
    caller_heard, agent_heard = caller.heard_since(since), agent.heard_since(since)
    assert level(caller_heard) > 3 and level(agent_heard) > 3, f"{what}: silence"
    assert dominant(caller_heard, CALLER_FREQ, AGENT_FREQ) > 5, f"{what}: the caller does not hear the agent"
    assert dominant(agent_heard, AGENT_FREQ, CALLER_FREQ) > 5, f"{what}: the agent does not hear the caller"


def contacts(asterisk: Any) -> str:
    return str(asterisk.cli("pjsip show contacts"))


def test_an_agent_added_at_runtime_registers_and_answers_while_a_call_goes_on(
    asterisk: Any, server_factory: Any, tmp_path: Path
) -> None:
    agents_file = tmp_path / "agents.yaml"
    config_dir = asterisk.instance_dir / "etc" / "asterisk"
    server = server_factory(
        agents=AGENTS,
        acd={"agents_file": str(agents_file)},
        asterisk={"config_dir": str(config_dir)},
    ).start()
    first = agent_phone(asterisk, "1001").start()
    caller = caller_phone(asterisk).start()
    added = None
    try:
        wait_agent(server, "1001", "available")
        call1, heard1 = call_in(caller, asterisk, "1")
        wait_for(lambda: first.incoming and first.audio, 20, "1001's phone to ring and answer")
        wait_agent(server, "1001", "busy")
        talks(heard1, next(iter(first.audio.values())), "before the reload")

        status, body = server.api("POST", "/api/admin/agents", NEW)
        assert status == 201, body
        assert body["asterisk"] == "reloaded"
        assert yaml.safe_load(agents_file.read_text())["agents"]["2001"]["extension"] == "2001"
        assert "2001" in asterisk.cli("pjsip show endpoints")
        _, agent = server.api("GET", "/api/agents/2001")
        assert agent["state"] == "logged_out" and agent["extension"] == "2001"

        # The reload kept the call in progress and 1001's registration.
        talks(heard1, next(iter(first.audio.values())), "after the reload")
        assert "1001/sip:" in contacts(asterisk)
        _, agent = server.api("GET", "/api/agents/1001")
        assert agent["state"] == "busy"

        added = agent_phone(asterisk, "2001").start()  # registering logs the new agent in
        wait_agent(server, "2001", "available")
        # Feature codes find the new agent by its phone; an account links to it.
        pause, _ = added.dial("*23")
        wait_agent(server, "2001", "paused")
        ended_by_far_end(pause)
        resume, _ = added.dial("*24")
        wait_agent(server, "2001", "available")
        ended_by_far_end(resume)
        add_user(server, "ann", "--role", "agent", "--agent-id", "2001")

        call2, heard2 = call_in(caller, asterisk, "1")
        wait_for(lambda: added.incoming, 20, "2001's phone to ring and answer")  # its audio: the last
        wait_agent(server, "2001", "busy")
        talks(heard2, list(added.audio.values())[-1], "the new agent's call")
        record = latest_record_where(server, lambda r: r["agent_id"] == "2001", "2001's call")
        assert record["queue"] == "support"

        status, body = server.api("DELETE", "/api/admin/agents/2001")
        assert status == 409 and "on a call" in body["error"], body
        # Taken out of the file by hand while on the call: the agent finishes it first, its phone
        # keeps its endpoint until then.
        write_atomically(agents_file, "agents: {}\n")
        server.wait_until(
            lambda: any(r.get("event") == "agent.removal_deferred" for r in server.logs()), 10, "deferred"
        )
        talks(heard2, list(added.audio.values())[-1], "the leaving agent's call")
        assert "2001" in asterisk.cli("pjsip show endpoints")
        call2.hangup()
        server.wait_until(lambda: server.api("GET", "/api/agents/2001")[0] == 404, 20, "2001 removed")
        gone = "Unable to find object 2001"
        server.wait_until(lambda: gone in asterisk.cli("pjsip show endpoint 2001"), 20, "no endpoint")
        talks(heard1, next(iter(first.audio.values())), "after the removal")
        call1.hangup()
        wait_agent(server, "1001", "available")  # the call survived until the caller hung up
    finally:
        caller.stop()
        first.stop()
        if added is not None:
            added.stop()
        (config_dir / "pjsip_added_agents.inc").unlink(missing_ok=True)
        asterisk.cli("module reload res_pjsip.so")

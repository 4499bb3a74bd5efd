"""Bad days: wrong AMI credentials, Asterisk down at start, Asterisk restarting mid-run, the server
killed while a caller waits, an agent whose extension Asterisk does not know.

These tests stop and start Asterisk, so they use their own sandbox instance ("resil", ports 254xx)
and leave the shared "test" instance alone.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from typing import Any

import pytest

from tests.calls import (
    agent_phone,
    call_in,
    caller_phone,
    ended_record,
    latest_interaction,
    queued_record,
    wait_agent,
)
from tests.conftest import ServerProcess, config_with, instance, port, settings_from

pytestmark = pytest.mark.asterisk

RESIL = {
    "asterisk": {
        "sandbox_instance": instance("resil"),
        "sip_port": port(25460),
        "ami_port": port(25438),
        "rtp_port_start": port(28200),
        "rtp_port_end": port(28399),
        "reconnect_max_delay": 1.0,
    },
    "agi": {"port": port(24673)},
    "http": {"port": port(28180)},
}


@pytest.fixture(scope="module")
def resil_instance() -> Iterator[Any]:
    from callcenter.asterisk.sandbox import AsteriskSandbox

    sandbox = AsteriskSandbox(settings_from(config_with(**RESIL)))
    yield sandbox
    sandbox.down()


@pytest.fixture
def resil(resil_instance: Any) -> Any:
    """The instance, stopped and without registrations at the start of every test: Asterisk keeps
    contacts in astdb across its restarts, and a phone an earlier test registered (and stopped)
    would be offered this test's callers until its registration expires."""
    resil_instance.down()
    resil_instance.forget_state()
    return resil_instance


def events(server: ServerProcess, name: str) -> list[dict[str, Any]]:
    return [e for e in server.logs() if e.get("event") == name]


def test_wrong_ami_credentials_keep_the_server_serving(resil: Any, server_factory: Any) -> None:
    resil.up()
    server = server_factory(
        **config_with(
            asterisk={**RESIL["asterisk"], "ami_secret": "wrong-secret"}, agi=RESIL["agi"], http=RESIL["http"]
        )
    )
    server.start(wait_asterisk=False)
    server.wait_until(lambda: events(server, "ami.login_refused"), 15, "the login refusal in the log")
    health = server.health()
    assert health is not None and health["asterisk"] is False and health["database"] is True
    assert health["status"] == "degraded"
    status, body = server.api("GET", "/api/agents")
    assert status == 200 and len(body["agents"]) == 10
    assert "wrong-secret" not in server.log_path.read_text()


def test_asterisk_down_at_start_then_restarted_mid_call(resil: Any, server_factory: Any) -> None:
    resil.down()
    server = server_factory(**config_with(**RESIL)).start(wait_asterisk=False)
    server.wait_until(lambda: events(server, "ami.unreachable"), 15, "the unreachable warning")
    assert server.health()["asterisk"] is False  # type: ignore[index]

    resil.up()
    server.wait_until(lambda: (server.health() or {}).get("asterisk"), 20, "AMI login after Asterisk came up")
    agent = agent_phone(resil, "1005", answer=False).start()
    caller = caller_phone(resil).start()
    try:
        wait_agent(server, "1005", "available")
        server.api("POST", "/api/agents/1005/pause", {"reason": "test"})
        _call, _heard = call_in(caller, resil, "1")
        queued_record(server)

        # Asterisk dies with the caller on hold, and comes back.
        logins_before = len(events(server, "ami.connected"))
        reconciles_before = len(events(server, "voice.reconciled"))
        resil.down()
        server.wait_until(lambda: events(server, "ami.connection_lost"), 15, "the lost connection")
        resil.up()
        server.wait_until(
            lambda: len(events(server, "ami.connected")) > logins_before, 30, "the AMI reconnect"
        )
        record = ended_record(server)
        assert record["outcome"] == "lost" and record["ended_by"] == "system"
        assert server.health()["asterisk"] is True  # type: ignore[index]
        # Asterisk keeps registrations across a restart (astdb): the reconciliation after the new
        # login (it runs after ami.connected is logged) found the agent's phone still registered,
        # and the agent still paused.
        reconciled = server.wait_until(
            lambda: events(server, "voice.reconciled")[reconciles_before:], 15, "the reconcile"
        )[-1]
        assert "1005" in reconciled["registered"]
        wait_agent(server, "1005", "paused")
        # And calls work again after the restart.
        helper = agent_phone(resil, "1008").start()
        try:
            wait_agent(server, "1008", "available")
            call_in(caller, resil, "1")
            wait_agent(server, "1008", "busy", timeout=30)
        finally:
            helper.stop()
    finally:
        caller.stop()
        agent.stop()


def test_server_killed_while_caller_waits_gets_the_caller_back(resil: Any, server_factory: Any) -> None:
    resil.up()
    server = server_factory(**config_with(**RESIL)).start()
    caller = caller_phone(resil).start()
    agent = None
    try:
        _call, _heard = call_in(caller, resil, "1")
        waiting = queued_record(server)
        server.stop(signal.SIGKILL)  # no goodbye, no flush beyond what was already written
        server.start()
        assert events(server, "service.restored"), "the restarted server did not restore the caller"
        agent = agent_phone(resil, "1006").start()
        wait_agent(server, "1006", "busy", timeout=30)
        record = latest_interaction(server)
        assert record is not None and record["id"] == waiting["id"]
        assert record["queued_at"] == waiting["queued_at"], "the caller lost its place in line"
        _call.hangup()
        record = ended_record(server)
        assert record["outcome"] == "answered" and record["agent_id"] == "1006"
        assert record["ended_by"] == "caller"
    finally:
        caller.stop()
        if agent is not None:
            agent.stop()


def test_unknown_agent_extension_is_reported(resil: Any, server_factory: Any) -> None:
    resil.up()
    agents = [
        {"id": "1007", "extension": "1007"},
        {"id": "ghost", "extension": "1099"},  # no such PJSIP endpoint in Asterisk
    ]
    server = server_factory(**config_with(**RESIL), agents=agents).start()
    found = server.wait_until(lambda: events(server, "agent.unknown_extension"), 15, "the warning")
    assert found[0]["agent"] == "ghost" and found[0]["extension"] == "1099"
    # Logging the ghost in is allowed but it never becomes reachable; calls still work for others.
    status, body = server.api("POST", "/api/agents/ghost/login")
    assert status == 200 and body["registered"] is False
    agent = agent_phone(resil, "1007").start()
    caller = caller_phone(resil).start()
    try:
        wait_agent(server, "1007", "available")
        _call, _heard = call_in(caller, resil, "1")
        wait_agent(server, "1007", "busy", timeout=30)
        status, ghost = server.api("GET", "/api/agents/ghost")
        assert ghost["state"] == "available" and ghost["interaction_id"] is None
    finally:
        caller.stop()
        agent.stop()

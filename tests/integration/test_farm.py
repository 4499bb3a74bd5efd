"""Several Asterisk servers behind Kamailio (issue 14): real callers, real SIP and RTP.

Two sandbox Asterisk instances (A, B) and Kamailio in front (tests/farm.py); callers are pyVoIP
phones that register and call through Kamailio only. The server runs the IVR over FastAGI for
both Asterisk servers. Kamailio's dispatcher spreads new calls over A and B; when A dies, its
OPTIONS pings take A out and every new call reaches B; when A is back, calls reach it again.
"""

from __future__ import annotations

import itertools
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.calls import (
    AGENT_FREQ,
    CALLER_FREQ,
    call_in,
    dominant,
    ended_record,
    queued_record,
    wait_agent,
)
from tests.conftest import ServerProcess, config_with, instance, port
from tests.farm import (
    A_AMI,
    A_RTP,
    A_SIP,
    AGI_PORT,
    HTTP_PORT,
    KAMAILIO_PORT,
    PHONE_RTP,
    PHONE_SIP,
    Farm,
    Kamailio,
    channels,
    sandbox_settings,
    servers,
)
from tests.sip import Phone, level, wait_for

pytestmark = pytest.mark.asterisk

_phones = itertools.count()


def farm_caller(farm: Farm, kamailio: Kamailio | None = None) -> Phone:
    """A customer's phone on the trunk, whose only server is Kamailio."""
    n = next(_phones) % 20  # SIP 24000-24019, RTP 24100-24299; the agents above
    s = farm.a.settings.asterisk
    phone = Phone(
        (kamailio or farm.kamailio).port,
        s.trunk_username,
        s.trunk_password.get_secret_value(),
        port(PHONE_SIP + n),
        port(PHONE_RTP + 10 * n),
        port(PHONE_RTP + 10 * n + 8),
        send_freq=CALLER_FREQ,
    )
    return phone


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Farm]:
    farm = Farm.for_slot(tmp_path_factory.mktemp("farm")).start()
    yield farm
    farm.stop()


@pytest.fixture
def ivr_server(farm: Farm, tmp_path: Path) -> Iterator[ServerProcess]:
    """The server on A's AMI only (one server, as before), serving FastAGI to both (the port both
    dialplans call)."""
    config = config_with(**sandbox_settings("farma", A_SIP, A_AMI, A_RTP, http={"port": port(HTTP_PORT)}))
    config["asterisk"].pop("servers")
    config["asterisk"].pop("server_name")
    config["database"] = {"url": f"sqlite+aiosqlite:///{tmp_path}/callcenter.db"}
    server = ServerProcess(config, tmp_path).start()
    yield server
    server.stop()


def call_once(farm: Farm, caller: Phone) -> str:
    """Dial the inbound number through Kamailio; return which server ("a" or "b") answered it,
    after checking that the caller hears the IVR's menu."""
    call, heard = caller.dial(farm.a.settings.asterisk.inbound_number, timeout=20)
    answered_at = time.monotonic()
    try:
        wait_for(lambda: level(heard.heard_since(answered_at)) > 3, 10, "the menu prompt")
        on_a = [c for c in channels(farm.a) if c.startswith("PJSIP/caller-")]
        on_b = [c for c in channels(farm.b) if c.startswith("PJSIP/caller-")]
        assert len(on_a) + len(on_b) == 1, f"the call should be on one server: A {on_a}, B {on_b}"
        return "a" if on_a else "b"
    finally:
        call.hangup()
        heard.stop()
        wait_for(
            lambda: not any(c.startswith("PJSIP/caller-") for c in channels(farm.a) + channels(farm.b)),
            10,
            "the call to end on both servers",
        )


def test_calls_reach_both_servers_and_avoid_a_dead_one(farm: Farm, ivr_server: Any) -> None:
    caller = farm_caller(farm).start()
    try:
        # Round robin: four calls in a row land twice on each server.
        landed = [call_once(farm, caller) for _ in range(4)]
        assert sorted(landed) == ["a", "a", "b", "b"], landed

        # A dies: its pings fail, Kamailio takes it out; every new call reaches B.
        mark = len(farm.kamailio.log())
        farm.a.down()
        down = farm.kamailio.wait_log(r"destination down: \S+ (\S+)", 15, after=mark)
        assert f":{farm.a.settings.asterisk.sip_port}" in down.group(1)
        landed = [call_once(farm, caller) for _ in range(3)]
        assert landed == ["b", "b", "b"], landed

        # A is back: an answered ping brings it back into the rotation.
        mark = len(farm.kamailio.log())
        farm.a.up(timeout=120)
        farm.kamailio.wait_log(r"destination up: \S+ (\S+)", 15, after=mark)
        landed = [call_once(farm, caller) for _ in range(2)]
        assert sorted(landed) == ["a", "b"], landed
    finally:
        caller.stop()


def test_a_call_sent_to_a_dead_server_before_any_ping_goes_to_the_next(
    farm: Farm, ivr_server: Any, tmp_path: Path
) -> None:
    """With pings off, Kamailio does not know A is down: the call it sends there gets no answer
    within FR_TIMER, and its failure route sends it to B, where it is answered."""
    quiet = Kamailio(
        tmp_path / "kamailio-quiet",
        farm.kamailio.servers,
        port=port(KAMAILIO_PORT + 1),
        defines={"PING_INTERVAL": "0"},
    ).start()
    farm.a.down()
    caller = farm_caller(farm, quiet)
    try:
        caller.start()
        landed = [call_once(farm, caller) for _ in range(2)]  # round robin: one of them tried A first
        assert landed == ["b", "b"], landed
        failed = quiet.wait_log(r"dispatcher: (\S+) failed for INVITE", 5)
        assert f":{farm.a.settings.asterisk.sip_port}" in failed.group(1)
    finally:
        caller.stop()
        quiet.stop()
        farm.a.up(timeout=120)


@pytest.fixture
def farm_server(farm: Farm, tmp_path: Path) -> Iterator[ServerProcess]:
    """The server driving both Asterisk servers (asterisk.servers), one AMI connection each."""
    config = config_with(
        asterisk={"servers": servers(), "server_lost_seconds": 3},
        agi={"port": port(AGI_PORT)},
        http={"port": port(HTTP_PORT)},
    )
    config["database"] = {"url": f"sqlite+aiosqlite:///{tmp_path}/callcenter.db"}
    server = ServerProcess(config, tmp_path).start()
    yield server
    server.stop()


def test_an_agent_on_one_server_answers_callers_arriving_on_either(
    farm: Farm, farm_server: ServerProcess
) -> None:
    """Agent 1001 registers on B. Two callers come in through Kamailio, one lands on A and one on
    B: the server sees both (one AMI connection each), runs their IVR, and rings 1001 on B, for
    the caller on A over the PJSIP trunk A -> B. Each call has audio both ways. Then A is killed
    (-9): the next call lands on B and is answered; A is started again: the server logs in to it
    again and callers landing on either are answered again."""
    for box in (farm.a, farm.b):
        if box.pid() is None:
            box.up(timeout=120)
    s = farm.b.settings.asterisk
    agent = Phone(
        s.sip_port,
        "1001",
        s.agent_password.get_secret_value(),
        port(PHONE_SIP + 40),
        port(PHONE_RTP + 250),
        port(PHONE_RTP + 258),
        answer=True,
        send_freq=AGENT_FREQ,
    ).start()
    caller = farm_caller(farm)
    caller.start()
    try:
        wait_agent(farm_server, "1001", "available")
        landed = [answered_call(farm, farm_server, caller, agent) for _ in range(2)]
        assert sorted(landed) == ["a", "b"], landed

        # A is killed: Kamailio takes it out, the server keeps driving B, new calls are answered.
        mark = len(farm.kamailio.log())
        a_pid = farm.a.pid()
        assert a_pid is not None
        os.kill(a_pid, signal.SIGKILL)
        farm.kamailio.wait_log(r"destination down: ", 15, after=mark)
        assert answered_call(farm, farm_server, caller, agent) == "b"
        assert (farm_server.health() or {}).get("asterisk"), "the server lost Asterisk with one of two up"

        # A is back: the server logs in to it again, and a caller landing there reaches 1001 on B.
        ami_a = f'"port": {farm.a.settings.asterisk.ami_port}'
        logins = sum(
            1
            for line in farm_server.log_path.read_text().splitlines()
            if '"ami.connected"' in line and ami_a in line
        )
        mark = len(farm.kamailio.log())
        farm.a.up(timeout=120)
        farm.kamailio.wait_log(r"destination up: ", 15, after=mark)
        farm_server.wait_until(
            lambda: (
                sum(
                    1
                    for line in farm_server.log_path.read_text().splitlines()
                    if '"ami.connected"' in line and ami_a in line
                )
                > logins
            ),
            20,
            "the server's AMI login to A again",
        )
        landed = [answered_call(farm, farm_server, caller, agent) for _ in range(2)]
        assert sorted(landed) == ["a", "b"], landed
    finally:
        caller.stop()
        agent.stop()


def answered_call(farm: Farm, server: ServerProcess, caller: Phone, agent: Phone) -> str:
    """One call through Kamailio, queued by the IVR, answered by agent 1001 with audio both ways,
    hung up by the caller; returns the server it landed on ("a" or "b")."""
    answered_calls = len(agent.audio)
    call, heard = caller.dial(farm.a.settings.asterisk.inbound_number, timeout=20)
    answered_at = time.monotonic()
    wait_for(lambda: level(heard.heard_since(answered_at)) > 3, 10, "the menu prompt")
    caller.press(heard, "1")
    wait_for(lambda: len(agent.audio) > answered_calls, 20, "the agent's phone to ring and answer")
    wait_agent(server, "1001", "busy")
    on_a = [c for c in channels(farm.a) if c.startswith("PJSIP/caller-")]
    on_b = [c for c in channels(farm.b) if c.startswith("PJSIP/caller-")]
    assert len(on_a) + len(on_b) == 1, (on_a, on_b)
    if on_a:  # the agent leg crossed the trunk: A rang peer-b, B rang the phone
        assert any(c.startswith(f"PJSIP/peer-{instance('farmb')}-") for c in channels(farm.a))
        assert any(c.startswith(f"PJSIP/peer-{instance('farma')}-") for c in channels(farm.b))
    agent_audio = list(agent.audio.values())[-1]
    time.sleep(2.5)  # talk
    since = time.monotonic() - 2.0
    caller_heard, agent_heard = heard.heard_since(since), agent_audio.heard_since(since)
    assert level(caller_heard) > 3 and level(agent_heard) > 3, "silence on a bridged call"
    assert dominant(caller_heard, CALLER_FREQ, AGENT_FREQ) > 5, "caller does not hear the agent"
    assert dominant(agent_heard, AGENT_FREQ, CALLER_FREQ) > 5, "agent does not hear the caller"
    call.hangup()
    heard.stop()
    record = ended_record(server)
    assert record["outcome"] == "answered" and record["agent_id"] == "1001", record
    wait_agent(server, "1001", "available")
    return "a" if on_a else "b"


def test_a_caller_waiting_on_a_killed_asterisk_is_ended_not_offered(
    farm: Farm, farm_server: ServerProcess
) -> None:
    """A caller waits in the queue on A (agent 1001, on B, paused); A is killed (-9). After
    asterisk.server_lost_seconds the server reconciles without A: the call ends, and 1001, back
    from the pause, is offered nothing."""
    for box in (farm.a, farm.b):
        if box.pid() is None:
            box.up(timeout=120)
    s = farm.b.settings.asterisk
    agent = Phone(
        s.sip_port,
        "1001",
        s.agent_password.get_secret_value(),
        port(PHONE_SIP + 41),
        port(PHONE_RTP + 270),
        port(PHONE_RTP + 278),
        answer=True,
        send_freq=AGENT_FREQ,
    ).start()
    caller = farm_caller(farm)
    caller.start()
    try:
        wait_agent(farm_server, "1001", "available")
        status, body = farm_server.api("POST", "/api/agents/1001/pause", {"reason": "break"})
        assert status == 200, body
        for _ in range(4):  # round robin: one of the first calls lands on A
            call, heard = call_in(caller, farm.b)  # the menu heard
            if any(c.startswith("PJSIP/caller-") for c in channels(farm.a)):
                break
            call.hangup()
            heard.stop()
            ended_record(farm_server)
        else:
            raise AssertionError("no call landed on A in four")
        caller.press(heard, "1")
        queued = queued_record(farm_server)
        assert queued["outcome"] is None

        a_pid = farm.a.pid()
        assert a_pid is not None
        os.kill(a_pid, signal.SIGKILL)
        ended = ended_record(farm_server, timeout=20)
        assert ended["id"] == queued["id"] and ended["outcome"] == "lost", ended
        assert '"voice.farm_server_lost"' in farm_server.log_path.read_text()

        status, body = farm_server.api("POST", "/api/agents/1001/resume")
        assert status == 200, body
        wait_agent(farm_server, "1001", "available")
        time.sleep(2)  # an offer for the gone caller would ring 1001 now
        assert agent.incoming == [], "the agent was offered a caller of the dead server"
    finally:
        caller.stop()
        agent.stop()
        farm.a.up(timeout=120)

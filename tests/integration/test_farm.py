"""Several Asterisk servers behind Kamailio (issue 14): real callers, real SIP and RTP.

Two sandbox Asterisk instances (A, B) and Kamailio in front (tests/farm.py); callers are pyVoIP
phones that register and call through Kamailio only. The server runs the IVR over FastAGI for
both Asterisk servers. Kamailio's dispatcher spreads new calls over A and B; when A dies, its
OPTIONS pings take A out and every new call reaches B; when A is back, calls reach it again.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerProcess, config_with, port
from tests.farm import A_AMI, A_RTP, A_SIP, HTTP_PORT, PHONE_RTP, PHONE_SIP, Farm, channels, sandbox_settings
from tests.sip import Phone, level, wait_for

pytestmark = pytest.mark.asterisk

_phones = itertools.count()


def farm_caller(farm: Farm) -> Phone:
    """A customer's phone on the trunk, whose only server is Kamailio."""
    n = next(_phones) % 30
    s = farm.a.settings.asterisk
    phone = Phone(
        farm.kamailio.port,
        s.trunk_username,
        s.trunk_password.get_secret_value(),
        port(PHONE_SIP + n),
        port(PHONE_RTP + 10 * n),
        port(PHONE_RTP + 10 * n + 8),
        send_freq=440.0,
    )
    return phone


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Farm]:
    farm = Farm.for_slot(tmp_path_factory.mktemp("farm")).start()
    yield farm
    farm.stop()


@pytest.fixture
def ivr_server(farm: Farm, tmp_path: Path) -> Iterator[ServerProcess]:
    """The server on A's AMI, serving FastAGI to both (the port both dialplans call)."""
    config = config_with(
        **sandbox_settings("farma", A_SIP, A_AMI, A_RTP, http={"port": port(HTTP_PORT)})
    )
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

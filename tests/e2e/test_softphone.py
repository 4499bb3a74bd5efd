"""The README's call with a real softphone: baresip, a second SIP user agent beside pyVoIP.

baresip sends its keys as RFC 4733 telephone events, as softphones, desk phones and carriers do by
default; pyVoIP sends audio tones. Both must get through the menu (the endpoints' ``dtmf_mode =
auto``: RFC 4733 when the phone offers telephone-event, tones otherwise), and agents' feature codes
must work from either.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.baresip import Baresip
from tests.calls import (
    AGENT_FREQ,
    CALLER_FREQ,
    agent_phone,
    call_in,
    caller_phone,
    dominant,
    ended_record,
    latest_record_where,
    wait_agent,
)
from tests.sip import wait_for

pytestmark = pytest.mark.asterisk


def _baresip(asterisk: Any, tmp_path: Path, user: str, password: str) -> Baresip:
    return Baresip(tmp_path / f"baresip-{user}", asterisk.settings.asterisk.sip_port, user, password)


def test_a_softphone_caller_presses_1_and_a_pyvoip_agent_answers(
    asterisk: Any, server_factory: Any, tmp_path: Path
) -> None:
    """The README's call: from the ``caller`` account dial 5000, press 1, agent 1001 rings."""
    ast = asterisk.settings.asterisk
    server = server_factory().start()
    agent = agent_phone(asterisk, "1001").start()
    caller = _baresip(asterisk, tmp_path, ast.trunk_username, ast.trunk_password.get_secret_value())
    caller.start()
    try:
        wait_agent(server, "1001", "available")
        caller.dial(ast.inbound_number)
        # The opening menu is Asterisk's own (cc-opening's Read(), listening from its first word):
        # the call reaches the server with the key.
        time.sleep(2.0)
        caller.press("1")
        record = latest_record_where(
            server, lambda r: r["queue"] == "support" or bool(r["outcome"]), "the menu's choice", timeout=15
        )
        assert record["ivr_choice"] == "1" and record["queue"] == "support", record
        wait_for(lambda: agent.incoming and agent.audio, 20, "the agent's phone to ring and answer")
        wait_agent(server, "1001", "busy")
        time.sleep(2.5)  # talk
        heard = next(iter(agent.audio.values())).heard_since(time.monotonic() - 2.0)
        assert dominant(heard, AGENT_FREQ, CALLER_FREQ) > 5, "the agent does not hear the softphone"
        caller.hangup()
        record = ended_record(server)
        assert record["outcome"] == "answered" and record["ended_by"] == "caller", record
        assert record["agent_id"] == "1001" and record["caller_number"] == ast.trunk_username
    finally:
        caller.stop()
        agent.stop()


def test_pyvoip_tones_still_reach_the_menu_beside_a_softphone(asterisk: Any, server_factory: Any) -> None:
    """The test phones' in-band tones on the same ``caller`` account (and endpoint settings)."""
    server = server_factory().start()
    caller = caller_phone(asterisk).start()
    try:
        call, _heard = call_in(caller, asterisk, "2")
        record = latest_record_where(
            server, lambda r: r["queue"] == "sales" or bool(r["outcome"]), "the menu's choice", timeout=15
        )
        assert record["ivr_choice"] == "2" and record["queue"] == "sales", record
        call.hangup()
    finally:
        caller.stop()


def test_agent_feature_codes_from_a_softphone(asterisk: Any, server_factory: Any, tmp_path: Path) -> None:
    server = server_factory().start()
    phone = _baresip(asterisk, tmp_path, "1002", asterisk.settings.asterisk.agent_password.get_secret_value())
    phone.start()
    try:
        wait_agent(server, "1002", "available")  # registering logs the agent in
        codes = (("*23", "paused"), ("*24", "available"), ("*22", "logged_out"), ("*21", "available"))
        for code, state in codes:
            phone.dial(code)
            wait_agent(server, "1002", state)
            phone.hangup()
    finally:
        phone.stop()


def test_a_softphone_caller_asks_for_a_callback_with_star(
    asterisk: Any, server_factory: Any, tmp_path: Path
) -> None:
    """Issue 13 #11: callers wait in a holding bridge (BridgeWait), where the dialplan hears no key;
    the RFC 4733 ``*`` reaches the server over AMI (DTMFEnd), which confirms and hangs up. (The
    pyVoIP test phones' in-band ``*``: tests/e2e/test_acd_calls.py.)"""
    ast = asterisk.settings.asterisk
    server = server_factory().start()  # no agent phone registered: nobody takes the call
    caller = _baresip(asterisk, tmp_path, ast.trunk_username, ast.trunk_password.get_secret_value())
    caller.start()
    try:
        caller.dial(ast.inbound_number)
        time.sleep(2.0)
        caller.press("1")
        record = latest_record_where(
            server, lambda r: r["queue"] == "support" or bool(r["outcome"]), "the menu's choice", timeout=15
        )
        assert record["queue"] == "support" and record["outcome"] is None, record
        time.sleep(1.0)  # in cc-wait's holding bridge, music on hold
        caller.press("*")
        record = latest_record_where(
            server, lambda r: bool(r["callback_number"]), "the callback request", timeout=15
        )
        assert record["callback_number"] == ast.trunk_username and record["outcome"] is None, record
        # The confirmation is played, then Asterisk hangs the caller up (cc-exit,callback).
        caller.wait(lambda: caller.event("CALL_CLOSED", since=0), 20, "the hang-up after the confirmation")
        _status, queues = server.api("GET", "/api/queues")
        support = next(q for q in queues["queues"] if q["name"] == "support")
        assert support["waiting"] == 1  # the place in line is kept for the callback
    finally:
        caller.stop()

"""The caller's first seconds do not depend on the server (issue 13 #10): the dialplan plays the
opening menu itself and keeps the key pressed during it, so a caller who presses while the server
is not answering at all (its process stopped with SIGSTOP: a real stall, as under CPU starvation)
still reaches the agent once the server runs again, and hears the menu meanwhile.

Before the opening menu, Asterisk waited on the FastAGI session for the first prompt (silence) and
dropped the keys pressed before the server's GET DATA listened: this test then ended ivr_no_input.
"""

from __future__ import annotations

import signal
import time
from typing import Any

import pytest

from tests.calls import agent_phone, caller_phone, ended_record, wait_agent
from tests.sip import level, wait_for

pytestmark = pytest.mark.asterisk


def test_a_key_pressed_while_the_server_is_stalled_reaches_the_agent(
    asterisk: Any, server_factory: Any
) -> None:
    server = server_factory().start()
    agent = agent_phone(asterisk, "1001").start()
    caller = caller_phone(asterisk).start()
    assert server.proc is not None
    stopped = False
    try:
        wait_agent(server, "1001", "available")
        server.proc.send_signal(signal.SIGSTOP)
        stopped = True
        call, heard = caller.dial(asterisk.settings.asterisk.inbound_number)
        answered_at = time.monotonic()
        # The menu plays while the server cannot say a word...
        wait_for(lambda: level(heard.heard_since(answered_at)) > 3, 10, "the menu prompt")
        caller.press(heard, "1")
        time.sleep(2.0)  # ...and the key is pressed and done well before the server wakes up
        server.proc.send_signal(signal.SIGCONT)
        stopped = False
        wait_for(lambda: agent.incoming and agent.audio, 20, "the agent's phone to ring and answer")
        wait_agent(server, "1001", "busy")
        call.hangup()
        record = ended_record(server)
        assert record["ivr_choice"] == "1" and record["queue"] == "support"
        assert record["outcome"] == "answered" and record["agent_id"] == "1001"
        log = server.log_path.read_text()
        assert '"voice.ivr_opening"' in log and '"pressed": true' in log
    finally:
        if stopped:
            server.proc.send_signal(signal.SIGCONT)
        caller.stop()
        agent.stop()


def test_silence_in_the_opening_menu_then_a_key_in_the_servers_retry(
    asterisk: Any, server_factory: Any
) -> None:
    """No key during the dialplan's menu: that was the first attempt; the server asks once more
    (not the greeting twice over) and takes the key there."""
    # Asterisk's 0.4 s beep for the menu's prompt (heard both times), not the 4.9 s greeting.
    server = server_factory(acd={"menu_timeout": 2.0, "menu_attempts": 2, "menu_prompt": "beep"}).start()
    agent = agent_phone(asterisk, "1001").start()
    caller = caller_phone(asterisk).start()
    try:
        wait_agent(server, "1001", "available")
        call, heard = caller.dial(asterisk.settings.asterisk.inbound_number)
        answered_at = time.monotonic()
        wait_for(lambda: level(heard.heard_since(answered_at)) > 3, 10, "the menu prompt")
        # The menu said, the dialplan's wait for a key over: the server asks the second time.
        log = server.log_path
        wait_for(lambda: '"pressed": false' in log.read_text(), 20, "the opening menu without a key")
        asked_again = time.monotonic()
        wait_for(lambda: level(heard.heard_since(asked_again)) > 3, 10, "the menu asked again")
        caller.press(heard, "1")
        wait_for(lambda: agent.incoming and agent.audio, 20, "the agent's phone to ring and answer")
        wait_agent(server, "1001", "busy")  # the server has seen the bridge: the call is answered
        call.hangup()
        record = ended_record(server)
        assert record["ivr_choice"] == "1" and record["outcome"] == "answered"
    finally:
        caller.stop()
        agent.stop()

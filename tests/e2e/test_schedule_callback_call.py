"""A real caller asks to be called back at a time they pick: the flow's closed menu offers it (key
2), its ``schedule_callback`` step offers times (key 1: tomorrow at 09:30), both keys in-band from
a pyVoIP phone through the sandbox Asterisk; the callback lands in the queue's callbacks campaign
with the number and the time asked, and the caller hears the confirmation.

The prompts are Asterisk's own sounds, of a few seconds each (no speech to render: the server
starts at once; a sound shorter than the phone's start of audio would go unheard). The
sandbox trunk presents the caller as ``caller``, not a phone number, so the flow names the number
to call back itself (``{caller}`` is covered by the flow tests).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.calls import call_in, caller_phone
from tests.sip import level, wait_for

pytestmark = pytest.mark.asterisk

NUMBER = "+12125550123"  # New York
FLOW = f"""\
flow: e2e_callback
language: en
start: closed
nodes:
  closed:
    type: menu
    prompt: {{file: vm-tocallback}}
    choices: {{"2": pick_time}}
    timeout: 4
    attempts: 1
    no_input: goodbye
  pick_time:
    type: schedule_callback
    queue: support
    number: "{NUMBER}"
    prompt: {{file: if-correct-press}}
    choices:
      "1": {{day: tomorrow, at: "09:30"}}
    timeout: 4
    attempts: 1
    no_input: goodbye
    next: scheduled
    refused: goodbye
  scheduled:
    type: hangup
    prompt: {{file: demo-thanks}}
  goodbye:
    type: hangup
"""
CAMPAIGNS = """\
campaigns:
  support-callbacks:
    mode: progressive
    queue: support
    callbacks: true
    windows: [{days: [mon, tue, wed, thu, fri, sat, sun], from: "00:00", to: "24:00"}]
"""


def test_a_caller_schedules_a_callback_with_keys(asterisk: Any, server_factory: Any, tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "e2e_callback.yaml").write_text(FLOW)
    ivr = {
        "flows_dir": str(flows),
        "entry_flow": "e2e_callback",
        "sound_dirs": [str(asterisk.host_path("/usr/share/asterisk/sounds/en_US_f_Allison"))],
    }
    server = server_factory(ivr=ivr).start()
    caller = caller_phone(asterisk).start()
    try:
        assert server.api("POST", "/api/campaigns", {"yaml": CAMPAIGNS})[0] == 200  # a draft: never dialled
        ny = ZoneInfo("America/New_York")
        days = {(datetime.now(ny) + timedelta(days=1)).date().isoformat()}
        call, heard = call_in(caller, asterisk, "2")  # the closed menu heard: 2, a callback
        pressed = time.monotonic() + 0.4  # the key's tone sent
        wait_for(lambda: level(heard.heard_since(pressed)) > 3, 10, "the times offered")
        caller.press(heard, "1")  # tomorrow at 09:30

        def filed() -> dict[str, Any] | None:
            status, body = server.api("GET", "/api/callbacks")
            assert status == 200, body
            return body["callbacks"][0] if body["callbacks"] else None

        callback = server.wait_until(filed, 10, "the callback filed")
        seen = time.monotonic()
        days.add((datetime.now(ny) + timedelta(days=1)).date().isoformat())  # across midnight
        assert (callback["campaign"], callback["number"], callback["source"]) == (
            "support-callbacks",
            NUMBER,
            "ivr",
        )
        assert callback["timezone"] == "America/New_York" and callback["attempts"] == 0
        assert callback["local"][:16] in {f"{day}T09:30" for day in days}, callback
        # The confirmation (5.5 s long) plays once the callback is filed.
        wait_for(lambda: level(heard.heard_since(seen)) > 3, 5, "the confirmation")
        call.hangup()
    finally:
        caller.stop()

"""Leftover channels are hung up (issue 13 #11): Asterisk has been seen to leave a
``Surrogate/PJSIP/caller-...`` channel in ``cc-wait`` after taking a caller off hold, with no call
attached, until it restarts. Such a leftover is made here for real — a channel parked in ``cc-wait``
that no call of ours owns (``channel originate`` from Asterisk's CLI) — beside a real caller the
server put in line, which must stay. The reconcile at connect and the periodic sweep hang it up,
log it and count it in ``callcenter_asterisk_leftovers_hung_up_total``.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import pytest

from callcenter.asterisk.ami import AmiClient
from callcenter.asterisk.asterisk_port import Dialplan, OriginateRequest
from tests.calls import call_in, caller_phone, queued_record
from tests.sip import wait_for

pytestmark = pytest.mark.asterisk


def parked(sandbox: Any) -> list[str]:
    """The Local channels parked in cc-wait (the leftovers this test made)."""
    out = sandbox.cli("core show channels concise")
    return [
        line.split("!")[0] for line in out.splitlines() if line.startswith("Local/") and "!cc-wait!" in line
    ]


async def _originate(sandbox: Any) -> None:
    ami = AmiClient(sandbox.settings.asterisk)
    await ami.start()
    try:
        assert await ami.wait_connected(20), "no AMI login"
        await ami.originate(
            OriginateRequest("Local/s@cc-conference/n", Dialplan("cc-wait"), ring_timeout=5, wait=False)
        )
    finally:
        await ami.stop()


def park(sandbox: Any) -> str:
    """A channel in cc-wait with no interaction: one half of a Local channel (AMI Originate); the
    other half sits alone in a conference bridge (a channel in a bridge is never a leftover)."""
    before = set(parked(sandbox))
    asyncio.run(_originate(sandbox))
    wait_for(lambda: set(parked(sandbox)) - before, 10, "the parked channel")
    (channel,) = set(parked(sandbox)) - before
    return channel


def hung_up_count(server: Any) -> float:
    status, text = server.api("GET", "/metrics")
    assert status == 200
    found = re.search(r'callcenter_asterisk_leftovers_hung_up_total\{kind="unowned"\} ([0-9.]+)', text)
    return float(found.group(1)) if found else 0.0


def caller_channel(sandbox: Any) -> list[str]:
    out = sandbox.cli("core show channels concise")
    return [line.split("!")[0] for line in out.splitlines() if line.startswith("PJSIP/caller-")]


def test_the_sweep_hangs_up_a_channel_left_in_cc_wait_and_keeps_the_waiting_caller(
    asterisk: Any, server_factory: Any
) -> None:
    server = server_factory(asterisk={"leftover_seconds": 2, "leftover_sweep_seconds": 0.5}).start()
    caller = caller_phone(asterisk).start()
    try:
        call_in(caller, asterisk, "2")  # no agent: the caller waits in cc-wait, a call of ours
        queued_record(server)
        (waiting,) = caller_channel(asterisk)
        leftover = park(asterisk)
        wait_for(lambda: leftover not in parked(asterisk), 20, "the leftover hung up")
        assert hung_up_count(server) == 1.0
        entries = [e for e in server.logs() if e.get("event") == "voice.leftover_hung_up"]
        assert [(e["channel"], e["kind"], e["context"]) for e in entries] == [
            (leftover, "unowned", "cc-wait")
        ]
        assert entries[0]["seconds"] >= 2
        # The caller of ours, waiting longer than the threshold too, is still there and in line.
        time.sleep(1.0)
        assert caller_channel(asterisk) == [waiting]
        status, queues = server.api("GET", "/api/queues")
        assert status == 200 and next(q for q in queues["queues"] if q["name"] == "sales")["waiting"] == 1
    finally:
        caller.stop()


def test_the_reconcile_at_start_hangs_up_a_leftover_made_while_the_server_was_down(
    asterisk: Any, server_factory: Any
) -> None:
    leftover = park(asterisk)
    try:
        time.sleep(2.5)  # older than the threshold before the server even starts
        server = server_factory(asterisk={"leftover_seconds": 2, "leftover_sweep_seconds": 0}).start()
        wait_for(lambda: leftover not in parked(asterisk), 20, "the leftover hung up at reconcile")
        assert hung_up_count(server) == 1.0
    finally:
        for channel in parked(asterisk):
            asterisk.cli(f"channel request hangup {channel}")

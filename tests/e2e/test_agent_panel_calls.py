"""Call controls from the agent panel against the real Asterisk: the panel's Socket.IO actions (a
real python-socketio client signed in with the agent's token, as the page does with its cookie),
real SIP phones, real RTP audio. Every action ends with a correct record."""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any

import pytest
import socketio

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
from tests.conftest import AGENT_TOKEN, ServerProcess
from tests.sip import CallAudio, goertzel, level, wait_for

pytestmark = pytest.mark.asterisk


def panel(server: ServerProcess, event: str, data: dict[str, Any], token: str = AGENT_TOKEN) -> Any:
    """One action from the agent's panel: connect to /agent, emit, return the acknowledgement."""

    async def run() -> Any:
        sio = socketio.AsyncClient(reconnection=False)
        await sio.connect(
            server.url,
            namespaces=["/agent"],
            auth={"token": token},
            transports=["websocket"],
            wait_timeout=10,
        )
        try:
            return await sio.call(event, data, namespace="/agent", timeout=15)
        finally:
            await sio.disconnect()

    return asyncio.run(run())


def talking_to(server: ServerProcess, agent_id: str) -> dict[str, Any]:
    wait_agent(server, agent_id, "busy", timeout=30)
    return latest_record_where(server, lambda r: r["agent_id"] == agent_id, f"{agent_id} in the record")


def hears(audio: CallAudio, mine: float, theirs: float, what: str, timeout: float = 10) -> None:
    """Within ``timeout``, the last second of ``audio`` is dominated by the other side's tone."""
    wait_for(lambda: dominant(audio.heard_since(time.monotonic() - 1.0), mine, theirs) > 5, timeout, what)


def keeps_hearing(audio: CallAudio, mine: float, theirs: float, what: str, seconds: int = 4) -> None:
    """Each of the next ``seconds`` seconds of ``audio`` is dominated by the other side's tone: no
    silence when Asterisk moves the bridged call to native RTP forwarding (about 2 s after a
    bridge forms; the phone then gets the other phone's packets, with their timestamps)."""
    for k in range(seconds):
        time.sleep(1.0)
        last = audio.heard_since(time.monotonic() - 1.0)
        assert dominant(last, mine, theirs) > 5, f"{what}: second {k + 1} of {seconds} was not them"


def on_hold(heard: CallAudio) -> None:
    """Within 10 s, the caller's last second is music on hold: sound, and not the agent's tone."""

    def music() -> bool:
        last = heard.heard_since(time.monotonic() - 1.0)
        return level(last) > 3 and dominant(last, CALLER_FREQ, AGENT_FREQ) < 2

    wait_for(music, 10, "music on hold for the caller")


def events_of(server: ServerProcess, interaction_id: str) -> list[str]:
    status, body = server.api("GET", f"/api/interactions/{interaction_id}")
    assert status == 200, body
    return [e["kind"] for e in body["events"]]


def test_hang_up_from_the_panel(asterisk: Any, server_factory: Any) -> None:
    server = server_factory().start()
    agent = agent_phone(asterisk, "1001").start()
    caller = caller_phone(asterisk).start()
    try:
        wait_agent(server, "1001", "available")
        call_in(caller, asterisk, "1")
        record = talking_to(server, "1001")
        time.sleep(1.0)
        ack = panel(server, "call_hangup", {"interaction_id": record["id"]})
        assert ack == {"ok": True}, ack
        record = ended_record(server)
        assert record["outcome"] == "answered" and record["ended_by"] == "agent"
        assert record["agent_id"] == "1001" and record["talk_seconds"] > 0
        wait_agent(server, "1001", "available")
    finally:
        caller.stop()
        agent.stop()


def test_hold_plays_music_to_the_caller_and_resume_brings_the_agent_back(
    asterisk: Any, server_factory: Any
) -> None:
    server = server_factory().start()
    agent = agent_phone(asterisk, "1001").start()
    caller = caller_phone(asterisk).start()
    try:
        wait_agent(server, "1001", "available")
        call, heard = call_in(caller, asterisk, "1")
        record = talking_to(server, "1001")
        iid = record["id"]
        wait_for(lambda: agent.audio, 10, "the agent's audio")
        hears(heard, CALLER_FREQ, AGENT_FREQ, "the caller hearing the agent")

        ack = panel(server, "call_hold", {"interaction_id": iid, "held": True})
        assert ack == {"ok": True, "held": True}, ack
        assert panel(server, "call_hold", {"interaction_id": iid, "held": True})["error"]
        on_hold(heard)

        ack = panel(server, "call_hold", {"interaction_id": iid, "held": False})
        assert ack == {"ok": True, "held": False}, ack
        hears(heard, CALLER_FREQ, AGENT_FREQ, "the caller hearing the agent after resume")
        hears(
            next(iter(agent.audio.values())),
            AGENT_FREQ,
            CALLER_FREQ,
            "the agent hearing the caller after resume",
        )
        wait_agent(server, "1001", "busy")

        call.hangup()
        record = ended_record(server)
        assert record["outcome"] == "answered" and record["ended_by"] == "caller"
        kinds = events_of(server, iid)
        assert kinds.index("held") < kinds.index("resumed") < kinds.index("ended")
    finally:
        caller.stop()
        agent.stop()


def test_a_call_on_hold_survives_a_server_restart_and_the_panel_still_controls_it(
    asterisk: Any, server_factory: Any
) -> None:
    """The server dies while the agent has the caller on hold. Asterisk keeps both (music for the
    caller); the restarted server finds the agent's leg and the hold in Asterisk, so the agent
    resumes and hangs up from the panel, and the record says the agent ended it."""
    server = server_factory().start()
    agent = agent_phone(asterisk, "1001").start()
    caller = caller_phone(asterisk).start()
    try:
        wait_agent(server, "1001", "available")
        _call, heard = call_in(caller, asterisk, "1")
        iid = talking_to(server, "1001")["id"]
        wait_for(lambda: agent.audio, 10, "the agent's audio")
        assert panel(server, "call_hold", {"interaction_id": iid, "held": True}) == {"ok": True, "held": True}
        on_hold(heard)

        server.stop(signal.SIGKILL)
        server.start()
        on_hold(heard)  # still on hold: nothing of the call depended on the server process
        wait_agent(server, "1001", "busy")
        synced = panel(server, "panel_sync", {})
        assert synced["call"]["interaction_id"] == iid and synced["call"]["phase"] == "held", synced
        ack = panel(server, "call_hold", {"interaction_id": iid, "held": False})
        assert ack == {"ok": True, "held": False}, ack
        hears(heard, CALLER_FREQ, AGENT_FREQ, "the caller hearing the agent after the restart")
        assert panel(server, "call_hangup", {"interaction_id": iid}) == {"ok": True}
        record = ended_record(server)
        assert record["id"] == iid and record["outcome"] == "answered" and record["ended_by"] == "agent"
        kinds = events_of(server, iid)
        assert kinds.index("held") < kinds.index("resumed") < kinds.index("ended")
    finally:
        caller.stop()
        agent.stop()


def test_blind_transfer_to_another_agent(asterisk: Any, server_factory: Any) -> None:
    server = server_factory(acd={"wrap_up_seconds": 30}).start()
    first = agent_phone(asterisk, "1001").start()
    caller = caller_phone(asterisk).start()
    second = None
    try:
        wait_agent(server, "1001", "available")
        call, heard = call_in(caller, asterisk, "1")
        iid = talking_to(server, "1001")["id"]
        # The second agent signs in only now, so the first one took the call.
        second = agent_phone(asterisk, "1002").start()
        wait_agent(server, "1002", "available")
        time.sleep(1.0)

        ack = panel(server, "call_transfer", {"interaction_id": iid, "to_agent": "1002"})
        assert ack == {"ok": True}, ack
        wait_for(lambda: second.incoming and second.audio, 20, "the second agent's phone to ring and answer")
        wait_agent(server, "1002", "busy", timeout=20)
        wait_agent(server, "1001", "wrap_up")
        hears(
            next(iter(second.audio.values())), AGENT_FREQ, CALLER_FREQ, "the second agent hearing the caller"
        )
        hears(heard, CALLER_FREQ, AGENT_FREQ, "the caller hearing the second agent")
        keeps_hearing(heard, CALLER_FREQ, AGENT_FREQ, "the caller hearing the second agent")

        # The first agent wraps the call up while the second talks.
        ack = panel(
            server, "wrap_up", {"interaction_id": iid, "disposition": "escalated", "notes": "to billing"}
        )
        assert ack["ok"] and ack["me"]["state"] == "available", ack

        call.hangup()
        record = ended_record(server)
        assert record["outcome"] == "answered" and record["ended_by"] == "caller"
        assert record["agent_id"] == "1002" and record["transferred_to"] == "agent:1002"
        assert record["disposition"] == "escalated" and record["notes"] == "to billing"
        kinds = events_of(server, iid)
        assert "transferred" in kinds and "wrap_up" in kinds
    finally:
        caller.stop()
        first.stop()
        if second is not None:
            second.stop()


def test_attended_transfer_consult_cancel_then_complete(asterisk: Any, server_factory: Any) -> None:
    server = server_factory().start()
    first = agent_phone(asterisk, "1001").start()
    caller = caller_phone(asterisk).start()
    second = None
    try:
        wait_agent(server, "1001", "available")
        call, heard = call_in(caller, asterisk, "1")
        iid = talking_to(server, "1001")["id"]
        second = agent_phone(asterisk, "1002").start()
        wait_agent(server, "1002", "available")
        first_audio = next(iter(first.audio.values()))

        # Consult: the caller hears music, the two agents talk (both send the agent tone, so the
        # first agent hears sound again once the second answered).
        ack = panel(server, "call_consult", {"interaction_id": iid, "to_agent": "1002"})
        assert ack == {"ok": True}, ack
        wait_for(
            lambda: second.incoming and second.audio, 20, "the consulted agent's phone to ring and answer"
        )
        wait_agent(server, "1002", "offered")
        on_hold(heard)
        second_audio = next(iter(second.audio.values()))
        wait_for(lambda: level(second_audio.heard_since(time.monotonic() - 1.0)) > 3, 10, "agents talking")

        # Cancel: back to the caller; the consulted agent is free again.
        ack = panel(server, "call_consult_end", {"interaction_id": iid, "complete": False})
        assert ack == {"ok": True}, ack
        wait_agent(server, "1002", "available")
        hears(first_audio, AGENT_FREQ, CALLER_FREQ, "the first agent hearing the caller again")

        # Consult again, then complete: the second agent talks to the caller.
        n = len(second.incoming)
        assert panel(server, "call_consult", {"interaction_id": iid, "to_agent": "1002"}) == {"ok": True}
        wait_for(lambda: len(second.incoming) > n and len(second.audio) > n, 20, "the second consult")
        time.sleep(1.0)
        ack = panel(server, "call_consult_end", {"interaction_id": iid, "complete": True})
        assert ack == {"ok": True}, ack
        wait_agent(server, "1002", "busy")
        second_audio = list(second.audio.values())[-1]
        hears(second_audio, AGENT_FREQ, CALLER_FREQ, "the second agent hearing the caller")
        hears(heard, CALLER_FREQ, AGENT_FREQ, "the caller hearing the second agent")
        keeps_hearing(heard, CALLER_FREQ, AGENT_FREQ, "the caller hearing the second agent")

        call.hangup()
        record = ended_record(server)
        assert record["outcome"] == "answered" and record["ended_by"] == "caller"
        assert record["agent_id"] == "1002" and record["transferred_to"] == "agent:1002"
        kinds = events_of(server, iid)
        assert kinds.count("consult_started") == 2 and "consult_cancelled" in kinds and "transferred" in kinds
    finally:
        caller.stop()
        first.stop()
        if second is not None:
            second.stop()


def test_conference_of_three_then_drop_the_third(asterisk: Any, server_factory: Any) -> None:
    server = server_factory().start()
    first = agent_phone(asterisk, "1001").start()
    caller = caller_phone(asterisk).start()
    second = None
    try:
        wait_agent(server, "1001", "available")
        call, heard = call_in(caller, asterisk, "1")
        iid = talking_to(server, "1001")["id"]
        second = agent_phone(asterisk, "1002").start()
        wait_agent(server, "1002", "available")
        first_audio = next(iter(first.audio.values()))

        ack = panel(server, "call_conference", {"interaction_id": iid, "to_agent": "1002"})
        assert ack == {"ok": True}, ack
        wait_for(lambda: second.incoming and second.audio, 20, "the invited agent's phone to ring and answer")
        wait_agent(server, "1002", "busy")
        second_audio = next(iter(second.audio.values()))

        # Three parties: the invited agent hears the caller's tone (beside the other agent's); the
        # caller hears the agents; the first agent still hears the caller.
        def present(audio: CallAudio, freq: float) -> bool:
            last = audio.heard_since(time.monotonic() - 1.0)
            return goertzel(last, freq) > 5 * max(goertzel(last, 1700.0), 1e-9)

        wait_for(lambda: present(second_audio, CALLER_FREQ), 10, "the invited agent hearing the caller")
        wait_for(lambda: present(first_audio, CALLER_FREQ), 10, "the first agent hearing the caller")
        hears(heard, CALLER_FREQ, AGENT_FREQ, "the caller hearing the agents")

        ack = panel(server, "call_conference_end", {"interaction_id": iid})
        assert ack == {"ok": True}, ack
        wait_agent(server, "1002", "available")
        hears(heard, CALLER_FREQ, AGENT_FREQ, "the caller hearing the first agent")
        hears(first_audio, AGENT_FREQ, CALLER_FREQ, "the first agent hearing the caller")

        call.hangup()
        record = ended_record(server)
        assert record["outcome"] == "answered" and record["ended_by"] == "caller"
        assert record["agent_id"] == "1001" and record["transferred_to"] is None
        kinds = events_of(server, iid)
        assert (
            kinds.index("conference_invited")
            < kinds.index("conference_joined")
            < kinds.index("conference_left")
        )
        wait_agent(server, "1001", "available")
    finally:
        caller.stop()
        first.stop()
        if second is not None:
            second.stop()

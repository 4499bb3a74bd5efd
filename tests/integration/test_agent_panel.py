"""The agent panel's call side over real Socket.IO: a real aiohttp server on a free port, real
python-socketio clients, real SQLite. No Asterisk here (tests/e2e/test_agent_panel_calls.py has
it): the engine is driven with the events the voice adapter would submit, and call controls that
need Asterisk must fail cleanly and change nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from callcenter.app import DATABASE
from callcenter.core import events as ev
from callcenter.core.acd.agents import AgentState
from callcenter.core.calls import machine as cl
from callcenter.core.omni.conversations import MessagingChannel
from callcenter.core.omni.customers import Identity, IdentityKind
from callcenter.core.outbound.campaign import CampaignMove
from callcenter.messaging.channels.base import InboundMessage
from callcenter.outbound import server as outbound_server
from callcenter.web.api import SERVICE
from callcenter.web.outbound_api import CAMPAIGNS
from tests.integration.test_realtime import (
    AGENT_1001,
    AGENT_1002,
    SUPERVISOR,
    Client,
    Node,
    chat_settings,
    start_node,
)

PANEL_EVENTS = ("me", "call", "call_ended", "wrap_up")


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    settings = chat_settings(tmp_path)
    acd = settings.acd.model_copy(
        update={
            "wrap_up_seconds": 60.0,
            "dispositions": ("resolved", "follow-up"),
            "pause_reasons": ("lunch",),
        }
    )
    n = await start_node(settings.model_copy(update={"acd": acd}))
    yield n
    await n.server.close()


async def panel(url: str, token: str) -> Client:
    c = Client("/agent")
    for name in PANEL_EVENTS:
        c.sio.on(name, c._keeper(name), namespace="/agent")
    return await c.connect(url, auth={"token": token})


def handle(n: Node, event: ev.Event) -> None:
    """What the voice adapter would submit."""
    n.app[SERVICE].handle(event)


def now(n: Node) -> float:
    return n.app[SERVICE].clock()


async def test_state_controls_and_pause_reasons(node: Node) -> None:
    me = await panel(node.url, AGENT_1001)
    sync = await me.call("panel_sync", {})
    assert sync["me"]["agent_id"] == "1001" and sync["me"]["extension"] == "1001"
    assert sync["me"]["state"] == "logged_out" and sync["me"]["registered"] is False
    assert sync["pause_reasons"] == ["lunch"] and sync["dispositions"] == ["resolved", "follow-up"]
    assert (await me.call("set_state", {"state": "available"}))["me"]["state"] == "available"
    assert (await me.next("me"))["state"] == "available"
    bad = await me.call("set_state", {"state": "paused", "reason": "nap"})
    assert bad["error"].startswith("pause reason")
    assert (await me.call("set_state", {"state": "paused", "reason": "lunch"}))["me"]["reason"] == "lunch"
    assert (await me.call("set_state", {"state": "sleeping"}))["error"].startswith("state:")
    assert (await me.call("set_state", {"state": "logged_out"}))["me"]["state"] == "logged_out"
    await me.close()


async def test_supervisors_and_other_roles_cannot_use_the_call_events(node: Node) -> None:
    sup = Client("/agent")
    await sup.connect(node.url, auth={"token": SUPERVISOR})
    for name in (
        "panel_sync",
        "set_state",
        "call_hangup",
        "call_hold",
        "call_transfer",
        "call_consult",
        "call_consult_end",
        "call_conference",
        "call_conference_end",
        "call_recording",
        "wrap_up",
    ):
        ack = await sup.call(name, {"interaction_id": "x", "state": "available"})
        assert "error" in ack and "role" in ack["error"], (name, ack)
    await sup.close()


async def test_a_call_pops_up_with_its_customer_and_ivr_data_and_ends_in_a_wrap_up(node: Node) -> None:
    # The caller wrote an SMS earlier from the number they call from: the screen-pop shows it.
    phone = Identity(IdentityKind.PHONE, "+12025550143")
    await node.messaging.receive(
        InboundMessage(
            MessagingChannel.SMS, "SM-1", phone, "+15550000", "Where is my parcel?", now(node) - 60
        )
    )
    me = await panel(node.url, AGENT_1001)
    other = await panel(node.url, AGENT_1002)
    # No Asterisk: nobody carries the dial out; this test plays the adapter's part (its answers).
    node.app[SERVICE].dialer = None
    handle(node, ev.AgentRegistered("1001", now(node)))
    assert (await me.next("me"))["registered"] is True
    handle(node, ev.CallArrived("call-1", "+12025550143", "Ann", "5000", "PJSIP/trunk-0001", now(node)))
    handle(node, ev.IvrFinished("call-1", "1", "support", now(node), data={"account": "A-42"}))
    ringing = await me.next("call")
    assert ringing["phase"] == "ringing" and ringing["interaction_id"] == "call-1"
    assert ringing["ivr"] == {"account": "A-42"}
    assert ringing["customer"]["identities"] == ["phone:+12025550143"]
    assert [m["body"] for m in ringing["customer"]["timeline"]] == ["Where is my parcel?"]

    handle(node, ev.AgentAnswered("call-1", "1001", now(node)))
    talking = await me.next("call")
    assert talking["phase"] == "talking" and talking["answered_at"] is not None
    assert (await me.call("panel_sync", {}))["call"]["interaction_id"] == "call-1"

    # Another agent's forged ids: refused, nothing changes.
    for name, extra in (
        ("call_hangup", {}),
        ("call_hold", {"held": True}),
        ("call_transfer", {"to_queue": "sales"}),
        ("call_recording", {"paused": True}),
        ("call_consult", {"to_agent": "1002"}),
        ("call_consult_end", {"complete": True}),
        ("call_conference", {"to_agent": "1002"}),
        ("call_conference_end", {}),
    ):
        ack = await other.call(name, {"interaction_id": "call-1", **extra})
        assert ack == {"error": "not your call"}, (name, ack)
    # The owner, with no phone leg up (no Asterisk here): a clear error, the call unchanged.
    ack = await me.call("call_hold", {"interaction_id": "call-1", "held": True})
    assert "error" in ack
    ack = await me.call("call_transfer", {"interaction_id": "call-1", "to_agent": "1001"})
    assert ack == {"error": "no such agent to transfer to"}
    ack = await me.call("call_transfer", {"interaction_id": "call-1", "to_agent": "1002", "to_queue": "x"})
    assert ack["error"].startswith("give exactly one")
    ack = await me.call("call_consult", {"interaction_id": "call-1", "to_agent": "1001"})
    assert ack == {"error": "no such agent to consult"}
    ack = await me.call("call_consult_end", {"interaction_id": "call-1", "complete": True})
    assert ack == {"error": "no consult going on"}
    # The consulted agent is logged out: the engine refuses, nothing is reserved.
    ack = await me.call("call_consult", {"interaction_id": "call-1", "to_agent": "1002"})
    assert "cannot take a call" in ack["error"]
    engine = node.app[SERVICE].engine
    ack = await me.call("call_conference", {"interaction_id": "call-1", "to_agent": "1002"})
    assert "cannot take a call" in ack["error"]
    assert (await me.call("call_conference_end", {"interaction_id": "call-1"}))["error"].startswith("nobody")
    call = engine.calls.get("call-1")  # refused, or failed for want of Asterisk: as it was
    assert call is None or (call.state, call.colleague, call.pending) == ("talking", None, None), call
    assert engine.interactions["call-1"].agent_id == "1001" and engine.agents["1001"].state == AgentState.BUSY

    handle(node, ev.CallerHungUp("call-1", "caller hung up", now(node)))
    assert (await me.next("call_ended"))["interaction_id"] == "call-1"
    wrap = await me.next("wrap_up")
    assert wrap["interaction_id"] == "call-1" and wrap["until"] is not None
    assert wrap["dispositions"] == ["resolved", "follow-up"]
    assert engine.agents["1001"].state == AgentState.WRAP_UP

    forged = await other.call("wrap_up", {"interaction_id": "call-1", "disposition": "resolved"})
    assert "error" in forged
    bad = await me.call("wrap_up", {"interaction_id": "call-1", "disposition": "made-up"})
    assert "disposition" in bad["error"]
    missing = await me.call("wrap_up", {"interaction_id": "call-1", "notes": "x"})
    assert missing["error"] == "disposition is required"
    assert engine.agents["1001"].state == AgentState.WRAP_UP
    done = await me.call(
        "wrap_up", {"interaction_id": "call-1", "disposition": "resolved", "notes": "sent a label"}
    )
    assert done["ok"] and done["me"]["state"] == "available"
    assert (await me.call("panel_sync", {}))["wrap_ups"] == []

    # The record: outcome, who ended it, disposition and notes, and the wrap-up in its events.
    headers = {"Authorization": f"Bearer {SUPERVISOR}"}
    async with aiohttp.ClientSession() as http:
        for _ in range(100):
            async with http.get(f"{node.url}/api/interactions/call-1", headers=headers) as resp:
                record = await resp.json()
            if record.get("disposition") == "resolved" and any(
                e["kind"] == "wrap_up" for e in record["events"]
            ):
                break
            await asyncio.sleep(0.1)
    assert record["outcome"] == "answered" and record["ended_by"] == "caller"
    assert (record["disposition"], record["notes"]) == ("resolved", "sent a label")
    wrap_event = next(e for e in record["events"] if e["kind"] == "wrap_up")
    assert wrap_event["data"]["agent"] == "1001"
    assert any(
        e["kind"] == "ivr_finished" and e["data"]["data"] == {"account": "A-42"} for e in record["events"]
    )
    # The other agent never received anything of this call.
    assert all(other.queue(name).empty() for name in ("call", "call_ended", "wrap_up"))
    await me.close()
    await other.close()


async def http_json(node: Node, method: str, path: str, token: str, body: object) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bearer {token}"}
        async with http.request(method, node.url + path, json=body, headers=headers) as resp:
            return resp.status, await resp.json()


async def test_the_recording_pause_is_the_cores_and_every_card_shows_it(node: Node) -> None:
    """The panel submits the pause and renders the core's flag; a pause over HTTP (a supervisor)
    reaches the agent's card too. No Asterisk: a pause fails cleanly, then this test plays the
    adapter's part (its RecordingConfirmed)."""
    me = await panel(node.url, AGENT_1001)
    service = node.app[SERVICE]
    service.dialer = None
    handle(node, ev.AgentRegistered("1001", now(node)))
    handle(node, ev.CallArrived("call-7", "+12025550177", "Di", "5000", "PJSIP/trunk-0007", now(node)))
    handle(node, ev.IvrFinished("call-7", "1", "support", now(node)))
    handle(node, ev.AgentAnswered("call-7", "1001", now(node)))
    while (card := await me.next("call"))["phase"] != "talking":
        pass
    assert card["recording_paused"] is False

    # No recording leg up (no Asterisk): a clear error, the recording as it was.
    ack = await me.call("call_recording", {"interaction_id": "call-7", "paused": True})
    assert "no recording leg" in ack["error"], ack
    call = service.engine.calls.get("call-7")
    assert call is not None and not call.recording_paused and call.recording_pending is None
    assert (await me.call("call_recording", {"interaction_id": "call-7", "paused": False}))["error"] == (
        "the recording is on"
    )

    # Asterisk muting it: the core's flag, on the card.
    service.handle(cl.RecordingPauseRequested("call-7", True, "1001", "agent", now(node), agent_id="1001"))
    service.handle(cl.RecordingConfirmed("call-7", True, now(node)))
    while not (card := await me.next("call"))["recording_paused"]:
        pass
    assert (await me.call("panel_sync", {}))["call"]["recording_paused"] is True
    ack = await me.call("call_recording", {"interaction_id": "call-7", "paused": True})
    assert ack["error"] == "the recording is already paused"
    status, body = await http_json(
        node, "POST", "/api/interactions/call-7/recording", SUPERVISOR, {"paused": True}
    )
    assert status == 409 and body["error"] == "the recording is already paused"
    status, body = await http_json(
        node, "POST", "/api/interactions/call-7/recording", AGENT_1002, {"paused": False}
    )
    assert status == 403 and body["error"] == "not your call"

    # A supervisor resumes it over HTTP: the agent's card follows.
    service.handle(cl.RecordingPauseRequested("call-7", False, "sup", "supervisor", now(node)))
    service.handle(cl.RecordingConfirmed("call-7", False, now(node)))
    while (card := await me.next("call"))["recording_paused"]:
        pass
    status, body = await http_json(
        node, "POST", "/api/interactions/call-7/recording", SUPERVISOR, {"paused": True}
    )
    assert status == 502 and "no recording leg" in body["error"]  # the core agreed; Asterisk could not
    await service.stored(service.enqueued)
    events = await node.app[DATABASE].events_for("call-7")
    kinds = [(e.kind, e.data.get("by")) for e in events if e.kind.startswith("recording_")]
    assert kinds == [("recording_paused", "1001"), ("recording_resumed", "sup")]
    await me.close()


async def test_a_wrap_up_owed_before_a_restart_is_still_owed_after_it(tmp_path: Path) -> None:
    settings = chat_settings(tmp_path)
    acd = settings.acd.model_copy(update={"wrap_up_seconds": 60.0, "dispositions": ("resolved",)})
    settings = settings.model_copy(update={"acd": acd})
    first = await start_node(settings)
    try:
        first.app[SERVICE].dialer = None  # no Asterisk: this test plays the voice adapter's part
        handle(first, ev.AgentRegistered("1001", now(first)))
        handle(first, ev.CallArrived("call-9", "+12025550199", "Bo", "5000", "PJSIP/trunk-0009", now(first)))
        handle(first, ev.IvrFinished("call-9", "1", "support", now(first)))
        handle(first, ev.AgentAnswered("call-9", "1001", now(first)))
        handle(first, ev.CallerHungUp("call-9", "caller hung up", now(first)))
        assert [i.id for i in first.app[SERVICE].engine.wrap_ups_of("1001")] == ["call-9"]
    finally:
        await first.server.close()  # the writer stores what it holds before the server stops

    second = await start_node(settings)
    try:
        me = await panel(second.url, AGENT_1001)
        other = await panel(second.url, AGENT_1002)
        owed = (await me.call("panel_sync", {}))["wrap_ups"]
        assert [w["interaction_id"] for w in owed] == ["call-9"]
        assert (await other.call("panel_sync", {}))["wrap_ups"] == []
        done = await me.call(
            "wrap_up", {"interaction_id": "call-9", "disposition": "resolved", "notes": "ok"}
        )
        assert done["ok"], done
        assert (await me.call("panel_sync", {}))["wrap_ups"] == []
        await me.close()
        await other.close()
    finally:
        await second.server.close()

    third = await start_node(settings)  # wrapped up: not owed again
    try:
        assert third.app[SERVICE].engine.wrap_ups_of("1001") == []
        record = await third.app[DATABASE].get_interaction("call-9")
        assert record is not None and (record.disposition, record.notes) == ("resolved", "ok")
    finally:
        await third.server.close()


async def test_a_call_in_progress_keeps_its_ivr_data_on_the_card_after_a_restart(tmp_path: Path) -> None:
    settings = chat_settings(tmp_path)
    first = await start_node(settings)
    try:
        first.app[SERVICE].dialer = None  # no Asterisk: this test plays the voice adapter's part
        handle(first, ev.AgentRegistered("1001", now(first)))
        handle(first, ev.CallArrived("call-8", "+12025550188", "Cy", "5000", "PJSIP/trunk-0008", now(first)))
        handle(first, ev.IvrFinished("call-8", "1", "support", now(first), data={"account": "A-7"}))
        handle(first, ev.AgentAnswered("call-8", "1001", now(first)))
    finally:
        await first.server.close()

    second = await start_node(settings)  # no Asterisk to say the call is gone: it is still on
    try:
        me = await panel(second.url, AGENT_1001)
        call = (await me.call("panel_sync", {}))["call"]
        assert (call["interaction_id"], call["phase"]) == ("call-8", "talking")
        assert call["ivr"] == {"account": "A-7"}  # what the IVR collected, read back from its events
        other = await panel(second.url, AGENT_1002)
        assert (await other.call("panel_sync", {}))["call"] is None
        await me.close()
        await other.close()
    finally:
        await second.server.close()


async def test_a_paused_recording_is_still_paused_on_the_card_after_a_restart(tmp_path: Path) -> None:
    """Asterisk keeps a MixMonitor muted while the server restarts: the core takes the pause back
    from the call's events, so the card does not claim the call is being recorded."""
    settings = chat_settings(tmp_path)
    first = await start_node(settings)
    try:
        service = first.app[SERVICE]
        service.dialer = None  # no Asterisk: this test plays the voice adapter's part
        handle(first, ev.AgentRegistered("1001", now(first)))
        handle(first, ev.CallArrived("call-6", "+12025550166", "Ed", "5000", "PJSIP/trunk-0006", now(first)))
        handle(first, ev.IvrFinished("call-6", "1", "support", now(first)))
        handle(first, ev.AgentAnswered("call-6", "1001", now(first)))
        service.handle(
            cl.RecordingPauseRequested("call-6", True, "1001", "agent", now(first), agent_id="1001")
        )
        service.handle(cl.RecordingConfirmed("call-6", True, now(first)))
    finally:
        await first.server.close()

    second = await start_node(settings)
    try:
        me = await panel(second.url, AGENT_1001)
        call = (await me.call("panel_sync", {}))["call"]
        assert (call["interaction_id"], call["recording_paused"]) == ("call-6", True)
        ack = await me.call("call_recording", {"interaction_id": "call-6", "paused": True})
        assert ack["error"] == "the recording is already paused"
        await me.close()
    finally:
        await second.server.close()


CAMPAIGN = """campaigns:
  renewals:
    mode: preview
    queue: support
    windows:
      - {days: [mon, tue, wed, thu, fri, sat, sun], from: "00:00", to: "24:00"}
    script: "Hello {name}, your contract {contract} ends soon."
    dispositions: [renewed, not interested]
"""


async def test_a_call_clicked_as_an_inbound_call_rings_for_the_agent_is_not_placed(node: Node) -> None:
    """The "Call" is carried out at the dialling job's next round; an inbound call offered to the
    agent in between wins: no campaign call for an agent who cannot take it, the card goes back."""
    campaigns, dialling = node.app[CAMPAIGNS], node.app[outbound_server.DIALLING]
    assert (await campaigns.import_definitions(CAMPAIGN, "c.yaml"))[1] == []
    await campaigns.import_list(
        "renewals", "number,name,contract,timezone\n+12025550143,Ann,C-7,UTC\n", "l.csv"
    )
    await campaigns.move("renewals", CampaignMove.START, "test")
    me = await panel(node.url, AGENT_1001)
    me.sio.on("preview", me._keeper("preview"), namespace="/agent")
    me.sio.on("preview_withdrawn", me._keeper("preview_withdrawn"), namespace="/agent")
    node.app[SERVICE].dialer = None
    handle(node, ev.AgentRegistered("1001", now(node)))
    assert (await me.call("set_state", {"state": "available"}))["me"]["state"] == "available"
    await dialling.poll()
    await dialling.pace()
    rid = (await me.next("preview"))["record_id"]
    ok = await me.call("preview_answer", {"campaign": "renewals", "record_id": rid, "dial": True})
    assert ok == {"ok": True}
    handle(node, ev.CallArrived("in-1", "+12025550100", "", "support", "PJSIP/trunk-0003", now(node)))
    handle(node, ev.IvrFinished("in-1", None, "support", now(node)))
    assert (await me.next("call"))["interaction_id"] == "in-1"  # ringing for 1001
    await dialling.pace()
    assert [d.kind for _, d in await campaigns.decisions("renewals")].count("dial") == 0
    withdrawn = await me.next("preview_withdrawn")
    assert (withdrawn["record_id"], withdrawn["reason"]) == (rid, "agent_busy")
    await me.close()


async def test_a_preview_campaigns_card_script_and_dispositions(node: Node) -> None:
    """Preview card to the free agent, "Call" only by its agent, the campaign call's card with its
    filled script (HTML from the list stays text), the campaign's dispositions stored with the
    attempt and counted in its progress. The job is driven by hand (no Asterisk: nothing placed)."""
    campaigns, dialling = node.app[CAMPAIGNS], node.app[outbound_server.DIALLING]
    assert (await campaigns.import_definitions(CAMPAIGN, "c.yaml"))[1] == []
    added = await campaigns.import_list(
        "renewals", "number,name,contract,timezone\n+12025550143,<b>Ann</b>,C-7,UTC\n", "l.csv"
    )
    assert added.added == 1
    await campaigns.move("renewals", CampaignMove.START, "test")
    me = await panel(node.url, AGENT_1001)
    other = await panel(node.url, AGENT_1002)
    for c in (me, other):
        c.sio.on("preview", c._keeper("preview"), namespace="/agent")
    node.app[SERVICE].dialer = None
    handle(node, ev.AgentRegistered("1001", now(node)))
    assert (await me.call("set_state", {"state": "available"}))["me"]["state"] == "available"
    await dialling.poll()
    await dialling.pace()  # the dialling job's round: no placer here, the preview is all it does
    card = await me.next("preview")
    assert (card["campaign"], card["number"]) == ("renewals", "+12025550143")
    assert card["fields"] == {"name": "<b>Ann</b>", "contract": "C-7"}
    assert card["script"] == "Hello <b>Ann</b>, your contract C-7 ends soon."
    assert (await me.call("panel_sync", {}))["previews"] == [card]  # a reconnect shows it again
    rid = card["record_id"]
    forged = await other.call("preview_answer", {"campaign": "renewals", "record_id": rid, "dial": True})
    assert forged == {"error": "no such preview card of yours"}
    bad = await me.call("preview_answer", {"campaign": "renewals", "record_id": "1", "dial": True})
    assert bad == {"error": "record_id must be a whole number"}
    ok = await me.call("preview_answer", {"campaign": "renewals", "record_id": rid, "dial": True})
    assert ok == {"ok": True}
    await dialling.pace()
    decisions = [d for _, d in await campaigns.decisions("renewals")]
    dial = [d for d in decisions if d.kind == "dial"]
    assert [(d.record_id, d.reason) for d in dial] == [(rid, "preview")]  # checked again, decided
    assert other.queue("preview").empty()

    # The call as the placer puts it in the queue, held for the agent who chose to make it.
    data = {"name": "<b>Ann</b>", "contract": "C-7", "campaign": "renewals", "record": str(rid)}
    data["script"] = card["script"]
    handle(node, ev.CallArrived("ob-1", "+12025550143", "", "renewals", "PJSIP/trunk-0002", now(node)))
    handle(
        node, ev.IvrFinished("ob-1", None, "support", now(node), data=data, outcome="outbound", agent="1001")
    )
    ringing = await me.next("call")
    assert ringing["campaign"] == {
        "name": "renewals",
        "record": str(rid),
        "script": "Hello <b>Ann</b>, your contract C-7 ends soon.",
        "fields": {"name": "<b>Ann</b>", "contract": "C-7"},
    }
    handle(node, ev.AgentAnswered("ob-1", "1001", now(node)))
    handle(node, ev.CallerHungUp("ob-1", "caller hung up", now(node)))
    wrap = await me.next("wrap_up")
    assert (wrap["campaign"], wrap["dispositions"]) == ("renewals", ["renewed", "not interested"])
    refused = await me.call("wrap_up", {"interaction_id": "ob-1", "disposition": "resolved"})
    assert refused["error"].startswith("disposition 'resolved': expected one of renewed")
    forged = await other.call("wrap_up", {"interaction_id": "ob-1", "disposition": "renewed"})
    assert "error" in forged
    done = await me.call("wrap_up", {"interaction_id": "ob-1", "disposition": "renewed", "notes": ""})
    assert done["ok"]
    progress = await campaigns.progress("renewals")
    assert dict(progress.dispositions) == {"renewed": 1}
    [stored] = [d for _, d in await campaigns.decisions("renewals") if d.kind == "disposition"]
    assert (stored.record_id, stored.reason) == (rid, "renewed")
    assert stored.data == {"interaction": "ob-1", "agent": "1001", "attempt": 1}
    await me.close()
    await other.close()

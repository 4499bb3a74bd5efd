"""The call-control adapter (adapters/call_control.py, inside the voice adapter), with a fake of our own
Asterisk port: which port calls each of the core's call commands makes, which result events it
reports, and how refusals come back. (tests/e2e/test_agent_panel_calls.py runs the same controls
against the real Asterisk.)"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from callcenter.asterisk import ami_events
from callcenter.asterisk.asterisk_port import Application, ChannelInfo, Dialplan, Move, OriginateResult
from callcenter.asterisk.voice import VoiceAdapter
from callcenter.asterisk.voice_state import AgentLeg
from callcenter.core import events as ev
from callcenter.core.calls import machine as cl
from callcenter.settings import Settings
from tests.fake_port import FakePort

CALLER, AGENT = "PJSIP/trunk-00000001", "PJSIP/1001-00000002"
Reported = ev.Event | cl.CallEvent


def adapter() -> tuple[VoiceAdapter, FakePort, list[Reported]]:
    events: list[Reported] = []
    port = FakePort()
    voice = VoiceAdapter(
        Settings(),
        events.append,
        lambda _: None,
        lambda _: None,
        port=port,
        clock=lambda: 50.0,  # type: ignore[arg-type,return-value]
    )
    voice._state.callers["caller-uid"] = "i1"
    voice._legs["i1-1"] = AgentLeg("i1", "1001", channel=AGENT)
    return voice, port, events


async def settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


async def run(voice: VoiceAdapter, command: cl.CallCommand) -> str | None:
    """Carry one of the core's commands out; None, or why it could not be done."""
    return await voice.calls.execute(command)


def hold(held: bool, agent: str = "1001") -> cl.CallCommand:
    return cl.HoldCall("i1", agent, CALLER) if held else cl.ResumeCall("i1", agent)


def made(port: FakePort, method: str) -> list[Any]:
    return [args for name, args in port.calls if name == method]


async def test_hold_moves_both_legs_with_one_redirect_and_resume_rebridges_the_agent() -> None:
    voice, port, events = adapter()
    assert await run(voice, hold(True)) is None
    assert port.calls == [("redirect", (Move(CALLER, Dialplan("cc-hold")), Move(AGENT, Dialplan("cc-held"))))]
    assert voice.calls.is_held("i1") and events == [cl.HoldConfirmed("i1", True, 50.0)]
    assert await run(voice, hold(False)) is None
    assert port.calls[-1] == ("redirect", (Move(AGENT, Dialplan("cc-agent", "resume")), None))
    assert not voice.calls.is_held("i1") and events[-1] == cl.HoldConfirmed("i1", False, 50.0)


async def test_hang_up_from_the_panel_is_the_agents_and_frees_a_held_caller() -> None:
    voice, port, events = adapter()
    await run(voice, hold(True))
    events.clear()
    assert await run(voice, cl.HangupCall("i1", "1001")) is None
    assert events == [ev.AgentHungUp("i1", "1001", 50.0)]  # by the agent, not the system
    assert made(port, "hangup") == [AGENT, CALLER]
    # Asterisk's Hangup for that leg afterwards reports nothing more.
    port.emit(ami_events.Hangup(AGENT, "i1-1", "x", 16, "Normal Clearing"))
    assert events == [ev.AgentHungUp("i1", "1001", 50.0)]


async def test_the_caller_hanging_up_on_hold_ends_the_agents_leg_too() -> None:
    voice, port, events = adapter()
    await run(voice, hold(True))
    events.clear()
    port.emit(ami_events.HangupRequest(CALLER, "caller-uid"))
    await settle()
    assert isinstance(events[0], ev.CallerHungUp) and not events[0].system
    assert port.calls[-1] == ("hangup", AGENT)


async def test_cancelling_a_consult_moves_the_first_agent_back_before_ending_the_consulted_leg() -> None:
    """Hanging up the consulted leg first sends the first agent's leg out of the consult bridge,
    and Asterisk refuses a Redirect of a channel on its way back to the dialplan."""
    voice, port, events = adapter()
    assert await run(voice, cl.OriginateConsult("i1", "1001", CALLER, "1002", "1002", True)) is None
    await settle()
    (originate,) = made(port, "originate")
    assert originate.endpoint == "PJSIP/1002" and originate.target == Dialplan("cc-consult")
    assert originate.channel_id == "i1-consult1" and originate.variables["CC_CONSULT_CHANNEL"] == AGENT
    assert events == [cl.ConsultAnswered("i1", "1002", 50.0)]  # the fake answers at once
    consulted = "PJSIP/1002-00000003"
    port.emit(ami_events.Newchannel(consulted, "i1-consult1", "caller-uid", "cc-consult", "s"))
    port.calls.clear()
    events.clear()

    port.refuse.add("redirect")
    assert "Asterisk refused" in (await run(voice, cl.CancelConsult("i1", "1001")) or "")
    assert [name for name, _ in port.calls] == ["redirect"]  # nothing hung up: the consult goes on
    assert voice.calls.is_held("i1")
    assert events == [cl.ControlFailed("i1", "Asterisk refused: redirect refused", 50.0)]

    port.refuse.clear()
    port.calls.clear()
    events.clear()
    assert await run(voice, cl.CancelConsult("i1", "1001")) is None
    assert port.calls == [
        ("redirect", (Move(AGENT, Dialplan("cc-agent", "resume")), None)),
        ("hangup", consulted),
    ]
    assert not voice.calls.is_held("i1")
    port.emit(ami_events.HangupRequest(consulted, "i1-consult1"))
    port.emit(ami_events.Hangup(consulted, "i1-consult1", "caller-uid", 16, "Normal Clearing"))
    assert events == [cl.ConsultCancelled("i1", 50.0)]  # the cancel's doing, not a failed consult
    assert await run(voice, cl.CancelConsult("i1", "1001")) == "no consult going on"


async def test_a_consult_the_colleague_does_not_answer_is_reported_and_the_caller_stays_on_hold() -> None:
    voice, port, events = adapter()
    port.originated = OriginateResult("failed", "no answer", "3")
    assert await run(voice, cl.OriginateConsult("i1", "1001", CALLER, "1002", "1002", True)) is None
    await settle()
    assert events[-1] == cl.ConsultFailed("i1", "1002", "no answer", 50.0)
    assert voice.calls.is_held("i1") and "i1-consult1" not in voice._legs
    # The hold itself refused: reported as a consult that never left the caller.
    voice, port, events = adapter()
    port.refuse.add("redirect")
    assert await run(voice, cl.OriginateConsult("i1", "1001", CALLER, "1002", "1002", True))
    assert events == [
        cl.ConsultFailed("i1", "1002", "Asterisk refused: redirect refused", 50.0, on_hold=False)
    ]
    assert made(port, "originate") == []


async def test_a_conference_and_its_guest_leaving() -> None:
    voice, port, events = adapter()
    assert await run(voice, cl.OriginateConference("i1", "1001", CALLER, "1002", "1002")) is None
    await settle()
    room = Dialplan("cc-conference")
    assert made(port, "redirect") == [(Move(CALLER, room), Move(AGENT, room))]
    assert events == [cl.GuestJoined("i1", "1002", 50.0)]
    guest = "PJSIP/1002-00000004"
    port.emit(ami_events.Newchannel(guest, "i1-conf1", "caller-uid", "cc-conference", "s"))
    assert "drop the third party" in (await run(voice, hold(True)) or "")
    assert await run(voice, cl.DropGuest("i1")) is None and port.calls[-1] == ("hangup", guest)
    port.emit(ami_events.HangupRequest(guest, "i1-conf1"))
    assert cl.GuestLeft("i1", "1002", "the invited agent hung up", 50.0) in events
    # The room stays with the caller and the agent; the caller leaving ends it (the agent's leg too).
    port.calls.clear()
    port.emit(ami_events.HangupRequest(CALLER, "caller-uid"))
    await settle()
    assert sorted(made(port, "hangup")) == sorted([AGENT, CALLER])


async def test_blind_transfers_and_refusals() -> None:
    voice, port, events = adapter()
    assert await run(voice, cl.TransferCall("i1", "1001", CALLER, number="+15550199")) is None
    assert port.calls == [
        ("set_var", (CALLER, "CC_TRANSFER_DIAL", "PJSIP/+15550199")),
        ("redirect", (Move(CALLER, Dialplan("cc-transfer")), Move(AGENT, Dialplan("cc-transferred")))),
    ]
    assert events == [cl.TransferConfirmed("i1", 50.0)]  # the core hears of it once Asterisk did it
    assert await run(voice, cl.HangupCall("i1", "1001")) == "the agent's phone is not on this call"

    voice, port, events = adapter()
    assert (
        await run(voice, cl.TransferCall("i1", "1001", CALLER, number="1; Hangup"))
        == "not a number we can dial"
    )
    assert port.calls == []
    port.refuse.add("redirect")
    assert "Asterisk refused" in (
        await run(voice, cl.TransferCall("i1", "1001", CALLER, queue="sales")) or ""
    )
    assert "not on this call" in (await run(voice, hold(True, agent="1002")) or "")
    assert all(isinstance(e, cl.ControlFailed) for e in events) and len(events) == 3


async def test_supervisor_spy_and_the_recording_pause_go_through_the_port() -> None:
    voice, port, events = adapter()
    assert await run(voice, cl.SpyCall("i1", "1001", "2001", "2001", "whisper")) is None
    (spy,) = made(port, "originate")
    assert spy.endpoint == "PJSIP/2001" and spy.target == Application("ChanSpy", f"{AGENT},qEw")
    assert not spy.wait and spy.caller_id == '"whisper 1001" <1001>'
    assert events == [cl.SpyRinging("i1", "2001", "1001", "whisper", 50.0)]
    # No leg of that agent up on the call: reported, nothing rung.
    assert "not on this call" in (await run(voice, cl.SpyCall("i1", "1002", "2001", "2001", "listen")) or "")
    assert len(made(port, "originate")) == 1
    assert events[-1] == cl.SpyFailed("i1", "2001", "the agent's phone is not on this call", 50.0)
    port.refuse.add("originate")
    assert "Asterisk refused" in (await run(voice, cl.SpyCall("i1", "1001", "2001", "2001", "barge")) or "")
    assert isinstance(events[-1], cl.SpyFailed)

    events.clear()
    assert await run(voice, cl.PauseRecording("i1")) is None
    assert made(port, "mix_monitor_mute") == [(AGENT, True)]
    assert events == [cl.RecordingConfirmed("i1", True, 50.0)]
    assert await run(voice, cl.ResumeRecording("i1")) is None
    assert made(port, "mix_monitor_mute")[-1] == (AGENT, False)
    assert events[-1] == cl.RecordingConfirmed("i1", False, 50.0)
    assert "no recording leg" in (await run(voice, cl.PauseRecording("i9")) or "")
    assert events[-1] == cl.RecordingFailed("i9", "no recording leg is up for this call", 50.0)
    port.refuse.add("mix_monitor_mute")
    assert "Asterisk refused" in (await run(voice, cl.PauseRecording("i1")) or "")
    assert isinstance(events[-1], cl.RecordingFailed)


async def test_the_recording_pause_mutes_only_the_recorded_leg_during_a_consult_or_conference() -> None:
    """Only the dialer's agent leg runs MixMonitor (cc-record); a consulted or invited colleague's
    leg has none, and MixMonitorMute on it would fail after the recorded leg was muted."""
    voice, port, events = adapter()
    assert await run(voice, cl.OriginateConsult("i1", "1001", CALLER, "1002", "1002", True)) is None
    await settle()
    port.emit(ami_events.Newchannel("PJSIP/1002-00000003", "i1-consult1", "caller-uid", "cc-consult", "s"))
    events.clear()
    assert await run(voice, cl.PauseRecording("i1")) is None
    assert made(port, "mix_monitor_mute") == [(AGENT, True)]
    assert events == [cl.RecordingConfirmed("i1", True, 50.0)]
    assert await run(voice, cl.CancelConsult("i1", "1001")) is None
    assert await run(voice, cl.OriginateConference("i1", "1001", CALLER, "1003", "1003")) is None
    await settle()
    port.emit(ami_events.Newchannel("PJSIP/1003-00000004", "i1-conf2", "caller-uid", "cc-conference", "s"))
    assert await run(voice, cl.ResumeRecording("i1")) is None
    assert made(port, "mix_monitor_mute")[1:] == [(AGENT, False)]


async def test_a_slow_caller_lookup_does_not_hold_the_call_and_is_not_torn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past the bound the call goes on unidentified; the lookup (which may be storing a new
    customer record) is not cancelled but finishes on its own."""
    from callcenter.asterisk import voice_inbound

    monkeypatch.setattr(voice_inbound, "IDENTIFY_SECONDS", 0.05)
    release = asyncio.Event()
    finished: list[str] = []

    async def slow_lookup(number: str, at: float) -> str | None:
        await release.wait()
        finished.append(number)
        return "cust-1"

    nothing = lambda _: None  # noqa: E731
    voice = VoiceAdapter(Settings(), nothing, nothing, nothing, port=FakePort(), identify_caller=slow_lookup)  # type: ignore[arg-type]
    assert await voice.inbound._customer_of("i1", "+14155550123", 50.0) is None  # the bound passed
    assert len(voice.inbound._late_identifications) == 1 and not finished
    release.set()
    for _ in range(5):
        await asyncio.sleep(0)
    assert finished == ["+14155550123"] and not voice.inbound._late_identifications


class RestartedPort(FakePort):
    """Asterisk as a restarted server finds it: the caller on hold, the agent's leg in cc-held."""

    def __init__(self, caller_context: str) -> None:
        super().__init__()
        self.live = [
            ChannelInfo(CALLER, "c-uid", context=caller_context),
            ChannelInfo(AGENT, "i1-2", context="cc-held"),
            ChannelInfo("PJSIP/1003-09", "other-1", context="x"),
        ]


def restarted(caller_context: str) -> tuple[VoiceAdapter, RestartedPort, list[Reported]]:
    events: list[Reported] = []
    port = RestartedPort(caller_context)
    voice = VoiceAdapter(
        Settings(),
        events.append,
        lambda _: None,
        lambda _: None,
        port=port,
        clock=lambda: 50.0,  # type: ignore[arg-type,return-value]
    )
    voice.adopt_callers({CALLER: "i1", "PJSIP/trunk-gone": "i9"}, {"i1": "1001", "i9": "1002"})
    return voice, port, events


async def test_after_a_restart_the_agents_leg_and_the_hold_are_found_in_asterisk() -> None:
    voice, port, events = restarted("cc-hold")
    await port.start()  # logged in: the reconcile runs
    assert voice.calls.agent_channel("i1", "1001") == AGENT and voice.calls.is_held("i1")
    assert cl.HoldFound("i1", 50.0) in events  # the core hears the call is on hold
    assert voice.calls.agent_channel("i9", "1002") is None  # its channels are gone
    assert await run(voice, hold(False)) is None  # Resume works on the adopted call
    assert port.calls[-1] == ("redirect", (Move(AGENT, Dialplan("cc-agent", "resume")), None))
    port.emit(ami_events.HangupRequest(AGENT, "i1-2"))
    assert events[-1] == ev.AgentHungUp("i1", "1001", 50.0)  # the agent hung up, not the system


async def test_after_a_restart_a_bridged_caller_is_not_on_hold() -> None:
    voice, port, events = restarted("cc-wait")
    await port.start()  # logged in: the reconcile runs
    assert voice.calls.agent_channel("i1", "1001") == AGENT and not voice.calls.is_held("i1")
    assert not any(isinstance(e, cl.HoldFound) for e in events)
    # Only the first reconcile after the restart adopts: a later one keeps what it knows.
    voice._legs.clear()
    await port.start()  # logged in: the reconcile runs
    assert voice.calls.agent_channel("i1", "1001") is None

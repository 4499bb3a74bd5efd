"""The voice adapter's call controls, with a fake of our own AMI client interface: which AMI actions
each control sends, what it reports to the engine, and how refusals come back.
(tests/e2e/test_agent_panel_calls.py runs the same controls against the real Asterisk.)"""

from __future__ import annotations

import asyncio

import pytest

from callcenter.adapters import ami_events
from callcenter.adapters.asterisk_port import ChannelInfo
from callcenter.adapters.voice import CallControlError, VoiceAdapter, _AgentLeg
from callcenter.config import Settings
from callcenter.core import events as ev
from tests.fake_port import FakePort

CALLER, AGENT = "PJSIP/trunk-00000001", "PJSIP/1001-00000002"


class FakeAmi(FakePort):
    """The port; the call-control section sends raw actions through it (``sent``)."""


def adapter() -> tuple[VoiceAdapter, FakeAmi, list[ev.Event]]:
    events: list[ev.Event] = []
    ami = FakeAmi()
    voice = VoiceAdapter(
        Settings(), events.append, lambda _: None, lambda _: None, port=ami, clock=lambda: 50.0  # type: ignore[arg-type,return-value]
    )
    voice._state.callers["caller-uid"] = "i1"
    voice._legs["i1-1"] = _AgentLeg("i1", "1001", channel=AGENT)
    return voice, ami, events


async def settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


async def test_hold_moves_both_legs_with_one_redirect_and_resume_rebridges_the_agent() -> None:
    voice, ami, _ = adapter()
    await voice.hold("i1", "1001", CALLER, True)
    (redirect,) = ami.sent
    assert redirect["Channel"] == CALLER and redirect["Context"] == "cc-hold"
    assert redirect["ExtraChannel"] == AGENT and redirect["ExtraContext"] == "cc-held"
    assert voice.is_held("i1")
    with pytest.raises(CallControlError, match="already on hold"):
        await voice.hold("i1", "1001", CALLER, True)
    await voice.hold("i1", "1001", CALLER, False)
    assert ami.sent[-1] == {
        "Action": "Redirect",
        "Channel": AGENT,
        "Context": "cc-agent",
        "Exten": "resume",
        "Priority": "1",
    }
    assert not voice.is_held("i1")


async def test_hang_up_from_the_panel_is_the_agents_and_frees_a_held_caller() -> None:
    voice, ami, events = adapter()
    await voice.hold("i1", "1001", CALLER, True)
    await voice.hangup_call("i1", "1001")
    assert events == [ev.AgentHungUp("i1", "1001", 50.0)]  # by the agent, not the system
    assert [f["Channel"] for f in ami.sent if f["Action"] == "Hangup"] == [AGENT, CALLER]
    # Asterisk's Hangup for that leg afterwards reports nothing more.
    ami.emit(ami_events.Hangup(AGENT, "i1-1", "x", 16, "Normal Clearing"))
    assert events == [ev.AgentHungUp("i1", "1001", 50.0)]


async def test_the_caller_hanging_up_on_hold_ends_the_agents_leg_too() -> None:
    voice, ami, events = adapter()
    await voice.hold("i1", "1001", CALLER, True)
    ami.emit(ami_events.HangupRequest(CALLER, "caller-uid"))
    await settle()
    assert isinstance(events[0], ev.CallerHungUp) and not events[0].system
    assert ami.sent[-1]["Action"] == "Hangup" and ami.sent[-1]["Channel"] == AGENT


async def test_cancelling_a_consult_moves_the_first_agent_back_before_ending_the_consulted_leg() -> None:
    """Hanging up the consulted leg first sends the first agent's leg out of the consult bridge,
    and Asterisk refuses a Redirect of a channel on its way back to the dialplan."""
    voice, ami, events = adapter()
    failed: list[str] = []
    await voice.consult("i1", "1001", CALLER, "1002", "1002", failed.append)
    await settle()
    consulted = "PJSIP/1002-00000003"
    ami.emit(ami_events.Newchannel(consulted, "i1-consult1", "caller-uid", "cc-consult", "s"))
    ami.sent.clear()

    ami.refuse.add("Redirect")
    with pytest.raises(CallControlError, match="Asterisk refused"):
        await voice.cancel_consult("i1", "1001")
    assert ami.actions() == ["Redirect"]  # nothing hung up: the consult goes on
    assert voice.is_held("i1")

    ami.refuse.clear()
    ami.sent.clear()
    await voice.cancel_consult("i1", "1001")
    assert [(f["Action"], f["Channel"]) for f in ami.sent] == [("Redirect", AGENT), ("Hangup", consulted)]
    assert not voice.is_held("i1")
    ami.emit(ami_events.HangupRequest(consulted, "i1-consult1"))
    ami.emit(ami_events.Hangup(consulted, "i1-consult1", "caller-uid", 16, "Normal Clearing"))
    assert failed == [] and events == []  # the cancel's doing, not a failed consult
    with pytest.raises(CallControlError, match="no consult"):
        await voice.cancel_consult("i1", "1001")


async def test_blind_transfers_and_refusals() -> None:
    voice, ami, events = adapter()
    await voice.blind_transfer("i1", "1001", CALLER, number="+15550199")
    setvar, redirect = ami.sent
    assert setvar["Variable"] == "CC_TRANSFER_DIAL" and setvar["Value"] == "PJSIP/+15550199"
    assert redirect["Context"] == "cc-transfer" and redirect["ExtraContext"] == "cc-transferred"
    assert events == []  # the engine hears of it from the panel, once Asterisk did it
    with pytest.raises(CallControlError, match="not on this call"):  # the leg is over now
        await voice.hangup_call("i1", "1001")

    voice, ami, _ = adapter()
    with pytest.raises(CallControlError, match="not a number"):
        await voice.blind_transfer("i1", "1001", CALLER, number="1; Hangup")
    ami.refuse.add("Redirect")
    with pytest.raises(CallControlError, match="Asterisk refused"):
        await voice.blind_transfer("i1", "1001", CALLER, queue="sales")
    with pytest.raises(CallControlError, match="not on this call"):
        await voice.hold("i1", "1002", CALLER, True)


async def test_a_slow_caller_lookup_does_not_hold_the_call_and_is_not_torn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past the bound the call goes on unidentified; the lookup (which may be storing a new
    customer record) is not cancelled but finishes on its own."""
    from callcenter.adapters import voice_inbound

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


class RestartedAmi(FakeAmi):
    """Asterisk as a restarted server finds it: the caller on hold, the agent's leg in cc-held."""

    def __init__(self, caller_context: str) -> None:
        super().__init__()
        self.live = [
            ChannelInfo(CALLER, "c-uid", context=caller_context),
            ChannelInfo(AGENT, "i1-2", context="cc-held"),
            ChannelInfo("PJSIP/1003-09", "other-1", context="x"),
        ]


def restarted(caller_context: str) -> tuple[VoiceAdapter, RestartedAmi, list[ev.Event]]:
    events: list[ev.Event] = []
    ami = RestartedAmi(caller_context)
    voice = VoiceAdapter(
        Settings(), events.append, lambda _: None, lambda _: None, port=ami, clock=lambda: 50.0  # type: ignore[arg-type,return-value]
    )
    voice.adopt_callers({CALLER: "i1", "PJSIP/trunk-gone": "i9"}, {"i1": "1001", "i9": "1002"})
    return voice, ami, events


async def test_after_a_restart_the_agents_leg_and_the_hold_are_found_in_asterisk() -> None:
    voice, ami, events = restarted("cc-hold")
    await ami.start()  # logged in: the reconcile runs
    assert voice.agent_channel("i1", "1001") == AGENT and voice.is_held("i1")
    assert voice.agent_channel("i9", "1002") is None  # its channels are gone
    await voice.hold("i1", "1001", CALLER, False)  # Resume works on the adopted call
    assert ami.sent[-1]["Channel"] == AGENT and ami.sent[-1]["Exten"] == "resume"
    ami.emit(ami_events.HangupRequest(AGENT, "i1-2"))
    assert events[-1] == ev.AgentHungUp("i1", "1001", 50.0)  # the agent hung up, not the system


async def test_after_a_restart_a_bridged_caller_is_not_on_hold() -> None:
    voice, ami, _ = restarted("cc-wait")
    await ami.start()  # logged in: the reconcile runs
    assert voice.agent_channel("i1", "1001") == AGENT and not voice.is_held("i1")
    # Only the first reconcile after the restart adopts: a later one keeps what it knows.
    voice._legs.clear()
    await ami.start()  # logged in: the reconcile runs
    assert voice.agent_channel("i1", "1001") is None

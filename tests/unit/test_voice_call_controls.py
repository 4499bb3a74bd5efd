"""The call-control adapter (adapters/call_control.py, inside the voice adapter), with a fake of our own
AMI client interface: which AMI actions each of the core's call commands sends, which result events
it reports, and how refusals come back. (tests/e2e/test_agent_panel_calls.py runs the same controls
against the real Asterisk.)"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from callcenter.adapters import ami_events
from callcenter.adapters.ami import AmiError
from callcenter.adapters.call_control import AgentLeg
from callcenter.adapters.voice import VoiceAdapter
from callcenter.config import Settings
from callcenter.core import calls as cl
from callcenter.core import events as ev

CALLER, AGENT = "PJSIP/trunk-00000001", "PJSIP/1001-00000002"


class FakeAmi:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.refuse: set[str] = set()
        self.connected = True

    async def action(
        self, fields: dict[str, Any], as_list: bool = False, timeout: float | None = None
    ) -> Any:
        self.sent.append(dict(fields))
        if fields["Action"] in self.refuse:
            raise AmiError(f"{fields['Action']} refused")
        return [{"Response": "Success"}] if as_list else {"Response": "Success"}

    def actions(self) -> list[str]:
        return [f["Action"] for f in self.sent]


Reported = ev.Event | cl.CallEvent


def adapter() -> tuple[VoiceAdapter, FakeAmi, list[Reported]]:
    events: list[Reported] = []
    voice = VoiceAdapter(Settings(), events.append, lambda _: None, lambda _: None, clock=lambda: 50.0)  # type: ignore[arg-type,return-value]
    ami = FakeAmi()
    voice.ami = ami  # type: ignore[assignment]
    voice._callers["caller-uid"] = "i1"
    voice._legs["i1-1"] = AgentLeg("i1", "1001", channel=AGENT)
    return voice, ami, events


async def settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


async def run(voice: VoiceAdapter, command: cl.CallCommand) -> str | None:
    """Carry one of the core's commands out; None, or why it could not be done."""
    return await voice.calls.execute(command)


def hold(held: bool, agent: str = "1001") -> cl.CallCommand:
    return cl.HoldCall("i1", agent, CALLER) if held else cl.ResumeCall("i1", agent)


async def test_hold_moves_both_legs_with_one_redirect_and_resume_rebridges_the_agent() -> None:
    voice, ami, events = adapter()
    assert await run(voice, hold(True)) is None
    (redirect,) = ami.sent
    assert redirect["Channel"] == CALLER and redirect["Context"] == "cc-hold"
    assert redirect["ExtraChannel"] == AGENT and redirect["ExtraContext"] == "cc-held"
    assert voice.calls.is_held("i1") and events == [cl.HoldConfirmed("i1", True, 50.0)]
    assert await run(voice, hold(False)) is None
    assert ami.sent[-1] == {
        "Action": "Redirect",
        "Channel": AGENT,
        "Context": "cc-agent",
        "Exten": "resume",
        "Priority": "1",
    }
    assert not voice.calls.is_held("i1") and events[-1] == cl.HoldConfirmed("i1", False, 50.0)


async def test_hang_up_from_the_panel_is_the_agents_and_frees_a_held_caller() -> None:
    voice, ami, events = adapter()
    await run(voice, hold(True))
    events.clear()
    assert await run(voice, cl.HangupCall("i1", "1001")) is None
    assert events == [ev.AgentHungUp("i1", "1001", 50.0)]  # by the agent, not the system
    assert [f["Channel"] for f in ami.sent if f["Action"] == "Hangup"] == [AGENT, CALLER]
    # Asterisk's Hangup for that leg afterwards reports nothing more.
    voice._on_ami_event(ami_events.Hangup(AGENT, "i1-1", "x", 16, "Normal Clearing"))
    assert events == [ev.AgentHungUp("i1", "1001", 50.0)]


async def test_the_caller_hanging_up_on_hold_ends_the_agents_leg_too() -> None:
    voice, ami, events = adapter()
    await run(voice, hold(True))
    events.clear()
    voice._on_ami_event(ami_events.HangupRequest(CALLER, "caller-uid"))
    await settle()
    assert isinstance(events[0], ev.CallerHungUp) and not events[0].system
    assert ami.sent[-1]["Action"] == "Hangup" and ami.sent[-1]["Channel"] == AGENT


async def test_cancelling_a_consult_moves_the_first_agent_back_before_ending_the_consulted_leg() -> None:
    """Hanging up the consulted leg first sends the first agent's leg out of the consult bridge,
    and Asterisk refuses a Redirect of a channel on its way back to the dialplan."""
    voice, ami, events = adapter()
    assert await run(voice, cl.OriginateConsult("i1", "1001", CALLER, "1002", "1002", True)) is None
    await settle()
    assert events == [cl.ConsultAnswered("i1", "1002", 50.0)]  # the fake answers at once
    consulted = "PJSIP/1002-00000003"
    voice._on_ami_event(ami_events.Newchannel(consulted, "i1-consult1", "caller-uid", "cc-consult", "s"))
    ami.sent.clear()
    events.clear()

    ami.refuse.add("Redirect")
    assert "Asterisk refused" in (await run(voice, cl.CancelConsult("i1", "1001")) or "")
    assert ami.actions() == ["Redirect"]  # nothing hung up: the consult goes on
    assert voice.calls.is_held("i1") and events == [
        cl.ControlFailed("i1", "Asterisk refused: Redirect refused", 50.0)
    ]

    ami.refuse.clear()
    ami.sent.clear()
    events.clear()
    assert await run(voice, cl.CancelConsult("i1", "1001")) is None
    assert [(f["Action"], f["Channel"]) for f in ami.sent] == [("Redirect", AGENT), ("Hangup", consulted)]
    assert not voice.calls.is_held("i1")
    voice._on_ami_event(ami_events.HangupRequest(consulted, "i1-consult1"))
    voice._on_ami_event(ami_events.Hangup(consulted, "i1-consult1", "caller-uid", 16, "Normal Clearing"))
    assert events == [cl.ConsultCancelled("i1", 50.0)]  # the cancel's doing, not a failed consult
    assert await run(voice, cl.CancelConsult("i1", "1001")) == "no consult going on"


async def test_a_consult_the_colleague_does_not_answer_is_reported_and_the_caller_stays_on_hold() -> None:
    voice, ami, events = adapter()
    ami.refuse.add("Originate")
    assert await run(voice, cl.OriginateConsult("i1", "1001", CALLER, "1002", "1002", True)) is None
    await settle()
    assert events[0] == cl.ConsultFailed("i1", "1002", "Originate refused", 50.0)
    assert voice.calls.is_held("i1")
    # The hold itself refused: reported as a consult that never left the caller.
    voice, ami, events = adapter()
    ami.refuse.add("Redirect")
    assert await run(voice, cl.OriginateConsult("i1", "1001", CALLER, "1002", "1002", True))
    assert events == [
        cl.ConsultFailed("i1", "1002", "Asterisk refused: Redirect refused", 50.0, on_hold=False)
    ]


async def test_blind_transfers_and_refusals() -> None:
    voice, ami, events = adapter()
    assert await run(voice, cl.TransferCall("i1", "1001", CALLER, number="+15550199")) is None
    setvar, redirect = ami.sent
    assert setvar["Variable"] == "CC_TRANSFER_DIAL" and setvar["Value"] == "PJSIP/+15550199"
    assert redirect["Context"] == "cc-transfer" and redirect["ExtraContext"] == "cc-transferred"
    assert events == [cl.TransferConfirmed("i1", 50.0)]  # the core hears of it once Asterisk did it
    assert await run(voice, cl.HangupCall("i1", "1001")) == "the agent's phone is not on this call"

    voice, ami, events = adapter()
    assert (
        await run(voice, cl.TransferCall("i1", "1001", CALLER, number="1; Hangup"))
        == "not a number we can dial"
    )
    assert ami.sent == []
    ami.refuse.add("Redirect")
    assert "Asterisk refused" in (
        await run(voice, cl.TransferCall("i1", "1001", CALLER, queue="sales")) or ""
    )
    assert "not on this call" in (await run(voice, hold(True, agent="1002")) or "")
    assert all(isinstance(e, cl.ControlFailed) for e in events) and len(events) == 3


async def test_a_slow_caller_lookup_does_not_hold_the_call_and_is_not_torn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past the bound the call goes on unidentified; the lookup (which may be storing a new
    customer record) is not cancelled but finishes on its own."""
    from callcenter.adapters import voice as voice_module

    monkeypatch.setattr(voice_module, "IDENTIFY_SECONDS", 0.05)
    release = asyncio.Event()
    finished: list[str] = []

    async def slow_lookup(number: str, at: float) -> str | None:
        await release.wait()
        finished.append(number)
        return "cust-1"

    nothing = lambda _: None  # noqa: E731
    voice = VoiceAdapter(Settings(), nothing, nothing, nothing, identify_caller=slow_lookup)  # type: ignore[arg-type]
    assert await voice._customer_of("i1", "+14155550123", 50.0) is None  # the bound passed
    assert len(voice._late_identifications) == 1 and not finished
    release.set()
    for _ in range(5):
        await asyncio.sleep(0)
    assert finished == ["+14155550123"] and not voice._late_identifications


class RestartedAmi(FakeAmi):
    """Asterisk as a restarted server finds it: the caller on hold, the agent's leg in cc-held."""

    def __init__(self, caller_context: str) -> None:
        super().__init__()
        self.caller_context = caller_context

    async def action(
        self, fields: dict[str, Any], as_list: bool = False, timeout: float | None = None
    ) -> Any:
        if fields["Action"] == "CoreShowChannels":
            return [
                {"Response": "Success"},
                {
                    "Event": "CoreShowChannel",
                    "Channel": CALLER,
                    "Uniqueid": "c-uid",
                    "Context": self.caller_context,
                },
                {"Event": "CoreShowChannel", "Channel": AGENT, "Uniqueid": "i1-2", "Context": "cc-held"},
                {
                    "Event": "CoreShowChannel",
                    "Channel": "PJSIP/1003-09",
                    "Uniqueid": "other-1",
                    "Context": "x",
                },
                {"Event": "CoreShowChannelsComplete"},
            ]
        if fields["Action"] == "PJSIPShowEndpoints":
            return [{"Response": "Success"}, {"Event": "EndpointListComplete"}]
        return await super().action(fields, as_list, timeout)


def restarted(caller_context: str) -> tuple[VoiceAdapter, RestartedAmi, list[Reported]]:
    events: list[Reported] = []
    voice = VoiceAdapter(Settings(), events.append, lambda _: None, lambda _: None, clock=lambda: 50.0)  # type: ignore[arg-type,return-value]
    ami = RestartedAmi(caller_context)
    voice.ami = ami  # type: ignore[assignment]
    voice.adopt_callers({CALLER: "i1", "PJSIP/trunk-gone": "i9"}, {"i1": "1001", "i9": "1002"})
    return voice, ami, events


async def test_after_a_restart_the_agents_leg_and_the_hold_are_found_in_asterisk() -> None:
    voice, ami, events = restarted("cc-hold")
    await voice._reconcile()
    assert voice.calls.agent_channel("i1", "1001") == AGENT and voice.calls.is_held("i1")
    assert cl.HoldFound("i1", 50.0) in events  # the core hears the call is on hold
    assert voice.calls.agent_channel("i9", "1002") is None  # its channels are gone
    assert await run(voice, hold(False)) is None  # Resume works on the adopted call
    assert ami.sent[-1]["Channel"] == AGENT and ami.sent[-1]["Exten"] == "resume"
    voice._on_ami_event(ami_events.HangupRequest(AGENT, "i1-2"))
    assert events[-1] == ev.AgentHungUp("i1", "1001", 50.0)  # the agent hung up, not the system


async def test_after_a_restart_a_bridged_caller_is_not_on_hold() -> None:
    voice, _, events = restarted("cc-wait")
    await voice._reconcile()
    assert voice.calls.agent_channel("i1", "1001") == AGENT and not voice.calls.is_held("i1")
    assert not any(isinstance(e, cl.HoldFound) for e in events)
    # Only the first reconcile after the restart adopts: a later one keeps what it knows.
    voice._legs.clear()
    await voice._reconcile()
    assert voice.calls.agent_channel("i1", "1001") is None

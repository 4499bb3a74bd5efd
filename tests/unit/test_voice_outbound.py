"""The campaigns' placer on a fake of our own Asterisk port, a fake FastAGI session and the real
engine: what Asterisk is asked, what the engine decides, what the dialler is told."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import Any

import pytest

from callcenter.asterisk import voice_outbound
from callcenter.asterisk.agi import AgiHeaders, AgiResult
from callcenter.asterisk.ami_events import Hangup
from callcenter.asterisk.asterisk_port import Dialplan, OriginateRequest, OriginateResult
from callcenter.asterisk.voice_outbound import OutboundCalls
from callcenter.asterisk.voice_state import Tasks, VoiceState
from callcenter.core import events as ev
from callcenter.core import notices as nt
from callcenter.core.acd.agents import Agent
from callcenter.core.acd.engine import Acd, AcdConfig
from callcenter.core.acd.queues import Queue
from callcenter.core.commands import Command, DialAgent, SaveInteraction
from callcenter.core.interaction import EndedBy
from callcenter.core.interaction import Outcome as CallOutcome
from callcenter.core.outbound import dialler as dl
from callcenter.core.outbound.campaign import Outcome
from tests.conftest import config_with, settings_from
from tests.fake_port import FakePort

NUMBER = "+12125550100"
DECISION = dl.DialDecided(
    "renewals",
    7,
    NUMBER,
    1,
    "progressive",
    100.0,
    "sales",
    "+12125550199",
    None,
    8.0,
    "callcenter/sorry",
    fields={"name": "Ann", "renewal_date": "2027-01-31"},
    script="Hello Ann, your contract ends on 2027-01-31.",
    agent_id="1001",  # a preview call: held for the agent who chose to make it
)


class Session(AgiHeaders):
    def __init__(self, uniqueid: str, variables: dict[str, str] | None = None, amd: str = "") -> None:
        status, _, cause = amd.partition("/")
        self.headers = {
            "agi_channel": "PJSIP/caller-00000001",
            "agi_uniqueid": uniqueid,
            "agi_arg_1": status,
            "agi_arg_2": cause,
        }
        self.variables = variables or {}
        self.sent: list[str] = []

    async def command(self, line: str, timeout: float | None = None) -> AgiResult:
        self.sent.append(line)
        if line.startswith("GET VARIABLE "):
            value = self.variables.get(line.removeprefix("GET VARIABLE "))
            return AgiResult(200, "1", value) if value is not None else AgiResult(200, "0", "")
        return AgiResult(200, "1", "")

    async def set_variable(self, name: str, value: str) -> None:
        self.sent.append(f"SET {name}={value}")


class Rig:
    def __init__(self, registered: bool = True) -> None:
        self.now = 100.0
        self.port = FakePort()
        self.tasks = Tasks()
        self.acd = Acd(
            AcdConfig(),
            [Agent(id="1001", extension="1001", queues=frozenset({"sales"}))],
            {"sales": Queue("sales")},
        )
        if registered:
            self.acd.handle(ev.AgentRegistered("1001", self.now))
        self.commands: list[Command] = []
        settings = settings_from(config_with())
        self.calls = OutboundCalls(
            settings, self.port, VoiceState(), self.tasks, self.decide, lambda: self.now
        )
        self.reports: list[dl.AttemptEnded | dl.CallHandled] = []

    def decide(self, event: ev.Event) -> Sequence[Command]:
        out = self.acd.handle(event)
        self.commands += out
        for command in out:
            self.calls.on_command(command)  # as the service's listeners are told
        return out

    async def place(self, gate: asyncio.Event | None = None, decision: dl.DialDecided = DECISION) -> str:
        """Place DECISION; with ``gate``, Asterisk's answer to the Originate waits for it."""
        if gate is not None:
            original = self.port.originate

            async def slow(request: OriginateRequest) -> OriginateResult:
                await gate.wait()
                return await original(request)

            self.port.originate = slow  # type: ignore[method-assign]
        self.calls.place(decision, self.reports.append)
        for _ in range(10):
            await asyncio.sleep(0)
        return next(iter(self.calls._placed))


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    r = Rig()
    yield r
    await r.tasks.cancel_all()


async def test_an_answered_call_enters_the_queue_and_the_engine_picks_the_agent(rig: Rig) -> None:
    gate = asyncio.Event()
    channel = await rig.place(gate)
    rig.now = 103.0  # the customer answers: the FastAGI session comes with the OriginateResponse
    session = Session(channel)
    await rig.calls.answered(session)
    gate.set()
    for _ in range(10):
        await asyncio.sleep(0)
    request = rig.port.calls[0][1]
    assert request.endpoint == f"PJSIP/{NUMBER}@caller" and request.target == Dialplan(
        "cc-outbound", "answered"
    )
    assert (request.caller_id, request.ring_timeout) == ("<+12125550199>", 8.0)
    assert request.variables["CC_CAMPAIGN_QUEUE"] == "sales"
    assert request.variables["CC_OUTBOUND_MESSAGE"] == "callcenter/sorry"
    assert request.variables["CC_AMD"] == ""  # no answering-machine detection by default
    assert request.variables["CC_PREVIEW_AGENT"] == "1001"

    dial = [c for c in rig.commands if isinstance(c, DialAgent)]
    assert [d.agent_id for d in dial] == ["1001"] and dial[0].caller_channel == "PJSIP/caller-00000001"
    assert "SET CC_QUEUE=sales" in session.sent
    assert rig.reports == []  # not connected until the agent answers
    # The agent's card shows the record (the IVR data of the event log and the panel).
    collected = [c.data for c in rig.commands if isinstance(c, nt.IvrFinished)]
    assert collected == [
        {
            "name": "Ann",
            "renewal_date": "2027-01-31",
            "campaign": "renewals",
            "record": "7",
            "script": "Hello Ann, your contract ends on 2027-01-31.",
        }
    ]
    assert rig.acd.interactions[dial[0].interaction_id].preferred_agent == "1001"

    iid = dial[0].interaction_id
    rig.now = 104.0
    rig.decide(ev.AgentAnswered(iid, "1001", rig.now))
    assert rig.reports == [dl.AttemptEnded(7, Outcome.CONNECTED, 104.0, answered_after=3.0)]
    rig.now = 164.0
    rig.decide(ev.CallerHungUp(iid, "caller hung up", rig.now))
    assert rig.reports[1:] == [dl.CallHandled(7, 60.0, 0.0, 164.0)]
    assert rig.calls.in_flight == 0


async def test_no_agent_free_at_the_answer_is_abandoned_with_the_message() -> None:
    rig = Rig(registered=False)  # the agent's phone is not registered: nobody can take it
    try:
        channel = await rig.place()
        session = Session(channel)
        await rig.calls.answered(session)
        assert not any(s.startswith("SET CC_QUEUE") for s in session.sent)  # the dialplan plays the message
        assert rig.reports == [dl.AttemptEnded(7, Outcome.ABANDONED, 100.0, answered_after=0.0)]
        ended = [
            c.interaction for c in rig.commands if isinstance(c, SaveInteraction) and c.interaction.outcome
        ]
        assert [(i.outcome, i.ended_by, i.queue) for i in ended] == [
            (CallOutcome.ABANDONED, EndedBy.SYSTEM, "sales")
        ]
        assert rig.acd.interactions == {} and rig.calls.in_flight == 0
    finally:
        await rig.tasks.cancel_all()


async def test_hanging_up_while_the_agent_rings_is_abandoned(rig: Rig) -> None:
    channel = await rig.place()
    await rig.calls.answered(Session(channel))
    iid = next(c.interaction_id for c in rig.commands if isinstance(c, DialAgent))
    rig.decide(ev.CallerHungUp(iid, "caller hung up", 101.0))
    assert [r.outcome for r in rig.reports if isinstance(r, dl.AttemptEnded)] == [Outcome.ABANDONED]
    assert len(rig.reports) == 1


@pytest.mark.parametrize(
    ("cause", "outcome"),
    [(17, Outcome.BUSY), (19, Outcome.NO_ANSWER), (21, Outcome.NO_ANSWER), (34, Outcome.FAILED)],
)
async def test_an_unanswered_call_is_judged_by_its_channels_hangup_cause(
    rig: Rig, cause: int, outcome: Outcome
) -> None:
    # Asterisk 22 answers a busy callee's Originate with Reason 0; the channel's Hangup says 17.
    rig.port.originated = OriginateResult("failed", "dial failed", "0")
    gate = asyncio.Event()
    channel = await rig.place(gate)
    rig.calls.on_event(Hangup("PJSIP/caller-00000002", channel, channel, cause, "x"))
    gate.set()
    for _ in range(10):
        await asyncio.sleep(0)
    assert rig.reports == [dl.AttemptEnded(7, outcome, 100.0)]


async def test_without_a_channel_the_originate_reason_decides(rig: Rig, monkeypatch: Any) -> None:
    monkeypatch.setattr(voice_outbound, "HANGUP_WAIT", 0.0)
    rig.port.originated = OriginateResult("failed", "dial failed (no such endpoint)", "0")
    rig.calls.place(DECISION, rig.reports.append)
    for _ in range(10):
        await asyncio.sleep(0)
    assert [r.outcome for r in rig.reports if isinstance(r, dl.AttemptEnded)] == [Outcome.FAILED]
    rig.port.refuse.add("originate")  # Asterisk not reachable: failed too
    rig.calls.place(DECISION, rig.reports.append)
    for _ in range(10):
        await asyncio.sleep(0)
    assert [r.outcome for r in rig.reports if isinstance(r, dl.AttemptEnded)] == [Outcome.FAILED] * 2


async def test_a_call_placed_by_an_earlier_owner_still_enters_the_queue(rig: Rig) -> None:
    variables = {"CC_CAMPAIGN": "renewals", "CC_RECORD_ID": "7", "CC_CAMPAIGN_QUEUE": "sales"}
    session = Session("ob-unknown", {**variables, "CC_CUSTOMER_NUMBER": NUMBER})
    await rig.calls.answered(session)
    assert "SET CC_QUEUE=sales" in session.sent
    assert [c.agent_id for c in rig.commands if isinstance(c, DialAgent)] == ["1001"]
    assert rig.reports == []  # nobody here placed it: its result is not this dialler's
    stranger = Session("ob-other")  # no campaign on the channel: not queued (the message plays)
    await rig.calls.answered(stranger)
    assert not any(s.startswith("SET CC_QUEUE") for s in stranger.sent)


def test_outbound_abandoned_leaves_an_offered_call_alone() -> None:
    acd = Acd(
        AcdConfig(),
        [Agent(id="1001", extension="1001", queues=frozenset({"sales"}))],
        {"sales": Queue("sales")},
    )
    acd.handle(ev.AgentRegistered("1001", 1.0))
    acd.handle(ev.CallArrived("c", NUMBER, "", "renewals", "PJSIP/x", 2.0))
    acd.handle(ev.IvrFinished("c", None, "sales", 2.0))
    assert acd.interactions["c"].offered_to == "1001"
    assert acd.handle(ev.OutboundAbandoned("c", 2.5)) == []
    assert acd.handle(ev.OutboundAbandoned("nobody", 2.5)) == []


@pytest.mark.parametrize(
    ("on_machine", "left"), [("message", "callcenter/outbound-machine"), ("retry", ""), ("hangup", "")]
)
async def test_an_answering_machine_is_no_contact(rig: Rig, on_machine: str, left: str) -> None:
    decision = replace(DECISION, on_machine=on_machine, machine_message="callcenter/outbound-machine")
    channel = await rig.place(decision=decision)
    assert rig.port.calls[0][1].variables["CC_AMD"] == "1"  # the dialplan runs AMD() first
    session = Session(channel, amd="MACHINE/LONGGREETING-2000-1500")
    await rig.calls.answered(session)
    assert f"SET CC_OUTBOUND_MESSAGE={left}" in session.sent  # left after the greeting, or nothing
    assert not any(s.startswith("SET CC_QUEUE") for s in session.sent)
    assert rig.commands == [] and rig.acd.interactions == {}  # nobody was queued
    assert [r.outcome for r in rig.reports if isinstance(r, dl.AttemptEnded)] == [Outcome.MACHINE]


async def test_a_person_amd_is_not_sure_of_is_taken_for_a_person(rig: Rig) -> None:
    channel = await rig.place(decision=replace(DECISION, on_machine="retry"))
    session = Session(channel, amd="NOTSURE/TOOLONG-5000")
    await rig.calls.answered(session)
    assert "SET CC_QUEUE=sales" in session.sent

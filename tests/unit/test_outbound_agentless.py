"""Agentless campaigns: the message or the campaign's IVR flow, the opt-out key, the result stored
as the attempt's disposition and the number put on the do-not-call list (core, definitions, and
the placer on a fake FastAGI session)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from callcenter.asterisk.agi import AgiResult
from callcenter.core.ivr import flow as ivr
from callcenter.core.ivr import model as m
from callcenter.core.ivr.runner import FlowRunner
from callcenter.core.outbound import agentless as al
from callcenter.core.outbound import dialler as dl
from callcenter.core.outbound.campaign import Mode, Outcome
from callcenter.ivr import loader
from callcenter.outbound.definitions import parse_definitions, to_core
from callcenter.outbound.job import decision_of
from callcenter.settings import ConfigError
from tests.unit.test_outbound import MONDAY_NOON_NY, NY, campaign, free, of, running
from tests.unit.test_voice_outbound import DECISION, Rig, Session

REMINDER = """\
flow: reminder
language: en
start: ask
nodes:
  ask:
    type: menu
    prompt: {say: {en: "Your appointment is tomorrow. Press 1 to confirm, 2 to reschedule."}}
    choices: {"1": confirmed, "2": reschedule, "8": stop}
    timeout: 3
    attempts: 1
    no_input: bye
  confirmed:
    type: set
    variables: {disposition: confirmed}
    next: bye
  reschedule:
    type: set
    variables: {disposition: reschedule}
    next: bye
  stop:
    type: set
    variables: {opt_out: "yes"}
    next: bye
  bye:
    type: hangup
    prompt: {say: {en: "Thank you. Goodbye."}}
"""


def run(flow: ivr.Flow, keys: list[str]) -> ivr.Finish:
    """Carry the flow out as a caller pressing ``keys`` at its questions would."""
    action = flow.start()
    for _ in range(50):
        if isinstance(action, ivr.Finish):
            return action
        if isinstance(action, ivr.CollectDigits):
            action = flow.next(ivr.Digits(keys.pop(0) if keys else ""))
        else:
            action = flow.next(ivr.Done())
    raise AssertionError("the flow never finished")


@pytest.fixture
def reminder(tmp_path: Path) -> FlowRunner:
    (tmp_path / "reminder.yaml").write_text(REMINDER)
    flows, problems = loader.load([tmp_path])
    assert problems == []
    return FlowRunner(flows, "reminder", now=datetime(2026, 12, 7, 12, tzinfo=UTC), caller="+12125550100")


def test_the_message_is_played_and_the_opt_out_key_heard_during_it() -> None:
    played = run(al.OptOut(al.MessageFlow("callcenter/reminder", "9"), "9"), [""])
    assert al.result_of(played) == al.AgentlessResult("message_played", False)
    assert al.result_of(run(al.OptOut(al.MessageFlow("x", "9"), "9"), ["3"])).opt_out is False
    assert al.result_of(run(al.OptOut(al.MessageFlow("x", "9"), "9"), ["9"])) == al.AgentlessResult(
        "opt_out", True
    )
    # Without a key the message is only played (no key is waited for).
    flow = al.MessageFlow("x")
    assert isinstance(flow.start(), ivr.Play)


def test_a_flows_answer_is_the_disposition_and_the_campaign_key_opts_out_anywhere(
    reminder: FlowRunner, tmp_path: Path
) -> None:
    assert al.result_of(run(al.OptOut(reminder, "9"), ["1"])) == al.AgentlessResult("confirmed", False)
    flows, _ = loader.load([tmp_path])

    def fresh() -> FlowRunner:
        return FlowRunner(flows, "reminder", now=datetime(2026, 12, 7, 12, tzinfo=UTC))

    assert al.result_of(run(al.OptOut(fresh(), "9"), ["2"])).disposition == "reschedule"
    assert al.result_of(run(al.OptOut(fresh(), "9"), [""])).disposition == "hangup"  # no answer
    assert al.result_of(run(al.OptOut(fresh(), "9"), ["9"])) == al.AgentlessResult("opt_out", True)
    # The flow's own opt-out (a set node), with or without a campaign key.
    assert al.result_of(run(al.OptOut(fresh(), ""), ["8"])) == al.AgentlessResult("opt_out", True)
    with pytest.raises(ivr.FlowError):
        done = al.OptOut(al.MessageFlow("x", "9"), "9")
        done.start()
        done.next(ivr.Digits("9"))
        done.next(ivr.Done())


def test_the_result_is_stored_with_the_attempt_and_an_opt_out_is_never_called_again() -> None:
    c = campaign(Mode.AGENTLESS, flow="reminder", opt_out_key="9")
    d = running(c, dl.Record(1, "+15550000001", NY), dl.Record(2, "+15550000002", NY))
    [first, _] = of(dl.DialDecided, d.handle(dl.Paced(free(0), 0, MONDAY_NOON_NY)))
    assert (first.agentless, first.flow, first.opt_out_key) == (True, "reminder", "9")
    at = MONDAY_NOON_NY + 30
    d.handle(dl.AttemptEnded(1, Outcome.CONNECTED, at))
    out = d.handle(dl.AgentlessEnded(1, "opt_out", True, at))
    assert of(dl.Disposed, out) == [dl.Disposed("c", 1, "+15550000001", "opt_out", 1, at)]
    assert of(dl.OptedOut, out) == [dl.OptedOut("c", 1, "+15550000001", at)]
    assert d.dnc("+15550000001") and d.records[1].done == "connected"
    row = decision_of("c", of(dl.Disposed, out)[0])
    assert row is not None and (row.kind, row.reason, row.data["attempt"]) == ("disposition", "opt_out", 1)
    # A confirmation: stored, nobody listed.
    out = d.handle(dl.AgentlessEnded(2, "confirmed", False, at))
    assert [x.disposition for x in of(dl.Disposed, out)] == ["confirmed"] and of(dl.OptedOut, out) == []
    assert not d.dnc("+15550000002")


def test_flow_and_opt_out_key_are_checked_in_the_definition() -> None:
    base = (
        "campaigns:\n  r:\n    mode: {mode}\n    queue: q\n"
        '    windows: [{{days: [mon], from: "09:00", to: "17:00"}}]\n'
    )
    good = parse_definitions(
        base.format(mode="agentless") + "    flow: reminder\n    opt_out_key: '9'\n", "c.yaml"
    )
    core = to_core("r", good["r"])
    assert (core.flow, core.opt_out_key) == ("reminder", "9")
    with pytest.raises(ConfigError, match=r"c.yaml:\d+: .*for agentless campaigns"):
        parse_definitions(base.format(mode="progressive") + "    flow: reminder\n", "c.yaml")
    with pytest.raises(ConfigError, match=r"c.yaml:6: campaigns.r.opt_out_key"):
        parse_definitions(base.format(mode="agentless") + "    opt_out_key: '99'\n", "c.yaml")


class Keys(Session):
    """A person who presses ``keys`` at the flow's questions (GET DATA)."""

    def __init__(self, uniqueid: str, keys: list[str], variables: dict[str, str] | None = None) -> None:
        super().__init__(uniqueid, variables)
        self.keys = keys

    async def command(self, line: str, timeout: float | None = None) -> AgiResult:
        if line.startswith("GET DATA"):
            self.sent.append(line)
            return AgiResult(200, self.keys.pop(0) if self.keys else "", "")
        return await super().command(line, timeout)


@pytest.mark.parametrize(("keys", "result"), [(["9"], ("opt_out", True)), ([""], ("message_played", False))])
async def test_an_answered_agentless_call_plays_the_message_and_reports_its_result(
    keys: list[str], result: tuple[str, bool]
) -> None:
    rig = Rig()
    try:
        decision = replace(DECISION, agentless=True, opt_out_key="9", agent_id=None)
        channel = await rig.place(decision=decision)
        session = Keys(channel, keys)
        await rig.calls.answered(session)
        assert [s for s in session.sent if s.startswith("GET DATA")] == ["GET DATA callcenter/sorry 3000 1"]
        assert "SET CC_OUTBOUND_MESSAGE=" in session.sent  # not played again by the dialplan
        assert not any(s.startswith("SET CC_QUEUE") for s in session.sent)
        assert rig.commands == [] and rig.acd.interactions == {}  # no agent, nothing queued
        ended = [r for r in rig.reports if isinstance(r, dl.AttemptEnded)]
        assert [e.outcome for e in ended] == [Outcome.CONNECTED]
        [agentless] = [r for r in rig.reports if isinstance(r, dl.AgentlessEnded)]
        assert (agentless.record_id, agentless.disposition, agentless.opt_out) == (7, *result)
        assert rig.calls.in_flight == 0
    finally:
        await rig.tasks.cancel_all()
        await asyncio.sleep(0)


async def test_the_campaigns_flow_runs_on_the_call(reminder: FlowRunner) -> None:
    rig = Rig()
    try:
        rig.calls.flow_of = lambda name, call: reminder if name == "reminder" else None
        decision = replace(DECISION, agentless=True, flow="reminder", opt_out_key="9", agent_id=None)
        session = Keys(await rig.place(decision=decision), ["2"])
        await rig.calls.answered(session)
        [agentless] = [r for r in rig.reports if isinstance(r, dl.AgentlessEnded)]
        assert (agentless.disposition, agentless.opt_out) == ("reschedule", False)
        assert any(s.startswith("STREAM FILE") for s in session.sent)  # the goodbye
    finally:
        await rig.tasks.cancel_all()


async def test_an_agentless_call_placed_by_an_earlier_owner_still_opts_out() -> None:
    """After a failover the new owner's FastAGI reads what the call is from the channel (as the
    Originate set it): it runs the message, and the opt-out goes to the job (``unclaimed``)."""
    rig = Rig()
    try:
        channel = await rig.place(decision=replace(DECISION, agentless=True, opt_out_key="9", agent_id=None))
        variables = rig.port.calls[0][1].variables
        assert (variables["CC_AGENTLESS"], variables["CC_OPT_OUT_KEY"]) == ("-", "9")
        unclaimed: list[tuple[str, object]] = []
        rig.calls.unclaimed = lambda campaign, result: unclaimed.append((campaign, result))
        session = Keys("ob-earlier-owner", ["9"], {**variables, "CC_CUSTOMER_NUMBER": DECISION.number})
        await rig.calls.answered(session)
        assert rig.acd.interactions == {} and not any(s.startswith("SET CC_QUEUE") for s in session.sent)
        assert unclaimed == [("renewals", dl.AgentlessEnded(7, "opt_out", True, rig.now))]
        assert channel in rig.calls._placed  # this owner's own call is untouched
    finally:
        await rig.tasks.cancel_all()


async def test_a_reminders_reschedule_key_files_a_callback() -> None:
    """An agentless flow's schedule_callback step ("2: call me tomorrow at 10") reaches the
    callbacks service from the campaign's call, and the flow goes on to its next node."""
    flow = REMINDER.replace(
        """  reschedule:
    type: set
    variables: {disposition: reschedule}
    next: bye""",
        """  reschedule:
    type: schedule_callback
    queue: support
    prompt: {say: {en: "For tomorrow at ten, press 1."}}
    choices: {"1": {day: tomorrow, at: "10:00"}}
    attempts: 1
    no_input: bye
    next: rescheduled
    refused: bye
  rescheduled:
    type: set
    variables: {disposition: rescheduled}
    next: bye""",
    )
    flows, problems = loader.parse_text(flow, "reminder.yaml")
    assert flows is not None and problems == []
    runner = FlowRunner(
        m.FlowSet({"reminder": flows}),
        "reminder",
        now=datetime(2026, 12, 7, 12, tzinfo=UTC),
        caller="+12125550100",
    )
    asked: list[ivr.ScheduleCallback] = []

    async def schedule(step: ivr.ScheduleCallback) -> ivr.CallbackResult:
        asked.append(step)
        return ivr.CallbackResult(True, local="2026-12-08T10:00-05:00")

    rig = Rig()
    try:
        rig.calls.flow_of = lambda name, call: runner if name == "reminder" else None
        rig.calls.schedule_callback = schedule
        decision = replace(DECISION, agentless=True, flow="reminder", agent_id=None)
        session = Keys(await rig.place(decision=decision), ["2", "1"])
        await rig.calls.answered(session)
        assert asked == [ivr.ScheduleCallback("support", "+12125550100", None, 1, "10:00")]
        [agentless] = [r for r in rig.reports if isinstance(r, dl.AgentlessEnded)]
        assert agentless.disposition == "rescheduled"
    finally:
        await rig.tasks.cancel_all()

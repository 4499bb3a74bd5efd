"""The voice path replayed from recordings of real sandbox calls (tests/data/voice): the real voice
adapter (FastAGI IVR, dialer, AMI event mapping, reconcile) and the real engine, on the recording's
clock, without Asterisk. Each action the adapter sends must be the recorded one, in order.

After a change that makes the adapter send other actions, re-record them against the sandbox:
``CC_TEST_SLOT=1 .venv/bin/python -m tests.record_voice_scenarios`` (docs/asterisk.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from callcenter.asterisk import session_replay
from callcenter.asterisk.replay import ReplayDivergence, describe, replay_session
from callcenter.asterisk.session_codec import encode
from callcenter.core import events as ev
from callcenter.core.acd.agents import AgentState
from callcenter.core.calls import machine as cl
from callcenter.core.commands import AgentStateChanged, DialAgent
from callcenter.core.interaction import EndedBy, Outcome
from callcenter.settings import Settings
from tests.conftest import config_with, settings_from

DATA = Path(__file__).parents[1] / "data" / "voice"


def recorded_settings() -> Settings:
    """The configuration the scenarios ran with (tests/record_voice_scenarios.py)."""
    return settings_from(config_with(recordings={"enabled": False}))


async def test_inbound_call_through_the_menu_and_the_queue_to_an_agent() -> None:
    replayed = await replay_session(recorded_settings(), DATA / "inbound_answer.jsonl")
    (call,) = replayed.interactions().values()
    assert call.outcome == Outcome.ANSWERED and call.ended_by == EndedBy.CALLER
    assert (call.caller_number, call.dialed_number) == ("caller", "5000")
    assert (call.ivr_choice, call.queue, call.agent_id) == ("1", "support", "1001")
    assert call.wait_seconds is not None and call.wait_seconds > 0
    assert call.talk_seconds is not None and call.talk_seconds > 1.0  # the scenario talked 1.5 s
    dials = [c for c in replayed.commands if isinstance(c, DialAgent)]
    assert [(d.agent_id, d.interaction_id, d.attempt) for d in dials] == [("1001", call.id, 1)]
    states = [c.state for c in replayed.commands if isinstance(c, AgentStateChanged) and c.agent_id == "1001"]
    assert AgentState.BUSY in states and states[-1] != AgentState.BUSY  # freed when the caller hung up
    # After the login the opening menu published (CC_OPENING) and the 2 AMI lists; the IVR's 2
    # commands (the dialplan answered and asked the menu: no ANSWER, no GET DATA); the Originate.
    assert replayed.calls_matched == 6
    lines = [line for c in replayed.commands if (line := describe(c)) is not None]
    assert any(line.startswith("DialAgent") and "agent_id=1001" in line for line in lines)


async def test_a_restarted_server_finds_its_waiting_caller_in_asterisk_and_answers_it() -> None:
    settings = recorded_settings()
    before = await replay_session(settings, DATA / "restart_reconcile.1.jsonl")
    waiting = list(before.engine.live.values())  # what the database held when the server died
    assert len(waiting) == 1 and waiting[0].queued_at is not None and waiting[0].outcome is None

    after = await replay_session(settings, DATA / "restart_reconcile.2.jsonl", restored=waiting)
    ended = [i for i in after.interactions().values() if i.outcome is not None]
    assert [i.id for i in ended] == [waiting[0].id]
    call = ended[0]
    assert call.outcome == Outcome.ANSWERED and call.agent_id == "1001"
    assert call.queued_at == waiting[0].queued_at  # its place in line kept across the restart


async def test_a_restart_that_forgets_the_waiting_caller_diverges_at_the_agents_dial(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What the replay catches: without the restored caller, no agent is rung where the recording
    rang one."""
    monkeypatch.setattr(session_replay, "CALL_WAIT", 0.5)
    with pytest.raises(ReplayDivergence, match=r"restart_reconcile.2.jsonl:\d+: expected originate\("):
        await replay_session(recorded_settings(), DATA / "restart_reconcile.2.jsonl")


async def test_the_agents_pause_from_the_panel_is_replayed_and_changes_the_decision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ``input`` record (an event the engine got from the panel, not from Asterisk) is given to
    the engine at its place: agent 1001 paused before the call, nobody is rung where the recording
    rang 1001, and the replay says so."""
    monkeypatch.setattr(session_replay, "CALL_WAIT", 0.5)
    lines = (DATA / "inbound_answer.jsonl").read_text().splitlines()
    registered = next(i for i, line in enumerate(lines) if '"aor":"1001"' in line)
    at = json.loads(lines[registered])["at"]
    pause = {"t": 0, "at": at, "kind": "input", "event": encode(ev.AgentPause("1001", "lunch", at))}
    lines.insert(registered + 1, json.dumps(pause))
    paused = tmp_path / "paused.jsonl"
    paused.write_text("\n".join(lines) + "\n")
    with pytest.raises(ReplayDivergence, match=r"paused.jsonl:\d+: expected originate\("):
        await replay_session(recorded_settings(), paused)


# --- the agent panel's call controls: requests are `input` records, the core's commands carried out
# by adapters/call_control.py on the replayed port (every Redirect, Originate and Hangup as recorded).


def kinds(commands: list[object]) -> list[type]:
    return [type(c) for c in commands]


async def test_hold_and_resume_from_the_panel() -> None:
    replayed = await replay_session(recorded_settings(), DATA / "hold_resume.jsonl")
    (call,) = replayed.interactions().values()
    assert call.outcome == Outcome.ANSWERED and call.agent_id == "1001"
    done = kinds(replayed.commands)
    assert done.count(cl.HoldCall) == 1 and done.count(cl.ResumeCall) == 1
    assert done.index(cl.CallHeld) < done.index(cl.CallResumed)  # confirmed by Asterisk, in order
    assert replayed.engine.calls.get(call.id) is None  # forgotten once the call ended


async def test_blind_transfer_from_the_panel_rings_the_other_agent() -> None:
    replayed = await replay_session(recorded_settings(), DATA / "blind_transfer.jsonl")
    (call,) = replayed.interactions().values()
    assert call.outcome == Outcome.ANSWERED and call.agent_id == "1002"
    assert call.transferred_to == "agent:1002"
    dials = [c.agent_id for c in replayed.commands if isinstance(c, DialAgent)]
    assert dials == ["1001", "1002"]
    assert any(isinstance(c, cl.Transferred) and c.to_agent == "1002" for c in replayed.commands)


async def test_attended_transfer_from_the_panel_hands_the_caller_over() -> None:
    replayed = await replay_session(recorded_settings(), DATA / "attended_transfer.jsonl")
    (call,) = replayed.interactions().values()
    assert call.outcome == Outcome.ANSWERED and call.agent_id == "1002"
    done = kinds(replayed.commands)
    assert done.index(cl.OriginateConsult) < done.index(cl.BridgeConsult) < done.index(cl.TransferredAttended)
    assert [c.agent_id for c in replayed.commands if isinstance(c, DialAgent)] == [
        "1001"
    ]  # consulted, not dialled


async def test_a_conference_from_the_panel_and_the_third_party_dropped() -> None:
    replayed = await replay_session(recorded_settings(), DATA / "conference.jsonl")
    (call,) = replayed.interactions().values()
    assert call.outcome == Outcome.ANSWERED and call.agent_id == "1001"  # the call stayed the first agent's
    done = kinds(replayed.commands)
    order = [
        done.index(k) for k in (cl.OriginateConference, cl.ConferenceJoined, cl.DropGuest, cl.ConferenceLeft)
    ]
    assert order == sorted(order)

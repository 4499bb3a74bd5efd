"""``callcenter replay FILE`` as a user runs it, on a recording of a real sandbox call."""

from __future__ import annotations

from pathlib import Path

from tests.tools import run_callcenter as replay

RECORDING = Path(__file__).parents[1] / "data" / "voice" / "inbound_answer.jsonl"
# The configuration the scenario ran with (tests/record_voice_scenarios.py).
AS_RECORDED = ("--set", "acd.ring_timeout=8", "--set", "recordings.enabled=false")


def test_replay_prints_each_decision_with_its_reason(tmp_path: Path) -> None:
    result = replay(*AS_RECORDED, "replay", str(RECORDING), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    offered = [line for line in lines if " offered [" in line]
    assert len(offered) == 1 and "agent=1001 — longest-idle available agent in queue support" in offered[0]
    assert any("state=available — phone registered" in line for line in lines)
    # The opening published, 2 AMI lists, the IVR's 2 commands (the dialplan asked the menu), the Originate.
    assert lines[-2].endswith("6 actions matched, 1 interaction(s) ended")
    assert "answered queue=support agent=1001 ended_by=caller" in lines[-1]
    assert not list(tmp_path.iterdir())  # nothing written: no database, no recording


def test_replay_with_another_configuration_says_where_it_diverged(tmp_path: Path) -> None:
    other_ring = ("--set", "acd.ring_timeout=20", "--set", "recordings.enabled=false")
    result = replay(*other_ring, "replay", str(RECORDING), cwd=tmp_path)
    assert result.returncode == 1
    assert f"replay diverged: {RECORDING}:" in result.stderr
    assert "expected originate(" in result.stderr and '"ring_timeout":8.0' in result.stderr
    assert "got originate(" in result.stderr and '"ring_timeout":20.0' in result.stderr


def test_replay_refuses_what_is_not_a_recording(tmp_path: Path) -> None:
    other = tmp_path / "notes.jsonl"
    other.write_text('{"hello": 1}\n')
    result = replay("replay", str(other), cwd=tmp_path)
    assert result.returncode == 2
    assert f"cannot replay: {other}:1: not a callcenter-asterisk-session recording" in result.stderr
    result = replay("replay", str(tmp_path / "missing.jsonl"), cwd=tmp_path)
    assert result.returncode == 2 and "missing.jsonl" in result.stderr

"""``callcenter ivr validate | simulate | test`` as an admin (or CI) runs them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from callcenter import cli
from tests.tools import require

FLOWS = Path(__file__).parents[2] / "ivr_flows"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = cli.main(["--set", "logging.format=console", "ivr", *argv])
    return code, capsys.readouterr().out


def test_validate_the_examples(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "validate", str(FLOWS))
    assert (code, out) == (0, "")


def test_validate_prints_every_problem_and_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("start: a\nnodes:\n  a: {type: menu, prompt: x, choices: {'1': b}, no_input: c}\n")
    broken = tmp_path / "broken.yaml"
    broken.write_text("start: [\n")
    code, out = run(capsys, "validate", str(bad), str(broken))
    assert code == 1
    assert out.splitlines() == [
        f"{bad}:3:45: missing target: node 'a' goes to 'b', which is not a node of flow 'bad'",
        f"{bad}:3:59: missing target: node 'a' goes to 'c', which is not a node of flow 'bad'",
        f"{broken}:2:1: invalid YAML: expected the node content, but found '<stream end>'",
    ]


def test_validate_audio_reports_prompts_not_rendered(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flow = tmp_path / "f.yaml"
    flow.write_text("start: a\nnodes:\n  a: {type: hangup, prompt: {file: acme/bye}}\n")
    code = cli.main(["--set", f"ivr.prompts_dir={tmp_path}", "ivr", "validate", "--audio", str(flow)])
    out = capsys.readouterr().out
    assert code == 1 and "missing audio in node 'a': sound file 'acme/bye' not found" in out
    (tmp_path / "acme").mkdir()
    (tmp_path / "acme" / "bye.gsm").write_bytes(b"x")
    assert cli.main(["--set", f"ivr.prompts_dir={tmp_path}", "ivr", "validate", "--audio", str(flow)]) == 0


def test_simulate_prints_each_step(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(
        capsys,
        "simulate",
        str(FLOWS / "main.yaml"),
        "--caller",
        "+34600",
        "--now",
        "2026-11-23T10:00:00+01:00",
        "--input",
        "1",
        "--input",
        "1",
        "--input",
        "4729#",
        "--http",
        'https://crm.example.com/api/accounts/4729?caller=%2B34600=200:{"customer": {"vip": true}}',
    )
    assert code == 0
    assert "  caller presses '4729#'" in out
    assert "http GET https://crm.example.com/api/accounts/4729?caller=%2B34600 -> status 200" in out
    assert "outcome: queue queue=billing priority=10" in out
    assert "data: vip=true" in out


def test_simulate_unknown_flow(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["--set", f"ivr.flows_dir={FLOWS}", "ivr", "simulate", "nope"])
    out = capsys.readouterr().out
    assert code == 1 and "no flow named 'nope'" in out


def test_flow_tests_pass_and_a_failing_case_fails_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(capsys, "test", str(FLOWS))
    assert code == 0 and out.splitlines()[-1].endswith("0 failed (5 test file(s))")

    flows = tmp_path / "flows"
    shutil.copytree(FLOWS, flows)
    (flows / "main.test.yaml").write_text(
        "tests:\n  - name: wrong expectation\n    inputs: ['1', '2']\n"
        "    now: '2026-11-23T10:00:00+01:00'\n    expect: {queue: sales}\n"
    )
    code, out = run(capsys, "test", str(flows / "main.yaml"))
    assert code == 1
    assert "FAIL" in out and "queue: expected 'sales', got 'support'" in out


def test_validate_render_makes_the_audio_check_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require("espeak-ng", "espeak-ng")
    flow = tmp_path / "f.yaml"
    flow.write_text("start: a\nnodes:\n  a: {type: hangup, prompt: Goodbye}\n")
    argv = ["--set", f"ivr.prompts_dir={tmp_path / 'p'}", "ivr", "validate"]
    assert cli.main([*argv, "--audio", str(flow)]) == 1
    assert "text-to-speech for 'Goodbye' not rendered" in capsys.readouterr().out
    assert cli.main([*argv, "--render", str(flow)]) == 0
    assert list((tmp_path / "p" / "cc-tts").glob("en-*.wav"))


def test_simulate_a_chat_flow_on_messages(capsys: pytest.CaptureFixture[str]) -> None:
    flow = str(FLOWS / "chat_support.yaml")
    code, out = run(
        capsys, "simulate", flow, "--chat", "--input", "2", "--input", "refund?", "--kb", "refund=In 5 days."
    )
    assert code == 0
    assert "bot: In 5 days." in out.splitlines() and "data: question=refund?" in out
    code, out = run(capsys, "simulate", str(FLOWS / "main.yaml"), "--chat")
    assert (code, out.strip()) == (2, "error: flow 'main' does not run on chat")

"""Flow test files: a broken case is a failed case with a reason, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.ivr import flowtest, loader

FLOWS = Path(__file__).parents[2] / "ivr_flows"


@pytest.mark.parametrize(
    ("text", "failure"),
    [
        ("tests:\n  - {inputs: ['1'], colour: red}\n", "unknown keys: colour"),
        ("tests:\n  - {expect: {queue: a, mood: happy}}\n", "unknown keys: expect.mood"),
        ("tests:\n  - {now: '2026-01-05T12:00:00'}\n", "bad test case: it needs a UTC offset"),
        ("tests:\n  - {now: yesterday}\n", "bad test case: Invalid isoformat string"),
        ("tests:\n  - {http: [{status: 200}]}\n", "bad test case: each http mock needs a 'url'"),
        ("tests:\n  - {flow: nope}\n", "no flow named 'nope'"),
        ("tests:\n  - just text\n", "a test case must be a mapping"),
        ("tests: {a: 1}\n", "expected a list of test cases under 'tests'"),
        ("tests: [\n", "cannot read the test file"),
    ],
)
def test_broken_cases_fail_with_a_reason(tmp_path: Path, text: str, failure: str) -> None:
    flows, problems = loader.load([FLOWS])
    assert problems == []
    path = tmp_path / "main.test.yaml"
    path.write_text(text)
    [result] = flowtest.run_file(flows, path)
    assert not result.passed and result.failures[0].startswith(failure), result.failures


def test_tests_beside_a_flow_file_are_found() -> None:
    assert flowtest.find_test_files([FLOWS / "billing.yaml"]) == [FLOWS / "billing.test.yaml"]
    assert len(flowtest.find_test_files([FLOWS])) == 5

"""Every problem an admin can write into a flow is reported as file:line:column: message."""

from __future__ import annotations

import re
from pathlib import Path
from textwrap import dedent

import pytest

from callcenter.core.ivr import model as m
from callcenter.ivr import loader

FLOWS = Path(__file__).parents[2] / "ivr_flows"
WHERE = re.compile(r"^[^:]+:\d+:\d+: ")


def problems(tmp_path: Path, **files: str) -> list[str]:
    for name, text in files.items():
        (tmp_path / f"{name}.yaml").write_text(dedent(text).lstrip())
    _, found = loader.load([tmp_path])
    lines = [str(p).replace(str(tmp_path) + "/", "") for p in found]
    assert all(WHERE.match(line) for line in lines), lines
    return lines


def test_the_example_flows_are_valid() -> None:
    flows, found = loader.load([FLOWS])
    assert found == []
    assert {"main", "billing", "after_hours"} <= set(flows.flows)


def test_unknown_node_type(tmp_path: Path) -> None:
    assert problems(
        tmp_path,
        a="""
        start: x
        nodes:
          x: {type: dance}
        """,
    ) == [
        "a.yaml:3:13: unknown node type 'dance' (one of play, menu, language, collect, hours, set, "
        "branch, http, goto, queue, voicemail, callback, hangup, schedule_callback, kb, ticket, agents)"
    ]


def test_missing_target_in_flow_and_missing_flow(tmp_path: Path) -> None:
    assert problems(
        tmp_path,
        a="""
        start: m
        nodes:
          m:
            type: menu
            prompt: {file: x}
            choices: {"1": nowhere}
            no_input: other
          other: {type: goto, flow: nope}
        """,
    ) == [
        "a.yaml:6:20: missing target: node 'm' goes to 'nowhere', which is not a node of flow 'a'",
        "a.yaml:8:29: missing target: node 'other' goes to flow 'nope', which does not exist",
    ]


def test_unreachable_node(tmp_path: Path) -> None:
    assert problems(
        tmp_path,
        a="""
        start: q
        nodes:
          q: {type: queue, queue: support}
          lost: {type: hangup}
        """,
    ) == ["a.yaml:4:3: unreachable node 'lost': nothing leads to it from the start of flow 'a'"]


def test_loop_without_exit(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        a="""
        start: one
        nodes:
          one: {type: play, prompt: {file: x}, next: two}
          two: {type: set, variables: {n: "1"}, next: one}
        """,
    )
    assert found == [
        "a.yaml:3:3: loop without exit: from node 'one' the caller can never reach a queue, voicemail, "
        "callback or hang-up",
        "a.yaml:4:3: loop without exit: from node 'two' the caller can never reach a queue, voicemail, "
        "callback or hang-up",
    ]


def test_a_menu_that_loops_but_can_leave_is_fine(tmp_path: Path) -> None:
    assert (
        problems(
            tmp_path,
            a="""
        start: m
        nodes:
          m:
            type: menu
            prompt: {file: x}
            choices: {"9": m, "0": q}
            no_input: m
          q: {type: queue, queue: support}
        """,
        )
        == []
    )


def test_bad_regex_in_collect_and_branch(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        a="""
        start: c
        nodes:
          c:
            type: collect
            prompt: {file: x}
            variable: account
            max_digits: 8
            pattern: "[0-9"
            no_input: q
            next: b
          b:
            type: branch
            cases:
              - if: {var: account, matches: "(1"}
                goto: q
            else: q
          q: {type: queue, queue: support}
        """,
    )
    assert [f.split(": bad regex")[0] for f in found] == ["a.yaml:8:14", "a.yaml:14:37"]


def test_prompt_text_missing_for_a_language(tmp_path: Path) -> None:
    assert problems(
        tmp_path,
        a="""
        languages: [en, es]
        start: p
        nodes:
          p:
            type: play
            prompt: {say: {en: Hello}}
            next: q
          q: {type: queue, queue: support, prompt: "Hold on"}
        """,
    ) == [
        "a.yaml:6:13: prompt text missing for language 'es' in node 'p'",
        "a.yaml:8:44: prompt text missing for language 'es' in node 'q'",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("start: [\n", "a.yaml:2:1: invalid YAML: expected the node content, but found '<stream end>'"),
        ("nodes: {a: 1\n", "a.yaml:2:1: invalid YAML: expected ',' or '}', but got '<stream end>'"),
        ("\t- x\n", "a.yaml:1:1: invalid YAML: found character '\\t' that cannot start any token"),
        ("", "a.yaml:1:1: the flow file is empty"),
        ("- a\n", "a.yaml:1:1: expected a mapping for a flow"),
        ("start: x\n", "a.yaml:1:1: a flow needs 'nodes'"),
    ],
)
def test_malformed_yaml_has_a_line_number(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "a.yaml").write_text(text)
    _, found = loader.load([tmp_path])
    assert [str(p).replace(str(tmp_path) + "/", "") for p in found] == [expected]


def test_structural_mistakes_are_all_reported(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        a="""
        start: h
        colour: blue
        nodes:
          h:
            type: hours
            timezone: Mars/Olympus
            week: {}
            open: q
            closed: q
          c: {type: collect, prompt: {file: x}, variable: v, max_digits: ten, next: q, no_input: q,
              terminator: "*"}
          m: {type: menu, prompt: {file: x}, choices: {"12": q}, no_input: q}
          q: {type: queue, queue: support, priority: 1000}
          q: {type: hangup}
          n: {type: queue}
        """,
    )
    assert found == [
        "a.yaml:2:1: unknown key 'colour' in a flow (allowed: agent, channels, description, flow, idle, "
        "language, languages, nodes, start)",
        "a.yaml:6:15: unknown time zone 'Mars/Olympus' (e.g. Europe/Madrid)",
        "a.yaml:10:66: 'ten' is not a whole number",
        "a.yaml:11:19: only '#' can end the input (Asterisk's GET DATA terminator)",
        "a.yaml:12:48: choice '12' must be one key: 0-9, * or #",
        "a.yaml:13:46: 1000 is out of range (-100..100)",
        "a.yaml:14:3: node 'q' is defined twice",
        "a.yaml:15:6: queue node needs 'queue'",
    ]


def test_two_files_defining_one_flow(tmp_path: Path) -> None:
    flow = "flow: same\nstart: q\nnodes:\n  q: {type: hangup}\n"
    found = problems(tmp_path, a=flow, b=flow)
    assert found == ["b.yaml:1:1: flow 'same' is already defined at a.yaml:1:1"]


def test_positions_sort_by_line_then_column() -> None:
    assert sorted([m.Pos("a", 2, 1), m.Pos("a", 1, 9)])[0] == m.Pos("a", 1, 9)


def test_a_key_given_twice(tmp_path: Path) -> None:
    assert problems(
        tmp_path,
        a="""
        start: m
        nodes:
          m: {type: menu, prompt: {file: x}, choices: {"1": q, "1": m}, no_input: q}
          q: {type: hangup}
        """,
    ) == ["a.yaml:3:56: choice '1' is given twice"]

"""The IVR flow drawing (web/flow_graph.py): exits labelled with the flow file's keys, a box per
node (and per target in another flow), an edge per exit, texts escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from callcenter.core.ivr import model as m
from callcenter.ivr import loader
from callcenter.web.flow_graph import exits, flow_svg

SVG = "{http://www.w3.org/2000/svg}"

FLOW = """\
flow: menu
language: en
start: welcome
nodes:
  welcome:
    type: menu
    prompt: {say: {en: "Press 1 or 2"}}
    choices: {"1": sales, "2": check}
    no_input: bye
    attempts: 2
  check:
    type: branch
    cases:
      - if: {var: caller, equals: "<b>&"}
        goto: away
    else: welcome
  away:
    type: goto
    flow: billing
  sales:
    type: queue
    queue: sales
  bye:
    type: hangup
"""


def parsed() -> m.FlowDef:
    flow, problems = loader.parse_text(FLOW, "menu.yaml")
    assert flow is not None and not problems, problems
    return flow


def test_exits_are_labelled_with_the_files_keys() -> None:
    flow = parsed()
    assert [(e.label, e.to) for e in exits(flow, flow.nodes["welcome"])] == [
        ("1", "sales"),
        ("2", "check"),
        ("no_input", "bye"),
    ]
    assert [(e.label, e.to) for e in exits(flow, flow.nodes["check"])] == [
        ("caller equals <b>&", "away"),
        ("otherwise", "welcome"),
    ]
    assert [(e.label, e.to) for e in exits(flow, flow.nodes["away"])] == [("goto", "billing:")]


def test_the_drawing_has_a_box_per_node_an_edge_per_exit_and_escapes_texts() -> None:
    flow = parsed()
    root = ET.fromstring(flow_svg(flow))  # well-formed although a condition holds "<b>&"
    boxes = {g.get("data-node"): g.get("class") for g in root.iter(f"{SVG}g")}
    assert boxes["welcome"] == "node start"
    assert {"sales", "check", "bye"} <= boxes.keys()
    assert [c for c in boxes.values() if c == "node external"] == ["node external"]  # billing's box
    labels = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "exit"]
    assert sorted(labels) == sorted(["1", "2", "no_input", "caller equals <b>&", "otherwise", "goto"])
    assert len([p for p in root.iter(f"{SVG}path") if p.get("class") == "edge"]) == 6
    assert root.get("aria-label") == "menu: 5 nodes, start welcome"

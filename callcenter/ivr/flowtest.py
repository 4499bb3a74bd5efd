"""Flow tests: YAML cases beside the flow (``billing.test.yaml`` next to ``billing.yaml``).

A case gives the caller, the clock, the key presses and mocked HTTP lookups, and what it expects:
the outcome, the queue (skills, priority, language) and variables, and the path — node names that
must be visited in this order (others may come between). See docs/ivr.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from callcenter.core.ivr import model as m
from callcenter.ivr import loader
from callcenter.ivr.simulate import ChatSimulation, HttpMock, KbMock, Simulation, simulate, simulate_chat

DEFAULT_NOW = "2026-01-05T12:00:00+00:00"  # a Monday, noon UTC
_CASE_KEYS = {
    "name",
    "flow",
    "channel",
    "caller",
    "dialed",
    "now",
    "language",
    "inputs",
    "http",
    "kb",
    "agents_available",
    "callback_refused",
    "expect",
}
_EXPECT_KEYS = {
    "outcome",
    "queue",
    "skills",
    "priority",
    "language",
    "variables",
    "path",
    "replies",
    "ticket",
}


@dataclass(slots=True)
class CaseResult:
    file: str
    name: str
    failures: list[str] = field(default_factory=list)
    simulation: Simulation | ChatSimulation | None = None

    @property
    def passed(self) -> bool:
        return not self.failures


def find_test_files(paths: Iterable[Path]) -> list[Path]:
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out += sorted(path.glob("*" + loader.TEST_SUFFIX))
        elif path.name.endswith(loader.TEST_SUFFIX):
            out.append(path)
        else:  # a flow file: its tests beside it
            beside = path.with_name(path.name.split(".")[0] + loader.TEST_SUFFIX)
            if beside.exists():
                out.append(beside)
    return out


def run_file(flows: m.FlowSet, path: Path) -> list[CaseResult]:
    default_flow = path.name[: -len(loader.TEST_SUFFIX)]
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        return [CaseResult(str(path), "(file)", [f"cannot read the test file: {err}"])]
    if isinstance(data, Mapping):
        default_flow = str(data.get("flow", default_flow))
        data = data.get("tests")
    if not isinstance(data, list):
        return [CaseResult(str(path), "(file)", ["expected a list of test cases under 'tests'"])]
    return [run_case(flows, str(path), default_flow, index, case) for index, case in enumerate(data, 1)]


def run_case(flows: m.FlowSet, file: str, default_flow: str, index: int, case: Any) -> CaseResult:
    if not isinstance(case, Mapping):
        return CaseResult(file, f"#{index}", ["a test case must be a mapping"])
    result = CaseResult(file, str(case.get("name", f"#{index}")))
    unknown = set(case) - _CASE_KEYS
    expect = case.get("expect", {})
    if not isinstance(expect, Mapping):
        expect = {}
        result.failures.append("'expect' must be a mapping")
    unknown |= {f"expect.{k}" for k in set(expect) - _EXPECT_KEYS}
    if unknown:
        result.failures.append(f"unknown keys: {', '.join(sorted(unknown))}")
        return result
    flow = str(case.get("flow", default_flow))
    if flow not in flows.flows:
        result.failures.append(f"no flow named {flow!r}")
        return result
    try:
        now = datetime.fromisoformat(str(case.get("now", DEFAULT_NOW)))
        if now.tzinfo is None:
            raise ValueError("it needs a UTC offset, e.g. 2026-01-05T09:30:00+01:00")
        mocks = [_mock(h) for h in case.get("http", [])]
        kb = [_kb(k) for k in case.get("kb", [])]
        channel = str(case.get("channel", "voice"))
        if channel not in m.CHANNELS:
            raise ValueError(f"channel is voice or chat, not {channel!r}")
        if channel not in flows.flows[flow].channels:
            raise ValueError(f"flow {flow!r} does not run on {channel}")
    except (ValueError, TypeError, KeyError) as err:
        result.failures.append(f"bad test case: {err}")
        return result
    if channel == "chat":
        chat_sim = simulate_chat(
            flows,
            flow,
            now=now,
            caller=str(case.get("caller", "")),
            inputs=[str(i) for i in case.get("inputs", [])],
            http=mocks,
            kb=kb,
            language=str(case["language"]) if "language" in case else None,
            agents_available=bool(case.get("agents_available", True)),
        )
        result.simulation = chat_sim
        result.failures += _compare(chat_sim, expect)
        return result
    sim = simulate(
        flows,
        flow,
        now=now,
        caller=str(case.get("caller", "")),
        dialed=str(case.get("dialed", "")),
        inputs=[str(i) for i in case.get("inputs", [])],
        http=mocks,
        callback_refused=str(case.get("callback_refused", "")),
    )
    result.simulation = sim
    result.failures += _compare(sim, expect)
    return result


def _mock(raw: Any) -> HttpMock:
    if not isinstance(raw, Mapping) or "url" not in raw:
        raise ValueError("each http mock needs a 'url'")
    return HttpMock(
        url=str(raw["url"]),
        method=str(raw.get("method", "GET")).upper(),
        status=int(raw.get("status", 200)),
        body=raw.get("json"),
        error=str(raw.get("error", "")),
    )


def _kb(raw: Any) -> KbMock:
    if not isinstance(raw, Mapping) or "question" not in raw or "answer" not in raw:
        raise ValueError("each kb mock needs a 'question' (words the question holds) and an 'answer'")
    article = raw.get("article")
    return KbMock(str(raw["question"]), str(raw["answer"]), None if article is None else int(article))


def _compare(sim: Simulation | ChatSimulation, expect: Mapping[str, Any]) -> list[str]:
    failures = []
    finish = sim.finish

    def check(what: str, actual: object, wanted: object) -> None:
        if actual != wanted:
            failures.append(f"{what}: expected {wanted!r}, got {actual!r}")

    if "outcome" in expect:
        check("outcome", sim.outcome, expect["outcome"])
    if "queue" in expect:
        check("queue", finish.queue if finish else None, expect["queue"])
    if "skills" in expect:
        check("skills", list(finish.skills) if finish else None, list(expect["skills"]))
    if "priority" in expect:
        check("priority", finish.priority if finish else None, expect["priority"])
    if "language" in expect:
        check("language", sim.language, expect["language"])
    for name, value in dict(expect.get("variables", {})).items():
        check(f"variable {name}", sim.variables.get(name, ""), str(value))
    if "replies" in expect or "ticket" in expect:
        if not isinstance(sim, ChatSimulation):
            failures.append("'replies' and 'ticket' are expected of chat cases (channel: chat)")
            return failures
        for text in [str(r) for r in expect.get("replies", [])]:  # each said, in any reply
            if not any(text in reply for reply in sim.replies):
                failures.append(f"replies: expected one containing {text!r}, got {sim.replies}")
        if "ticket" in expect:
            check("ticket", sim.ticket.ticket_type if sim.ticket else None, expect["ticket"])
    if "path" in expect:
        wanted = [str(n) for n in expect["path"]]
        visited = iter(sim.path)
        if not all(node in visited for node in wanted):  # in order, others may come between
            failures.append(f"path: expected to pass {wanted} in this order, went {sim.path}")
    return failures

"""The tickets' workflow file: every problem as file:line: key: problem, and the watcher that
keeps the running workflow when an edit is broken."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from callcenter.core.tickets.model import Workflow
from callcenter.settings import ConfigError
from callcenter.tickets.workflow_file import WorkflowWatcher, load_workflow, parse_workflow
from tests.unit.tickets_fixtures import EXAMPLE


def test_the_example_file_loads() -> None:
    wf = load_workflow(EXAMPLE)
    assert wf.priorities == ("urgent", "high", "normal", "low")
    assert wf.types["fault"].allowed("open") == frozenset({"waiting_customer", "resolved"})
    assert wf.types["fault"].resolved == frozenset({"resolved", "closed"})
    assert wf.teams["support"].members == frozenset({"ann", "1001", "1002"})
    assert wf.email_type is None  # e-mail stays in chats unless the file says otherwise
    assert parse_workflow(broken("# email:", "email:"), "t.yaml").email_type == "question"


def broken(old: str, new: str) -> str:
    text = EXAMPLE.read_text()
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("      open: [waiting_customer, resolved]\n", "      open: [waiting_customer, solved]\n",
         r"tickets.yaml:\d+: types.fault.transitions.open: unknown status 'solved'"),
        ("  billing: {transfers: [support]", "  billing: {transfers: [sales]",
         r"tickets.yaml:19: teams.billing.transfers: unknown team 'sales'"),
        ("    team: billing\n", "    team: finance\n",
         r"tickets.yaml:\d+: routing.2.team: unknown team 'finance'"),
        ("timezone: Europe/Madrid", "timezone: Mars/Olympus",
         r"tickets.yaml:5: calendar.timezone: unknown time zone 'Mars/Olympus'"),
        ('    mon: ["09:00-13:00", "14:00-18:00"]', '    mon: ["09:00-13:00", "12:00-18:00"]',
         r"tickets.yaml:\d+: calendar.hours: mon: windows must be in order and not overlap"),
        ("    first_response: 30m", "    first_response: 30 minutes",
         r"tickets.yaml:\d+: sla.0.first_response: a duration like 90s, 30m or 8h"),
        ("      devices: {kind: number, min: 1, max: 100}", "      devices: {kind: integer}",
         r"tickets.yaml:\d+: types.fault.fields.devices.kind: Input should be"),
        ("    reopen_to: open             #", "    reopen_to: closed           #",
         r"types.fault.reopen_to: a ticket cannot reopen to a closed status"),
        ("  billing: {transfers", "  billing: {email: billing-at-example, transfers",
         r"tickets.yaml:19: teams.billing.email: String should match pattern"),
        ("  billing: {transfers", "  billing: {email: b@x.example, language: fr, transfers",
         r"tickets.yaml:19: teams.billing.language: Input should be 'en' or 'zh-CN'"),
        ("# email: {type: question}", "email: {type: fault}",
         r"tickets.yaml:83: email.type: an e-mail cannot fill the required field\(s\) product"),
        ("# email: {type: question}", "email: {type: questions}",
         r"tickets.yaml:83: email.type: unknown ticket type 'questions'"),
        ("# email: {type: question}", "email: {kind: question}",
         r"tickets.yaml:83: email.kind: Extra inputs are not permitted"),
        ("# email: {type: question}", "triggers: [{when: {qa_flag: x}, type: fault, title: t}]",
         r"tickets.yaml:83: triggers.0.type: a rule cannot fill the required field\(s\) product"),
        ("# email: {type: question}", "triggers: [{when: {qa_flag: x}, type: question, title: t, team: ops}]",
         r"tickets.yaml:83: triggers.0.team: unknown team 'ops'"),
        ("# email: {type: question}", "triggers: [{when: {line: x}, type: question, title: t}]",
         r"tickets.yaml:83: triggers.0.when: qa_flag is required"),
        ("# email: {type: question}", "triggers: [{when: {qa_flag: x, mood: sad}, type: question, title: t}]",
         r"tickets.yaml:83: triggers.0.when: unknown condition 'mood'"),
    ],
)  # fmt: skip
def test_each_problem_is_named_with_its_file_and_line(old: str, new: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        parse_workflow(broken(old, new), "tickets.yaml")


def test_unreachable_statuses_and_bad_yaml_are_refused() -> None:
    text = broken("      new: [open, closed]\n", "      new: [closed]\n")
    with pytest.raises(
        ConfigError, match=r"types.fault.statuses: status 'waiting_customer' cannot be reached"
    ):
        parse_workflow(text.replace("    reopen_to: open ", "    reopen_to: new  "), "tickets.yaml")
    with pytest.raises(ConfigError, match=r"tickets.yaml:\d+: invalid YAML"):
        parse_workflow("a: 1\nb: [\n  c: {", "tickets.yaml")


def test_a_broken_edit_keeps_the_running_workflow_and_a_good_one_replaces_it(tmp_path: Path) -> None:
    path = tmp_path / "tickets.yaml"
    path.write_text(EXAMPLE.read_text())
    seen: list[Workflow] = []
    watcher = WorkflowWatcher(path, seen.append, interval=60)
    path.write_text(broken("priorities: [urgent, high, normal, low]", "priorities: [urgent, high, low]"))
    os.utime(path, ns=(1, 1))
    assert watcher.check() is False
    assert seen == [] and watcher.last_error is not None
    assert "tickets.yaml:" in watcher.last_error and "unknown priority 'normal'" in watcher.last_error
    path.write_text(broken("label: Billing question", "label: Billing"))
    os.utime(path, ns=(2, 2))
    assert watcher.check() is True
    assert seen[-1].types["billing"].label == "Billing" and watcher.last_error is None

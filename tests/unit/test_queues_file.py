"""Queue definitions in YAML: validation with file:line, conversion, reload keeping the last valid."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.core.acd import queues as qs
from callcenter.settings import ConfigError, load_settings
from callcenter.settings.queues_file import QueueWatcher, load_queues, parse_queues

GOOD = """\
queues:
  billing:
    skills: {billing: 3}
    strategy: skills_weighted
    service_level: {seconds: 20, target: 0.8}
    max_wait: 600
    exit: {kind: queue, target: general}
    overflow:
      - {after: 60, skills: {billing: 2}}
      - {after: 120, queue: general}
    announce_every: 45
    wrap_up_seconds: 10
    callback: {attempts: 2, retry_delay: 120, ring_timeout: 25}
  general: {}
"""


def test_good_file() -> None:
    queues = parse_queues(GOOD, "q.yaml")
    b = queues["billing"]
    assert b.skills == {"billing": 3} and b.strategy == qs.Strategy.SKILLS_WEIGHTED
    assert b.exit == qs.QueueExit(qs.ExitKind.QUEUE, "general")
    assert b.overflow == (qs.Overflow(60, {"billing": 2}), qs.Overflow(120, None, "general"))
    assert b.callback == qs.CallbackPolicy(2, 120, 25) and b.announce_every == 45
    assert queues["general"] == qs.Queue("general")


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            ("strategy: skills_weighted", "strategy: random"),
            r"q.yaml:4: queues.billing.strategy: Input should be",
        ),
        (
            ("{after: 120, queue: general}", "{after: 50, queue: general}"),
            r"q.yaml:2: queues.billing: .*increasing",
        ),
        (
            ("target: general}", "target: nowhere}"),
            r"q.yaml:7: queues.billing.exit.target: undefined queue 'nowhere'",
        ),
        (
            ("{after: 60, skills: {billing: 2}}", "{after: 60}"),
            r"q.yaml:9: queues.billing.overflow.0: .*skills",
        ),
        (("max_wait: 600", "max_wait: -1"), r"q.yaml:6: queues.billing.max_wait: .*greater than 0"),
        (("announce_every: 45", "announce_evry: 45"), r"q.yaml:11: queues.billing.announce_evry: Extra"),
        (
            ("skills: {billing: 3}", "skills: {billing: 11}"),
            r"q.yaml:3: queues.billing.skills.billing: .*less than or equal to 10",
        ),
        (("  general: {}", "  general: [1,"), r"q.yaml:\d+: invalid YAML"),
    ],
)
def test_errors_name_file_line_key_and_problem(edit: tuple[str, str], expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        parse_queues(GOOD.replace(*edit), "q.yaml")


def test_reload_keeps_the_last_valid_definitions(tmp_path: Path) -> None:
    path = tmp_path / "queues.yaml"
    path.write_text(GOOD)
    seen: list[dict[str, qs.Queue]] = []
    watcher = QueueWatcher(path, lambda q: seen.append(dict(q)))
    assert not watcher.check()  # unchanged since the watcher was made
    path.write_text(GOOD.replace("max_wait: 600", "max_wait: nope"))
    assert not watcher.check() and seen == [] and "max_wait" in (watcher.last_error or "")
    path.write_text(GOOD.replace("max_wait: 600", "max_wait: 300"))
    assert watcher.check() and seen[-1]["billing"].max_wait == 300 and watcher.last_error is None


def test_settings_take_a_queue_file_and_agent_skills(tmp_path: Path) -> None:
    path = tmp_path / "queues.yaml"
    path.write_text(GOOD)
    s = load_settings(
        environ={},
        overrides={
            "acd": {"queues_file": str(path)},
            "agents": [{"id": "7", "extension": "7", "skills": {"billing": 4}, "languages": ["fr"]}],
        },
    )
    assert s.agents[0].skills == {"billing": 4} and s.agents[0].languages == ("fr",)
    assert load_queues(s.acd.queues_file or "")["general"].name == "general"
    with pytest.raises(ConfigError, match="skills"):
        load_settings(environ={}, overrides={"agents": [{"id": "7", "extension": "7", "skills": {"x": 0}}]})


def test_example_file_is_valid() -> None:
    example = Path(__file__).parents[2] / "queues.example.yaml"
    assert sorted(load_queues(example)) == ["billing", "sales", "support"]

"""Queue targets: who may take a caller now, and how that widens with the wait."""

from __future__ import annotations

from callcenter.core.acd import queues as qs
from callcenter.core.acd.queues import Overflow, Queue, Target, next_step_at, targets

BILLING = Queue(
    "billing",
    skills={"billing": 4, "unused": 0},
    overflow=(Overflow(30, skills={"billing": 2}), Overflow(60, queue="general"), Overflow(90, skills={})),
)


def test_at_first_only_the_queue_with_its_skills_and_the_callers_language() -> None:
    found, steps = targets(BILLING, 100.0, 100.0, language="fr")
    assert steps == 0
    assert found == (Target("billing", frozenset({("billing", 4), ("lang:fr", 1)})),)


def test_caller_skills_add_to_the_queues_and_override_its_level() -> None:
    found, _ = targets(BILLING, 0.0, 0.0, skills={"vip": 1, "billing": 5})
    assert found == (Target("billing", frozenset({("billing", 5), ("vip", 1)})),)
    assert targets(BILLING, 0.0, 0.0, skills={})[0] == targets(BILLING, 0.0, 0.0)[0]


def test_each_step_applies_at_exactly_its_time_and_keeps_the_language() -> None:
    lang = ("lang:de", 1)
    assert targets(BILLING, 10.0, 39.99, language="de")[1] == 0
    found, steps = targets(BILLING, 10.0, 40.0, language="de")
    assert steps == 1
    assert found == tuple(
        sorted(
            {
                Target("billing", frozenset({("billing", 4), lang})),
                Target("billing", frozenset({("billing", 2), lang})),
            }
        )
    )
    found, steps = targets(BILLING, 10.0, 70.0, language="de")
    assert steps == 2
    # The overflow queue's agents still need the caller's language (no other skill).
    assert Target("general", frozenset({lang})) in found
    assert len(found) == 3
    found, steps = targets(BILLING, 10.0, 100.0, language="de")
    assert steps == 3
    assert Target("billing", frozenset({lang})) in found and len(found) == 4
    # Without a language, the overflow queue asks for nothing.
    assert Target("general", frozenset()) in targets(BILLING, 10.0, 100.0)[0]


def test_steps_stop_at_the_first_one_not_reached() -> None:
    odd = Queue("q", overflow=(Overflow(50, queue="late"), Overflow(10, queue="early")))
    found, steps = targets(odd, 0.0, 20.0)
    assert steps == 0 and [t.pool for t in found] == ["q"]


def test_next_step_times() -> None:
    assert next_step_at(BILLING, 10.0, 0) == 40.0
    assert next_step_at(BILLING, 10.0, 2) == 100.0
    assert next_step_at(BILLING, 10.0, 3) is None
    assert next_step_at(Queue("plain"), 10.0, 0) is None


def test_describe_and_defaults() -> None:
    assert Target("q", frozenset({("b", 2), ("a", 1)})).describe() == "q{a>=1, b>=2}"
    assert Target("q", frozenset()).describe() == "q"
    plain = Queue("plain")
    assert (plain.strategy, plain.service_level_seconds, plain.service_level_target) == (
        qs.Strategy.LONGEST_IDLE,
        20.0,
        0.8,
    )
    assert (plain.max_wait, plain.exit, plain.overflow, plain.record, plain.line) == (
        None,
        None,
        (),
        True,
        None,
    )
    assert plain.callback == qs.CallbackPolicy(3, 300.0, 30.0)
    assert qs.LANGUAGE_PREFIX == "lang:"

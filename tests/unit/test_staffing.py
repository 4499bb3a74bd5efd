"""Staffing with Erlang C and Erlang A (callcenter/planning/staffing.py, over pyworkforce), checked
against published worked examples and the models' published limits."""

from __future__ import annotations

import pytest

from callcenter.planning.staffing import Load, StaffingError, Target, evaluate, required

# Call Centre Helper, "Erlang C Formula - Made Simple With an Easy Worked Example"
# (callcentrehelper.com, the worked example behind its Erlang calculator): 100 calls in 30 minutes,
# AHT 180 s, target 80 % answered within 20 s, shrinkage 30 %. Published: 10 Erlangs; with 11 agents
# P(wait) = 68.21 % and service level = 38.96 %; 14 agents are the first to meet the target, with
# P(wait) = 17.41 %, service level = 88.84 %, occupancy = 71.43 %, ASA = 7.8 s; with shrinkage,
# 14 / (1 - 0.3) = 20 agents to schedule.
CCH = Load(calls=100, interval_seconds=1800, aht=180)

# Westbay Engineers, "The Erlang-C formula" (the step-by-step example on their site): 360 calls per
# half hour, average duration 4 minutes, 55 agents, target answer time 15 s. Traffic intensity
# 48 Erlangs, occupancy 0.873, E_C(55, 48) = 0.2387 (a call waits 23.9 % of the time),
# ASA = E_C x 4 min / (55 - 48) = 0.136 min = 8.2 s, service level 84.6 %.
WESTBAY = Load(calls=360, interval_seconds=1800, aht=240)

# pyworkforce 0.5.4's reference case for its Erlang A (pyworkforce/queuing/tests/test_abandonment.py;
# that release needs Python 3.12, so ours is checked against its figures): 100 calls in 30 minutes,
# AHT 3 minutes, mean patience 5 minutes, 14 agents: P(wait) 0.14526, P(abandon) 0.013984,
# occupancy 0.704297, mean wait 0.069919 minutes, service level (20 s) 0.916792.
PYWORKFORCE_A = Load(calls=100, interval_seconds=1800, aht=180, patience=300)

# Erlang B tables (e.g. any teletraffic handbook's): 10 Erlangs offered to 10 lines lose 21.46 %.


def test_call_centre_helper_worked_example() -> None:
    eleven = evaluate(CCH, 11)
    assert eleven.model == "erlang_c" and eleven.intensity == pytest.approx(10.0)
    assert eleven.waiting_probability == pytest.approx(0.6821, abs=5e-5)
    assert eleven.service_level == pytest.approx(0.3896, abs=5e-5)
    got = required(CCH, Target(0.8, 20, shrinkage=0.3))
    assert (got.agents, got.scheduled) == (14, 20)
    assert got.waiting_probability == pytest.approx(0.1741, abs=5e-5)
    assert got.service_level == pytest.approx(0.8884, abs=5e-5)
    assert got.occupancy == pytest.approx(0.7143, abs=5e-5)
    assert got.asa == pytest.approx(7.8, abs=0.05)
    assert evaluate(CCH, 13).service_level < 0.8  # so 14 is the fewest


def test_westbay_worked_example() -> None:
    got = evaluate(WESTBAY, 55, seconds=15)
    assert got.intensity == pytest.approx(48.0)
    assert got.occupancy == pytest.approx(0.873, abs=5e-4)
    assert got.waiting_probability == pytest.approx(0.2387, abs=5e-5)
    assert got.asa == pytest.approx(8.2, abs=0.05)
    assert got.service_level == pytest.approx(0.846, abs=5e-4)


def test_asa_target_and_occupancy_cap() -> None:
    # 13 agents: ASA 17.1 s; 14 agents: 7.8 s.
    assert required(CCH, Target(None, 20, asa=10)).agents == 14
    assert required(CCH, Target(None, 20, asa=20)).agents == 13
    # An occupancy cap of 70 % needs ceil(10 / 0.7) = 15 agents, more than the service level does.
    capped = required(CCH, Target(0.8, 20, max_occupancy=0.7))
    assert capped.agents == 15 and capped.occupancy <= 0.7
    assert required(CCH, Target(0.8, 20, max_occupancy=0.85)).agents == 14


def test_erlang_a_matches_pyworkforce_reference_case() -> None:
    got = evaluate(PYWORKFORCE_A, 14)
    assert got.model == "erlang_a"
    assert got.waiting_probability == pytest.approx(0.14526, abs=5e-6)
    assert got.abandon_rate == pytest.approx(0.013984, abs=5e-7)
    assert got.occupancy == pytest.approx(0.704297, abs=5e-7)
    assert got.asa == pytest.approx(0.069919 * 60, abs=5e-5)
    assert got.service_level == pytest.approx(0.916792, abs=5e-6)


def test_erlang_a_tends_to_erlang_c_with_patient_callers() -> None:
    patient = evaluate(Load(100, 1800, 180, patience=1e7), 14)
    assert patient.model == "erlang_a"
    assert patient.service_level == pytest.approx(0.8884, abs=1e-3)
    assert patient.waiting_probability == pytest.approx(0.1741, abs=1e-3)
    assert patient.abandon_rate < 1e-4


def test_erlang_a_tends_to_erlang_b_with_callers_who_do_not_wait() -> None:
    # A caller who finds every agent busy leaves at once: the loss of Erlang B.
    hasty = evaluate(Load(100, 1800, 180, patience=0.5), 10)
    assert hasty.abandon_rate == pytest.approx(0.2146, abs=3e-3)


def test_abandonment_lowers_the_need_and_max_abandon_raises_it() -> None:
    c = required(Load(200, 1800, 180), Target(0.8, 20))
    a = required(Load(200, 1800, 180, patience=60), Target(0.8, 20))
    assert a.agents <= c.agents and a.abandon_rate > 0
    strict = required(Load(200, 1800, 180, patience=60), Target(0.5, 20, max_abandon=0.01))
    loose = required(Load(200, 1800, 180, patience=60), Target(0.5, 20))
    assert strict.abandon_rate <= 0.01 < loose.abandon_rate and strict.agents > loose.agents


def test_no_calls_need_no_agents() -> None:
    got = required(Load(0, 900, 180), Target())
    assert (got.agents, got.scheduled, got.service_level) == (0, 0, 1.0)


@pytest.mark.parametrize(
    ("load", "target", "message"),
    [
        (Load(-1, 900, 180), Target(), "calls"),
        (Load(10, 900, 0), Target(), "aht"),
        (Load(10, 0, 180), Target(), "interval"),
        (Load(10, 900, 180, patience=-5), Target(), "patience"),
        (CCH, Target(1.5), "service level"),
        (CCH, Target(None), "give a service level"),
        (CCH, Target(shrinkage=1.0), "shrinkage"),
        (CCH, Target(max_occupancy=0), "max occupancy"),
    ],
)
def test_bad_inputs_say_which(load: Load, target: Target, message: str) -> None:
    with pytest.raises(StaffingError, match=message):
        required(load, target)


def test_an_unstable_erlang_c_queue_is_refused() -> None:
    with pytest.raises(StaffingError, match="without end"):
        evaluate(CCH, 10)

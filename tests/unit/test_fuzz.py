"""A short fuzzing run of every parser fed from outside (the long run is ``bench/fuzz.py``).

Each target's rule is in tests/fuzz/targets.py: accepted with sane values, or refused with the
parser's typed error; anything else fails here with the input hypothesis shrank it to.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from tests.fuzz.targets import TARGETS_BY_NAME as TARGETS
from tests.fuzz.targets import Target


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_every_input_is_accepted_sanely_or_refused_with_a_typed_error(name: str) -> None:
    target: Target = TARGETS[name]

    @settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
    @given(target.strategy)
    def run(data: object) -> None:
        target.check(data)

    run()

"""Scorecards: YAML loading with file:line errors, review totals, calibration maths."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.core.qa.scorecard import (
    Criterion,
    ReviewAnswers,
    ReviewError,
    Scorecard,
    calibrate,
    check_answers,
    total,
)
from callcenter.qa.scorecards import ScorecardError, load_scorecards, parse_scorecards

EXAMPLE = Path(__file__).parents[2] / "scorecards.example.yaml"

CARD = Scorecard(
    "standard",
    "Standard",
    (
        Criterion("greeting", "Greeting", weight=1, low=0, high=1),
        Criterion("resolution", "Resolution", weight=3, low=0, high=4),
        Criterion("empathy", "Empathy", weight=2, low=0, high=4, allow_na=True),
    ),
)


def test_the_example_file_loads() -> None:
    cards = load_scorecards(EXAMPLE)
    assert set(cards) == {"standard", "sales"}
    greeting = cards["standard"].criteria[0]
    assert (greeting.id, greeting.low, greeting.high, greeting.weight) == ("greeting", 0, 1, 1.0)
    empathy = cards["standard"].criterion("empathy")
    assert empathy is not None and empathy.allow_na
    # Lines point into the file, for messages.
    lines = EXAMPLE.read_text().splitlines()
    assert greeting.line is not None and "greeting:" in lines[greeting.line - 1]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "scorecards:\n  a:\n    title: A\n    criteria:\n      x: {label: X, scale: [3, 1]}\n",
            "cards.yaml:5: scorecards.a.criteria.x.scale: [3, 1]: the first number must be below the second",
        ),
        (
            "scorecards:\n  a:\n    title: A\n    criteria:\n      x: {label: X, weight: -1}\n",
            "cards.yaml:5: scorecards.a.criteria.x.weight: Input should be greater than or equal to 0",
        ),
        (
            "scorecards:\n  a:\n    title: A\n    criteria:\n      x: {label: X, colour: red}\n",
            "cards.yaml:5: scorecards.a.criteria.x.colour: Extra inputs are not permitted",
        ),
        (
            "scorecards:\n  a:\n    title: A\n    criteria:\n      x: {label: X, weight: 0}\n",
            "cards.yaml:4: scorecards.a.criteria: at least one criterion needs a weight above 0",
        ),
        (
            "scorecards:\n  'bad name':\n    title: A\n    criteria:\n      x: {label: X}\n",
            "cards.yaml:2: scorecards.bad name: a scorecard name is letters, digits, _ and -",
        ),
        (
            "scorecards:\n  a:\n    title: A\n    criteria: {}\n",
            "cards.yaml:4: scorecards.a.criteria: Dictionary should have at least 1 item",
        ),
        ("scorecards: [\n", "cards.yaml:2: invalid YAML"),
    ],
)
def test_errors_name_file_and_line(text: str, expected: str) -> None:
    with pytest.raises(ScorecardError) as caught:
        parse_scorecards(text, "cards.yaml")
    assert expected in str(caught.value)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ScorecardError, match="cannot read scorecards"):
        load_scorecards(tmp_path / "none.yaml")


def test_total_weights_the_share_of_each_scale() -> None:
    assert total(CARD, {"greeting": 1, "resolution": 4, "empathy": 4}) == 100.0
    assert total(CARD, {"greeting": 0, "resolution": 0, "empathy": 0}) == 0.0
    # (1*1 + 3*0.5 + 2*0.25) / 6 = 3/6
    assert total(CARD, {"greeting": 1, "resolution": 2, "empathy": 1}) == 50.0
    # Not applicable leaves both sums: (1*1 + 3*0.5) / 4
    assert total(CARD, {"greeting": 1, "resolution": 2, "empathy": None}) == 62.5


def test_answers_are_checked_against_the_scorecard() -> None:
    check_answers(CARD, {"greeting": 1, "resolution": 4, "empathy": None})
    with pytest.raises(ReviewError) as caught:
        check_answers(CARD, {"greeting": 2, "resolution": None, "colour": 1})
    message = str(caught.value)
    assert "colour: not a criterion of scorecard 'standard'" in message
    assert "greeting: 2 is outside the scale 0..1" in message
    assert "resolution: an answer is required" in message
    assert "empathy: missing (scale 0..4)" in message


def test_calibration_spread_mean_and_differences() -> None:
    reviews = [
        ReviewAnswers("ann", {"greeting": 0, "resolution": 4, "empathy": 2}, 0.0),  # replaced below
        ReviewAnswers("bob", {"greeting": 1, "resolution": 1, "empathy": None}, 50.0),
        ReviewAnswers("ann", {"greeting": 1, "resolution": 3, "empathy": 2}, 80.0),
        ReviewAnswers("cy", {"greeting": 1, "resolution": 2, "empathy": 4}, 70.0),
    ]
    result = calibrate(CARD, reviews)
    assert result.reviewers == ("ann", "bob", "cy") and result.complete
    resolution = result.criteria["resolution"]
    assert resolution.values == {"ann": 3.0, "bob": 1.0, "cy": 2.0}
    assert (resolution.minimum, resolution.maximum, resolution.spread) == (1.0, 3.0, 2.0)
    assert resolution.relative == 0.5 and resolution.mean == 2.0
    assert resolution.differences == {"ann": 1.0, "bob": -1.0, "cy": 0.0}
    assert resolution.stdev == pytest.approx(0.8165, abs=1e-4)
    greeting = result.criteria["greeting"]
    assert greeting.spread == 0.0 and greeting.relative == 0.0
    empathy = result.criteria["empathy"]  # bob said not applicable: compared among the others
    assert empathy.values == {"ann": 2.0, "bob": None, "cy": 4.0} and empathy.spread == 2.0
    assert result.total.spread == 30.0 and result.total.relative == 0.3
    assert result.worst in ("resolution", "empathy")


def test_calibration_with_one_reviewer_is_incomplete() -> None:
    result = calibrate(CARD, [ReviewAnswers("ann", {"greeting": 1, "resolution": 3, "empathy": 2}, 80.0)])
    assert not result.complete and result.worst is None
    assert result.criteria["resolution"].spread == 0.0
    nobody = calibrate(CARD, [])
    assert nobody.reviewers == () and nobody.total.mean is None

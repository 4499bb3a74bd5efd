"""Manual review of a call: scorecards as data, a review's total, and calibration between reviewers.

Pure. A :class:`Scorecard` is a list of criteria, each with a weight and a whole-number scale
(``low``..``high``; ``0..1`` is a yes/no question). A reviewer answers every criterion with a value
on its scale, or with ``None`` ("not applicable") where the criterion allows it.

Total: ``100 * sum(weight * (value - low) / (high - low)) / sum(weight)`` over the answered
criteria (not-applicable ones leave both sums); 100 when nothing applies.

Calibration: several reviewers score the same call. Per criterion, each reviewer's latest answer,
the spread (``max - min``), the spread as a share of the scale (so a 1-point disagreement on a
yes/no question weighs as much as 4 points on 0..4), the mean, and each reviewer's difference from
the mean; the same for the totals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from math import sqrt

from callcenter.core.errors import DomainError


@dataclass(frozen=True, slots=True)
class Criterion:
    id: str
    label: str
    weight: float = 1.0
    low: int = 0
    high: int = 5
    allow_na: bool = False
    line: int | None = None  # where it was defined, for messages

    @property
    def span(self) -> int:
        return self.high - self.low


@dataclass(frozen=True, slots=True)
class Scorecard:
    id: str
    title: str
    criteria: tuple[Criterion, ...]

    def criterion(self, criterion_id: str) -> Criterion | None:
        return next((c for c in self.criteria if c.id == criterion_id), None)


class ReviewError(DomainError, ValueError):
    """Answers that do not fit the scorecard; the message names every problem."""


Answers = Mapping[str, int | None]


def check_answers(card: Scorecard, answers: Answers) -> None:
    problems: list[str] = []
    for key in answers:
        if card.criterion(key) is None:
            problems.append(f"{key}: not a criterion of scorecard {card.id!r}")
    for c in card.criteria:
        if c.id not in answers:
            problems.append(f"{c.id}: missing (scale {c.low}..{c.high})")
            continue
        value = answers[c.id]
        if value is None:
            if not c.allow_na:
                problems.append(f"{c.id}: an answer is required (not applicable is not allowed)")
        elif not c.low <= value <= c.high:
            problems.append(f"{c.id}: {value} is outside the scale {c.low}..{c.high}")
    if problems:
        raise ReviewError("; ".join(problems))


def total(card: Scorecard, answers: Answers) -> float:
    """The review's score, 0..100 (answers must have passed :func:`check_answers`)."""
    kept = weights = 0.0
    for c in card.criteria:
        value = answers.get(c.id)
        if value is None or c.weight == 0:
            continue
        weights += c.weight
        kept += c.weight * (value - c.low) / c.span
    return 100.0 if weights == 0 else round(100.0 * kept / weights, 1)


@dataclass(frozen=True, slots=True)
class ReviewAnswers:
    """One reviewer's review as calibration sees it."""

    reviewer: str
    answers: Answers
    total: float


@dataclass(frozen=True, slots=True)
class Spread:
    values: Mapping[str, float | None]  # reviewer -> value (None: not applicable)
    minimum: float | None
    maximum: float | None
    spread: float  # max - min over the reviewers who answered
    relative: float  # spread / scale span (0..1); for totals, / 100
    mean: float | None
    stdev: float
    differences: Mapping[str, float]  # reviewer -> value - mean


@dataclass(frozen=True, slots=True)
class Calibration:
    scorecard: str
    reviewers: tuple[str, ...]
    criteria: Mapping[str, Spread]
    total: Spread
    complete: bool  # at least two reviewers
    worst: str | None  # the criterion with the largest relative spread


def spread(values: Mapping[str, float | None], span: float) -> Spread:
    present = {who: float(v) for who, v in values.items() if v is not None}
    if not present:
        return Spread(dict(values), None, None, 0.0, 0.0, None, 0.0, {})
    low, high = min(present.values()), max(present.values())
    mean = sum(present.values()) / len(present)
    stdev = sqrt(sum((v - mean) ** 2 for v in present.values()) / len(present))
    return Spread(
        dict(values),
        low,
        high,
        round(high - low, 4),
        round((high - low) / span, 4) if span else 0.0,
        round(mean, 4),
        round(stdev, 4),
        {who: round(v - mean, 4) for who, v in present.items()},
    )


def calibrate(card: Scorecard, reviews: Sequence[ReviewAnswers]) -> Calibration:
    """Compare reviewers' latest reviews of one call on one scorecard (``reviews`` oldest first:
    a reviewer's later review replaces an earlier one)."""
    latest: dict[str, ReviewAnswers] = {}
    for review in reviews:
        latest[review.reviewer] = review
    reviewers = tuple(sorted(latest))
    criteria = {
        c.id: spread({who: _value(latest[who].answers.get(c.id)) for who in reviewers}, c.span)
        for c in card.criteria
    }
    totals = spread({who: latest[who].total for who in reviewers}, 100.0)
    worst = max(criteria, key=lambda k: criteria[k].relative, default=None)
    if worst is not None and criteria[worst].relative == 0:
        worst = None
    return Calibration(card.id, reviewers, criteria, totals, len(reviewers) >= 2, worst)


def _value(value: int | None) -> float | None:
    return None if value is None else float(value)

"""CSAT and NPS: the arithmetic, and report rows per interval and group (pure; docs/reports.md).

- **CSAT** = answers of 4 or 5 ÷ CSAT answers (1-5), as a share (0..1).
- **NPS** = promoters (9-10) ÷ NPS answers - detractors (0-6) ÷ NPS answers, in points (-100..100);
  passives (7-8) count in the answers only.
- **Response rate** = answered ÷ asked. An unanswered survey is in neither CSAT nor NPS.

A response counts in the interval in which it was asked (the contact's end; a chat rating when it
was given), grouped by its agent, queue, channel or business line.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from callcenter.core.reports.intervals import Granularity, bucket, quarter
from callcenter.core.reports.rollup import EVERYTHING, Filters, keep
from callcenter.core.surveys.model import Question, Response

#: What a survey report may be grouped by.
SURVEY_GROUPS = ("agent", "queue", "channel", "line", "all")


def csat(scores: Iterable[int]) -> float | None:
    """The share of CSAT answers that are 4 or 5 (None: no answer)."""
    values = list(scores)
    return sum(1 for s in values if s >= 4) / len(values) if values else None


def nps(scores: Iterable[int]) -> float | None:
    """% promoters (9-10) - % detractors (0-6) of NPS answers, -100..100 (None: no answer)."""
    values = list(scores)
    if not values:
        return None
    promoters = sum(1 for s in values if s >= 9)
    detractors = sum(1 for s in values if s <= 6)
    return 100.0 * (promoters - detractors) / len(values)


@dataclass(frozen=True, slots=True)
class SurveyFigures:
    """One group's surveys over one interval ("*": everything)."""

    start: int
    group: str
    asked: int
    answered: int
    csat_answers: int
    satisfied: int  # CSAT answers of 4 or 5
    csat_sum: int  # the CSAT answers added up (their average)
    nps_answers: int
    promoters: int
    passives: int
    detractors: int
    low: int  # answers that raised a QA review

    @property
    def response_rate(self) -> float | None:
        return self.answered / self.asked if self.asked else None

    @property
    def csat(self) -> float | None:
        return self.satisfied / self.csat_answers if self.csat_answers else None

    @property
    def csat_average(self) -> float | None:
        return self.csat_sum / self.csat_answers if self.csat_answers else None

    @property
    def nps(self) -> float | None:
        if not self.nps_answers:
            return None
        return 100.0 * (self.promoters - self.detractors) / self.nps_answers


def survey_report(
    responses: Iterable[Response],
    granularity: Granularity,
    filters: Filters = EVERYTHING,
    *,
    by: str = "queue",
) -> list[SurveyFigures]:
    """Responses rolled up per ``granularity`` interval (of ``asked_at``) and group."""
    if by not in SURVEY_GROUPS:
        raise ValueError(f"by: {by!r} is not one of {', '.join(SURVEY_GROUPS)}")
    counts: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0] * 10)
    for r in responses:
        if not keep(filters, queue=r.queue, agent=r.agent, channel=r.channel, line=r.line):
            continue
        group = "*" if by == "all" else str(getattr(r, by))
        row = counts[(bucket(quarter(r.asked_at), granularity), group)]
        row[0] += 1
        if r.score is None:
            continue
        row[1] += 1
        if r.question is Question.CSAT:
            row[2] += 1
            row[3] += r.score >= 4
            row[4] += r.score
        else:
            row[5] += 1
            row[6] += r.score >= 9
            row[7] += 7 <= r.score <= 8
            row[8] += r.score <= 6
        row[9] += r.low
    return [SurveyFigures(k[0], k[1], *counts[k]) for k in sorted(counts)]

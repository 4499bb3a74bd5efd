"""Scorecards from YAML, validated, with ``file:line: key: problem`` errors (see scorecards.example.yaml).

Example::

    scorecards:
      standard:
        title: Standard call review
        criteria:
          greeting: {label: "Greeted the caller and gave a name", weight: 1, scale: [0, 1]}
          resolution: {label: "Solved the problem", weight: 3, scale: [0, 4]}
          empathy: {label: "Showed empathy", weight: 2, scale: [0, 4], not_applicable: true}
"""

from __future__ import annotations

import os
import re

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from callcenter.core.qa.scorecard import Criterion, Scorecard
from callcenter.settings import ConfigError, line_of, parse_yaml, textfile, validation_problems

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")


class ScorecardError(Exception):
    """The scorecards file cannot be used; each line of the message is ``file:line: key: problem``."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Criterion(_Model):
    label: str = Field(min_length=1, max_length=200)
    weight: float = Field(1.0, ge=0, le=1000)
    scale: tuple[int, int] = (0, 5)
    not_applicable: bool = False


class _Card(_Model):
    title: str = Field(min_length=1, max_length=200)
    criteria: dict[str, _Criterion] = Field(min_length=1)


class _File(_Model):
    scorecards: dict[str, _Card] = Field(min_length=1)


def parse_scorecards(text: str, source: str = "<scorecards>") -> dict[str, Scorecard]:
    try:
        data, root = parse_yaml(text, source, "scorecards")
    except ConfigError as err:
        raise ScorecardError(str(err)) from err
    try:
        model = _File.model_validate(data)
    except ValidationError as err:
        raise ScorecardError(validation_problems(err, root, source)) from err
    problems: list[str] = []

    def problem(loc: tuple[str, ...], message: str) -> None:
        problems.append(f"{source}:{line_of(root, loc)}: {'.'.join(loc)}: {message}")

    for card_id, card in model.scorecards.items():
        if not NAME.fullmatch(card_id):
            problem(("scorecards", card_id), "a scorecard name is letters, digits, _ and -")
        if not any(c.weight > 0 for c in card.criteria.values()):
            problem(("scorecards", card_id, "criteria"), "at least one criterion needs a weight above 0")
        for criterion_id, criterion in card.criteria.items():
            loc = ("scorecards", card_id, "criteria", criterion_id)
            if not NAME.fullmatch(criterion_id):
                problem(loc, "a criterion name is letters, digits, _ and -")
            low, high = criterion.scale
            if low >= high:
                problem((*loc, "scale"), f"[{low}, {high}]: the first number must be below the second")
            elif high - low > 100:
                problem((*loc, "scale"), f"[{low}, {high}]: at most 100 steps")
    if problems:
        raise ScorecardError("\n".join(problems))
    return {
        card_id: Scorecard(
            card_id,
            card.title,
            tuple(
                Criterion(
                    criterion_id,
                    c.label,
                    c.weight,
                    c.scale[0],
                    c.scale[1],
                    c.not_applicable,
                    line_of(root, ("scorecards", card_id, "criteria", criterion_id)),
                )
                for criterion_id, c in card.criteria.items()
            ),
        )
        for card_id, card in model.scorecards.items()
    }


def load_scorecards(path: str | os.PathLike[str]) -> dict[str, Scorecard]:
    try:
        text = textfile.read_text(path, "scorecards")
    except textfile.TextFileError as err:
        raise ScorecardError(str(err)) from err
    return parse_scorecards(text, str(path))

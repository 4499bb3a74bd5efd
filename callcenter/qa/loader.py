"""QA rules from YAML, validated, with ``file:line: key: problem`` errors.

Example::

    required:
      greeting: {phrases: ["thank you for calling", "good morning"], where: start, within: 15}
      identification: {phrases: ["date of birth", "account number"], weight: 20}
      closing: {phrases: ["anything else", "have a nice day"], where: end, within: 30}
    forbidden:
      rude: {phrases: ["shut up", "not my problem"], weight: 30}
    silence: {max_seconds: 8, weight: 10}
    talk_over: {max_seconds: 5, weight: 5}
    sentiment: {max_anger: 0.6, weight: 10}
    emergency_words: ["suicide", "kill myself", "ambulance"]
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from callcenter.core.qa.scoring import PhraseRule, QaRules
from callcenter.settings import ConfigError, line_of, parse_yaml, textfile, validation_problems


class QaRulesError(Exception):
    """The rules file cannot be used; each line of the message is ``file:line: key: problem``."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Phrase(_Model):
    phrases: tuple[str, ...] = Field(min_length=1)
    speaker: Literal["caller", "agent", "any"] = "agent"
    where: Literal["start", "end", "anywhere"] = "anywhere"
    within: float | None = Field(None, gt=0)
    weight: float = Field(10.0, ge=0)


class _Threshold(_Model):
    max_seconds: float = Field(gt=0)
    weight: float = Field(10.0, ge=0)


class _Sentiment(_Model):
    max_anger: float = Field(ge=0, le=1)
    weight: float = Field(10.0, ge=0)


class _Rules(_Model):
    required: dict[str, _Phrase] = Field(default_factory=dict)
    forbidden: dict[str, _Phrase] = Field(default_factory=dict)
    silence: _Threshold | None = None
    talk_over: _Threshold | None = None
    sentiment: _Sentiment | None = None
    emergency_words: tuple[str, ...] = ()


def parse_rules(text: str, source: str = "<rules>") -> QaRules:
    try:
        data, root = parse_yaml(text, source, "QA rules")
    except ConfigError as err:
        raise QaRulesError(str(err)) from err
    try:
        model = _Rules.model_validate(data)
    except ValidationError as err:
        raise QaRulesError(validation_problems(err, root, source)) from err
    problems = []
    for section, rules in (("required", model.required), ("forbidden", model.forbidden)):
        for name, rule in rules.items():
            if rule.within is not None and rule.where == "anywhere":
                line = line_of(root, (section, name, "within"))
                problems.append(f"{source}:{line}: {section}.{name}.within: needs where: start or end")
            for index, phrase in enumerate(rule.phrases):
                if not phrase.strip():
                    line = line_of(root, (section, name, "phrases", index))
                    problems.append(f"{source}:{line}: {section}.{name}.phrases.{index}: empty phrase")
    if problems:
        raise QaRulesError("\n".join(problems))

    def phrase_rules(section: str, rules: dict[str, _Phrase]) -> tuple[PhraseRule, ...]:
        return tuple(
            PhraseRule(
                name,
                rule.phrases,
                rule.speaker,
                rule.where,
                rule.within,
                rule.weight,
                line_of(root, (section, name)),
            )
            for name, rule in rules.items()
        )

    return QaRules(
        required=phrase_rules("required", model.required),
        forbidden=phrase_rules("forbidden", model.forbidden),
        max_silence=model.silence.max_seconds if model.silence else None,
        silence_weight=model.silence.weight if model.silence else 0.0,
        max_talk_over=model.talk_over.max_seconds if model.talk_over else None,
        talk_over_weight=model.talk_over.weight if model.talk_over else 0.0,
        max_anger=model.sentiment.max_anger if model.sentiment else None,
        anger_weight=model.sentiment.weight if model.sentiment else 0.0,
        emergency_words=model.emergency_words,
    )


def load_rules(path: str | os.PathLike[str]) -> QaRules:
    try:
        text = textfile.read_text(path, "QA rules")
    except textfile.TextFileError as err:
        raise QaRulesError(str(err)) from err
    return parse_rules(text, str(path))

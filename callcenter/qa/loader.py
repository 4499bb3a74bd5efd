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
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from callcenter.core.qa import PhraseRule, QaRules


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


def _line(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == part:
                    line, node = key_node.start_mark.line + 1, value_node
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def parse_rules(text: str, source: str = "<rules>") -> QaRules:
    try:
        root = yaml.compose(text)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        raise QaRulesError(f"{where}: invalid YAML: {getattr(err, 'problem', err)}") from err
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise QaRulesError(f"{source}:1: QA rules must be a mapping")
    try:
        model = _Rules.model_validate(data)
    except ValidationError as err:
        problems = []
        for error in err.errors():
            loc = tuple(error["loc"])
            line = _line(root, loc)
            key = ".".join(str(p) for p in loc) or "(top level)"
            problems.append(
                f"{source}:{line}: {key}: {error['msg']}" if line else f"{source}: {key}: {error['msg']}"
            )
        raise QaRulesError("\n".join(problems)) from err
    problems = []
    for section, rules in (("required", model.required), ("forbidden", model.forbidden)):
        for name, rule in rules.items():
            if rule.within is not None and rule.where == "anywhere":
                line = _line(root, (section, name, "within"))
                problems.append(f"{source}:{line}: {section}.{name}.within: needs where: start or end")
            for index, phrase in enumerate(rule.phrases):
                if not phrase.strip():
                    line = _line(root, (section, name, "phrases", index))
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
                _line(root, (section, name)),
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
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise QaRulesError(f"{path}: cannot read QA rules: {err.strerror}") from err
    return parse_rules(text, str(path))

"""A ticket's fields checked against its type's template, server-side: every problem named by its
field, all at once (``TicketInvalid``), values normalised (numbers as numbers, dates as ISO text)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date

from callcenter.core.errors import InvalidRequest
from callcenter.core.tickets.model import FieldKind, FieldSpec, TicketType

FieldValue = str | int | float
_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


class TicketInvalid(InvalidRequest):
    """A ticket request that does not fit its type (fields, unknown type...): ``problems`` maps a
    field (or ``type``) to its message."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = dict(problems)


def _one(spec: FieldSpec, value: object) -> FieldValue:
    match spec.kind:
        case FieldKind.TEXT:
            if not isinstance(value, str):
                raise ValueError("must be text")
            text = value.strip()
            if len(text) > spec.max_length:
                raise ValueError(f"at most {spec.max_length} characters")
            return text
        case FieldKind.CHOICE:
            if value not in spec.choices:
                raise ValueError(f"must be one of {', '.join(spec.choices)}")
            assert isinstance(value, str)
            return value
        case FieldKind.NUMBER:
            if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
                raise ValueError("must be a number")
            if spec.minimum is not None and value < spec.minimum:
                raise ValueError(f"must be at least {spec.minimum:g}")
            if spec.maximum is not None and value > spec.maximum:
                raise ValueError(f"must be at most {spec.maximum:g}")
            if abs(value) > 1e15:
                raise ValueError("too large")
            return value
        case FieldKind.DATE:
            if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                raise ValueError("must be a date (YYYY-MM-DD)")
            try:
                return date.fromisoformat(value).isoformat()
            except ValueError as err:
                raise ValueError("must be a date (YYYY-MM-DD)") from err
        case FieldKind.CUSTOMER | FieldKind.ATTACHMENT:
            if not isinstance(value, str) or not _REF.match(value):
                what = "a customer id" if spec.kind is FieldKind.CUSTOMER else "an attachment id"
                raise ValueError(f"must be {what}")
            return value
    raise AssertionError(spec.kind)  # pragma: no cover


def empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def validate(tt: TicketType, values: Mapping[str, object]) -> dict[str, FieldValue]:
    """The fields as stored, or TicketInvalid with every problem."""
    problems: dict[str, str] = {}
    out: dict[str, FieldValue] = {}
    for name in values:
        if tt.field(name) is None:
            problems[name] = f"not a field of {tt.name!r}"
    for spec in tt.fields:
        value = values.get(spec.name)
        if empty(value):
            if spec.required:
                problems[spec.name] = "required"
            continue
        try:
            out[spec.name] = _one(spec, value)
        except ValueError as err:
            problems[spec.name] = str(err)
    if problems:
        raise TicketInvalid(problems)
    return out

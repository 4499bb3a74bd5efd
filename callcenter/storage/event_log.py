"""Notices <-> event-log rows: the one place a typed notice becomes a row (``kind``, ``data``) and
a stored row becomes a notice again.

The rows keep the kinds and keys they had before notices were typed (stored history, the pending
wrap-ups, the wallboard rebuild and the restart read them), so the conversion follows each notice
class's field description (``core/notices.py``: ``row_key``, ``omit``, ``group``, ``decode``).
``RecordEvent`` (an untyped notice: kind and data as given) is still accepted and stored as is.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from callcenter.core import notices as nt
from callcenter.core.commands import RecordEvent

_BASE_FIELDS = frozenset(f.name for f in dataclasses.fields(nt.Notice))


@dataclass(frozen=True, slots=True)
class EventEntry:
    """One event-log row, before it is stored."""

    interaction_id: str
    at: float
    kind: str
    data: Mapping[str, object]


def _stored(value: object) -> object:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _stored(v) for k, v in value.items()}
    if isinstance(value, tuple | list | frozenset | set):
        return [_stored(v) for v in value]
    return value


def _fields(cls: type[nt.Notice]) -> list[dataclasses.Field[Any]]:
    return [f for f in dataclasses.fields(cls) if f.name not in _BASE_FIELDS]


def event_row(notice: nt.Notice | RecordEvent) -> EventEntry:
    """The row a notice is stored as."""
    if isinstance(notice, RecordEvent):
        return EventEntry(notice.interaction_id, notice.at, notice.kind, dict(notice.data))
    fields = _fields(type(notice))
    values = {f.name: getattr(notice, f.name) for f in fields}
    groups_set = {
        f.metadata[nt.GROUP] for f in fields if nt.GROUP in f.metadata and values[f.name] is not None
    }
    data: dict[str, object] = {}
    for f in fields:
        value = values[f.name]
        if nt.GROUP in f.metadata and f.metadata[nt.GROUP] not in groups_set:
            continue
        if f.metadata.get(nt.OMIT) and value is None:
            continue
        data[str(f.metadata.get(nt.ROW_KEY, f.name))] = _stored(value)
    return EventEntry(notice.interaction_id, notice.at, type(notice).kind, data)


def _read(
    cls: type[nt.Notice], interaction_id: str, at: float, data: Mapping[str, object]
) -> nt.Notice | None:
    fields = _fields(cls)
    keys = {str(f.metadata.get(nt.ROW_KEY, f.name)): f for f in fields}
    if not set(data) <= set(keys):
        return None
    args: dict[str, object] = {}
    for key, f in keys.items():
        if key not in data:
            optional = f.metadata.get(nt.OMIT) or nt.GROUP in f.metadata
            if not optional:
                return None
            continue
        value = data[key]
        decode = f.metadata.get(nt.DECODE)
        if decode is not None and value is not None:
            try:
                value = decode(value)
            except ValueError:
                return None
        args[f.name] = value
    return cls(interaction_id=interaction_id, at=at, **args)


def notice_of(interaction_id: str, at: float, kind: str, data: Mapping[str, object]) -> nt.Notice | None:
    """The notice a stored row records, or ``None`` when no notice class fits it (a kind written by
    something else, such as a call control not typed yet, or keys no class has)."""
    for cls in nt.notice_types():
        if cls.kind == kind:
            found = _read(cls, interaction_id, at, data)
            if found is not None:
                return found
    return None


def notice_reader() -> Callable[[str, float, str, Mapping[str, object]], nt.Notice | None]:
    """:func:`notice_of` for many rows: the notice classes looked up once, by kind (reading a long
    log row by row spent most of its time finding the classes again)."""
    by_kind: dict[str, list[type[nt.Notice]]] = {}
    for cls in nt.notice_types():
        by_kind.setdefault(cls.kind, []).append(cls)

    def read(interaction_id: str, at: float, kind: str, data: Mapping[str, object]) -> nt.Notice | None:
        for cls in by_kind.get(kind, ()):
            found = _read(cls, interaction_id, at, data)
            if found is not None:
                return found
        return None

    return read

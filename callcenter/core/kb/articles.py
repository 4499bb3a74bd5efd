"""The knowledge base's vocabulary (pure): who may read an article, its states, the records that
cross from the store to the web and the suggestion seam.

Invariants:

- Reading is denied by default: :func:`readable` lists the visibility levels a role may read, and a
  role not named there reads nothing. ``public`` articles are the only ones a customer (the bot)
  may be answered from.
- An article of a business line is read only by people who see that line; an article of no line
  is shared by every line (general knowledge), but only someone who sees every line may edit it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Visibility(StrEnum):
    PUBLIC = "public"  # customers too (the virtual agent may answer from it)
    INTERNAL = "internal"  # agents and everyone above
    RESTRICTED = "restricted"  # supervisors and admins


class Status(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class LinkKind(StrEnum):
    QUEUE = "queue"
    TICKET_TYPE = "ticket_type"


_READS: dict[str, frozenset[Visibility]] = {
    "customer": frozenset({Visibility.PUBLIC}),
    "agent": frozenset({Visibility.PUBLIC, Visibility.INTERNAL}),
    "qa": frozenset({Visibility.PUBLIC, Visibility.INTERNAL}),
    "supervisor": frozenset(Visibility),
    "admin": frozenset(Visibility),
}


def readable(role: str) -> frozenset[Visibility]:
    """The visibility levels ``role`` may read (none for a role not known here)."""
    return _READS.get(role, frozenset())


def may_read(role: str, lines: frozenset[str] | None, visibility: str, line: str | None) -> bool:
    """Whether someone of ``role`` who sees ``lines`` (None: all) may read such an article."""
    if visibility not in readable(role):
        return False
    return lines is None or line is None or line in lines


def may_edit(lines: frozenset[str] | None, line: str | None) -> bool:
    """Whether an admin who sees ``lines`` may write an article of ``line`` (the role is checked by
    the route): a line-scoped admin writes only articles of their lines."""
    return lines is None or (line is not None and line in lines)


@dataclass(frozen=True, slots=True)
class Reader:
    """Who searches: the levels they read and the lines they see (None: every line)."""

    visibilities: frozenset[Visibility]
    lines: frozenset[str] | None = None

    @classmethod
    def of(cls, role: str, lines: frozenset[str] | None) -> Reader:
        return cls(readable(role), lines)


@dataclass(frozen=True, slots=True)
class Draft:
    """What an author writes: one new version of an article (and its settings)."""

    key: str
    language: str
    title: str
    body: str  # Markdown
    summary: str = ""  # the short answer an agent inserts; "" means the body's first paragraph
    business_line: str | None = None
    visibility: Visibility = Visibility.INTERNAL
    queues: tuple[str, ...] = ()
    ticket_types: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True, slots=True)
class Version:
    version: int
    title: str
    summary: str
    body: str
    author: str
    note: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Article:
    id: int
    key: str
    language: str
    business_line: str | None
    visibility: Visibility
    status: Status
    version: int  # the latest saved
    published_version: int | None
    title: str  # the latest version's
    updated_at: datetime
    updated_by: str
    queues: tuple[str, ...] = ()
    ticket_types: tuple[str, ...] = ()
    translations: tuple[tuple[str, int], ...] = ()  # (language, article id) of the others


@dataclass(frozen=True, slots=True)
class Hit:
    """A search result or suggestion: the article's published version, with its score."""

    id: int
    key: str
    language: str
    title: str
    summary: str
    excerpt: str
    score: float
    business_line: str | None = None
    coverage: float = 0.0  # the share of the query's weight the article holds (core/kb/ranking.py)

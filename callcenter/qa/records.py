"""What QA review reads and writes, as the web layer sees it: the records (frozen dataclasses) and
the ports (Protocols) the QA store and the recording store implement. The web layer depends on these,
never on the stores themselves (tests/unit/test_architecture.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

Track = Literal["mixed", "caller", "agent"]
TRACKS: tuple[Track, ...] = ("mixed", "caller", "agent")


@dataclass(frozen=True, slots=True)
class CallFilter:
    """What ``GET /api/qa/calls`` filters on; ``None`` means "any"."""

    words: str | None = None
    agent: str | None = None
    queue: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    min_score: float | None = None
    max_score: float | None = None
    flag: str | None = None
    calibration: bool | None = None
    limit: int = 25
    offset: int = 0


@dataclass(frozen=True, slots=True)
class CallSummary:
    interaction_id: str
    business_line: str | None
    agent_id: str | None
    queue: str | None
    call_at: datetime
    duration: float
    score: float | None
    flags: tuple[str, ...]
    reviews: int
    calibration: bool
    excerpt: str
    caller: str = ""  # the caller's name, else number (from ``interactions``); "" when unknown


@dataclass(frozen=True, slots=True)
class Review:
    id: int
    interaction_id: str
    reviewer: str
    scorecard: str
    answers: Mapping[str, int | None]
    comment: str
    total: float
    at: datetime


@dataclass(frozen=True, slots=True)
class CallDetail:
    summary: CallSummary
    language: str
    engine: str
    segments: list[dict[str, Any]]
    checks: list[dict[str, Any]]
    alerts: list[dict[str, Any]]
    reviews: tuple[Review, ...] = field(default=())
    # The customer's survey answer, when there is one: question, score, comment, source, low.
    survey: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class PlaybackRecord:
    at: datetime
    who: str
    role: str
    interaction_id: str
    track: str
    byte_range: str


class QaReviews(Protocol):
    """The QA store as the review pages use it (``adapters/qa_store.py``'s ``QaStore``)."""

    async def search(
        self, query: CallFilter, lines: frozenset[str] | None = None
    ) -> tuple[int, list[CallSummary]]: ...

    async def call(self, interaction_id: str, lines: frozenset[str] | None = None) -> CallDetail | None: ...

    async def line_of(self, interaction_id: str) -> tuple[bool, str | None]: ...

    async def add_review(
        self,
        interaction_id: str,
        reviewer: str,
        scorecard: str,
        answers: Mapping[str, int | None],
        comment: str,
        total: float,
        at: datetime,
    ) -> Review: ...

    async def set_calibration(self, interaction_id: str, on: bool) -> bool: ...

    async def add_playback(self, record: PlaybackRecord) -> None: ...


class RecordingFiles(Protocol):
    """Reading recordings for playback (``adapters/recordings.py``'s ``RecordingStore``)."""

    def path_for(self, interaction_id: str, track: Track = "mixed") -> Path: ...

    def read(self, interaction_id: str, track: Track = "mixed") -> bytes: ...

"""The knowledge base as the web layer and the command line see it: the store's port (a Protocol the
database store implements). The web layer depends on this, never on the store itself
(tests/unit/test_architecture.py)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from callcenter.core.kb.articles import Article, Draft, Hit, Reader, Status, Version


class KbError(ValueError):
    """A write the knowledge base refuses (unknown article or version, a conflicting key): a 4xx."""


class KnowledgeBase(Protocol):
    async def save(self, draft: Draft, author: str, at: datetime, article_id: int | None = None) -> Article:
        """A new version of the article ``article_id`` (None: of the article with the draft's key and
        language, created when there is none). Settings (line, visibility, links) apply at once;
        the text is published by :meth:`publish`."""
        ...

    async def publish(self, article_id: int, version: int | None, who: str, at: datetime) -> Article:
        """Make ``version`` (None: the latest) the one readers and the search see."""
        ...

    async def archive(self, article_id: int, who: str, at: datetime) -> Article:
        """Take the article out of the search and of readers' lists (its versions stay)."""
        ...

    async def article(self, article_id: int) -> Article | None: ...

    async def find(self, key: str, language: str) -> Article | None: ...

    async def versions(self, article_id: int) -> list[Version]: ...

    async def version(self, article_id: int, version: int) -> Version | None: ...

    async def articles(
        self,
        reader: Reader,
        status: Status | None = None,
        language: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[int, list[Article]]:
        """Articles ``reader`` may read, newest change first, and how many in all."""
        ...

    async def search(
        self,
        query: Mapping[str, float],
        reader: Reader,
        language: str | None = None,
        queue: str | None = None,
        limit: int = 10,
    ) -> list[Hit]:
        """Published articles ``reader`` may read, ranked for ``query`` (words -> weights, from
        callcenter/kb/text.py) by core/kb/ranking.py."""
        ...

    async def contact(self, interaction_id: str) -> tuple[str | None, str | None] | None:
        """The queue and agent of a stored interaction (None: not known)."""
        ...

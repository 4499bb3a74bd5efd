"""The knowledge base in the database (migration 0017): articles, versions, links, search.

Invariants:

- Versions are append-only: a save adds version ``n + 1``; nothing rewrites an old one. An article's
  ``search_words`` are always those of its published version (empty while it has none or is
  archived), and on SQLite the FTS5 row ``kb_search`` is replaced in the same transaction.
- Search finds candidates in the database (FTS5 ``MATCH`` of any query word, or the GIN index of
  ``to_tsvector('simple', search_words)``) and ranks them with core/kb/ranking.py, so one query
  ranks the same on both backends. Query words are bound parameters, quoted for FTS5: user text
  never becomes query syntax.
- What a reader may read (visibility, business line) is filtered here, in SQL, before ranking.

Every SQLAlchemy or driver failure leaves as :class:`~callcenter.storage.db.DatabaseError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callcenter.aio import cancel_safe
from callcenter.core.kb.articles import Article, Draft, Hit, LinkKind, Reader, Status, Version, Visibility
from callcenter.core.kb.ranking import Candidate, Corpus, coverage, rank
from callcenter.kb import render, text
from callcenter.kb.records import KbError
from callcenter.storage.db import ConnectionStore, parse_url
from callcenter.storage.db_models import InteractionRow, KbArticleRow, KbLinkRow, KbVersionRow

MAX_CANDIDATES = 2000  # articles sharing a word with a query, ranked in Python (see the header)
EXCERPT = 240


@cancel_safe
class KbStore(ConnectionStore):
    _name = "knowledge base"

    def __init__(self, url: str, engine: AsyncEngine | None = None) -> None:
        super().__init__(url, engine)
        self._dialect = parse_url(url).get_backend_name()

    async def start(self) -> None:
        await self._open()

    # --- writing -----------------------------------------------------------------------------------

    async def save(self, draft: Draft, author: str, at: datetime, article_id: int | None = None) -> Article:
        a = KbArticleRow
        async with self._begin(f"save article {draft.key!r}", write=True) as c:
            if article_id is None:
                found = await c.execute(
                    sa.select(a.id, a.version).where(a.key == draft.key, a.language == draft.language)
                )
            else:
                found = await c.execute(sa.select(a.id, a.version).where(a.id == article_id))
            row = found.one_or_none()
            if row is None and article_id is not None:
                raise KbError(f"no article {article_id}")
            settings = {
                "business_line": draft.business_line,
                "visibility": draft.visibility.value,
                "title": draft.title,
                "updated_at": at,
                "updated_by": author,
            }
            if row is None:
                new = sa.insert(a).values(
                    key=draft.key,
                    language=draft.language,
                    status=Status.DRAFT.value,
                    version=1,
                    published_version=None,
                    search_title="",
                    search_words="",
                    search_length=0,
                    created_at=at,
                    **settings,
                )
                ident, version = int((await c.execute(new.returning(a.id))).scalar_one()), 1
            else:
                ident, version = int(row.id), int(row.version) + 1
                await self._check_key(c, ident, draft)
                await c.execute(
                    sa.update(a)
                    .where(a.id == ident)
                    .values(key=draft.key, language=draft.language, version=version, **settings)
                )
            await c.execute(
                sa.insert(KbVersionRow).values(
                    article_id=ident,
                    version=version,
                    title=draft.title,
                    summary=draft.summary,
                    body=draft.body,
                    author=author,
                    note=draft.note,
                    at=at,
                )
            )
            await self._set_links(c, ident, draft)
            return await _article(c, ident)

    @staticmethod
    async def _check_key(c: AsyncConnection, ident: int, draft: Draft) -> None:
        a = KbArticleRow
        taken = await c.execute(
            sa.select(a.id).where(a.key == draft.key, a.language == draft.language, a.id != ident)
        )
        if taken.first() is not None:
            raise KbError(f"another article is {draft.key!r} in {draft.language!r}")

    @staticmethod
    async def _set_links(c: AsyncConnection, ident: int, draft: Draft) -> None:
        await c.execute(sa.delete(KbLinkRow).where(KbLinkRow.article_id == ident))
        links = [{"article_id": ident, "kind": LinkKind.QUEUE.value, "target": q} for q in draft.queues]
        links += [
            {"article_id": ident, "kind": LinkKind.TICKET_TYPE.value, "target": t} for t in draft.ticket_types
        ]
        if links:
            await c.execute(sa.insert(KbLinkRow), links)

    async def publish(self, article_id: int, version: int | None, who: str, at: datetime) -> Article:
        a, v = KbArticleRow, KbVersionRow
        async with self._begin(f"publish article {article_id}", write=True) as c:
            row = (await c.execute(sa.select(a.version).where(a.id == article_id))).one_or_none()
            if row is None:
                raise KbError(f"no article {article_id}")
            number = int(row.version) if version is None else version
            found = (
                await c.execute(sa.select(v).where(v.article_id == article_id, v.version == number))
            ).one_or_none()
            if found is None:
                raise KbError(f"article {article_id} has no version {number}")
            title = text.words(found.title)
            words = title + text.words(found.summary) + text.words(render.to_text(found.body))
            await c.execute(
                sa.update(a)
                .where(a.id == article_id)
                .values(
                    status=Status.PUBLISHED.value,
                    published_version=number,
                    search_title=" ".join(title),
                    search_words=" ".join(words),
                    search_length=len(words),
                    updated_at=at,
                    updated_by=who,
                )
            )
            await self._index(c, article_id, " ".join(words))
            return await _article(c, article_id)

    async def archive(self, article_id: int, who: str, at: datetime) -> Article:
        a = KbArticleRow
        async with self._begin(f"archive article {article_id}", write=True) as c:
            done = await c.execute(
                sa.update(a)
                .where(a.id == article_id)
                .values(
                    status=Status.ARCHIVED.value,
                    search_title="",
                    search_words="",
                    search_length=0,
                    updated_at=at,
                    updated_by=who,
                )
            )
            if not done.rowcount:
                raise KbError(f"no article {article_id}")
            await self._index(c, article_id, "")
            return await _article(c, article_id)

    async def _index(self, c: AsyncConnection, article_id: int, words: str) -> None:
        if self._dialect != "sqlite":
            return  # the GIN index follows search_words
        await c.execute(sa.text("DELETE FROM kb_search WHERE article_id = :i"), {"i": article_id})
        if words:
            await c.execute(
                sa.text("INSERT INTO kb_search (article_id, words) VALUES (:i, :w)"),
                {"i": article_id, "w": words},
            )

    # --- reading -----------------------------------------------------------------------------------

    async def article(self, article_id: int) -> Article | None:
        async with self._begin(f"read article {article_id}") as c:
            try:
                return await _article(c, article_id)
            except KbError:
                return None

    async def find(self, key: str, language: str) -> Article | None:
        a = KbArticleRow
        query = sa.select(a.id).where(a.key == key, a.language == language)
        async with self._begin(f"find article {key!r}") as c:
            ident = (await c.execute(query)).scalar_one_or_none()
            return None if ident is None else await _article(c, int(ident))

    async def versions(self, article_id: int) -> list[Version]:
        v = KbVersionRow
        query = sa.select(v).where(v.article_id == article_id).order_by(v.version.desc())
        async with self._begin(f"read the versions of article {article_id}") as c:
            return [_version(row) for row in await c.execute(query)]

    async def version(self, article_id: int, version: int) -> Version | None:
        v = KbVersionRow
        query = sa.select(v).where(v.article_id == article_id, v.version == version)
        async with self._begin(f"read version {version} of article {article_id}") as c:
            row = (await c.execute(query)).one_or_none()
        return None if row is None else _version(row)

    async def articles(
        self,
        reader: Reader,
        status: Status | None = None,
        language: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[int, list[Article]]:
        a = KbArticleRow
        conditions = _readable(reader)
        if status is not None:
            conditions.append(a.status == status.value)
        if language is not None:
            conditions.append(a.language == language)
        count = sa.select(sa.func.count()).select_from(a).where(*conditions)
        page = sa.select(a.id).where(*conditions).order_by(a.updated_at.desc(), a.id.desc())
        async with self._begin("list articles") as c:
            found = int((await c.execute(count)).scalar_one())
            ids = [int(i) for i in (await c.execute(page.limit(limit).offset(offset))).scalars()]
            return found, [await _article(c, i) for i in ids]

    async def search(
        self,
        query: Mapping[str, float],
        reader: Reader,
        language: str | None = None,
        queue: str | None = None,
        limit: int = 10,
    ) -> list[Hit]:
        if not query:
            return []
        a = KbArticleRow
        conditions = [*_readable(reader), a.status == Status.PUBLISHED.value]
        if language is not None:
            conditions.append(a.language == language)
        corpus = sa.select(sa.func.count(), sa.func.avg(a.search_length)).where(*conditions)
        candidates = (
            sa.select(a.id, a.search_title, a.search_words)
            .where(*conditions, self._matches(list(query)))
            .limit(MAX_CANDIDATES)
        )
        async with self._begin("search the knowledge base") as c:
            total, average = (await c.execute(corpus)).one()
            rows = list(await c.execute(candidates))
            queues = await _queues(c, [int(r.id) for r in rows])
            found = [
                Candidate(
                    int(r.id),
                    tuple(r.search_title.split()),
                    tuple(r.search_words.split()),
                    queues.get(int(r.id), frozenset()),
                )
                for r in rows
            ]
            ranked = rank(query, found, Corpus(int(total or 0), float(average or 0.0)), queue)[:limit]
            by_id = {f.id: f for f in found}
            return [await _hit(c, ident, score, coverage(query, by_id[ident])) for ident, score in ranked]

    def _matches(self, words: list[str]) -> sa.ColumnElement[bool]:
        if self._dialect == "sqlite":
            match = " OR ".join('"' + w.replace('"', '""') + '"' for w in words)
            hits: sa.Select[Any] = (
                sa.select(sa.column("article_id"))
                .select_from(sa.table("kb_search"))
                .where(sa.text("kb_search MATCH :match").bindparams(match=match))
            )
            return KbArticleRow.id.in_(hits)
        simple: sa.ColumnElement[Any] = sa.literal_column("'simple'::regconfig")
        vector = sa.func.to_tsvector(simple, KbArticleRow.search_words)
        tsquery: sa.ColumnElement[Any] = sa.func.plainto_tsquery(simple, words[0])
        for word in words[1:]:
            tsquery = tsquery.op("||")(sa.func.plainto_tsquery(simple, word))
        return vector.op("@@")(tsquery)

    async def contact(self, interaction_id: str) -> tuple[str | None, str | None] | None:
        i = InteractionRow
        async with self._begin(f"read interaction {interaction_id!r}") as c:
            row = (
                await c.execute(sa.select(i.queue, i.agent_id).where(i.id == interaction_id))
            ).one_or_none()
        return None if row is None else (row.queue, row.agent_id)


def _readable(reader: Reader) -> list[sa.ColumnElement[bool]]:
    a = KbArticleRow
    levels = sorted(v.value for v in reader.visibilities)
    conditions: list[sa.ColumnElement[bool]] = [a.visibility.in_(levels)]
    if reader.lines is not None:
        conditions.append(sa.or_(a.business_line.is_(None), a.business_line.in_(sorted(reader.lines))))
    return conditions


async def _queues(c: AsyncConnection, ids: list[int]) -> dict[int, frozenset[str]]:
    out: dict[int, set[str]] = {}
    link = KbLinkRow
    for start in range(0, len(ids), 500):
        query = sa.select(link.article_id, link.target).where(
            link.kind == LinkKind.QUEUE.value, link.article_id.in_(ids[start : start + 500])
        )
        for article_id, target in await c.execute(query):
            out.setdefault(int(article_id), set()).add(target)
    return {k: frozenset(v) for k, v in out.items()}


async def _article(c: AsyncConnection, article_id: int) -> Article:
    a = KbArticleRow
    row = (await c.execute(sa.select(a).where(a.id == article_id))).one_or_none()
    if row is None:
        raise KbError(f"no article {article_id}")
    links = list(
        await c.execute(sa.select(KbLinkRow.kind, KbLinkRow.target).where(KbLinkRow.article_id == article_id))
    )
    others = await c.execute(
        sa.select(a.language, a.id).where(a.key == row.key, a.id != article_id).order_by(a.language)
    )
    return Article(
        id=int(row.id),
        key=row.key,
        language=row.language,
        business_line=row.business_line,
        visibility=Visibility(row.visibility),
        status=Status(row.status),
        version=int(row.version),
        published_version=row.published_version,
        title=row.title,
        updated_at=_aware(row.updated_at),
        updated_by=row.updated_by,
        queues=tuple(sorted(t for k, t in links if k == LinkKind.QUEUE.value)),
        ticket_types=tuple(sorted(t for k, t in links if k == LinkKind.TICKET_TYPE.value)),
        translations=tuple((lang, int(i)) for lang, i in others),
    )


async def _hit(c: AsyncConnection, article_id: int, score: float, covered: float) -> Hit:
    a, v = KbArticleRow, KbVersionRow
    row = (
        await c.execute(
            sa.select(a.key, a.language, a.business_line, v.title, v.summary, v.body)
            .join(v, sa.and_(v.article_id == a.id, v.version == a.published_version))
            .where(a.id == article_id)
        )
    ).one()
    summary = row.summary or render.first_paragraph(row.body)
    body = render.to_text(row.body)
    excerpt = body[:EXCERPT] + ("…" if len(body) > EXCERPT else "")
    return Hit(
        article_id,
        row.key,
        row.language,
        row.title,
        summary,
        excerpt,
        round(score, 4),
        row.business_line,
        round(covered, 4),
    )


def _version(row: Any) -> Version:
    return Version(int(row.version), row.title, row.summary, row.body, row.author, row.note, _aware(row.at))


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value

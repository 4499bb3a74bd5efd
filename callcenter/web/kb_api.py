"""The knowledge base over HTTP (docs/knowledge-base.md): articles with versions, publishing,
lists, search, and suggestions for the agent panel.

Roles: agents, QA, supervisors and admins read (each what their role's visibility levels and
business lines allow: core/kb/articles.py; an article they may not read is a 404, like one that does
not exist); admins write, a line-scoped admin only articles of their lines. Readers other than
admins see published versions only.
"""

from __future__ import annotations

import functools
import logging
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from callcenter.accounts.principal import Principal
from callcenter.core.kb.articles import (
    Article,
    Draft,
    Hit,
    Reader,
    Status,
    Version,
    Visibility,
    may_edit,
    may_read,
)
from callcenter.core.kb.ranking import query_of
from callcenter.errors import StorageError
from callcenter.kb import text
from callcenter.kb.importer import KEY, LANGUAGE, MAX_ANSWER, MAX_TITLE, NAME
from callcenter.kb.records import KbError, KnowledgeBase
from callcenter.kb.render import first_paragraph, to_html
from callcenter.kb.suggest import Context, Suggester
from callcenter.web.auth import PRINCIPAL, allow
from callcenter.web.http import error, json_response, read_json, read_query
from callcenter.web.openapi import doc
from callcenter.web.pages import add_nav, render

log = logging.getLogger(__name__)

KB = web.AppKey("knowledge_base", KnowledgeBase)
READERS = ("agent", "qa", "supervisor", "admin")
_SCOPED = "readers get what their role's visibility levels and business lines allow"
_NAME = NAME.pattern
MAX_MESSAGES = 10
_Name = Annotated[str, Field(pattern=_NAME)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ArticleBody(_Strict):
    key: str = Field(pattern=KEY.pattern, description="shared by an article's translations")
    language: str = Field(pattern=LANGUAGE.pattern, description="en, zh-CN...")
    title: str = Field(min_length=1, max_length=MAX_TITLE)
    body: str = Field(max_length=200_000, description="Markdown (rendered and sanitised on reading)")
    answer: str = Field(
        "", max_length=MAX_ANSWER, description="what an agent inserts; default: the first paragraph"
    )
    line: str | None = Field(None, pattern=_NAME, description="business line; none: every line's")
    visibility: Visibility = Field(
        Visibility.INTERNAL, description="public (the bot too), internal, restricted"
    )
    queues: list[_Name] = Field([], max_length=100, description="queues the article is linked to")
    ticket_types: list[_Name] = Field([], max_length=100)
    note: str = Field("", max_length=500, description="what changed")
    publish: bool = Field(False, description="publish this version at once")

    def draft(self) -> Draft:
        return Draft(
            self.key,
            self.language,
            self.title,
            self.body,
            self.answer,
            self.line,
            self.visibility,
            tuple(dict.fromkeys(self.queues)),
            tuple(dict.fromkeys(self.ticket_types)),
            self.note,
        )


class PublishBody(_Strict):
    version: int | None = Field(None, ge=1, description="the version to publish; default: the latest")


class ListQuery(_Strict):
    status: Literal["draft", "published", "archived"] | None = None
    language: str | None = Field(None, pattern=LANGUAGE.pattern)
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0, le=1_000_000)


class SearchQuery(_Strict):
    q: str = Field(min_length=1, max_length=500)
    language: str | None = Field(None, pattern=LANGUAGE.pattern)
    queue: str | None = Field(None, pattern=_NAME, description="boost articles linked to this queue")
    limit: int = Field(10, ge=1, le=50)


class SuggestBody(_Strict):
    messages: list[str] = Field(
        min_length=1, max_length=MAX_MESSAGES, description="the customer's, oldest first"
    )
    interaction_id: str | None = Field(None, max_length=128, description="the contact: its queue is boosted")
    language: str | None = Field(None, pattern=LANGUAGE.pattern)


def _reader(request: web.Request) -> Reader:
    principal: Principal = request[PRINCIPAL]
    return Reader.of(principal.role, principal.lines)


def _readable(request: web.Request, article: Article | None) -> Article:
    principal: Principal = request[PRINCIPAL]
    if article is None or not may_read(
        principal.role, principal.lines, article.visibility, article.business_line
    ):
        raise web.HTTPNotFound(text='{"error": "no such article"}', content_type="application/json")
    if principal.role != "admin" and article.published_version is None:
        raise web.HTTPNotFound(text='{"error": "no such article"}', content_type="application/json")
    return article


def _id(request: web.Request) -> int:
    raw = request.match_info["article_id"]
    if not raw.isdigit() or len(raw) > 18:
        raise web.HTTPNotFound(text='{"error": "no such article"}', content_type="application/json")
    return int(raw)


def article_view(a: Article) -> dict[str, Any]:
    return {
        "id": a.id,
        "key": a.key,
        "language": a.language,
        "line": a.business_line,
        "visibility": a.visibility.value,
        "status": a.status.value,
        "version": a.version,
        "published_version": a.published_version,
        "title": a.title,
        "updated_at": a.updated_at.isoformat(),
        "updated_by": a.updated_by,
        "queues": list(a.queues),
        "ticket_types": list(a.ticket_types),
        "translations": dict(a.translations),
    }


def version_view(v: Version, with_text: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "version": v.version,
        "title": v.title,
        "author": v.author,
        "note": v.note,
        "at": v.at.isoformat(),
    }
    if with_text:
        out |= {"answer": v.summary or first_paragraph(v.body), "body": v.body, "html": to_html(v.body)}
    return out


def hit_view(h: Hit) -> dict[str, Any]:
    return {
        "id": h.id,
        "key": h.key,
        "language": h.language,
        "title": h.title,
        "answer": h.summary,
        "excerpt": h.excerpt,
        "score": h.score,
        "line": h.business_line,
    }


def _guarded(handler: Any) -> Any:
    """Database failures as 503, refused writes as 409 (``wraps`` keeps roles and documentation)."""

    @functools.wraps(handler)
    async def run(request: web.Request) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
        except StorageError as err:
            log.warning("kb.database_error", extra={"error": str(err)})
            return error(503, "the knowledge base is not available")
        except KbError as err:
            return error(409, str(err))
        return response

    return run


@doc(
    "Articles you may read, newest change first (admins: drafts too)",
    query=ListQuery,
    errors=(503,),
    who=_SCOPED,
)
@allow(*READERS)
async def list_articles(request: web.Request) -> web.Response:
    params = read_query(request, ListQuery)
    admin = request[PRINCIPAL].role == "admin"
    status = Status(params.status) if params.status else None
    if not admin:
        status = Status.PUBLISHED
    total, found = await request.app[KB].articles(
        _reader(request), status, params.language, params.limit, params.offset
    )
    return json_response({"total": total, "articles": [article_view(a) for a in found]})


@doc(
    "One article: its published version rendered (HTML, sanitised); admins also get the latest",
    errors=(404, 503),
    who=_SCOPED,
)
@allow(*READERS)
async def get_article(request: web.Request) -> web.Response:
    kb = request.app[KB]
    article = _readable(request, await kb.article(_id(request)))
    out = article_view(article)
    if article.published_version is not None:
        published = await kb.version(article.id, article.published_version)
        out["published"] = None if published is None else version_view(published)
    if request[PRINCIPAL].role == "admin":
        latest = await kb.version(article.id, article.version)
        out["latest"] = None if latest is None else version_view(latest)
    return json_response(out)


@doc("An article's versions, newest first (admins)", errors=(404, 503))
@allow("admin")
async def list_versions(request: web.Request) -> web.Response:
    kb = request.app[KB]
    article = _readable(request, await kb.article(_id(request)))
    return json_response(
        {"versions": [version_view(v, with_text=False) for v in await kb.versions(article.id)]}
    )


async def _write(request: web.Request, article_id: int | None) -> web.Response:
    body = await read_json(request, ArticleBody)  # 16 KiB, like every body (larger: the import)
    principal: Principal = request[PRINCIPAL]
    draft = body.draft()
    if not may_edit(principal.lines, draft.business_line):
        return error(403, "line: not one of your business lines")
    kb = request.app[KB]
    if article_id is not None:
        current = _readable(request, await kb.article(article_id))
        if not may_edit(principal.lines, current.business_line):
            return error(403, "this article is not of your business lines")
    else:
        existing = await kb.find(draft.key, draft.language)
        if existing is not None:
            return error(
                409, f"article {existing.id} is {draft.key!r} in {draft.language!r}: PUT a new version"
            )
    now = datetime.now(UTC)
    article = await kb.save(draft, principal.name, now, article_id)
    if body.publish:
        article = await kb.publish(article.id, article.version, principal.name, now)
    log.info("kb.saved", extra={"article": article.id, "version": article.version, "by": principal.name})
    return json_response(article_view(article), 201 if article_id is None else 200)


@doc(
    "Create an article (version 1; published at once with publish: true)",
    body=ArticleBody,
    ok=201,
    errors=(409, 413, 503),
)
@allow("admin")
async def create_article(request: web.Request) -> web.Response:
    return await _write(request, None)


@doc("Save a new version of an article (and its settings)", body=ArticleBody, errors=(404, 409, 413, 503))
@allow("admin")
async def update_article(request: web.Request) -> web.Response:
    return await _write(request, _id(request))


async def _change(request: web.Request, publish: bool) -> web.Response:
    principal: Principal = request[PRINCIPAL]
    kb = request.app[KB]
    article = _readable(request, await kb.article(_id(request)))
    if not may_edit(principal.lines, article.business_line):
        return error(403, "this article is not of your business lines")
    now = datetime.now(UTC)
    if publish:
        wanted = await read_json(request, PublishBody)
        article = await kb.publish(article.id, wanted.version, principal.name, now)
    else:
        article = await kb.archive(article.id, principal.name, now)
    return json_response(article_view(article))


@doc(
    "Publish a version (default: the latest): readers and the search see it",
    body=PublishBody,
    body_required=False,
    errors=(404, 409, 503),
)
@allow("admin")
async def publish_article(request: web.Request) -> web.Response:
    return await _change(request, publish=True)


@doc("Archive an article: out of the search and readers' lists (versions kept)", errors=(404, 503))
@allow("admin")
async def archive_article(request: web.Request) -> web.Response:
    return await _change(request, publish=False)


@doc(
    "Search published articles (English and Chinese; ranking in docs/knowledge-base.md)",
    query=SearchQuery,
    errors=(503,),
    who=_SCOPED,
)
@allow(*READERS)
async def search(request: web.Request) -> web.Response:
    params = read_query(request, SearchQuery)
    query = query_of(text.query_words(params.q))
    hits = await request.app[KB].search(query, _reader(request), params.language, params.queue, params.limit)
    return json_response({"results": [hit_view(h) for h in hits]})


@doc(
    "Suggestions for a contact: the top 3 articles for the customer's recent messages",
    body=SuggestBody,
    errors=(503,),
    who=_SCOPED + "; an interaction's queue counts only for its own agent",
)
@allow("agent", "supervisor", "admin")
async def suggest(request: web.Request) -> web.Response:
    body = await read_json(request, SuggestBody)
    principal: Principal = request[PRINCIPAL]
    kb = request.app[KB]
    queue = None
    if body.interaction_id is not None:
        contact = await kb.contact(body.interaction_id)
        if contact is not None and (principal.role != "agent" or contact[1] == principal.agent_id):
            queue = contact[0]
    context = Context(_reader(request), queue, body.language)
    hits = await Suggester(kb).suggest([m[:2000] for m in body.messages], context)
    return json_response({"suggestions": [hit_view(h) for h in hits], "queue": queue})


@doc("The knowledge-base page: search and read published articles", content="text/html")
@allow(*READERS)
async def page(request: web.Request) -> web.Response:
    return render(request, "kb.html")


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/kb", page)
    app.router.add_get("/api/kb/articles", _guarded(list_articles))
    app.router.add_post("/api/kb/articles", _guarded(create_article))
    app.router.add_get("/api/kb/articles/{article_id}", _guarded(get_article))
    app.router.add_put("/api/kb/articles/{article_id}", _guarded(update_article))
    app.router.add_get("/api/kb/articles/{article_id}/versions", _guarded(list_versions))
    app.router.add_post("/api/kb/articles/{article_id}/publish", _guarded(publish_article))
    app.router.add_post("/api/kb/articles/{article_id}/archive", _guarded(archive_article))
    app.router.add_get("/api/kb/search", _guarded(search))
    app.router.add_post("/api/kb/suggest", _guarded(suggest))
    add_nav(app, "Knowledge base", "/kb", *READERS)

"""The knowledge base in SQLite and PostgreSQL (storage/kb_store.py): versions, publishing,
translations, links, who reads what, and search in English and Chinese on both backends — plus what
the backends do with Chinese on their own (docs/knowledge-base.md, "What the databases do with
Chinese"): no segmentation, hence callcenter/kb/text.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from callcenter.core.kb.articles import Draft, Reader, Status, Visibility
from callcenter.core.kb.ranking import query_of
from callcenter.kb import text
from callcenter.kb.records import KbError
from callcenter.storage.db import Database
from callcenter.storage.kb_store import KbStore
from tests.pg import new_database

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
EVERYONE = Reader.of("admin", None)
AGENT = Reader.of("agent", None)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def kb_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "postgresql":
        yield asyncio.run(new_database(request.getfixturevalue("postgres_url")))
    else:
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('kb') / 'cc.db'}"


@pytest.fixture
async def store(kb_url: str) -> AsyncIterator[KbStore]:
    database = Database(kb_url)
    await database.start()
    kb = KbStore(kb_url, database.engine)
    await kb.start()
    async with database.engine.begin() as c:
        for table in ("kb_links", "kb_versions", "kb_articles"):
            await c.execute(sa.text(f"DELETE FROM {table}"))
        if kb_url.startswith("sqlite"):
            await c.execute(sa.text("DELETE FROM kb_search"))
    yield kb
    await kb.stop()
    await database.stop()


async def search(
    store: KbStore,
    q: str,
    reader: Reader = EVERYONE,
    language: str | None = None,
    queue: str | None = None,
    limit: int = 10,
) -> list[str]:
    return [h.key for h in await store.search(query_of(text.query_words(q)), reader, language, queue, limit)]


async def add(store: KbStore, key: str, title: str, body: str, language: str = "en", **kw: object) -> int:
    article = await store.save(Draft(key, language, title, body, **kw), "ann", T0)  # type: ignore[arg-type]
    await store.publish(article.id, None, "ann", T0)
    return article.id


async def test_versions_publish_and_archive(store: KbStore) -> None:
    first = await store.save(Draft("pin", "en", "Reset a PIN", "Old text about the branch."), "ann", T0)
    assert (first.version, first.published_version, first.status) == (1, None, Status.DRAFT)
    assert await search(store, "branch") == []  # drafts are not searched
    await store.publish(first.id, None, "bob", T0)
    assert await search(store, "branch") == ["pin"]
    second = await store.save(Draft("pin", "en", "Reset a PIN", "New text: use the app."), "cy", T0)
    assert (second.id, second.version, second.published_version) == (first.id, 2, 1)
    assert await search(store, "app") == []  # version 2 is not published yet
    await store.publish(first.id, 2, "cy", T0)
    assert await search(store, "app") == ["pin"] and await search(store, "branch") == []
    versions = await store.versions(first.id)
    assert [(v.version, v.author) for v in versions] == [(2, "cy"), (1, "ann")]
    assert (await store.version(first.id, 1)).body == "Old text about the branch."  # type: ignore[union-attr]
    with pytest.raises(KbError):
        await store.publish(first.id, 9, "cy", T0)
    archived = await store.archive(first.id, "cy", T0)
    assert archived.status == Status.ARCHIVED and await search(store, "app") == []
    with pytest.raises(KbError):
        await store.save(Draft("x", "en", "x", "x"), "ann", T0, article_id=10**9)


async def test_translations_and_links(store: KbStore) -> None:
    en = await add(store, "refund", "Refunds", "Money back.", queues=("billing",), ticket_types=("refund",))
    zh = await add(store, "refund", "退款", "退款说明。", language="zh-CN")
    article = await store.article(en)
    assert article is not None and article.translations == (("zh-CN", zh),)
    assert article.queues == ("billing",) and article.ticket_types == ("refund",)
    assert (await store.find("refund", "zh-CN")).id == zh  # type: ignore[union-attr]
    renamed = Draft("refund", "zh-CN", "x", "x")
    with pytest.raises(KbError):  # another article already is refund in zh-CN
        await store.save(renamed, "ann", T0, article_id=en)


async def test_readers_see_only_their_levels_and_lines(store: KbStore) -> None:
    await add(store, "general", "Opening hours", "We open at nine.")
    await add(store, "bank", "Opening hours bank", "Branches open at nine.", business_line="bank")
    await add(
        store,
        "secret",
        "Opening hours escalation",
        "Managers open at nine.",
        visibility=Visibility.RESTRICTED,
    )
    assert set(await search(store, "open")) == {"general", "bank", "secret"}
    assert set(await search(store, "open", AGENT)) == {"general", "bank"}
    retail = Reader.of("agent", frozenset({"retail"}))
    assert await search(store, "open", retail) == ["general"]
    total, listed = await store.articles(retail, Status.PUBLISHED)
    assert total == 1 and [a.key for a in listed] == ["general"]


async def test_english_search_ranks_and_stems(store: KbStore) -> None:
    await add(store, "refund", "Refund policy", "You can ask for a refund within 30 days of delivery.")
    await add(store, "delivery", "Delivery times", "Parcels are delivered in 2 to 5 days.")
    await add(store, "cards", "Lost card", "Block a lost card in the app.", queues=("cards",))
    assert (await search(store, "refunds"))[0] == "refund"
    assert (await search(store, "when will my parcel be delivered?"))[0] == "delivery"
    assert await search(store, "zzz unknown") == []
    assert await search(store, "") == []
    hostile = 'card" OR "x" NEAR( * -- ; DROP TABLE kb_articles'
    assert "cards" in await search(store, hostile)  # words only: no query syntax gets through
    assert (await search(store, "days", queue="cards", limit=1)) != ["cards"]
    assert (await search(store, "lost days", queue="cards"))[0] == "cards"


async def test_chinese_search_on_both_backends(store: KbStore) -> None:
    await add(store, "refund", "退款政策", "收到商品后三十天内可以申请退款，款项原路退回。", language="zh-CN")
    await add(store, "delivery", "配送时间", "包裹一般在两到五天内送达，偏远地区会更久。", language="zh-CN")
    await add(store, "password", "重置密码", "在登录页面点击忘记密码，按短信验证码重置。", language="zh-CN")
    assert (await search(store, "我想退款"))[0] == "refund"
    assert (await search(store, "包裹什么时候送达"))[0] == "delivery"
    assert (await search(store, "忘记密码了怎么办"))[0] == "password"
    assert await search(store, "退款", language="en") == []


async def test_the_backends_do_not_segment_chinese(kb_url: str) -> None:
    """Without our segmentation, a word inside a sentence is not found by either backend."""
    engine = create_async_engine(kb_url)
    sentence, word = "我想申请退款", "退款"
    try:
        async with engine.connect() as c:
            if kb_url.startswith("sqlite"):
                await c.execute(
                    sa.text("CREATE VIRTUAL TABLE temp.probe USING fts5(t, tokenize='unicode61')")
                )
                await c.execute(sa.text("INSERT INTO temp.probe VALUES (:s)"), {"s": sentence})
                whole = (
                    await c.execute(
                        sa.text("SELECT count(*) FROM temp.probe WHERE probe MATCH :q"),
                        {"q": f'"{sentence}"'},
                    )
                ).scalar()
                inside = (
                    await c.execute(
                        sa.text("SELECT count(*) FROM temp.probe WHERE probe MATCH :q"), {"q": f'"{word}"'}
                    )
                ).scalar()
                assert (whole, inside) == (1, 0)  # the whole run is one token
            else:
                tokens = (
                    await c.execute(
                        sa.text("SELECT tsvector_to_array(to_tsvector('simple', :s))"), {"s": sentence}
                    )
                ).scalar()
                assert tokens == [sentence]  # one token: the parser does not segment
                match = (
                    await c.execute(
                        sa.text("SELECT to_tsvector('simple', :s) @@ plainto_tsquery('simple', :w)"),
                        {"s": sentence, "w": word},
                    )
                ).scalar()
                assert match is False
    finally:
        await engine.dispose()

"""The survey store on SQLite and PostgreSQL: one survey per interaction, an answer written once
with a low one's QA flag in the same transaction, the awaited message surveys a new owner reads
back, the rows a report reads, a chat's interaction found by its conversation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from callcenter.core.interaction import Channel, Interaction
from callcenter.core.surveys.model import Question, Response, Source
from callcenter.storage.db import Database
from callcenter.storage.qa_store import QaStore
from callcenter.storage.surveys_store import SurveyStore
from tests.pg import new_database

T = 1_796_083_200.0  # 2026-12-01 00:00 UTC


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "postgresql":
        yield asyncio.run(new_database(request.getfixturevalue("postgres_url")))
    else:
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('surveys') / 'cc.db'}"


@pytest.fixture
async def parts(url: str) -> AsyncIterator[tuple[Database, SurveyStore, QaStore]]:
    database = Database(url)
    await database.start()
    lines = {"billing": "money"}
    store = SurveyStore(url, database.engine, queue_lines=lines.get)
    qa = QaStore(url, database.engine, queue_lines=lines.get)
    await store.start()
    await qa.start()
    yield database, store, qa
    await qa.stop()
    await store.stop()
    await database.stop()


async def test_asked_answered_awaited_and_reviewed(parts: tuple[Database, SurveyStore, QaStore]) -> None:
    database, store, qa = parts
    chat = Interaction("pg-chat", Channel.WEBCHAT, "", T, queue="billing", agent_id="1001", answered_at=T + 5,
                       conversation_id="conv-pg", customer_id="cust-pg", skills={})  # fmt: skip
    await database.save_interaction(chat)
    contact = await store.contact_of_conversation("conv-pg")
    assert contact is not None
    assert (contact.interaction_id, contact.agent, contact.queue, contact.line, contact.customer) == (
        "pg-chat", "1001", "billing", "money", "cust-pg"
    )  # fmt: skip
    asked = Response("pg-r1", "pg-chat", "s", Question.NPS, Source.MESSAGE, "sms", T + 60, "1001", "billing",
                     "money", "cust-pg")  # fmt: skip
    assert await store.ask(asked, 6, conversation_id="conv-pg", expires_at=T + 3600, reply_channel="sms")
    again = Response("pg-r2", "pg-chat", "s", Question.NPS, Source.MESSAGE, "sms", T + 61)
    assert not await store.ask(again, 6), "one survey per interaction"
    [waiting] = await store.awaited(T + 120)
    assert (waiting.response, waiting.conversation_id, waiting.expires_at, waiting.reply_channel) == (
        asked, "conv-pg", T + 3600, "sms"
    )  # fmt: skip
    assert await store.awaited(T + 3600) == [], "expired"
    assert await store.answer(asked.answered(3, T + 200, 6, "slow"))
    assert not await store.answer(asked.answered(9, T + 300, 6)), "answered once"
    assert await store.awaited(T + 120) == []
    [stored] = await store.responses(int(T), int(T + 86400))
    assert (stored.score, stored.low, stored.comment, stored.answered_at) == (3, True, "slow", T + 200)
    # The low answer is a QA review: flagged, listed with the chat's line, agent and queue.
    detail = await qa.call("pg-chat")
    assert detail is not None
    from callcenter.qa.records import CallFilter

    total, found = await qa.search(CallFilter(flag="survey_low"), frozenset({"money"}))
    assert total == 1 and [(c.interaction_id, c.queue, c.flags) for c in found] == [
        ("pg-chat", "billing", ("survey_low",))
    ]

    # A transcript stored later replaces the empty one and keeps the flag beside the scoring's.
    from datetime import UTC, datetime

    from tests.integration.test_qa import GOOD, RULES, lines_transcript, score

    transcript = lines_transcript(GOOD)
    await qa.save_result("pg-chat", transcript, score(RULES, transcript), datetime.now(UTC))
    detail = await qa.call("pg-chat")
    assert detail is not None and detail.segments and detail.engine == "pocketsphinx"
    total, found = await qa.search(CallFilter(flag="survey_low"))
    assert total == 1 and "survey_low" in found[0].flags

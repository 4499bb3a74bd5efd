"""The survey service's awaited answers (callcenter/surveys/service.py) with a fake store: a new
owner takes them over from the rows, only a score on the awaited channel before the expiry
answers, an answer that cannot be stored stays awaited."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest

from callcenter.core.surveys.model import Question, Response, Source
from callcenter.storage.db import DatabaseError
from callcenter.storage.surveys_store import Awaited
from callcenter.surveys.service import SurveyService

ASKED = Response("r1", "call-1", "s", Question.CSAT, Source.MESSAGE, "voice", 100.0, "1001", "q", "", "cust")


@dataclass
class FakeStore:
    rows: list[Awaited] = field(default_factory=list)
    answered: list[Response] = field(default_factory=list)
    down: bool = False

    async def awaited(self, now: float) -> list[Awaited]:
        return [a for a in self.rows if a.expires_at > now]

    async def answer(self, response: Response) -> bool:
        if self.down:
            raise DatabaseError("cannot store the answer: down")
        self.answered.append(response)
        return True

    async def get(self, _: str) -> Any:
        return None


def _service(store: FakeStore, now: float = 200.0) -> SurveyService:
    service = SurveyService(store, lambda: now)  # type: ignore[arg-type]
    asyncio.run(service.start())
    return service


def test_a_new_owner_awaits_the_stored_surveys_on_their_reply_channel() -> None:
    store = FakeStore([Awaited(ASKED, "conv-1", 1000.0, 2, "sms"), Awaited(ASKED, "conv-0", 150.0, 2, "sms")])
    service = _service(store)
    assert list(service.awaited) == [("cust", "sms")]
    assert service.reply_conversation("cust", "voice", "4", 300.0) is None, "not the reply channel"
    assert service.reply_conversation("cust", "sms", "thanks!", 300.0) is None, "not a score"
    assert service.reply_conversation("other", "sms", "4", 300.0) is None
    assert service.reply_conversation("cust", "sms", "4", 300.0) == "conv-1"
    answered = asyncio.run(service.take_reply("cust", "sms", "4", 300.0))
    assert answered is not None and (answered.score, answered.answered_at, answered.channel) == (
        4,
        300.0,
        "voice",
    )
    assert service.awaited == {} and store.answered == [answered]


def test_an_expired_survey_is_forgotten_and_an_unstored_answer_stays_awaited() -> None:
    store = FakeStore([Awaited(ASKED, "conv-1", 1000.0, 2, "sms")], down=True)
    service = _service(store)
    with pytest.raises(DatabaseError):
        asyncio.run(service.take_reply("cust", "sms", "1", 300.0))
    assert ("cust", "sms") in service.awaited, "not stored: still awaited"
    assert service.reply_conversation("cust", "sms", "1", 1000.0) is None
    assert service.awaited == {}, "past its expiry: forgotten"

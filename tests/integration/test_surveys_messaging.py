"""The survey after a message conversation, through the real webhook path: an SMS conversation is
answered and closed, the survey question leaves through the outbox to the (local fake) provider,
the customer's "2" comes back as a signed Twilio webhook and is the answer (filed into the closed
conversation, not routed), a low one that puts the contact on the QA list; text that is not a score
is routed as a new conversation as always."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import parse_qsl

from aiohttp.test_utils import TestClient, TestServer

from callcenter.app import DATABASE, SURVEYS, create_app
from callcenter.core import events as ev
from callcenter.core.commands import SaveInteraction
from callcenter.core.interaction import Channel, Interaction, Outcome
from callcenter.core.surveys.model import Question, Source
from callcenter.messaging import identity
from tests.integration.test_api import auth
from tests.integration.test_conversation_routing import CUSTOMER, Seen, parts, providers, settings, sms
from tests.integration.test_messaging import FakeProviders, eventually

__all__ = ["providers"]

SURVEYS_YAML = """\
surveys:
  after-sms:
    question: csat
    channels: [sms, whatsapp]
    text: "How did we do? Reply 1 (badly) to 5 (very well)."
"""


async def test_sms_survey_sent_through_the_outbox_and_answered_by_webhook(
    tmp_path: Path, providers: tuple[FakeProviders, str]
) -> None:
    fake, base_url = providers
    (tmp_path / "surveys.yaml").write_text(SURVEYS_YAML)
    config = settings(tmp_path, base_url).model_copy(
        update={
            "surveys": settings(tmp_path, base_url).surveys.model_copy(
                update={"file": tmp_path / "surveys.yaml"}
            )
        }
    )
    async with TestClient(TestServer(create_app(config))) as client:
        service, messaging, _ = parts(client)
        seen = Seen(service)
        assert (await client.post("/api/agents/1001/login", headers=auth("agent"))).status == 200
        assert (await sms(client, "SM" + "1" * 32, "My parcel is late")).status == 200
        [offer] = seen.offers()
        iid = offer.interaction_id
        service.handle(ev.OfferAccepted(iid, "1001", service.clock()))
        service.handle(ev.ConversationEnded(iid, "agent", service.clock()))

        # The survey leaves through the outbox, to the customer's number.
        def surveys() -> list[dict[str, str]]:
            forms = [dict(parse_qsl(body.decode())) for *_, body in fake.sends()]
            return [f for f in forms if f.get("Body", "").startswith("How did we do?")]

        await eventually(lambda: bool(surveys()))
        [sent] = surveys()
        assert sent["To"] == CUSTOMER
        store = client.app[SURVEYS].store
        [waiting] = await store.awaited(time.time())  # a row: a new routing owner takes it over
        assert (waiting.response.interaction_id, waiting.response.score) == (iid, None)

        # The customer answers by SMS: recorded, not routed; the message is kept in the conversation.
        assert (await sms(client, "SM" + "2" * 32, " 2 ")).status == 200
        assert len(messaging.opened) == 1 and len(seen.offers()) == 1
        answer = next(
            m for m in messaging.conversations.messages.values() if m.provider_id == "SM" + "2" * 32
        )
        assert answer.conversation_id == waiting.conversation_id
        answered = await store.get(iid)
        assert answered is not None
        assert (answered.question, answered.source, answered.score, answered.low, answered.agent) == (
            Question.CSAT, Source.MESSAGE, 2, True, "1001"
        )  # fmt: skip
        assert await store.awaited(time.time()) == []
        found = await (
            await client.get("/api/qa/calls", params={"flag": "survey_low"}, headers=auth("qa"))
        ).json()
        assert [c["interaction_id"] for c in found["calls"]] == [iid]

        metrics = await (await client.get("/metrics")).text()
        assert 'callcenter_surveys_total{event="low",source="message"}' in metrics

        # Answered once: the next "5" is an ordinary message, routed as a new conversation.
        assert (await sms(client, "SM" + "3" * 32, "5")).status == 200
        assert len(messaging.opened) == 2
        assert (await store.get(iid)).score == 2  # type: ignore[union-attr]


async def test_a_calls_survey_by_sms_goes_to_the_callers_number_and_the_reply_answers_it(
    tmp_path: Path, providers: tuple[FakeProviders, str]
) -> None:
    """``call_by: sms``: when an answered call ends (the snapshot the service's listeners get), the
    caller's number is texted the question; the signed webhook's reply is the answer."""
    fake, base_url = providers
    (tmp_path / "surveys.yaml").write_text(
        "surveys:\n  calls:\n    question: nps\n    channels: [voice]\n    call_by: sms\n"
        '    text: "Would you recommend us? Reply 0 to 10."\n'
    )
    base = settings(tmp_path, base_url)
    config = base.model_copy(
        update={"surveys": base.surveys.model_copy(update={"file": tmp_path / "surveys.yaml"})}
    )
    async with TestClient(TestServer(create_app(config))) as client:
        service, messaging, _ = parts(client)
        customer = await messaging.identify(identity.phone(CUSTOMER), time.time())
        now = time.time()
        call = Interaction(
            "call-1", Channel.VOICE, CUSTOMER, now - 120, queue="support", agent_id="1002",
            answered_at=now - 100, ended_at=now, outcome=Outcome.ANSWERED, customer_id=customer,
        )  # fmt: skip
        await client.app[DATABASE].save_interaction(call)
        for listener in service.listeners:
            listener(SaveInteraction(call))

        def texts() -> list[dict[str, str]]:
            forms = [dict(parse_qsl(body.decode())) for *_, body in fake.sends()]
            return [f for f in forms if f.get("Body", "").startswith("Would you recommend us?")]

        await eventually(lambda: bool(texts()))
        [sent] = texts()
        assert sent["To"] == CUSTOMER
        assert (await sms(client, "SM" + "4" * 32, "9")).status == 200
        assert messaging.opened == [], "the answer opens no conversation"
        store = client.app[SURVEYS].store
        answered = await store.get("call-1")
        assert answered is not None
        assert (answered.channel, answered.source, answered.score, answered.agent, answered.low) == (
            "voice", Source.MESSAGE, 9, "1002", False
        )  # fmt: skip
        # The IVR survey is not offered to callers: this survey goes by SMS.
        from callcenter.app import VOICE

        assert client.app.get(VOICE) is None or not client.app[VOICE].inbound.survey_wanted()  # type: ignore[misc]

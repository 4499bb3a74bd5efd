"""The virtual agent's chat flow over SMS, end to end in-process: signed Twilio webhooks in, the bot's
messages out through the outbox to the local fake provider; the flow's state survives a restart
of the server (read back from the database), the handoff reaches the agent with what was
collected, and "人工" hands over at any point."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from callcenter.app import BOTS, CHAT, create_app
from callcenter.core.omni.conversations import (
    Conversation,
    ConversationBook,
    Delivery,
    Direction,
    Message,
    MessagingChannel,
)
from callcenter.messaging import identity
from callcenter.messaging.service import Messaging
from callcenter.storage.db import Database
from callcenter.storage.messaging_store import MessagingStore
from callcenter.web.tickets_api import TICKETS
from tests.integration.test_api import auth
from tests.integration.test_conversation_routing import CUSTOMER, Seen, parts, providers, settings
from tests.integration.test_db import empty_database_url  # noqa: F401 - a fixture (SQLite, PostgreSQL)
from tests.integration.test_messaging import TWILIO_SID, FakeProviders, eventually, twilio_post

__all__ = ["providers"]

FLOW = """\
flow: bot
channels: [chat]
start: topic
agent: person
nodes:
  topic:
    type: menu
    prompt: "Hi! Is it about 1 billing or 2 something else?"
    choices: {"1": order, "2": person}
    words: {"1": [billing, invoice]}
    no_input: person
  order:
    type: collect
    prompt: "Your order number (6 digits)?"
    variable: order
    min_digits: 6
    max_digits: 6
    no_input: person
    next: billing
  billing: {type: queue, queue: support, prompt: "Thank you, a person will take over."}
  person: {type: queue, queue: support, prompt: "Connecting you to a person."}
"""


def _settings(tmp_path: Path, base_url: str) -> Any:
    flows = tmp_path / "flows"
    flows.mkdir(exist_ok=True)
    (flows / "bot.yaml").write_text(FLOW)
    base = settings(tmp_path, base_url)
    return base.model_copy(
        update={
            "messaging": base.messaging.model_copy(update={"bot_flows": {"support": "bot"}}),
            "ivr": base.ivr.model_copy(
                update={
                    "flows_dir": flows,
                    "entry_flow": "bot",
                    "check_audio": False,
                    "render_prompts": False,
                }
            ),
        }
    )


def _sms(client: TestClient[Any, Any], sid: str, body: str, sender: str = CUSTOMER) -> Any:
    params = [
        ("MessageSid", sid),
        ("AccountSid", TWILIO_SID),
        ("From", sender),
        ("To", "+14155550199"),
        ("Body", body),
        ("NumMedia", "0"),
    ]
    return twilio_post(client, "/webhooks/twilio/sms", params)


def _outbound(messaging: Messaging) -> list[Message]:
    return [m for m in messaging.conversations.messages.values() if m.direction == Direction.OUT]


def _texts(fake: FakeProviders, to: str) -> list[str]:
    forms = [dict(parse_qsl(body.decode())) for *_, body in fake.sends()]
    return [f["Body"] for f in forms if f.get("To") == to]


async def test_an_sms_flow_survives_a_restart_and_hands_over_with_what_it_collected(
    tmp_path: Path, providers: tuple[FakeProviders, str]
) -> None:
    fake, base_url = providers
    config = _settings(tmp_path, base_url)
    async with TestClient(TestServer(create_app(config))) as client:
        service, messaging, _ = parts(client)
        seen = Seen(service)
        assert (await client.post("/api/agents/1001/login", headers=auth("agent"))).status == 200
        assert (await _sms(client, "SM" + "1" * 32, "hello")).status == 200
        await eventually(lambda: len(_texts(fake, CUSTOMER)) == 1)
        assert _texts(fake, CUSTOMER) == ["Hi! Is it about 1 billing or 2 something else?"]
        assert (await _sms(client, "SM" + "2" * 32, "my invoice is wrong")).status == 200
        await eventually(lambda: len(_texts(fake, CUSTOMER)) == 2)
        assert _texts(fake, CUSTOMER)[1] == "Your order number (6 digits)?"
        assert seen.offers() == []  # the bot holds the conversation: nothing queued yet
        await client.app[BOTS].drain()
        # Its replies' outcomes stored (else the next run's outbox would send them again).
        await eventually(lambda: all(m.status != Delivery.QUEUED for m in _outbound(messaging)))

    # A restart (or a new routing owner): the flow goes on where it was.
    async with TestClient(TestServer(create_app(config))) as client:
        service, messaging, _ = parts(client)
        seen = Seen(service)
        bots = client.app[BOTS]
        [(conversation, session)] = bots.sessions.items()
        assert session.state.node == "order"
        assert (await client.post("/api/agents/1001/login", headers=auth("agent"))).status == 200
        assert (await _sms(client, "SM" + "3" * 32, "123 456")).status == 200
        await eventually(lambda: len(seen.offers()) == 1)
        [offer] = seen.offers()
        assert (offer.conversation_id, offer.agent_id) == (conversation, "1001")
        agents, _ = client.app[CHAT]
        collected = agents.offer_view(offer)["collected"]
        assert (collected["order"], collected["bot_outcome"], collected["caller"]) == (
            "123456",
            "queue",
            CUSTOMER,
        )
        await eventually(lambda: len(_texts(fake, CUSTOMER)) == 3)
        assert _texts(fake, CUSTOMER)[2] == "Thank you, a person will take over."
        assert bots.sessions == {}

        # Another customer asks for a person in the middle of the flow.
        other = "+14155550122"
        assert (await _sms(client, "SM" + "4" * 32, "hi", sender=other)).status == 200
        await eventually(lambda: len(_texts(fake, other)) == 1)
        assert (await _sms(client, "SM" + "5" * 32, "转人工", sender=other)).status == 200
        await eventually(lambda: len(seen.offers()) == 2)
        handed = agents.offer_view(seen.offers()[1])["collected"]
        assert handed["handoff_reason"] == "asked for a person"
        await eventually(lambda: len(_texts(fake, other)) == 2)
        assert _texts(fake, other)[1] == "Connecting you to a person."

        metrics = await (await client.get("/metrics")).text()
        assert 'callcenter_bot_outcomes_total{flow="bot",outcome="queue"}' in metrics
        await bots.drain()  # the hand-over's turn stores the session's end after the offer
        assert await messaging.store.bot_sessions() == []
        assert await messaging.store.bot_outcomes() == {"queue": 2}


GOLD = """\
flow: gold
channels: [chat]
start: invoice
nodes:
  invoice:
    type: collect
    input: text
    prompt: "Which invoice is it about?"
    variable: invoice
    pattern: "INV-[0-9]+"
    no_input: person
    next: ticket
  ticket:
    type: ticket
    ticket_type: billing
    title: "Invoice {invoice} questioned by SMS"
    fields: {invoice: "{invoice}"}
    prompt: "Thank you: our billing team will answer you here."
  person: {type: queue, queue: support}
"""


async def test_a_business_lines_flow_opens_a_ticket_with_what_it_collected(
    tmp_path: Path, providers: tuple[FakeProviders, str]
) -> None:
    fake, base_url = providers
    base = _settings(tmp_path, base_url)
    (tmp_path / "flows" / "gold.yaml").write_text(GOLD)
    example = Path(__file__).parents[2] / "tickets.example.yaml"
    config = base.model_copy(
        update={
            "messaging": base.messaging.model_copy(
                update={"bot_flows": {"line:gold": "gold", "support": "bot"}}
            ),
            "tickets": base.tickets.model_copy(update={"workflow_file": example}),
        }
    )
    async with TestClient(TestServer(create_app(config))) as client:
        service, messaging, _ = parts(client)
        seen = Seen(service)
        customer = await messaging.identify(identity.phone(CUSTOMER), time.time())
        messaging.customers.update(customer, time.time(), by="test", business_line="gold")
        await messaging.save_customers({customer})
        assert (await _sms(client, "SM" + "1" * 32, "hello")).status == 200
        await eventually(lambda: len(_texts(fake, CUSTOMER)) == 1)
        assert _texts(fake, CUSTOMER) == ["Which invoice is it about?"]  # the line's flow
        assert (await _sms(client, "SM" + "2" * 32, "INV-2041")).status == 200
        await eventually(lambda: len(_texts(fake, CUSTOMER)) == 2)
        assert _texts(fake, CUSTOMER)[1] == "Thank you: our billing team will answer you here."
        await client.app[BOTS].drain()
        [ticket] = await client.app[TICKETS].store.open_tickets()
        assert (ticket.type, ticket.title, ticket.customer_id, ticket.line) == (
            "billing", "Invoice INV-2041 questioned by SMS", customer, "gold"
        )  # fmt: skip
        assert ticket.fields["invoice"] == "INV-2041" and ticket.created_by == "virtual-agent"
        [conversation] = messaging.conversations.conversations.values()
        assert conversation.closed and seen.offers() == []  # contained: no person needed
        assert await messaging.store.bot_outcomes() == {"ticket": 1}


@pytest.fixture
async def store(empty_database_url: str) -> AsyncIterator[MessagingStore]:  # noqa: F811 - the fixture
    database = Database(empty_database_url)  # runs the migrations
    await database.start()
    store = MessagingStore(empty_database_url)
    await store.start()
    try:
        yield store
    finally:
        await store.stop()
        await database.stop()


async def test_bot_sessions_and_the_bots_messages_are_stored(store: MessagingStore) -> None:
    """On SQLite and PostgreSQL: a session written after each turn (the same row), the unfinished
    ones read back oldest first, the endings counted; a message keeps its author."""
    now = float(int(time.time()))  # whole seconds: both databases keep them exactly
    await store.save_bot_session("c1", "bot", '{"node": "a"}', "", now - 10, now - 10)
    await store.save_bot_session("c2", "bot", '{"node": "x"}', "", now - 20, now - 20)
    await store.save_bot_session("c1", "bot", '{"node": "b"}', "", now - 10, now)
    assert await store.bot_sessions() == [
        ("c2", "bot", '{"node": "x"}', now - 20),
        ("c1", "bot", '{"node": "b"}', now - 10),
    ]
    await store.save_bot_session("c2", "bot", '{"node": "y"}', "ticket", now - 20, now)
    assert [c for c, *_ in await store.bot_sessions()] == ["c1"]
    assert await store.bot_outcomes() == {"ticket": 1}

    conversation = Conversation("c1", "cust", MessagingChannel.SMS, now, now)
    book = ConversationBook()
    book.restore([conversation], [])
    said = book.reply("c1", "Hi, I am the assistant.", now, message_id="m1", author="bot")
    await store.save_conversation(conversation, "+14155550111")
    await store.save_message(said, "cust", new=True)
    [(back, customer)] = await store.messages()
    assert (back.author, back.body, customer) == ("bot", "Hi, I am the assistant.", "cust")


async def test_a_ticket_that_cannot_be_opened_goes_to_a_person_with_why(
    tmp_path: Path, providers: tuple[FakeProviders, str]
) -> None:
    """Tickets are off on this server: the flow's ticket ending hands the conversation over, with
    what was collected and why, instead of losing it; the customer is not told of a ticket."""
    fake, base_url = providers
    base = _settings(tmp_path, base_url)
    (tmp_path / "flows" / "gold.yaml").write_text(GOLD)
    config = base.model_copy(
        update={"messaging": base.messaging.model_copy(update={"bot_flows": {"support": "gold"}})}
    )
    async with TestClient(TestServer(create_app(config))) as client:
        service, messaging, _ = parts(client)
        seen = Seen(service)
        assert (await client.post("/api/agents/1001/login", headers=auth("agent"))).status == 200
        assert (await _sms(client, "SM" + "1" * 32, "hello")).status == 200
        await eventually(lambda: len(_texts(fake, CUSTOMER)) == 1)
        assert (await _sms(client, "SM" + "2" * 32, "INV-7")).status == 200
        await eventually(lambda: len(seen.offers()) == 1)
        agents, _ = client.app[CHAT]
        collected = agents.offer_view(seen.offers()[0])["collected"]
        assert collected["invoice"] == "INV-7" and collected["bot_outcome"] == "error"
        assert "tickets are not configured" in collected["ticket_error"]
        said = [m.body for m in _outbound(messaging)]
        assert said == ["Which invoice is it about?"]  # not a word of a ticket
        await client.app[BOTS].drain()
        assert await messaging.store.bot_outcomes() == {"error": 1}


LOOKUP = """\
flow: lookup
channels: [chat]
start: crm
nodes:
  crm:
    type: http
    url: "{crm}/customers?phone={caller}"
    timeout: 30
    result: {tier: tier}
    next: found
    failure: not_found
  found: {type: queue, queue: support, prompt: "Found you."}
  not_found: {type: queue, queue: support, prompt: "A person will help you."}
"""


async def test_a_lookup_cut_off_by_a_restart_takes_the_flows_failure_path(
    tmp_path: Path, providers: tuple[FakeProviders, str]
) -> None:
    """The server stops while the flow waits for a CRM that does not answer: the next run does not
    ask again (the request may have had effects) but takes the failure path, and hands over."""
    _, base_url = providers
    crm = web.Application()
    asked = asyncio.Event()

    async def never(request: web.Request) -> web.Response:
        asked.set()
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    crm.router.add_get("/customers", never)
    crm_server = TestServer(crm, host="127.0.0.1", port=0)
    await crm_server.start_server()
    base = _settings(tmp_path, base_url)
    (tmp_path / "flows" / "lookup.yaml").write_text(
        LOOKUP.replace("{crm}", str(crm_server.make_url("")).rstrip("/"))
    )
    config = base.model_copy(
        update={"messaging": base.messaging.model_copy(update={"bot_flows": {"support": "lookup"}})}
    )
    try:
        async with TestClient(TestServer(create_app(config))) as client:
            assert (await _sms(client, "SM" + "1" * 32, "hello")).status == 200
            await asyncio.wait_for(asked.wait(), 10)
        async with TestClient(TestServer(create_app(config))) as client:
            service, messaging, _ = parts(client)
            seen = Seen(service)
            assert (await client.post("/api/agents/1001/login", headers=auth("agent"))).status == 200
            await eventually(lambda: len(seen.offers()) == 1)
            agents, _ = client.app[CHAT]
            collected = agents.offer_view(seen.offers()[0])["collected"]
            assert collected["http_error"] == "interrupted"
            assert [m.body for m in _outbound(messaging)] == ["A person will help you."]
    finally:
        await crm_server.close()


QUIET = """\
flow: quiet
channels: [chat]
start: check
idle: {after: 3, then: 3}
nodes:
  check: {type: agents, queue: support, available: person, unavailable: contact}
  contact:
    type: collect
    input: text
    prompt: "Nobody can answer now. Your e-mail, and we write back?"
    variable: email
    no_input: person
    next: person
  person: {type: queue, queue: support, prompt: "Connecting you to a person."}
"""


async def test_a_quiet_customer_is_nudged_then_abandoned_across_a_restart(
    tmp_path: Path, providers: tuple[FakeProviders, str]
) -> None:
    """Nobody logged in: the ``agents`` node takes the offline form; the customer says nothing: one
    nudge, then the flow ends ``abandoned`` and the conversation is closed — the timer re-armed by
    the restarted server from the stored times (no sleeping: the test waits for what happens)."""
    fake, base_url = providers
    base = _settings(tmp_path, base_url)
    (tmp_path / "flows" / "quiet.yaml").write_text(QUIET)
    config = base.model_copy(
        update={"messaging": base.messaging.model_copy(update={"bot_flows": {"support": "quiet"}})}
    )
    async with TestClient(TestServer(create_app(config))) as client:
        assert (await _sms(client, "SM" + "6" * 32, "hello")).status == 200
        await eventually(lambda: len(_texts(fake, CUSTOMER)) == 1)
        assert _texts(fake, CUSTOMER) == ["Nobody can answer now. Your e-mail, and we write back?"]
        await client.app[BOTS].drain()
        _, messaging, _ = parts(client)
        await eventually(lambda: all(m.status != Delivery.QUEUED for m in _outbound(messaging)))

    async with TestClient(TestServer(create_app(config))) as client:
        service, messaging, _ = parts(client)
        seen = Seen(service)
        bots = client.app[BOTS]
        [(conversation, session)] = bots.sessions.items()  # restored, its timer armed again
        assert session.state.node == "contact" and session.state.asked_at is not None
        await eventually(lambda: "Are you still there?" in _texts(fake, CUSTOMER), timeout=30)
        await eventually(lambda: messaging.conversations.conversations[conversation].closed, timeout=30)
        await bots.drain()
        assert bots.sessions == {} and seen.offers() == []
        assert _texts(fake, CUSTOMER).count("Are you still there?") == 1
        assert await messaging.store.bot_outcomes() == {"abandoned": 1}
        metrics = await (await client.get("/metrics")).text()
        assert 'callcenter_bot_outcomes_total{flow="quiet",outcome="abandoned"}' in metrics

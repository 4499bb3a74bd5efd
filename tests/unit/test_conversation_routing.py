"""The bridge from new conversations to the ACD: queue per channel, routing needs no agent could
meet are dropped, the customer's last agent is remembered, an ended interaction closes its
conversation."""

from __future__ import annotations

import asyncio
from typing import Any

from callcenter.app import build_engine
from callcenter.core import events as ev
from callcenter.core.omni.conversations import ConversationOpened, MessagingChannel
from callcenter.core.omni.customers import Routing
from callcenter.messaging.routing import ConversationRouter
from callcenter.service import CallCenter
from tests.conftest import config_with, settings_from
from tests.unit.test_service_queue_commands import MemoryStore


class Closing:
    """The part of ``Messaging`` the router uses when an interaction ends."""

    def __init__(self) -> None:
        self.closed: list[str] = []

    async def close(self, conversation_id: str) -> bool:
        self.closed.append(conversation_id)
        return True


def make() -> tuple[CallCenter, ConversationRouter, Closing]:
    settings = settings_from(
        config_with(
            agents=[
                {"id": "a1", "extension": "a1", "queues": ["support", "mail"], "skills": {"line:gold": 2}},
                {"id": "a2", "extension": "a2", "queues": ["support"], "languages": ["fr"]},
            ],
            messaging={"queues": {"email": "mail"}, "default_queue": "support"},
        )
    )
    clock = iter(float(n) for n in range(100, 10_000))
    service = CallCenter(build_engine(settings), MemoryStore(), clock=lambda: next(clock))  # type: ignore[arg-type]
    closing = Closing()
    ids = iter(f"i{n}" for n in range(1, 100))
    router = ConversationRouter(service, closing, settings, ids=lambda: next(ids))  # type: ignore[arg-type]
    service.listeners.append(router.on_command)
    return service, router, closing


def opened(conversation: str, channel: MessagingChannel = MessagingChannel.SMS) -> ConversationOpened:
    return ConversationOpened(conversation, "cust-1", channel, 1.0)


async def test_queue_priority_and_only_the_needs_some_agent_can_meet() -> None:
    service, router, _ = make()
    router.on_opened(opened("v1"), Routing(10, ("line:gold", "tag:angry"), "de"))
    i = service.engine.interactions["i1"]
    assert (i.queue, i.priority, dict(i.skills), i.language) == ("support", 10, {"line:gold": 1}, None)
    assert (i.conversation_id, i.customer_id, i.channel.value) == ("v1", "cust-1", "sms")
    router.on_opened(opened("v2", MessagingChannel.EMAIL), Routing(0, (), "fr"))
    i = service.engine.interactions["i2"]
    assert (i.queue, i.language) == ("mail", "fr")
    # The same conversation opened twice (a replayed seam) routes once.
    router.on_opened(opened("v1"), Routing(0, (), None))
    assert set(service.engine.interactions) == {"i1", "i2"} and router.open == {"v1": "i1", "v2": "i2"}


async def test_last_agent_is_remembered_and_an_ended_interaction_closes_its_conversation() -> None:
    service, router, closing = make()
    service.handle(ev.AgentLogin("a1", 50.0))
    router.on_opened(opened("v1"), Routing(0, (), None))
    assert service.engine.interactions["i1"].offered_to == "a1"
    service.handle(ev.OfferAccepted("i1", "a1", 101.0))
    assert router.last_agent == {"cust-1": "a1"}
    service.handle(ev.ConversationEnded("i1", "agent", 102.0))
    await asyncio.sleep(0)
    assert closing.closed == ["v1"] and router.open == {}
    await router.stop()
    # The customer's next conversation names a1 as the last agent: sticky.
    service.handle(ev.AgentLogin("a2", 103.0))
    router.on_opened(opened("v3"), Routing(0, (), None))
    i = service.engine.interactions["i2"]
    assert i.preferred_agent == "a1" and i.offered_to == "a1"


def test_restore_learns_open_conversations_and_last_agents() -> None:
    service, _, _ = make()
    service.handle(ev.ConversationArrived("x1", "sms", "cust-9", "v9", "support", 1.0))
    service.handle(ev.AgentLogin("a1", 2.0))
    service.handle(ev.OfferAccepted("x1", "a1", 3.0))
    fresh: Any = ConversationRouter(service, Closing(), settings_from(config_with()))  # type: ignore[arg-type]
    fresh.restore(service.engine.interactions.values())
    assert fresh.open == {"v9": "x1"} and fresh.last_agent == {"cust-9": "a1"}

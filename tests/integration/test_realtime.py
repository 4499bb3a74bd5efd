"""Web chat and the agent panel over real Socket.IO: a real aiohttp server on a free port of
127.0.0.1, real python-socketio clients, real SQLite, and (for two nodes) a real Redis.

Offers come from the engine: a chat started by a visitor is routed by the ACD to the agents
logged in (no phone is needed for chats); see ``available()``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import socketio
from aiohttp import web
from aiohttp.test_utils import TestServer

from callcenter.aio import cancel_and_wait
from callcenter.app import CHAT, DATABASE, SURVEYS, create_app
from callcenter.core import events as ev
from callcenter.core.omni.conversations import Delivery, Direction, MessagingChannel
from callcenter.core.omni.customers import Identity, IdentityKind
from callcenter.core.surveys.model import Question, Source
from callcenter.messaging.channels.base import Reply
from callcenter.messaging.channels.webchat import WebchatSender
from callcenter.messaging.identity import web_token
from callcenter.messaging.service import Messaging
from callcenter.settings import RealtimeSettings
from callcenter.web.api import SERVICE
from callcenter.web.chat_agent import AgentNamespace
from callcenter.web.realtime import REALTIME, _stop_redis, build_server
from callcenter.web.webhooks import MESSAGING
from tests.integration.test_api import make_settings
from tests.integration.test_email import Relay, email_messaging
from tests.redis_server import RedisServer

WAIT = 10.0  # seconds any expected event may take (never asserted as a duration)
AGENT_1001 = "agent-1001-token-0123456789abc"
AGENT_1002 = "agent-1002-token-0123456789abc"
QA = "qa-token-0123456789abcdefghij"
SUPERVISOR = "supervisor-token-0123456789ab"
SITE_SECRET = "site-secret-for-signed-visitors"

TOKENS = [
    {"name": "agent-1001", "role": "agent", "token": AGENT_1001, "agent_id": "1001"},
    {"name": "agent-1002", "role": "agent", "token": AGENT_1002, "agent_id": "1002"},
    {"name": "qa", "role": "qa", "token": QA},
    {"name": "sup", "role": "supervisor", "token": SUPERVISOR},
]


def chat_settings(tmp_path: Path, **realtime: Any) -> Any:
    return make_settings(
        tmp_path,
        security={"api_tokens": TOKENS},
        messaging={"web_identity_secret": SITE_SECRET},
        realtime={"events_per_second": 50.0, "burst": 50, **realtime},
        acd={"decline_seconds": 0},
    )


@dataclass
class Node:
    server: TestServer
    app: web.Application

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    @property
    def messaging(self) -> Messaging:
        return self.app[MESSAGING]

    @property
    def agents(self) -> AgentNamespace:
        ns = self.app[CHAT][0]
        assert isinstance(ns, AgentNamespace)
        return ns


async def start_node(settings: Any) -> Node:
    app = create_app(settings)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    return Node(server, app)


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    n = await start_node(chat_settings(tmp_path))
    yield n
    await n.server.close()


@dataclass
class Client:
    """A real Socket.IO client on one namespace, with every received event queued by name."""

    namespace: str
    sio: socketio.AsyncClient = field(default_factory=lambda: socketio.AsyncClient(reconnection=False))
    got: dict[str, asyncio.Queue[Any]] = field(default_factory=dict)

    def queue(self, name: str) -> asyncio.Queue[Any]:
        return self.got.setdefault(name, asyncio.Queue())

    async def connect(self, url: str, auth: Any = None) -> Client:
        names = ("message", "typing", "agent_joined", "ended", "offer", "offer_withdrawn", "state")
        for name in (*names, "ticket_notification"):
            self.sio.on(name, self._keeper(name), namespace=self.namespace)
        await self.sio.connect(
            url, namespaces=[self.namespace], auth=auth, transports=["websocket"], wait_timeout=WAIT
        )
        return self

    def _keeper(self, name: str) -> Any:
        async def keep(data: Any) -> None:
            self.queue(name).put_nowait(data)

        return keep

    async def call(self, name: str, data: Any = None) -> Any:
        if data is None:
            return await self.sio.call(name, namespace=self.namespace, timeout=WAIT)
        return await self.sio.call(name, data, namespace=self.namespace, timeout=WAIT)

    async def next(self, name: str) -> Any:
        return await asyncio.wait_for(self.queue(name).get(), WAIT)

    async def close(self) -> None:
        await self.sio.disconnect()


async def customer(url: str) -> Client:
    return await Client("/customer").connect(url)


async def agent(url: str, token: str, **extra: str) -> Client:
    return await Client("/agent").connect(url, auth={"token": token, **extra})


def available(n: Node, agent_id: str) -> None:
    """Log the agent in: the engine offers it waiting chats (and new ones) from now on."""
    service = n.app[SERVICE]
    service.handle(ev.AgentLogin(agent_id, service.clock()))


def stored_bodies(n: Node) -> list[str]:
    return sorted(m.body for m in n.messaging.conversations.messages.values())


# --- the customer namespace -------------------------------------------------------------------------


async def test_start_chat_stores_message_resolves_customer_and_resumes(node: Node) -> None:
    c = await customer(node.url)
    assert (await c.call("status")) == {"online": False, "title": "Chat with us"}
    ack = await c.call("start", {"name": "Ann Lee", "email": "Ann@Example.com", "message": "Hello"})
    assert "error" not in ack, ack
    token, conversation_id = ack["visitor"], ack["conversation_id"]
    assert [(m["from"], m["body"]) for m in ack["history"]] == [("customer", "Hello")]
    second = await c.call("message", {"text": "My order is late", "id": "m-2"})
    assert second["ok"] and second["conversation_id"] == conversation_id
    # The same client id again (a resend after a reconnect) is stored once.
    assert (await c.call("message", {"text": "My order is late", "id": "m-2"}))["duplicate"] is True
    await c.close()

    conversation = node.messaging.conversations.conversations[conversation_id]
    assert conversation.channel == MessagingChannel.WEBCHAT
    visitor = Identity(IdentityKind.VISITOR, hashlib.sha256(token.encode()).hexdigest())
    owner = node.messaging.customers.owner(visitor)
    assert owner is not None and owner.id == conversation.customer_id and owner.name == "Ann Lee"
    stored = await node.messaging.store.messages()
    assert sorted(m.body for m, _ in stored) == ["Hello", "My order is late"]
    assert token not in str(owner) and token not in str(stored)  # only its hash is kept

    again = await customer(node.url)
    resumed = await again.call("start", {"visitor": token})
    assert resumed["conversation_id"] == conversation_id
    assert [m["body"] for m in resumed["history"]] == ["Hello", "My order is late"]
    await again.close()


async def test_signed_site_identity(node: Node) -> None:
    c = await customer(node.url)
    bad = await c.call("start", {"identity": {"user_id": "u-42", "signature": "0" * 64}})
    assert bad == {"error": "identity signature does not match"}
    good = {"user_id": "u-42", "signature": web_token("u-42", SITE_SECRET.encode())}
    ack = await c.call("start", {"identity": good, "message": "hi from my account"})
    assert ack["visitor"] is None and ack["conversation_id"]
    owner = node.messaging.customers.owner(Identity(IdentityKind.WEB, "u-42"))
    assert owner is not None
    await c.close()


async def test_refused_payloads_store_nothing(node: Node) -> None:
    c = await customer(node.url)
    assert (await c.call("message", {"text": "too early"})) == {"error": "start the chat first"}
    await c.call("start", {"name": "Bo"})
    before = stored_bodies(node)
    assert "longer than" in (await c.call("message", {"text": "x" * 5000}))["error"]
    assert (await c.call("message", {"text": 42}))["error"] == "text must be a string"
    assert (await c.call("message", ["not", "an", "object"]))["error"] == "the payload must be an object"
    assert (await c.call("message", {"text": "ok", "id": "../../etc"}))["error"].startswith("id must")
    assert (await c.call("rate", {"score": 9}))["error"].startswith("score must")
    assert (await c.call("accept", {"interaction_id": "x"}))["error"] == "unknown event 'accept'"
    assert (await c.call("reply", {"conversation_id": "x", "text": "y"}))["error"].startswith("unknown")
    assert (await c.call("start", {"visitor": "short"}))["error"].startswith("visitor must")
    assert stored_bodies(node) == before

    # Over realtime.max_message_bytes (16 KB): refused with an ack.
    assert (await c.call("message", {"text": "y" * 20_000}))["error"] == (
        "the payload is larger than 16384 bytes"
    )
    assert stored_bodies(node) == before
    # Over the transport's limit (4 x 16 KB): the packet is not even read; the socket is dropped.
    dropped = asyncio.Event()
    c.sio.on("disconnect", lambda *a: dropped.set(), namespace="/customer")
    await c.sio.emit("message", {"text": "y" * 70_000}, namespace="/customer")
    await asyncio.wait_for(dropped.wait(), WAIT)
    assert stored_bodies(node) == before
    # The server goes on serving others.
    other = await customer(node.url)
    assert (await other.call("status"))["online"] is False
    await other.close()


async def test_rate_limit(tmp_path: Path) -> None:
    n = await start_node(chat_settings(tmp_path, events_per_second=1.0, burst=5))
    try:
        c = await customer(n.url)
        answers = [await c.call("status") for _ in range(12)]
        assert {"error": "too many events: slow down"} in answers
        assert answers[0]["online"] is False
        await c.close()
    finally:
        await n.server.close()


async def test_offline_form_and_transcript_without_email(node: Node) -> None:
    c = await customer(node.url)
    ack = await c.call("offline", {"name": "Cy", "email": "cy@example.com", "text": "Call me back"})
    assert ack["ok"] and ack["visitor"]
    conversation = node.messaging.conversations.conversations[ack["conversation_id"]]
    assert conversation.subject == "Offline message: callback requested"
    assert (await c.call("offline", {"name": "Cy", "text": "no email"}))["error"] == "email is required"
    # No email channel configured: a clear refusal.
    assert "not available" in (await c.call("transcript"))["error"]
    await c.close()


# --- the agent namespace ----------------------------------------------------------------------------


async def test_agent_accepts_chats_and_replies_reach_the_visitor(node: Node) -> None:
    service = node.app[SERVICE]
    service.handle(ev.AgentLogin("1001", service.clock()))
    a = await agent(node.url, AGENT_1001)
    c = await customer(node.url)
    assert (await c.call("status"))["online"] is True
    started = await c.call("start", {"name": "Dee", "message": "Where is my parcel?"})
    conversation_id = started["conversation_id"]

    shown = await a.next("offer")
    interaction_id = shown["interaction_id"]
    assert shown["conversation_id"] == conversation_id and shown["customer"]["name"] == "Dee"
    assert [m["body"] for m in shown["timeline"]] == ["Where is my parcel?"]

    accepted = await a.call("accept", {"interaction_id": interaction_id})
    assert accepted["ok"] and accepted["conversation_id"] == conversation_id
    assert (await c.next("agent_joined")) == {"name": "Agent 1001"}

    assert (await c.call("typing", {"typing": True}))["relayed"] is True
    assert (await a.next("typing")) == {"conversation_id": conversation_id, "typing": True}
    await c.call("message", {"text": "It was due Monday"})
    live = await a.next("message")
    assert live["body"] == "It was due Monday" and live["from"] == "customer"

    await a.call("typing", {"conversation_id": conversation_id, "typing": True})
    assert (await c.next("typing")) == {"typing": True}
    sent = await a.call("reply", {"conversation_id": conversation_id, "text": "It ships today."})
    assert sent["ok"], sent
    reply = await c.next("message")
    assert reply["body"] == "It ships today." and reply["from"] == "agent"
    # Through the outbox, like every channel: the reply's status moves on once emitted.
    message_id = sent["message"]["id"]
    for _ in range(100):
        if node.messaging.conversations.messages[message_id].status == Delivery.SENT:
            break
        await asyncio.sleep(0.05)
    assert node.messaging.conversations.messages[message_id].status == Delivery.SENT
    assert node.messaging.conversations.messages[message_id].direction == Direction.OUT

    # A reconnecting visitor gets the agent's name and the whole conversation.
    again = await customer(node.url)
    resumed = await again.call("start", {"visitor": started["visitor"]})
    assert resumed["agent"] == "Agent 1001"
    assert [m["from"] for m in resumed["history"]] == ["customer", "customer", "agent"]
    await again.close()

    assert (await a.call("close", {"conversation_id": conversation_id}))["ok"]
    assert (await c.next("ended")) == {"by": "agent"}
    assert (await c.call("rate", {"score": 5, "comment": "quick"}))["ok"]
    events = await node.app[DATABASE].events_for(conversation_id)
    assert [(e.kind, e.data["score"]) for e in events] == [("chat.rating", 5)]
    # The rating is also the chat's CSAT answer, tied to its interaction and agent (the reports).
    rated = await node.app[SURVEYS].store.get(interaction_id)
    assert rated is not None
    assert (rated.question, rated.score, rated.source, rated.agent, rated.channel, rated.comment) == (
        Question.CSAT, 5, Source.CHAT, "1001", "webchat", "quick"
    )  # fmt: skip
    assert not rated.low
    await a.close()
    await c.close()


async def test_a_restart_keeps_accepted_chats_with_their_agents(tmp_path: Path) -> None:
    """The server stops while an agent holds a chat: after the restart the agent still holds it,
    sees its messages on reconnecting, gets the customer's next message and can answer and close."""
    settings = chat_settings(tmp_path)
    first = await start_node(settings)
    try:
        available(first, "1001")
        a = await agent(first.url, AGENT_1001)
        c = await customer(first.url)
        started = await c.call("start", {"name": "Ray", "message": "Before the restart"})
        offer = await a.next("offer")
        assert (await a.call("accept", {"interaction_id": offer["interaction_id"]}))["ok"]
        await a.close()
        await c.close()
    finally:
        await first.server.close()

    second = await start_node(settings)
    try:
        a = await agent(second.url, AGENT_1001)
        synced = await a.call("sync")
        assert [
            (h["conversation_id"], [m["body"] for m in h["messages"]]) for h in synced["conversations"]
        ] == [(started["conversation_id"], ["Before the restart"])]
        other = await agent(second.url, AGENT_1002)
        assert (await other.call("sync"))["conversations"] == []  # nobody else's
        await other.close()
        c = await customer(second.url)
        resumed = await c.call("start", {"visitor": started["visitor"]})
        assert resumed["conversation_id"] == started["conversation_id"] and resumed["agent"] == "Agent 1001"
        await c.call("message", {"text": "After the restart"})
        assert (await a.next("message"))["body"] == "After the restart"
        sent = await a.call("reply", {"conversation_id": started["conversation_id"], "text": "Still here."})
        assert sent["ok"], sent
        assert (await c.next("message"))["body"] == "Still here."
        assert (await a.call("close", {"conversation_id": started["conversation_id"]}))["ok"]
        assert (await c.next("ended")) == {"by": "agent"}
        await a.close()
        await c.close()
    finally:
        await second.server.close()


async def test_agents_act_only_on_their_own_work(node: Node) -> None:
    owner = await agent(node.url, AGENT_1001)
    other = await agent(node.url, AGENT_1002)
    c = await customer(node.url)
    conversation_id = (await c.call("start", {"message": "help"}))["conversation_id"]
    available(node, "1001")
    iid = (await owner.next("offer"))["interaction_id"]

    # The other agent forges the interaction and conversation ids: refused, nothing changes.
    assert (await other.call("accept", {"interaction_id": iid})) == {"error": "no such offer for you"}
    assert (await other.call("decline", {"interaction_id": iid})) == {"error": "no such offer for you"}
    assert node.agents.desk.offers[iid].agent_id == "1001"
    assert node.app[SERVICE].engine.interactions[iid].offered_to == "1001"
    assert (await owner.call("accept", {"interaction_id": iid}))["ok"]
    before = stored_bodies(node)
    forged = {"conversation_id": conversation_id, "text": "not mine"}
    assert (await other.call("reply", forged)) == {"error": "no such conversation of yours"}
    assert (await other.call("close", {"conversation_id": conversation_id}))["error"]
    assert (await other.call("typing", {"conversation_id": conversation_id, "typing": True}))["error"]
    assert (await other.call("transfer", {"conversation_id": conversation_id, "to_agent": "1002"}))["error"]
    assert (await owner.call("transfer", {"conversation_id": conversation_id}))["error"].startswith(
        "give exactly one"
    )
    assert (await owner.call("bogus", {}))["error"] == "unknown event 'bogus'"
    assert stored_bodies(node) == before
    assert node.agents.desk.assigned[conversation_id].agent_id == "1001"
    for client in (owner, other, c):
        await client.close()


async def test_agent_connection_roles(node: Node) -> None:
    with pytest.raises(socketio.exceptions.ConnectionError):
        await agent(node.url, AGENT_1001, agent_id="1002")  # an agent token cannot pose as another
    with pytest.raises(socketio.exceptions.ConnectionError):
        await Client("/agent").connect(node.url)  # no token
    with pytest.raises(socketio.exceptions.ConnectionError):
        await agent(node.url, "forged-token-0123456789abcdef")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await agent(node.url, QA)  # a role that has no agent panel
    sup = await agent(node.url, SUPERVISOR)
    assert (await sup.call("accept", {"interaction_id": "chat-1"})) == {"error": "this login is not an agent"}
    service = node.app[SERVICE]
    service.handle(ev.AgentLogin("1002", service.clock()))
    state = await sup.next("state")  # supervisors see every agent's state changes
    assert state["agent_id"] == "1002" and state["state"] == "available"
    await sup.close()


async def test_offer_withdrawn_reaches_the_agent(node: Node) -> None:
    a = await agent(node.url, AGENT_1001)
    c = await customer(node.url)
    await c.call("start", {"message": "anyone?"})
    available(node, "1001")
    iid = (await a.next("offer"))["interaction_id"]
    # The agent pauses before accepting: the engine takes the offer back.
    service = node.app[SERVICE]
    service.handle(ev.AgentPause("1001", "break", service.clock()))
    withdrawn = await a.next("offer_withdrawn")
    assert withdrawn["interaction_id"] == iid and withdrawn["reason"]
    assert (await a.call("accept", {"interaction_id": iid})) == {"error": "no such offer for you"}
    await a.close()
    await c.close()


# --- two nodes sharing Redis ------------------------------------------------------------------------


async def test_an_emit_on_one_node_reaches_a_socket_on_another(tmp_path: Path) -> None:
    redis = RedisServer()
    url = redis.start()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = await start_node(chat_settings(tmp_path / "a", redis_url=url))
    b = await start_node(chat_settings(tmp_path / "b", redis_url=url))
    try:
        c = await customer(b.url)
        ack = await c.call("start", {"name": "Eve"})
        address = hashlib.sha256(ack["visitor"].encode()).hexdigest()
        # Node A's web-chat sender (its outbox's) emits; the visitor's socket is on node B.
        sender = WebchatSender(a.app[REALTIME].sio)
        reply = Reply("msg-from-a", MessagingChannel.WEBCHAT, address, "Hello from node A")
        got: dict[str, Any] = {}
        for _ in range(50):  # node B subscribes to Redis when its first socket connects
            await sender.send(reply)
            try:
                got = await asyncio.wait_for(c.queue("message").get(), 0.2)
                break
            except TimeoutError:
                continue
        assert got == {"id": "msg-from-a", "body": "Hello from node A", "from": "agent"}
        await c.close()
    finally:
        await a.server.close()
        await b.server.close()
        redis.stop()


async def test_a_node_drops_its_own_fanout_undecoded_and_hears_the_others() -> None:
    # Every node hears every node's messages on the Redis channel, its own too: those are dropped
    # before any decoding; the other nodes' messages, and a callback meant for this node, pass.
    redis = RedisServer()
    url = redis.start()
    a, b = build_server(RealtimeSettings(redis_url=url)), build_server(RealtimeSettings(redis_url=url))
    mine, theirs = a.manager, b.manager
    emit = {"method": "emit", "event": "message", "data": [{"body": "hi"}], "namespace": "/agent"}
    callback = {"method": "callback", "host_id": mine.host_id, "sid": "s1", "namespace": "/", "id": 1}
    heard: list[dict[str, Any]] = []

    async def listen() -> None:
        async for raw in mine._listen():
            heard.append(json.loads(raw))

    listening = asyncio.create_task(listen())
    try:
        for _ in range(100):  # (python-socketio's listener makes its own client: let it first)
            if getattr(mine, "pubsub", None) is not None and mine.pubsub.subscribed:
                break
            await asyncio.sleep(0.01)
        for _ in range(50):  # until A hears; its own message is always published first
            await mine._publish(emit | {"host_id": mine.host_id})
            await theirs._publish(emit | {"host_id": theirs.host_id})
            await asyncio.sleep(0.05)
            if heard:
                break
        await theirs._publish(callback | {"args": []})
        for _ in range(50):
            if len(heard) >= 2 and heard[-1]["method"] == "callback":
                break
            await asyncio.sleep(0.05)
        assert heard and all(m["host_id"] == theirs.host_id for m in heard[:-1])
        assert heard[-1] == callback | {"args": []}  # for A, from B: it passes
        # What is published is the same JSON object older nodes read, the sender's id first.
        assert json.loads(mine.json.dumps(emit | {"host_id": "x"})) == emit | {"host_id": "x"}
    finally:
        await cancel_and_wait(listening)
        for manager in (mine, theirs):
            await _stop_redis(manager)
        redis.stop()


async def test_concurrent_visitors_are_all_stored(node: Node) -> None:
    # Each message is stored by several read-then-write transactions; on SQLite concurrent ones
    # used to fail with "database is locked" (the messaging store now takes the write lock first).
    clients = await asyncio.gather(*(customer(node.url) for _ in range(20)))
    acks = await asyncio.gather(
        *(c.call("start", {"name": f"V{i}", "message": f"hello {i}"}) for i, c in enumerate(clients))
    )
    assert all("error" not in a for a in acks), [a for a in acks if "error" in a]
    more = await asyncio.gather(*(c.call("message", {"text": "again"}) for c in clients))
    assert all(a.get("ok") for a in more), more
    assert len(await node.messaging.store.messages()) == 40
    await asyncio.gather(*(c.close() for c in clients))


async def test_transcript_by_email_through_the_outbox(tmp_path: Path) -> None:
    relay = Relay()
    await relay.start()
    settings = make_settings(
        tmp_path,
        security={"api_tokens": TOKENS},
        messaging=email_messaging(relay),
    )
    n = await start_node(settings)
    try:
        c = await customer(n.url)
        no_email = await customer(n.url)
        await no_email.call("start", {"message": "anonymous"})
        assert (await no_email.call("transcript"))["error"] == "give an email address in the chat form first"
        form = {"name": "Hal", "email": "hal@example.com", "message": "Need my invoice"}
        started = await c.call("start", form)
        # Not before an agent answered (test_chat_transcript.py): then once.
        assert "once an agent has answered" in (await c.call("transcript"))["error"]
        await n.messaging.reply(started["conversation_id"], "Here it is.")
        assert (await c.call("transcript")) == {"ok": True}
        assert (await c.call("transcript")) == {"error": "the transcript was already sent"}
        for _ in range(200):
            if relay.received:
                break
            await asyncio.sleep(0.05)
        (mail,) = relay.received
        assert mail["To"] == "hal@example.com" and mail["Subject"] == "Your chat transcript"
        assert "You: Need my invoice\r\nAgent: Here it is." in mail.get_payload()
        await c.close()
        await no_email.close()
    finally:
        await n.server.close()
        await relay.stop()


async def test_only_configured_origins_may_open_sockets(tmp_path: Path) -> None:
    n = await start_node(chat_settings(tmp_path, cors_origins=["https://shop.example.com"]))
    try:
        allowed = Client("/customer")
        allowed.sio = socketio.AsyncClient(reconnection=False)
        await allowed.sio.connect(
            n.url,
            namespaces=["/customer"],
            transports=["websocket"],
            headers={"Origin": "https://shop.example.com"},
            wait_timeout=WAIT,
        )
        assert (await allowed.call("status"))["online"] is False
        await allowed.close()
        other = socketio.AsyncClient(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await other.connect(
                n.url,
                namespaces=["/customer"],
                transports=["websocket"],
                headers={"Origin": "https://evil.example.net"},
                wait_timeout=WAIT,
            )
        # The handshake was refused before any session: the client leaves its HTTP session open.
        if other.eio.http is not None:
            await other.eio.http.close()
    finally:
        await n.server.close()


async def test_decline_transfer_end_and_other_tabs(node: Node) -> None:
    a = await agent(node.url, AGENT_1001)
    tab1 = await customer(node.url)
    started = await tab1.call("start", {"message": "first"})
    tab2 = await customer(node.url)
    assert (await tab2.call("start", {"visitor": started["visitor"]}))["conversation_id"] == (
        started["conversation_id"]
    )
    assert (await tab1.call("typing", {"typing": True})) == {"ok": True, "relayed": False}  # no agent yet
    await tab1.call("message", {"text": "from tab 1"})
    echo = await tab2.next("message")  # the visitor's other tab shows it too
    assert echo["body"] == "from tab 1" and echo["from"] == "customer"

    conversation_id = started["conversation_id"]
    available(node, "1001")
    iid = (await a.next("offer"))["interaction_id"]
    assert (await a.call("decline", {"interaction_id": iid, "reason": "busy"})) == {"ok": True}
    # Declined (not paused): offered again once the decline has been honoured (decline_seconds: 0).
    assert (await a.next("offer"))["interaction_id"] == iid
    accepted = await a.call("accept", {"interaction_id": iid})
    assert accepted.get("ok"), accepted
    assert (await a.call("transfer", {"conversation_id": conversation_id, "to_agent": "9999"})) == {
        "error": "no such agent"
    }
    transferred = await a.call("transfer", {"conversation_id": conversation_id, "to_queue": "support"})
    assert transferred == {"ok": True} and node.agents.desk.agent_of(conversation_id) is None

    # The same interaction, in line in "support" again: 1001 is its only agent there.
    assert (await a.next("offer"))["interaction_id"] == iid
    again = await a.call("accept", {"interaction_id": iid})
    assert again.get("ok"), again
    synced = await a.call("sync")
    assert [c["conversation_id"] for c in synced["conversations"]] == [conversation_id]
    assert (await tab1.call("end")) == {"ok": True}
    assert (await a.next("ended")) == {"conversation_id": conversation_id, "by": "customer"}
    assert node.agents.desk.agent_of(conversation_id) is None
    for client in (a, tab1, tab2):
        await client.close()


async def test_a_reply_sent_again_with_its_id_is_stored_and_sent_once(node: Node) -> None:
    """An agent's reply carried out twice (a retry after no answer, an entry of cc:sockets claimed
    by the next owner) is one message: the second gets the first's, nothing is sent again."""
    available(node, "1001")
    a = await agent(node.url, AGENT_1001)
    c = await customer(node.url)
    started = await c.call("start", {"name": "Sam", "message": "Hi"})
    conversation_id = started["conversation_id"]
    offer = await a.next("offer")
    assert (await a.call("accept", {"interaction_id": offer["interaction_id"]}))["ok"]
    first = await a.call("reply", {"conversation_id": conversation_id, "text": "Once.", "id": "r-1"})
    again = await a.call("reply", {"conversation_id": conversation_id, "text": "Once.", "id": "r-1"})
    assert first["ok"] and again["ok"] and again["message"]["id"] == first["message"]["id"]
    # Without an id the front gives each reply its own: two replies of the same text are two.
    other = await a.call("reply", {"conversation_id": conversation_id, "text": "Once."})
    assert other["ok"] and other["message"]["id"] != first["message"]["id"]
    assert (await c.next("message"))["body"] == "Once."
    assert (await c.next("message"))["body"] == "Once."
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(c.queue("message").get(), 1.0)  # not a third
    replies = [
        m for m in node.messaging.conversations.messages.values()
        if m.conversation_id == conversation_id and m.direction == Direction.OUT
    ]  # fmt: skip
    assert len(replies) == 2
    bad = await a.call("reply", {"conversation_id": conversation_id, "text": "x", "id": "../etc"})
    assert bad["error"].startswith("id must")
    await a.close()
    await c.close()

"""Every node serves sockets (issue 14, docs/cluster.md): two `callcenter serve` processes on one
PostgreSQL and one Redis, real Socket.IO clients. A socket on the follower is accepted there; its
events are carried out by the routing owner (``cc:sockets``), whose emits reach it through Redis.

- a web chat whose customer is on one node and whose agent is on the other: the offer, the accept,
  messages and typing both ways, each message delivered once; the agent's state set on the
  follower is the owner's;
- a visitor's own message reaches its other tab on the other node, and is not published to the
  nodes at all while the visitor has one tab;
- once the agent holds the chat, the visitor's node stores and shows the visitor's messages itself
  (docs/cluster.md, "Web chats an agent holds"): the owner files them, a resend is stored once, and
  after the agent closes the chat the next message goes the owner's way and opens a new one;
- the visitor's typing, sent from the visitor's node, follows a transfer to the new agent before
  any message does, and stops at a close;
- a message a visitor's node stored in a held chat and died before telling (stored here by the
  test with that node's own statement) is swept up by the owner within seconds: shown to the agent
  and to the visitor's tab, filed once;
- kill -9 of the owner while the chat is open: a reply the agent sends while nobody owns is carried
  out by the next owner, the customer comes back (a new socket on the survivor) to the same agent
  and the whole conversation, and nothing is lost or doubled; a visitor on the survivor writes
  meanwhile, and the agent sees it once, in the conversation after the failover too.

No Asterisk is needed: the nodes keep trying to reach AMI.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import socketio
import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import create_async_engine

from callcenter.storage.held_chats import HeldChats
from tests.conftest import ADMIN_TOKEN, AGENT_TOKEN, ServerProcess, config_with
from tests.integration.test_api import free_port
from tests.pg import new_database

WAIT = 20.0  # a failover (election check 0.5 s, grace 1.25 s) plus a loaded machine
CHECK = 0.5
AGENT = "1001"
SECOND_TOKEN = "test-agent-1002-token-0123456789"  # agent 1002, a transfer's


@pytest.fixture
def nodes(tmp_path: Path, postgres_url: str, redis_url: str) -> Iterator[dict[str, ServerProcess]]:
    url = asyncio.run(new_database(postgres_url))
    made = {}
    for name in ("a", "b"):
        workdir = tmp_path / name
        workdir.mkdir()
        config = config_with(
            asterisk={"ami_port": free_port(), "reconnect_min_delay": 5.0},
            agi={"port": free_port()},
            http={"port": free_port()},
            database={"url": url, "node": name, "election_check_seconds": CHECK},
            realtime={"redis_url": redis_url},
            recordings={"spool_dir": str(workdir / "spool")},
        )
        config["security"]["api_tokens"].append(
            {"name": "agent-1002", "role": "agent", "token": SECOND_TOKEN, "agent_id": "1002"}
        )
        made[name] = ServerProcess(config, workdir)
    yield made
    for server in made.values():
        server.stop()


def role(server: ServerProcess) -> str | None:
    health = server.health()
    return None if health is None else health.get("role")


def start_pair(nodes: dict[str, ServerProcess]) -> tuple[ServerProcess, ServerProcess]:
    a, b = nodes["a"], nodes["b"]
    a.start(wait_asterisk=False)
    a.wait_until(lambda: role(a) == "owner", 30, "the routing owner")
    b.start(wait_asterisk=False)
    assert role(b) == "follower"
    return a, b


@dataclass
class Client:
    namespace: str
    sio: socketio.AsyncClient = field(default_factory=lambda: socketio.AsyncClient(reconnection=False))
    got: dict[str, asyncio.Queue[Any]] = field(default_factory=dict)
    seen: list[tuple[str, Any]] = field(default_factory=list)  # every event received, in order

    def queue(self, name: str) -> asyncio.Queue[Any]:
        return self.got.setdefault(name, asyncio.Queue())

    async def connect(self, url: str, auth: Any = None) -> Client:
        for name in ("message", "typing", "agent_joined", "ended", "offer", "offer_withdrawn", "state"):
            self.sio.on(name, self._keeper(name), namespace=self.namespace)
        await self.sio.connect(url, namespaces=[self.namespace], auth=auth, transports=["websocket"])
        return self

    def _keeper(self, name: str) -> Any:
        async def keep(data: Any) -> None:
            self.seen.append((name, data))
            self.queue(name).put_nowait(data)

        return keep

    async def call(self, name: str, data: Any = None) -> Any:
        return await self.sio.call(name, data or {}, namespace=self.namespace, timeout=WAIT)

    async def next(self, name: str, timeout: float = WAIT) -> Any:
        return await asyncio.wait_for(self.queue(name).get(), timeout)

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()


async def customer(server: ServerProcess) -> Client:
    return await Client("/customer").connect(server.url)


async def agent(server: ServerProcess, token: str = AGENT_TOKEN) -> Client:
    return await Client("/agent").connect(server.url, auth={"token": token})


async def agent_available(panel: Client, owner: ServerProcess, agent_id: str = AGENT) -> None:
    """The agent's state, set from its panel (wherever it is connected), is the owner's."""
    ack = await panel.call("set_state", {"state": "available"})
    assert ack.get("ok"), ack
    status, on_owner = await asyncio.to_thread(owner.api, "GET", f"/api/agents/{agent_id}")
    assert status == 200 and on_owner["state"] == "available", on_owner


async def open_chat(visitor: Client, panel: Client, name: str, first: str) -> dict[str, Any]:
    """The visitor starts a chat; the agent is offered it and accepts; the visitor is told."""
    started = await visitor.call("start", {"name": name, "message": first})
    assert started.get("conversation_id") and started.get("visitor"), started
    offer = await panel.next("offer")
    assert offer["conversation_id"] == started["conversation_id"] and offer["customer"]["name"] == name
    assert [m["body"] for m in offer["timeline"]] == [first]
    accepted = await panel.call("accept", {"interaction_id": offer["interaction_id"]})
    assert accepted.get("ok"), accepted
    assert (await visitor.next("agent_joined")) == {"name": "Agent 1001"}
    return started


async def exchange(
    visitor: Client,
    panel: Client,
    conversation_id: str,
    said: str,
    answer: str,
    shown: frozenset[str] = frozenset(),
) -> None:
    """One message each way, and typing each way. ``shown``: ids of messages the visitor has (its
    history): one of them arriving live too is skipped, as the widget shows a message once by id."""
    assert (await visitor.call("typing", {"typing": True}))["relayed"] is True
    assert (await panel.next("typing")) == {"conversation_id": conversation_id, "typing": True}
    sent = await visitor.call("message", {"text": said})
    assert sent.get("ok") and sent.get("id"), sent
    live = await panel.next("message")
    assert live["body"] == said and live["from"] == "customer" and live["id"] == sent["id"]
    assert (await panel.call("typing", {"conversation_id": conversation_id, "typing": True}))["ok"]
    assert (await visitor.next("typing")) == {"typing": True}
    replied = await panel.call("reply", {"conversation_id": conversation_id, "text": answer})
    assert replied.get("ok"), replied
    got = await visitor.next("message")
    while got.get("id") in shown:
        got = await visitor.next("message")
    assert got["body"] == answer and got["from"] == "agent"


async def settled(*clients: Client) -> None:
    """A moment for a late duplicate to arrive, if there were one."""
    await asyncio.sleep(1.0)
    for c in clients:
        bodies = [(name, d.get("body")) for name, d in c.seen if name == "message"]
        assert len(bodies) == len(set(bodies)), f"{c.namespace} got a message twice: {bodies}"


@contextlib.asynccontextmanager
async def published(redis_url: str) -> AsyncIterator[list[dict[str, Any]]]:
    """The Socket.IO emits published to every node (python-socketio's Redis channel) meanwhile."""
    seen: list[dict[str, Any]] = []
    redis = Redis.from_url(redis_url)
    pubsub = redis.pubsub()
    await pubsub.subscribe("callcenter-socketio")

    async def keep() -> None:
        async for item in pubsub.listen():
            if item["type"] == "message":
                seen.append(json.loads(item["data"]))

    keeper = asyncio.create_task(keep())
    try:
        yield seen
        await asyncio.sleep(0.5)  # what was published last has arrived
    finally:
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper
        await pubsub.aclose()
        await redis.aclose()


def echoes(seen: list[dict[str, Any]]) -> list[str]:
    """The bodies of a visitor's own messages emitted to its tabs."""
    bodies = []
    for m in seen:
        if (m.get("namespace"), m.get("event")) != ("/customer", "message"):
            continue
        data = m["data"][0] if isinstance(m["data"], list) else m["data"]  # the emit's arguments
        if data.get("from") == "customer":
            bodies.append(data["body"])
    return bodies


async def held_messages(panel: Client, conversation_id: str) -> list[tuple[str, str]]:
    synced = await panel.call("sync")
    held = [c for c in synced["conversations"] if c["conversation_id"] == conversation_id]
    assert len(held) == 1, synced
    return [(m["from"], m["body"]) for m in held[0]["messages"]]


async def test_a_chat_between_a_customer_on_the_follower_and_an_agent_on_the_owner(
    nodes: dict[str, ServerProcess], redis_url: str
) -> None:
    a, b = await asyncio.to_thread(start_pair, nodes)
    panel = await agent(a)  # on the owner
    visitor = await customer(b)  # on the follower: every event goes to the owner over cc:sockets
    tab: Client | None = None
    try:
        await agent_available(panel, a)
        assert (await visitor.call("status"))["online"] is True
        started = await open_chat(visitor, panel, "Ann", "Hello from node b")
        conversation_id = started["conversation_id"]
        async with published(redis_url) as seen:
            await exchange(visitor, panel, conversation_id, "My parcel is late", "It ships today.")
        assert echoes(seen) == [], "one tab: the visitor's own message is not sent to the nodes"
        assert any(m.get("event") == "message" and m.get("namespace") == "/agent" for m in seen)
        await settled(visitor, panel)
        assert await held_messages(panel, conversation_id) == [
            ("customer", "Hello from node b"),
            ("customer", "My parcel is late"),
            ("agent", "It ships today."),
        ]
        # A second tab of the same visitor, on the other node, shows what the first one sends.
        tab = await customer(a)
        assert (await tab.call("start", {"visitor": started["visitor"]}))[
            "conversation_id"
        ] == conversation_id
        async with published(redis_url) as seen:
            sent = await visitor.call("message", {"text": "Sent from the first tab"})
            echo = await tab.next("message")
        assert echo == {"id": sent["id"], "from": "customer", "body": "Sent from the first tab"}
        assert echoes(seen) == ["Sent from the first tab"]
        assert (await panel.next("message"))["body"] == "Sent from the first tab"
        await tab.close()
        await asyncio.sleep(0.5)  # the tab's departure reaches the owner's back (told, not awaited)
        async with published(redis_url) as seen:
            assert (await visitor.call("message", {"text": "One tab again"}))["ok"]
            assert (await panel.next("message"))["body"] == "One tab again"
        assert echoes(seen) == []
        assert role(b) == "follower"
        # A supervisor's console on the follower: its sync is the owner's wallboard (the agent
        # logged in from the follower is on it), and the owner's pushes reach it.
        console = Client("/supervisor")
        console.sio.on("wallboard", console._keeper("wallboard"), namespace="/supervisor")
        await console.connect(b.url, auth={"token": ADMIN_TOKEN})
        try:
            board = await console.call("sync")
            mine = [a for a in board["agents"] if a["id"] == AGENT]
            assert mine and mine[0]["state"] != "logged_out", board["agents"]
            pushed = await console.next("wallboard")
            assert set(pushed) >= {"now", "queues", "agents"}
        finally:
            await console.close()
        # A socket's role is checked on its node: a customer may not act as an agent.
        assert (await visitor.call("accept", {"interaction_id": "x"}))["error"] == "unknown event 'accept'"
    finally:
        if tab is not None:
            await tab.close()
        await visitor.close()
        await panel.close()


async def test_kill_the_owner_while_a_chat_is_open(nodes: dict[str, ServerProcess]) -> None:
    a, b = await asyncio.to_thread(start_pair, nodes)
    panel = await agent(b)  # on the follower: it outlives the owner
    visitor = await customer(a)  # on the owner: gone with it
    stays = await customer(b)  # on the follower: its chat goes on through the failover
    again: Client | None = None
    try:
        await agent_available(panel, a)
        started = await open_chat(visitor, panel, "Bo", "Before the failover")
        conversation_id = started["conversation_id"]
        await exchange(visitor, panel, conversation_id, "Are you there?", "Yes, looking now.")
        staying = (await open_chat(stays, panel, "Di", "From node b"))["conversation_id"]

        assert a.proc is not None
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait(10)
        a.proc = None
        # A visitor on the survivor writes while nobody owns (its node stores and shows it while
        # it does not own yet; the new owner's way once it does): the agent sees it once.
        gap = await stays.call("message", {"text": "Written during the failover"})
        assert gap.get("ok") and gap["conversation_id"] == staying, gap
        assert (await panel.next("message"))["body"] == "Written during the failover"
        # Sent while nobody owns: it waits in cc:sockets for the next owner (acknowledged within
        # WAIT, the call's timeout, or the test fails).
        during = await panel.call(
            "reply", {"conversation_id": conversation_id, "text": "Still here after the crash."}
        )
        assert during.get("ok"), during
        assert role(b) == "owner", "the reply was carried out by the new owner"

        # The visitor's socket died with node a; the widget comes back on node b.
        await visitor.close()
        again = await customer(b)
        resumed = await again.call("start", {"visitor": started["visitor"]})
        assert resumed["conversation_id"] == conversation_id
        assert resumed["agent"] == "Agent 1001", "the chat stays with its agent"
        assert [(m["from"], m["body"]) for m in resumed["history"]] == [
            ("customer", "Before the failover"),
            ("customer", "Are you there?"),
            ("agent", "Yes, looking now."),
            ("agent", "Still here after the crash."),
        ]
        # The chat goes on, both ways, with the same agent's panel (its socket never moved). The
        # reply sent while nobody owned may reach the visitor live too, if the new owner's outbox
        # sends it after the visitor came back (the widget shows it once: the same id).
        shown = frozenset(m["id"] for m in resumed["history"])
        await exchange(again, panel, conversation_id, "Thanks!", "You are welcome.", shown)
        await settled(again, panel)
        assert await held_messages(panel, conversation_id) == [
            ("customer", "Before the failover"),
            ("customer", "Are you there?"),
            ("agent", "Yes, looking now."),
            ("agent", "Still here after the crash."),
            ("customer", "Thanks!"),
            ("agent", "You are welcome."),
        ]
        assert await held_messages(panel, staying) == [
            ("customer", "From node b"),
            ("customer", "Written during the failover"),
        ]
        # The agent's panel saw each customer message once, across the failover.
        from_customer = [d["body"] for name, d in panel.seen if name == "message"]
        assert from_customer == ["Are you there?", "Written during the failover", "Thanks!"], from_customer
    finally:
        if again is not None:
            await again.close()
        await stays.close()
        await visitor.close()
        await panel.close()


STORED = "callcenter_webchat_held_messages_total"
TOLD = "callcenter_webchat_held_told_total"


def counted(server: ServerProcess, name: str, result: str) -> float:
    status, text = server.api("GET", "/metrics")
    assert status == 200, text
    found = re.search(rf'^{name}\{{result="{result}"\}} ([0-9.e+]+)$', text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def reaches(server: ServerProcess, name: str, result: str, value: float) -> None:
    deadline = time.monotonic() + WAIT
    while (now := await asyncio.to_thread(counted, server, name, result)) < value:
        assert time.monotonic() < deadline, f"{name}{{{result}}} stayed at {now}, not {value}"
        await asyncio.sleep(0.2)
    assert now == value, f"{name}{{{result}}} went past {value}: {now}"


async def test_the_visitors_node_stores_the_messages_of_a_chat_an_agent_holds(
    nodes: dict[str, ServerProcess],
) -> None:
    a, b = await asyncio.to_thread(start_pair, nodes)
    panel = await agent(a)  # on the owner
    visitor = await customer(b)  # on the follower
    try:
        await agent_available(panel, a)
        before = {
            k: await asyncio.to_thread(counted, b, STORED, k) for k in ("stored", "duplicate", "not_held")
        }
        filed = await asyncio.to_thread(counted, a, TOLD, "filed")
        started = await open_chat(visitor, panel, "Cy", "First, through the owner")
        conversation_id = started["conversation_id"]

        # Held by the agent: node b stores, shows and acknowledges it; the owner files it.
        sent = await visitor.call("message", {"text": "Stored by node b", "id": "cy-1"})
        assert sent.get("ok") and sent["conversation_id"] == conversation_id, sent
        live = await panel.next("message")
        assert (live["id"], live["body"], live["from"]) == (sent["id"], "Stored by node b", "customer")
        # The widget's resend after a reconnect (the same id) is stored once.
        assert await visitor.call("message", {"text": "Stored by node b", "id": "cy-1"}) == {
            "ok": True,
            "duplicate": True,
        }
        # Typing goes from node b to the agent of the chat its last message went to.
        assert await visitor.call("typing", {"typing": True}) == {"ok": True, "relayed": True}
        assert (await panel.next("typing")) == {"conversation_id": conversation_id, "typing": True}
        await reaches(b, STORED, "stored", before["stored"] + 1)
        await reaches(b, STORED, "duplicate", before["duplicate"] + 1)
        await reaches(a, TOLD, "filed", filed + 1)
        assert await held_messages(panel, conversation_id) == [
            ("customer", "First, through the owner"),
            ("customer", "Stored by node b"),
        ]
        replied = await panel.call("reply", {"conversation_id": conversation_id, "text": "Noted."})
        assert replied.get("ok"), replied
        assert (await visitor.next("message"))["body"] == "Noted."
        resumed = await visitor.call("start", {"visitor": started["visitor"]})
        assert [(m["from"], m["body"]) for m in resumed["history"]] == [
            ("customer", "First, through the owner"),
            ("customer", "Stored by node b"),
            ("agent", "Noted."),
        ]

        # Closed by the agent: node b stores nothing more in it; the owner opens a new chat.
        assert (await panel.call("close", {"conversation_id": conversation_id})).get("ok")
        assert (await visitor.next("ended")) == {"by": "agent"}
        after = await visitor.call("message", {"text": "One more question"})
        assert after.get("ok") and after["conversation_id"] != conversation_id, after
        await reaches(b, STORED, "not_held", before["not_held"] + 1)
        offer = await panel.next("offer")
        assert offer["conversation_id"] == after["conversation_id"]
        await settled(visitor, panel)
        assert [d["body"] for name, d in panel.seen if name == "message"] == ["Stored by node b"]
        assert await asyncio.to_thread(counted, b, STORED, "stored") == before["stored"] + 1
    finally:
        await visitor.close()
        await panel.close()


async def test_the_visitors_typing_follows_a_transfer_and_stops_at_a_close(
    nodes: dict[str, ServerProcess],
) -> None:
    """The visitor's node relays its visitor's typing to the agent holding the chat; the owner's
    writes of holds reach that node (``cc:held:moves``), so after a transfer the new agent sees the
    visitor type before the visitor's next message, the former agent no longer does, and after a
    close nobody does."""
    a, b = await asyncio.to_thread(start_pair, nodes)
    first, second = await agent(a), await agent(b, SECOND_TOKEN)
    visitor = await customer(b)  # on the follower
    try:
        await agent_available(first, a)
        started = await open_chat(visitor, first, "Di", "Who can help me?")
        conversation_id = started["conversation_id"]
        sent = await visitor.call("message", {"text": "Stored by node b", "id": "di-1"})
        assert sent.get("ok"), sent
        assert (await first.next("message"))["id"] == sent["id"]
        assert await visitor.call("typing", {"typing": True}) == {"ok": True, "relayed": True}
        assert (await first.next("typing")) == {"conversation_id": conversation_id, "typing": True}

        await agent_available(second, a, "1002")
        moved = await first.call("transfer", {"conversation_id": conversation_id, "to_agent": "1002"})
        assert moved.get("ok"), moved
        offer = await second.next("offer")
        assert offer["conversation_id"] == conversation_id
        assert (await second.call("accept", {"interaction_id": offer["interaction_id"]})).get("ok")
        seen_by_first = len([n for n, _ in first.seen if n == "typing"])
        # The visitor types (no message yet): the new agent sees it, whichever node relays it.
        deadline = time.monotonic() + WAIT
        while second.queue("typing").empty():
            assert time.monotonic() < deadline, "the new agent never saw the visitor type"
            await visitor.call("typing", {"typing": True})
            await asyncio.sleep(0.2)
        assert (await second.next("typing")) == {"conversation_id": conversation_id, "typing": True}
        assert len([n for n, _ in first.seen if n == "typing"]) == seen_by_first

        assert (await second.call("close", {"conversation_id": conversation_id})).get("ok")
        assert (await visitor.next("ended")) == {"by": "agent"}
        deadline = time.monotonic() + WAIT
        while (ack := await visitor.call("typing", {"typing": False})) != {"ok": True, "relayed": False}:
            assert ack == {"ok": True, "relayed": True}, ack
            assert time.monotonic() < deadline, "the visitor's typing still went to the agent after the close"
            await asyncio.sleep(0.2)
    finally:
        await visitor.close()
        await second.close()
        await first.close()


SWEPT = "callcenter_webchat_held_swept_total"


def swept(server: ServerProcess) -> float:
    status, text = server.api("GET", "/metrics")
    assert status == 200, text
    found = re.search(rf"^{SWEPT} ([0-9.e+]+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def test_the_owner_sweeps_up_a_message_a_node_stored_and_never_told(
    nodes: dict[str, ServerProcess],
) -> None:
    """A visitor's node that dies between its commit and its ``cc:held`` entry leaves a message
    stored that nobody saw. The test stores one as that node would (``HeldChats.insert``, the
    same statement) and tells nobody: the owner's sweep (every 10 s, the messages stored 5 to 25 s
    before) files it, shows it to the agent and echoes it to the visitor's tab, once."""
    a, _ = await asyncio.to_thread(start_pair, nodes)
    panel, visitor = await agent(a), await customer(a)
    engine = create_async_engine(a.config["database"]["url"])
    held = HeldChats(engine)
    try:
        await agent_available(panel, a)
        started = await open_chat(visitor, panel, "Ed", "Is anyone there?")
        conversation_id = started["conversation_id"]
        async with engine.connect() as connection:
            address = (
                await connection.execute(
                    sa.text("SELECT address FROM conversations WHERE id = :id"), {"id": conversation_id}
                )
            ).scalar_one()
        before = await asyncio.to_thread(swept, a)
        stored = await held.insert(
            "untold-1", address, "Stored, then the node died", time.time(), f"{address}:ed-1", 3600.0
        )
        assert stored is not None and stored.stored and stored.conversation_id == conversation_id
        live = await panel.next("message", timeout=45)  # the sweep's period and grace, and a busy machine
        assert (live["id"], live["from"]) == ("untold-1", "customer")
        assert live["body"] == "Stored, then the node died"
        echo = await visitor.next("message", timeout=5)
        assert (echo["id"], echo["body"]) == ("untold-1", "Stored, then the node died")
        assert await held_messages(panel, conversation_id) == [
            ("customer", "Is anyone there?"),
            ("customer", "Stored, then the node died"),
        ]
        await asyncio.sleep(12)  # the next sweep reads the same window again: filed once
        assert await asyncio.to_thread(swept, a) == before + 1
        assert [d["id"] for name, d in panel.seen if name == "message"] == ["untold-1"]
    finally:
        await held.close()
        await engine.dispose()
        await visitor.close()
        await panel.close()


async def test_the_admins_see_both_nodes_from_either_and_a_node_that_stops(
    nodes: dict[str, ServerProcess],
) -> None:
    """``/api/cluster`` (the page ``/admin/cluster``) on the follower shows both nodes, the owner
    as the database names it; a node that stops says so before it goes."""
    a, b = await asyncio.to_thread(start_pair, nodes)
    visitor = await customer(b)
    try:
        expected = {"a": ("owner", "running", True), "b": ("follower", "running", False)}
        deadline = time.monotonic() + WAIT
        while True:  # a node's beacon tells its part within a second of a change
            status, report = await asyncio.to_thread(b.api, "GET", "/api/cluster")
            assert status == 200, report
            parts = {n["node"]: (n["role"], n["state"], n["owner_in_database"]) for n in report["nodes"]}
            if parts == expected or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        assert parts == expected
        assert report["this_node"] == "b" and report["owner"] == "a" and report["problems"] == []
        here = next(n for n in report["nodes"] if n["node"] == "b")
        assert here["sockets"]["customer"] == 1  # the visitor, on node b
        assert {s["name"] for s in report["streams"]} == {"cc:sockets", "cc:held", "cc:requests"}
        await visitor.close()
        await asyncio.to_thread(b.stop)
        status, report = await asyncio.to_thread(a.api, "GET", "/api/cluster")
        assert status == 200 and report["this_node"] == "a", report
        assert {n["node"]: n["state"] for n in report["nodes"]} == {"a": "running", "b": "stopped"}
    finally:
        await visitor.close()

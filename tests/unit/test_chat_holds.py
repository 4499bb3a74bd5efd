"""Web chats agents hold (``web/chat_holds.py``, docs/cluster.md), with fakes of its small ports:
the owner's writer of holds (the whole desk first, then what changed, web chats only; a failed
write retried with the next) and the visitor's node's shortcut (the owner's checks, stored, told
and shown; typing relayed to the agent of the last message; the owner's way when not held)."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from callcenter.aio import cancel_and_wait
from callcenter.core.commands import OfferConversation
from callcenter.core.omni.conversations import Delivery, Direction, Message, MessagingChannel
from callcenter.errors import StorageError
from callcenter.web.chat_desk import Desk
from callcenter.web.chat_holds import HeldChat, HeldSweep, Holds, VisitorMessages
from callcenter.web.realtime import BadRequest


class Store:
    def __init__(self) -> None:
        self.writes: list[tuple[dict[str, str], set[str], bool]] = []
        self.fail = False

    async def save_holds(
        self, held: Mapping[str, str], released: Collection[str], *, every: bool = False
    ) -> None:
        if self.fail:
            raise StorageError("database down")
        self.writes.append((dict(held), set(released), every))


def offer(n: int, agent: str, channel: str = "webchat") -> OfferConversation:
    return OfferConversation(f"i{n}", agent, channel, f"c{n}", f"k{n}", 30.0, 1)


async def test_the_whole_desk_first_then_what_changed_web_chats_only() -> None:
    desk, store = Desk(), Store()
    desk.assign(offer(1, "1001"))
    desk.assign(offer(2, "1002", "sms"))
    holds = Holds(desk, store)
    await holds.write()
    assert store.writes == [({"c1": "1001"}, set(), True)]  # c2 is no web chat
    await holds.write()
    assert len(store.writes) == 1  # nothing changed since
    desk.release("c1")
    desk.assign(offer(3, "1001"))
    await holds.write()
    assert store.writes[-1] == ({"c3": "1001"}, {"c1"}, False)


def test_a_desk_without_holds_remembers_no_changes() -> None:
    """One node: nobody writes holds, and the desk does not collect what changed."""
    desk = Desk()
    desk.assign(offer(1, "1001"))
    desk.release("c1")
    assert desk.changed == set()


async def test_a_failed_write_is_retried_with_the_next() -> None:
    desk, store = Desk(), Store()
    holds = Holds(desk, store)
    await holds.write()
    desk.assign(offer(1, "1001"))
    store.fail = True
    await holds.write()  # logged, not raised: the agent's accept stands
    assert desk.changed == {"c1"}
    store.fail = False
    desk.assign(offer(2, "1002"))
    await holds.write()
    assert store.writes[-1] == ({"c1": "1001", "c2": "1002"}, set(), False)


class Held:
    def __init__(self, agent: str | None, stored: bool = True) -> None:
        self.agent, self.stored_ = agent, stored
        self.inserted: list[tuple[str, str, str]] = []

    async def insert(
        self, message_id: str, address: str, body: str, at: float, provider_id: str, idle_seconds: float
    ) -> HeldChat | None:
        self.inserted.append((address, body, provider_id))
        if self.agent is None:
            return None
        return Chat("c1", "k1", self.agent, self.stored_)


@dataclass(frozen=True)
class Chat:
    conversation_id: str
    customer_id: str
    agent_id: str
    stored: bool


async def test_the_visitors_node_stores_shows_and_tells_then_relays_typing() -> None:
    store = Held("1001")
    emitted: list[tuple[str, Mapping[str, Any], str, str]] = []
    told: list[Mapping[str, str]] = []

    async def emit(name: str, payload: Mapping[str, Any], room: str, namespace: str) -> None:
        emitted.append((name, dict(payload), room, namespace))

    async def tell(entry: Mapping[str, str]) -> None:
        told.append(entry)

    messages = VisitorMessages(store, emit, tell, 100, 3600.0, lambda: 1000.0, lambda: "m1")
    context: dict[str, Any] = {}
    assert await messages("S", "message", {"text": "hi", "id": "x1"}, context) is None  # not started
    assert await messages("S", "typing", {"typing": True}, context) is None  # the owner's
    context["visitor"] = {"kind": "visitor", "address": "a1"}
    with pytest.raises(BadRequest):
        await messages("S", "message", {"text": " ", "id": "x1"}, context)
    with pytest.raises(BadRequest):
        await messages("S", "message", {"text": "a\x00b", "id": "x1"}, context)
    assert store.inserted == []
    ack = await messages("S", "message", {"text": " hi ", "id": "x1"}, context)
    assert ack == {"ok": True, "id": "m1", "conversation_id": "c1"}
    assert store.inserted == [("a1", "hi", "a1:x1")]
    assert [(e["message"], e["agent"], e["body"], e["sid"]) for e in told] == [("m1", "1001", "hi", "S")]
    assert [(n, p["body"], room, ns) for n, p, room, ns in emitted] == [
        ("message", "hi", "agent:1001", "/agent")
    ]
    assert await messages("S", "typing", {"typing": True}, context) == {"ok": True, "relayed": True}
    assert emitted[-1] == ("typing", {"conversation_id": "c1", "typing": True}, "agent:1001", "/agent")
    # The owner transferred the chat: the visitor's typing follows it before any message does.
    messages.moved({"c1": "1002", "c9": "1003"}, [], False)
    assert messages.holders == {"c1": "1002"}  # only the chats this node's visitors wrote in
    assert await messages("S", "typing", {"typing": False}, context) == {"ok": True, "relayed": True}
    assert emitted[-1] == ("typing", {"conversation_id": "c1", "typing": False}, "agent:1002", "/agent")
    emitted.pop()
    # A resend: acknowledged as one, nothing told or shown again.
    store.stored_ = False
    assert await messages("S", "message", {"text": "hi", "id": "x1"}, context) == {
        "ok": True,
        "duplicate": True,
    }
    assert len(told) == 1 and len(emitted) == 2
    # The chat is no longer held: the owner's way, for messages and typing.
    store.agent = None
    assert await messages("S", "message", {"text": "again", "id": "x2"}, context) is None
    assert "held" not in context
    assert await messages("S", "typing", {"typing": False}, context) is None


async def test_typing_goes_the_owners_way_once_the_chat_is_released_or_the_moves_were_missed() -> None:
    emitted: list[str] = []

    async def emit(name: str, payload: Mapping[str, Any], room: str, namespace: str) -> None:
        emitted.append(room)

    async def tell(entry: Mapping[str, str]) -> None:
        pass

    messages = VisitorMessages(Held("1001"), emit, tell, 100, 3600.0, lambda: 1000.0, lambda: "m1")
    context: dict[str, Any] = {"visitor": {"kind": "visitor", "address": "a1"}}

    async def typing() -> object:
        return await messages("S", "typing", {"typing": True}, context)

    await messages("S", "message", {"text": "hi", "id": "x1"}, context)
    messages.moved({}, ["c1"], False)  # closed by the agent
    assert await typing() is None and "held" not in context
    await messages("S", "message", {"text": "hi", "id": "x2"}, context)
    messages.moved({"c7": "1001"}, [], True)  # a new owner's whole desk: c1 is not in it
    assert await typing() is None
    await messages("S", "message", {"text": "hi", "id": "x3"}, context)
    messages.forget_holders()  # resubscribed after a Redis failure: moves may have been missed
    assert await typing() is None
    assert emitted == ["agent:1001"] * 3  # the three messages, no typing


async def test_the_visitors_nodes_hear_of_a_write_of_holds_only_once_it_is_stored() -> None:
    desk, store = Desk(), Store()
    heard: list[tuple[dict[str, str], set[str], bool]] = []

    async def moved(held: Mapping[str, str], released: Collection[str], every: bool) -> None:
        heard.append((dict(held), set(released), every))

    holds = Holds(desk, store, moved)
    desk.assign(offer(1, "1001"))
    await holds.write()
    desk.release("c1")
    desk.assign(offer(2, "1002"))
    store.fail = True
    await holds.write()
    assert heard == [({"c1": "1001"}, set(), True)]
    store.fail = False
    await holds.write()
    assert heard[-1] == ({"c2": "1002"}, {"c1"}, False)


def message(message_id: str, at: float) -> Message:
    return Message(message_id, "c1", MessagingChannel.WEBCHAT, Direction.IN, "x", at, Delivery.RECEIVED)


async def test_the_sweep_files_what_the_books_lack_and_outlives_a_failed_read() -> None:
    now = 1_000_000.0
    windows: list[tuple[float, float]] = []
    filed: list[str] = []
    reads = iter([StorageError("database down"), ["m1", "m2"], ["m2", "m3"]])
    third = asyncio.Event()

    async def read(since: float, until: float) -> list[tuple[Message, str, str]]:
        windows.append((since, until))
        got = next(reads)
        if isinstance(got, Exception):
            raise got
        return [(message(m, now - 10), "k1", "v") for m in got]

    async def file(message: Message, customer_id: str, address: str) -> None:
        filed.append(message.id)
        if len(filed) == 3:
            third.set()

    sweep = HeldSweep(read, {"m1"}.__contains__, file, lambda: now)
    sweep.every = 0.01
    running = asyncio.create_task(sweep.run())
    try:
        await asyncio.wait_for(third.wait(), 10)  # the third read's filing
    finally:
        await cancel_and_wait(running)
    assert filed == ["m2", "m2", "m3"]  # m2 again: this fake's books never learn it
    # Each window: from every + 2 x grace ago to grace ago (they overlap: nothing falls between).
    assert set(windows) == {(now - 0.01 - 2 * HeldSweep.grace, now - HeldSweep.grace)}

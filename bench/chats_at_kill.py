"""Web chats open across a kill -9 of the routing owner (``bench/failover.py --callers N --chats M``).

Chat agents' panels are on the follower (they outlive the owner); visitors alternate between the
two nodes, so half of them lose their socket with the owner. Before the kill every chat is offered,
accepted and has one message each way. Right after the kill, while nobody owns, each agent replies
in each of its chats; then every visitor whose node died comes back on the survivor (the widget's
``start`` with its visitor id), and each visitor sends one more message. The checks:

- every chat stays with its agent, and a visitor who came back gets the whole conversation;
- every message reaches the other side, and no side sees a message twice.

The Socket.IO clients run on an event loop of their own in a thread, so the voice part of the
scenario (synchronous, in the main thread) goes on meanwhile.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tests.e2e.test_cluster_sockets import Client

T = TypeVar("T")
WAIT = 60.0  # a failover on a machine also carrying a line of calls


@dataclass
class Chat:
    number: int
    visitor: Client
    on_owner: bool  # the visitor's node is the one killed
    conversation_id: str = ""
    visitor_id: str = ""
    agent: str = ""  # the agent id holding it
    expected: list[tuple[str, str]] = field(default_factory=list)  # (from, body), in order


async def until(check: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def bodies(client: Client, sender: str | None = None) -> list[str]:
    return [d["body"] for name, d in client.seen if name == "message" and sender in (None, d.get("from"))]


class ChatsAtKill:
    """``open()`` before the kill, ``after_kill()`` started right after it, ``result()`` at the end."""

    def __init__(self, owner_url: str, follower_url: str, agents: dict[str, str], chats: int) -> None:
        self._owner, self._follower = owner_url, follower_url
        self._tokens = agents  # agent id -> API token of role agent
        self._count = chats
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.panels: dict[str, Client] = {}
        self.chats: list[Chat] = []
        self._after: Future[list[str]] | None = None
        self._accepting: list[asyncio.Task[None]] = []
        self._held: dict[str, str] = {}  # conversation id -> the agent who accepted it

    def _run(self, coroutine: Coroutine[Any, Any, T], timeout: float) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def open(self) -> None:
        self._run(self._open(), WAIT * 3)

    def after_kill(self) -> None:
        self._after = asyncio.run_coroutine_threadsafe(self._after_kill(), self._loop)

    def result(self) -> list[str]:
        """The failed checks (empty: every chat came through)."""
        assert self._after is not None
        try:
            return self._after.result(WAIT * 4)
        finally:
            self._run(self._close(), 30)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    async def _open(self) -> None:
        for agent, token in self._tokens.items():
            panel = await Client("/agent").connect(self._follower, auth={"token": token})
            self.panels[agent] = panel
            ack = await panel.call("set_state", {"state": "available"})
            assert ack.get("ok"), ack
            self._accepting.append(asyncio.create_task(self._accept(agent, panel)))
        for k in range(self._count):
            on_owner = k % 2 == 0
            visitor = await Client("/customer").connect(self._owner if on_owner else self._follower)
            chat = Chat(k, visitor, on_owner)
            first = f"chat {k}: hello"
            started = await visitor.call("start", {"name": f"Visitor {k}", "message": first})
            assert started.get("conversation_id"), started
            chat.conversation_id, chat.visitor_id = started["conversation_id"], started["visitor"]
            chat.expected.append(("customer", first))
            self.chats.append(chat)
            await until(lambda c=chat: c.conversation_id in self._held, f"chat {k} accepted")  # type: ignore[misc]
            chat.agent = self._held[chat.conversation_id]
            await until(lambda v=visitor: any(n == "agent_joined" for n, _ in v.seen), f"chat {k} joined")  # type: ignore[misc]
        for chat in self.chats:
            await self._say(chat, f"chat {chat.number}: before the kill")
            await self._answer(chat, f"chat {chat.number}: answer before the kill")
        print(f"{len(self.chats)} chats open with {len(self.panels)} agents on the follower", flush=True)

    async def _accept(self, agent: str, panel: Client) -> None:
        while True:
            offer = await panel.queue("offer").get()
            accepted = await panel.call("accept", {"interaction_id": offer["interaction_id"]})
            if accepted.get("ok"):
                self._held[offer["conversation_id"]] = agent

    async def _say(self, chat: Chat, text: str) -> None:
        sent = await chat.visitor.call("message", {"text": text})
        assert sent.get("ok"), sent
        chat.expected.append(("customer", text))
        panel = self.panels[chat.agent]
        await until(lambda: text in bodies(panel, "customer"), f"{text!r} on the agent's panel")

    async def _answer(self, chat: Chat, text: str) -> None:
        replied = await self.panels[chat.agent].call(
            "reply", {"conversation_id": chat.conversation_id, "text": text}
        )
        assert replied.get("ok"), replied
        chat.expected.append(("agent", text))
        await until(lambda: text in bodies(chat.visitor, "agent"), f"{text!r} at the visitor")

    async def _after_kill(self) -> list[str]:
        failures: list[str] = []

        async def reply(chat: Chat) -> None:  # sent while nobody owns: the next owner carries it out
            text = f"chat {chat.number}: reply during the failover"
            replied = await self.panels[chat.agent].call(
                "reply", {"conversation_id": chat.conversation_id, "text": text}
            )
            assert replied.get("ok"), replied
            chat.expected.append(("agent", text))

        await asyncio.gather(*(reply(chat) for chat in self.chats))
        for chat in self.chats:
            if chat.on_owner:  # its socket died with the owner: the widget comes back on the survivor
                await chat.visitor.close()
                chat.visitor = await Client("/customer").connect(self._follower)
                resumed = await chat.visitor.call("start", {"visitor": chat.visitor_id})
                history = [(m["from"], m["body"]) for m in resumed.get("history", [])]
                if resumed.get("conversation_id") != chat.conversation_id:
                    failures.append(f"chat {chat.number}: resumed as another conversation: {resumed}")
                elif resumed.get("agent") != f"Agent {chat.agent}":
                    failures.append(f"chat {chat.number}: now with {resumed.get('agent')}, not {chat.agent}")
                elif history != chat.expected:
                    failures.append(f"chat {chat.number}: history {history} != {chat.expected}")
            else:
                text = chat.expected[-1][1]
                await until(lambda c=chat, t=text: t in bodies(c.visitor, "agent"), f"{text!r} live")  # type: ignore[misc]
        for chat in self.chats:
            await self._say(chat, f"chat {chat.number}: after the failover")
        await asyncio.sleep(1.0)  # room for a late duplicate, if there were one
        for agent, panel in self.panels.items():
            got = bodies(panel, "customer")
            if len(got) != len(set(got)):
                failures.append(f"agent {agent}'s panel saw a customer message twice: {got}")
        for chat in self.chats:
            got = bodies(chat.visitor, "agent")
            if len(got) != len(set(got)):
                failures.append(f"chat {chat.number}: the visitor saw a reply twice: {got}")
        print(
            f"chats after the kill: {len(self.chats) - len(failures)} of {len(self.chats)} whole, "
            f"{len(failures)} problem(s)",
            flush=True,
        )
        return failures

    async def _close(self) -> None:
        for task in self._accepting:
            task.cancel()
        for client in [*self.panels.values(), *(c.visitor for c in self.chats)]:
            await client.close()

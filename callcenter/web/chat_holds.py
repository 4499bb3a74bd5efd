"""Web chats an agent holds, served by the node the visitor's socket is on (docs/cluster.md,
"Web chats an agent holds").

With several nodes every event of a follower's sockets is carried out by the routing owner
(``web/sockets.py``), so the owner stored and delivered every chat message of every node and two
nodes carried no more chat than one. A visitor's message in a chat an agent already holds needs no
routing: the visitor's own node stores it, shows it to the agent and tells the owner, which files
it in its books without storing or sending anything.

- :class:`Holds` (the owner): the desk's web chats, written to ``chat_holds`` (fenced) before the
  action that changed them is acknowledged: an accept, a close, a transfer, the visitor's end.
- :class:`VisitorMessages` (every node but the owner): a front's shortcut for a visitor's
  ``message``. The statement that stores the message holds only while the visitor's current chat
  has its ``chat_holds`` row (``storage/held_chats.py``): a chat the owner just closed or moved
  takes nothing, and the message goes the owner's way as before (a new conversation, routed).
- The owner takes what the visitor's nodes stored from the stream ``cc:held``
  (``held_chats.py``) into :meth:`CustomerNamespace.told
  <callcenter.web.chat_customer.CustomerNamespace.told>`: deduplicated by provider id, shown to the
  agent who holds the chat now when it is not the one who saw it.
- :class:`HeldSweep` (the owner): what a visitor's node stored and never told (it died between
  its commit and its entry) is read back from the database and filed within seconds.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any, Protocol

from callcenter import metrics
from callcenter.core.omni.conversations import Delivery, Direction, Message, MessagingChannel
from callcenter.core.omni.customers import Identity, IdentityKind
from callcenter.errors import StorageError
from callcenter.messaging.channels.base import InboundMessage, WebhookError
from callcenter.messaging.service import check_storable
from callcenter.web.chat_agent import NAMESPACE as AGENTS
from callcenter.web.chat_agent import agent_room, client_id, message_view
from callcenter.web.chat_desk import Desk
from callcenter.web.realtime import Ack, BadRequest, flag, text

log = logging.getLogger(__name__)


class HoldsStore(Protocol):
    async def save_holds(
        self, held: Mapping[str, str], released: Collection[str], *, every: bool = False
    ) -> None: ...


# What a write of holds changed, for the visitors' nodes: (held: conversation -> agent, released,
# every: the whole desk, anything else unheld).
Moved = Callable[[Mapping[str, str], Collection[str], bool], Awaitable[None]]


class Holds:
    """The owner's writer of the desk's web chats (``Desk.changed``) to ``chat_holds``; once
    written, ``moved`` tells the visitors' nodes (their visitors' typing follows a transfer)."""

    def __init__(self, desk: Desk, store: HoldsStore, moved: Moved | None = None) -> None:
        self.desk = desk
        self.desk.tracking = True
        self.store = store
        self.moved = moved
        self._lock = asyncio.Lock()  # one write at a time, each of the desk as it is then
        self._whole = True  # the whole desk is to be written (a new owner's), rows of others gone

    async def write(self) -> None:
        """What changed on the desk since the last write; the whole desk at the first (a new
        owner's: rows a dead owner left go). A failed write is retried with the next: what it
        named stays to be written."""
        async with self._lock:
            changed, self.desk.changed = self.desk.changed, set()
            every = self._whole
            named = set(self.desk.assigned) if every else changed
            held = {
                c: a.agent_id
                for c in named
                if (a := self.desk.assigned.get(c)) is not None and a.channel == MessagingChannel.WEBCHAT
            }
            if not every and not changed:
                return
            released = changed - held.keys()
            try:
                await self.store.save_holds(held, released, every=every)
            except StorageError as err:
                self.desk.changed |= changed
                log.warning("webchat.holds_not_saved", extra={"detail": str(err)})
                return
            self._whole = False
            if self.moved is not None:
                await self.moved(held, released, every)


class HeldChat(Protocol):
    @property
    def conversation_id(self) -> str: ...
    @property
    def customer_id(self) -> str: ...
    @property
    def agent_id(self) -> str: ...
    @property
    def stored(self) -> bool: ...  # False: its provider id was stored before (a resend)


class HeldInsert(Protocol):
    async def insert(
        self, message_id: str, address: str, body: str, at: float, provider_id: str, idle_seconds: float
    ) -> HeldChat | None: ...


# An event to a room of a namespace: (event, payload, room, namespace).
Emit = Callable[[str, Mapping[str, Any], str, str], Awaitable[None]]
# What the visitor's node stored, to the routing owner (``held_chats.tell``).
Tell = Callable[[Mapping[str, str]], Awaitable[None]]


class VisitorMessages:
    """The shortcut of a front of ``/customer`` on a node that does not own the routing: a
    visitor's ``message`` in a chat an agent holds is stored, shown and acknowledged here. None:
    not taken (no held chat, no database now): the front sends it to the owner.

    The chat a message went to is kept in the socket's context (``held``) until a message finds
    it no longer held, and its agent in ``holders``, which the owner's writes of holds keep
    current (:meth:`moved`): the visitor's ``typing`` goes from here to the agent who holds the
    chat now, a transfer's new agent included; a chat released since (closed, or moved while
    this node was not listening) sends it the owner's way."""

    def __init__(
        self,
        store: HeldInsert,
        emit: Emit,
        tell: Tell,
        max_text_chars: int,
        idle_seconds: float,
        clock: Callable[[], float],
        ids: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self.store = store
        self.emit = emit
        self.tell = tell
        self.max_text_chars = max_text_chars
        self.idle_seconds = idle_seconds
        self.clock = clock
        self.ids = ids
        # conversation -> its agent, for the chats this node's visitors wrote in.
        self.holders: dict[str, str] = {}

    def moved(self, held: Mapping[str, str], released: Collection[str], every: bool) -> None:
        """The owner wrote these holds (``every``: its whole desk; a chat not in it is not held)."""
        for conversation in released:
            self.holders.pop(conversation, None)
        if every:
            for conversation in [c for c in self.holders if c not in held]:
                del self.holders[conversation]
        for conversation, agent in held.items():
            if conversation in self.holders:
                self.holders[conversation] = agent

    def forget_holders(self) -> None:
        """Moves may have been missed (Redis failed): typing goes the owner's way until the
        visitor's next message here."""
        self.holders.clear()

    async def __call__(
        self, sid: str, name: str, payload: Mapping[str, Any], context: dict[str, Any]
    ) -> Ack | None:
        if name == "typing":
            return await self._typing(payload, context)
        inbound = self._inbound(name, payload, context)
        if inbound is None:
            return None
        address, message_id = inbound.sender.value, self.ids()
        try:
            held = await self.store.insert(
                message_id, address, inbound.body, inbound.at, inbound.provider_id, self.idle_seconds
            )
        except StorageError as err:
            log.warning("webchat.held_not_stored", extra={"detail": str(err)})
            return None
        if held is None:
            metrics.WEBCHAT_HELD.labels("not_held").inc()
            context.pop("held", None)
            return None
        context["held"] = held.conversation_id
        self.holders[held.conversation_id] = held.agent_id
        if not held.stored:
            metrics.WEBCHAT_HELD.labels("duplicate").inc()
            return {"ok": True, "duplicate": True}
        metrics.WEBCHAT_HELD.labels("stored").inc()
        message = Message(
            message_id,
            held.conversation_id,
            MessagingChannel.WEBCHAT,
            Direction.IN,
            inbound.body,
            inbound.at,
            Delivery.RECEIVED,
            inbound.provider_id,
        )
        # The owner first: once stored, the message must reach its books (a Redis failure is
        # logged; the message is stored and shown, and a new owner reads it back).
        await self.tell(told_entry(sid, message, held, inbound.sender))
        await self.emit("message", message_view(message), agent_room(held.agent_id), AGENTS)
        return {"ok": True, "id": message_id, "conversation_id": held.conversation_id}

    async def _typing(self, payload: Mapping[str, Any], context: dict[str, Any]) -> Ack | None:
        conversation = context.get("held")
        agent = self.holders.get(conversation) if isinstance(conversation, str) else None
        if agent is None:
            context.pop("held", None)
            return None  # the owner's: it knows whether an agent holds the chat
        typing = flag(payload, "typing")
        shown = {"conversation_id": conversation, "typing": typing}
        await self.emit("typing", shown, agent_room(agent), AGENTS)
        return {"ok": True, "relayed": True}

    def _inbound(
        self, name: str, payload: Mapping[str, Any], context: Mapping[str, Any]
    ) -> InboundMessage | None:
        """The visitor's message as the owner's back would read it (BadRequest as it would say);
        None: not an event this node takes (another event, a socket that has not started)."""
        visitor = context.get("visitor")
        if name != "message" or not isinstance(visitor, Mapping):
            return None
        address, kind = visitor.get("address"), visitor.get("kind")
        if not isinstance(address, str) or not isinstance(kind, str):
            return None
        if kind not in IdentityKind._value2member_map_:
            return None
        body = text(payload, "text", limit=self.max_text_chars)
        given = client_id(payload, required=True)  # the front gives one when the widget did not
        sender = Identity(IdentityKind(kind), address)
        provider_id = f"{address}:{given}"
        inbound = InboundMessage(MessagingChannel.WEBCHAT, provider_id, sender, "webchat", body, self.clock())
        try:
            check_storable(inbound)
        except WebhookError as err:
            raise BadRequest(str(err)) from err
        return inbound


def told_entry(sid: str, message: Message, held: HeldChat, sender: Identity) -> dict[str, str]:
    """The entry of ``cc:held`` for a message the visitor's node stored (``told_message``)."""
    return {
        "sid": sid,
        "message": message.id,
        "conversation": message.conversation_id,
        "customer": held.customer_id,
        "agent": held.agent_id,
        "kind": sender.kind.value,
        "address": sender.value,
        "body": message.body,
        "at": repr(message.at),
        "provider": message.provider_id or "",
    }


def told_message(f: Mapping[str, str]) -> tuple[Message, str, Identity, str, str]:
    """An entry of ``cc:held``: the message, its customer, its sender, the agent it was shown to
    and the sender's socket. KeyError or ValueError: not an entry of ours."""
    message = Message(
        f["message"],
        f["conversation"],
        MessagingChannel.WEBCHAT,
        Direction.IN,
        f["body"],
        float(f["at"]),
        Delivery.RECEIVED,
        f["provider"],
    )
    return message, f["customer"], Identity(IdentityKind(f["kind"]), f["address"]), f["agent"], f["sid"]


# (since, until) -> the messages stored in held chats then: (message, customer id, address).
SweepRead = Callable[[float, float], Awaitable[list[tuple[Message, str, str]]]]
# A message to file as told: (message, customer id, address).
SweepFile = Callable[[Message, str, str], Awaitable[None]]


class HeldSweep:
    """The owner's read-back of the held chats' messages. A visitor's node that dies between its
    commit and its ``cc:held`` entry leaves a message stored that nobody saw and the owner's books
    lack; each sweep reads the messages stored between ``every + 2 * grace`` and ``grace`` seconds
    ago (the windows overlap: a late sweep misses nothing; ``grace`` leaves the stream its time)
    and files those the books lack, shown to their agent."""

    every = 10.0
    grace = 5.0

    def __init__(
        self, read: SweepRead, knows: Callable[[str], bool], file: SweepFile, clock: Callable[[], float]
    ) -> None:
        self.read = read
        self.knows = knows
        self.file = file
        self.clock = clock

    async def once(self) -> int:
        """One sweep; the number of messages filed. StorageError: not read."""
        now = self.clock()
        stored = await self.read(now - self.every - 2 * self.grace, now - self.grace)
        missed = [(m, c, a) for m, c, a in stored if not self.knows(m.id)]
        for message, customer_id, address in missed:
            await self.file(message, customer_id, address)
        if missed:
            metrics.WEBCHAT_SWEPT.inc(len(missed))
            log.warning("webchat.held_swept", extra={"messages": len(missed)})
        return len(missed)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                await self.once()
            except StorageError as err:
                log.warning("webchat.held_sweep_failed", extra={"detail": str(err)})
            except Exception:  # the next sweep still runs
                log.exception("webchat.held_sweep_failed")

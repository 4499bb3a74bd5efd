"""The ``/agent`` Socket.IO namespace: the agent panel's live side (roles agent, supervisor).

Out to the panel (room ``agent:<id>``): ``offer`` (an ``OfferConversation`` with the customer's
recent timeline), ``offer_withdrawn``, ``state`` (``AgentStateChanged``; supervisors get every
agent's), ``message`` (customer messages on conversations the agent holds), ``typing``, ``ended``.
In from the panel: ``accept``, ``decline``, ``reply``, ``typing``, ``close``, ``transfer``, ``sync``.

An agent connects as itself only (its token's agent id) and acts only on its own offers and
conversations (:class:`~callcenter.web.chat_desk.Desk`); the engine decides everything else.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

from socketio import AsyncNamespace
from socketio.exceptions import ConnectionRefusedError as Refused

from callcenter.accounts.principal import Principal
from callcenter.aio import Background
from callcenter.core import events as ev
from callcenter.core.acd.agents import IllegalTransition
from callcenter.core.commands import AgentStateChanged, Command, OfferConversation, WithdrawOffer
from callcenter.core.errors import UnknownAgent
from callcenter.core.omni.conversations import Direction, Message, MessagingChannel, Received
from callcenter.errors import StorageError
from callcenter.messaging.channels.base import InboundMessage
from callcenter.messaging.channels.webchat import NAMESPACE as CUSTOMER_NAMESPACE
from callcenter.messaging.channels.webchat import room_of
from callcenter.messaging.service import Messaging
from callcenter.service import CallCenter
from callcenter.settings import ApiToken, RealtimeSettings
from callcenter.web.api import queue_line
from callcenter.web.chat_desk import Assignment, Desk, NotYours
from callcenter.web.realtime import Ack, BadRequest, GuardedNamespace, authenticate_socket, event, flag, text

log = logging.getLogger(__name__)

NAMESPACE = "/agent"
SUPERVISORS = "supervisors"
TIMELINE = 20  # messages of the customer's history sent with an offer


_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def reply_id(conversation_id: str, client_id: str) -> str:
    """The stored id of an agent's reply the panel (or the front) named ``client_id``."""
    return "r" + hashlib.sha256(f"{conversation_id}\0{client_id}".encode()).hexdigest()[:31]


def client_id(data: Mapping[str, Any], *, required: bool = False) -> str:
    """The id a panel, the widget or a front gave an event that stores something ("" when none
    and not ``required``): a retry with the same id is stored once."""
    value = text(data, "id", limit=64, required=required)
    if value and not _CLIENT_ID.match(value):
        raise BadRequest("id must be letters, digits, - or _")
    return value


def agent_room(agent_id: str) -> str:
    return f"agent:{agent_id}"


def user_room(name: str) -> str:
    return f"user:{name}"


def supervisor_rooms(lines: frozenset[str] | None) -> list[str]:
    """The rooms of a supervisor's socket: every agent's state (``SUPERVISORS``) when unscoped,
    else one room per business line it sees (docs/security.md)."""
    return [SUPERVISORS] if lines is None else [f"{SUPERVISORS}:{line}" for line in sorted(lines)]


def conversation_messages(messaging: Messaging, conversation_id: str) -> list[Message]:
    return messaging.conversations.messages_of(conversation_id)


def sender(m: Message) -> str:
    """Who wrote a message, as the pages show it: customer, agent or bot (the virtual agent)."""
    if m.direction == Direction.IN:
        return "customer"
    return "bot" if m.author == "bot" else "agent"


def message_view(m: Message) -> dict[str, Any]:
    return {
        "id": m.id,
        "conversation_id": m.conversation_id,
        "channel": m.channel.value,
        "from": sender(m),
        "body": m.body,
        "at": m.at,
        "status": m.status.value,
    }


async def admit(
    namespace: AsyncNamespace,
    sid: str,
    environ: Mapping[str, Any],
    auth: object,
    tokens: tuple[ApiToken, ...],
) -> Principal:
    """Who may open an ``/agent`` socket (on any node: ``web/sockets.py``), and its rooms."""
    principal = await authenticate_socket(environ, auth, tokens)
    if principal is None:
        raise Refused("authentication required")
    if principal.role not in ("agent", "supervisor"):
        raise Refused("your role may not use the agent panel")
    wanted = auth.get("agent_id") if isinstance(auth, Mapping) else None
    if wanted is not None and wanted != principal.agent_id:
        raise Refused("you may only connect as yourself")
    if principal.agent_id is not None:
        await namespace.enter_room(sid, agent_room(principal.agent_id))
    await namespace.enter_room(sid, user_room(principal.name))  # the tickets' notifications
    if principal.role == "supervisor":
        for room in supervisor_rooms(principal.lines):
            await namespace.enter_room(sid, room)
    return principal


class AgentNamespace(GuardedNamespace):
    def __init__(
        self,
        settings: RealtimeSettings,
        tokens: tuple[ApiToken, ...],
        service: CallCenter,
        messaging: Messaging,
        desk: Desk,
        names: Mapping[str, str],
    ) -> None:
        super().__init__(NAMESPACE, settings)
        self.tokens = tokens
        self.service = service
        self.messaging = messaging
        self.desk = desk
        self.names = names
        self._tasks = Background(log, "realtime.emit_failed")
        # With several nodes: the desk's web chats written for the visitors' nodes (chat_holds.py).
        self.write_holds: Callable[[], Awaitable[None]] | None = None

    async def trigger_event(self, name: str, *args: Any) -> Any:
        """An agent's action is acknowledged once what it recorded (the interaction's snapshot,
        its events: a hold, a recording pause, a wrap-up) is committed, so an acknowledged action
        is never lost to a crash right after it (waiting at most ``STORED_WAIT``); a chat it took,
        closed or moved is written for the visitors' nodes first, too."""
        before = self.service.enqueued
        result = await super().trigger_event(name, *args)
        if self.write_holds is not None and self.desk.changed:
            await self.write_holds()
        if self.service.enqueued > before:
            await self.service.stored(self.service.enqueued)
        return result

    # --- connection ---------------------------------------------------------------------------

    async def accept(self, sid: str, environ: Mapping[str, Any], auth: object) -> Principal | None:
        return await admit(self, sid, environ, auth, self.tokens)

    def _me(self, sid: str) -> str:
        principal = self.peers[sid].principal
        if principal is None or principal.agent_id is None:
            raise BadRequest("this login is not an agent")
        return principal.agent_id

    # --- engine and messaging -> panels ----------------------------------------------------------

    def on_command(self, command: Command) -> None:
        """A ``CallCenter`` listener (synchronous: the emits run as tasks)."""
        match command:
            case OfferConversation():
                self.desk.offered(command)
                self._emit("offer", self.offer_view(command), agent_room(command.agent_id))
            case WithdrawOffer():
                if self.desk.withdrawn(command.interaction_id, command.agent_id) is not None:
                    withdrawn = {"interaction_id": command.interaction_id, "reason": command.reason}
                    self._emit("offer_withdrawn", withdrawn, agent_room(command.agent_id))
            case AgentStateChanged():
                state: dict[str, object] = {
                    "agent_id": command.agent_id,
                    "state": command.state.value,
                    "reason": command.reason,
                    "at": command.at,
                }
                self._emit("state", state, agent_room(command.agent_id))
                # Supervisors who may see the agent: unscoped ones, and those of a line of one of
                # the agent's queues (one emit over the rooms: a socket in several gets it once).
                agent = self.service.engine.agents.get(command.agent_id)
                queues = agent.queues if agent is not None else frozenset[str]()
                engine = self.service.engine
                lines = frozenset(line for q in queues if (line := queue_line(engine, q)) is not None)
                self._emit("state", state, [SUPERVISORS, *supervisor_rooms(lines)])
            case _:
                pass

    def on_received(self, received: Received, inbound: InboundMessage) -> None:
        """A ``Messaging`` listener: a customer message on a conversation an agent holds."""
        if received.message is None:
            return
        held = self.desk.agent_of(received.message.conversation_id)
        if held is not None and held.agent_id != received.shown_to:
            self._emit("message", message_view(received.message), agent_room(held.agent_id))

    def offer_view(self, offer: OfferConversation) -> dict[str, Any]:
        customers = self.messaging.customers
        try:
            customer = customers.current(offer.customer_id)
            members = customers.members(customer.id)
            name = customer.name
        except Exception:  # a customer the book does not know (yet): the offer still goes out
            members, name = frozenset({offer.customer_id}), ""
        timeline = self.messaging.conversations.timeline(members)[-TIMELINE:]
        return {
            "interaction_id": offer.interaction_id,
            "conversation_id": offer.conversation_id,
            "channel": offer.channel,
            "customer": {"id": offer.customer_id, "name": name},
            "timeout": offer.timeout,
            "attempt": offer.attempt,
            "timeline": [message_view(m) for m in timeline],
            "collected": self.collected(offer.interaction_id),
        }

    def collected(self, interaction_id: str) -> dict[str, str]:
        """What the virtual agent's flow collected before the handoff (the agent panel keeps it)."""
        return {}

    def _emit(
        self, name: str, payload: Mapping[str, Any], room: str | list[str], namespace: str = NAMESPACE
    ) -> None:
        self._spawn(self.emit(name, dict(payload), room=room, namespace=namespace))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        self._tasks.spawn(work)

    async def drain(self) -> None:
        await self._tasks.drain()

    def _to_customer(self, conversation_id: str, name: str, payload: Mapping[str, Any]) -> None:
        conversation = self.messaging.conversations.conversations.get(conversation_id)
        address = self.messaging.addresses.get(conversation_id)
        if conversation is None or address is None or conversation.channel != MessagingChannel.WEBCHAT:
            return
        self._emit(name, payload, room_of(address), CUSTOMER_NAMESPACE)

    def _run(self, make: Callable[[float], ev.Event]) -> None:
        try:
            self.service.handle(make(self.service.clock()))
        except (UnknownAgent, IllegalTransition) as err:
            raise BadRequest(f"refused: {err}") from err
        except Exception as err:  # the engine's other domain errors (its messaging part is new)
            log.warning("realtime.engine_refused", extra={"error": repr(err)})
            raise BadRequest(f"refused: {err}") from err

    # --- panel -> engine -----------------------------------------------------------------------

    @event("sync", "agent", "supervisor")
    async def on_sync(self, sid: str, data: dict[str, Any]) -> Ack:
        """What this agent holds now (after a reconnect)."""
        principal = self.peers[sid].principal
        if principal is None or principal.agent_id is None:
            return {"offers": [], "conversations": []}
        offers, held = self.desk.of_agent(principal.agent_id)
        return {
            "offers": [self.offer_view(o) for o in offers],
            "conversations": [self._held_view(a) for a in held],
        }

    def _held_view(self, a: Assignment) -> dict[str, Any]:
        messages = conversation_messages(self.messaging, a.conversation_id)
        return {
            "interaction_id": a.interaction_id,
            "conversation_id": a.conversation_id,
            "channel": a.channel,
            "customer_id": a.customer_id,
            "messages": [message_view(m) for m in messages],
            "collected": self.collected(a.interaction_id),
        }

    @event("accept", "agent", "supervisor")
    async def on_accept(self, sid: str, data: dict[str, Any]) -> Ack:
        me = self._me(sid)
        offer = self._offer(data, me)
        self._run(lambda now: ev.OfferAccepted(offer.interaction_id, me, now))
        assignment = self.desk.assign(offer)
        name = self.names.get(me, me)
        self._to_customer(offer.conversation_id, "agent_joined", {"name": name})
        return {"ok": True, **self._held_view(assignment)}

    @event("decline", "agent", "supervisor")
    async def on_decline(self, sid: str, data: dict[str, Any]) -> Ack:
        me = self._me(sid)
        offer = self._offer(data, me)
        reason = text(data, "reason", limit=64, required=False) or "declined"
        # Off the desk first: the engine may offer the same interaction again at once (to this
        # agent, e.g. when nobody else can take it), and that new offer must stay.
        self.desk.withdrawn(offer.interaction_id, me)
        self._run(lambda now: ev.OfferDeclined(offer.interaction_id, me, now, reason))
        return {"ok": True}

    @event("reply", "agent", "supervisor")
    async def on_reply(self, sid: str, data: dict[str, Any]) -> Ack:
        held = self._held(data, self._me(sid))
        body = text(data, "text", limit=self.settings.max_text_chars)
        given = client_id(data)
        # The same id in the same conversation is one reply (a retry after a failover).
        message_id = reply_id(held.conversation_id, given) if given else None
        known = self.messaging.conversations.messages.get(message_id) if message_id else None
        if known is not None and known.conversation_id != held.conversation_id:
            raise BadRequest("this reply id is taken")
        try:
            message = await self.messaging.reply(held.conversation_id, body, message_id=message_id)
        except StorageError as err:
            raise BadRequest("cannot store the reply now: try again") from err
        return {"ok": True, "message": message_view(message)}

    @event("typing", "agent", "supervisor")
    async def on_typing(self, sid: str, data: dict[str, Any]) -> Ack:
        held = self._held(data, self._me(sid))
        self._to_customer(held.conversation_id, "typing", {"typing": flag(data, "typing")})
        return {"ok": True}

    @event("close", "agent", "supervisor")
    async def on_close(self, sid: str, data: dict[str, Any]) -> Ack:
        me = self._me(sid)
        held = self._held(data, me)
        self._run(lambda now: ev.ConversationEnded(held.interaction_id, "agent", now))
        self.desk.release(held.conversation_id)
        self._to_customer(held.conversation_id, "ended", {"by": "agent"})
        return {"ok": True}

    @event("transfer", "agent", "supervisor")
    async def on_transfer(self, sid: str, data: dict[str, Any]) -> Ack:
        me = self._me(sid)
        held = self._held(data, me)
        to_agent = text(data, "to_agent", limit=64, required=False) or None
        to_queue = text(data, "to_queue", limit=64, required=False) or None
        if (to_agent is None) == (to_queue is None):
            raise BadRequest("give exactly one of to_agent and to_queue")
        if to_agent is not None and to_agent not in self.service.engine.agents:
            raise BadRequest("no such agent")
        self._run(lambda now: ev.ConversationTransferred(held.interaction_id, me, now, to_agent, to_queue))
        self.desk.release(held.conversation_id)
        return {"ok": True}

    def _offer(self, data: Mapping[str, Any], me: str) -> OfferConversation:
        try:
            return self.desk.offer_for(text(data, "interaction_id", limit=128), me)
        except NotYours as err:
            raise BadRequest(str(err)) from err

    def _held(self, data: Mapping[str, Any], me: str) -> Assignment:
        try:
            return self.desk.assignment_for(text(data, "conversation_id", limit=128), me)
        except NotYours as err:
            raise BadRequest(str(err)) from err

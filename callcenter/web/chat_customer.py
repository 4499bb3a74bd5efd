"""The ``/customer`` Socket.IO namespace: the web-chat widget of the company's site (public).

A visitor is known by a random *visitor token* the widget keeps in localStorage; the server keeps
only its SHA-256 (the customer identity ``visitor:<hash>``), so a leaked database does not let anyone
resume a visitor's chat. A site that signs its logged-in users (``messaging.web_identity_secret``,
``{user_id, signature}``) gets the site account as the identity instead: the chat follows the user
across devices. Messages are stored through :class:`~callcenter.messaging.service.Messaging` as
``webchat`` inbound messages, so customers, conversations and routing are the SMS path's.

Offline form: when no agent is staffed, the widget shows a form whose message is stored like any
other, in a conversation whose subject is :data:`OFFLINE_SUBJECT`: a callback request the queue
serves when agents come back (nothing is lost, and it shows in the customer's timeline).
"""

from __future__ import annotations

import logging
import re
import secrets
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from callcenter.accounts.principal import Principal
from callcenter.core import events as ev
from callcenter.core.acd.agents import AgentState
from callcenter.core.kb.bot import Handoff
from callcenter.core.notices import ChatRated, Notice
from callcenter.core.omni.conversations import Conversation, Message, MessagingChannel
from callcenter.core.omni.customers import Claim, Identity, IdentityKind
from callcenter.errors import StorageError
from callcenter.kb.assistant import Assistant
from callcenter.messaging import identity
from callcenter.messaging.channels.base import InboundMessage, Reply, WebhookError
from callcenter.messaging.channels.webchat import NAMESPACE, room_of
from callcenter.messaging.service import Messaging
from callcenter.outbound.callbacks import Callbacks
from callcenter.service import CallCenter
from callcenter.settings import RealtimeSettings
from callcenter.surveys.service import SurveyService
from callcenter.web import widget_callbacks
from callcenter.web.auth import PUBLIC
from callcenter.web.chat_agent import agent_room, client_id, conversation_messages, sender
from callcenter.web.chat_desk import Desk
from callcenter.web.chat_holds import told_message
from callcenter.web.realtime import Ack, BadRequest, GuardedNamespace, Peer, event, flag, secret_id, text

log = logging.getLogger(__name__)

OFFLINE_SUBJECT = "Offline message: callback requested"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,64}$")

# The event log of the database.
RecordNotice = Callable[[Notice], Awaitable[None]]


@dataclass
class Visitor:
    address: str  # the sender identity's value: replies are emitted to room_of(address)
    sender: Identity
    name: str = ""
    email: str | None = None
    claims: tuple[Claim, ...] = ()
    transcripts: set[str] = field(default_factory=set)  # conversations already emailed


class CustomerNamespace(GuardedNamespace):
    def __init__(
        self,
        settings: RealtimeSettings,
        service: CallCenter,
        messaging: Messaging,
        desk: Desk,
        names: Mapping[str, str],
        record: RecordNotice,
    ) -> None:
        super().__init__(NAMESPACE, settings)
        self.service = service
        self.messaging = messaging
        self.desk = desk
        self.names = names
        self.record = record
        self.visitors: dict[str, Visitor] = {}
        # A visitor's sockets that started, by its address, on every node: the back carries out
        # every socket's events (docs/cluster.md), so it knows whether a visitor has another tab
        # (a new owner, once the nodes have announced their sockets to it: Relay.announce).
        self.tabs: dict[str, set[str]] = {}
        self.assistant: Assistant | None = None  # the virtual agent, when messaging.webchat_assistant
        self.surveys: SurveyService | None = None  # a rating is also a CSAT answer (the reports)
        # "Call me back" (web/widget_callbacks.py): the callbacks service, when it runs here.
        self.callbacks: Callable[[], Callbacks | None] = lambda: None
        # Whether a dialogue flow takes web chats (messaging/bot_flows.py), when flows run here.
        self.bot_answers: Callable[[], bool] | None = None
        self._callbacks_filed: dict[str, int] = {}
        # With several nodes: the desk's web chats written for the visitors' nodes (chat_holds.py).
        self.write_holds: Callable[[], Awaitable[None]] | None = None

    async def accept(self, sid: str, environ: Mapping[str, Any], auth: object) -> Principal | None:
        return None  # anyone may open the widget; each event checks what it needs

    async def left(self, sid: str, peer: Peer) -> None:
        visitor = self.visitors.pop(sid, None)
        if visitor is not None:
            self._untab(visitor.address, sid)
        self._callbacks_filed.pop(sid, None)

    def _untab(self, address: str, sid: str) -> None:
        tabs = self.tabs.get(address)
        if tabs is not None:
            tabs.discard(sid)
            if not tabs:
                del self.tabs[address]

    async def adopted(self, sid: str, principal: Principal | None, context: Mapping[str, Any]) -> None:
        """A socket this back did not see start (it is on another node, or it started under the
        previous owner): its visitor comes back from the last ``start`` its front remembers."""
        start = context.get("start")
        if isinstance(start, dict):
            try:
                await self.on_start(sid, {k: v for k, v in start.items() if k != "message"})
            except BadRequest as err:  # e.g. signed identities turned off since: start again
                log.info("webchat.not_resumed", extra={"detail": str(err)})

    def online(self) -> bool:
        """A chat can be answered now: some agent is staffed (logged in, not paused), or a dialogue
        flow takes web chats (``bot_answers``: it has its own offline form)."""
        if self.bot_answers is not None and self.bot_answers():
            return True
        return any(
            a.state not in (AgentState.LOGGED_OUT, AgentState.PAUSED)
            for a in self.service.engine.agents.values()
        )

    def _visitor(self, sid: str) -> Visitor:
        visitor = self.visitors.get(sid)
        if visitor is None:
            raise BadRequest("start the chat first")
        return visitor

    def current(self, address: str) -> Conversation | None:
        """The visitor's open web-chat conversation (the one a new message would continue)."""
        now = self.service.clock()
        book = self.messaging.conversations
        candidates = [
            c
            for c in self.messaging.conversations_at(address)
            if c.channel == MessagingChannel.WEBCHAT and not c.closed and now - c.last_at <= book.idle_seconds
        ]
        return max(candidates, key=lambda c: c.last_at, default=None)

    def history(self, conversation: Conversation | None) -> list[dict[str, Any]]:
        if conversation is None:
            return []
        messages = conversation_messages(self.messaging, conversation.id)
        return [
            {
                "id": m.id,
                "from": sender(m),
                "body": m.body,
                "at": m.at,
            }
            for m in messages
        ]

    # --- events ----------------------------------------------------------------------------------

    @event("status", PUBLIC)
    async def on_status(self, sid: str, data: dict[str, Any]) -> Ack:
        status: dict[str, Any] = {"online": self.online(), "title": self.settings.widget_title}
        if self.settings.widget_callback_queue and self.callbacks() is not None:
            status["callback"] = True
        if self.assistant is not None:
            status["assistant"] = True
        return status

    @event("ask", PUBLIC)
    async def on_ask(self, sid: str, data: dict[str, Any]) -> Ack:
        """The virtual agent (``messaging.webchat_assistant``): an answer from a public article, or
        ``handoff`` (the widget then starts the chat with a person as usual)."""
        question = text(data, "text", limit=1000)
        if self.assistant is None:
            return {"handoff": "off"}
        try:
            decision = await self.assistant.ask(question)
        except StorageError:
            return {"handoff": "unavailable"}
        if isinstance(decision, Handoff):
            return {"handoff": decision.reason}
        hit = decision.hit
        return {"answer": {"article": hit.id, "title": hit.title, "text": hit.summary}}

    @event("start", PUBLIC)
    async def on_start(self, sid: str, data: dict[str, Any]) -> Ack:
        """Pre-chat form, or a return visit: ``{name, email, identity: {user_id, signature},
        visitor, message}``, all optional. Answers the visitor token to keep and the history."""
        name = text(data, "name", limit=100, required=False)
        email_raw = text(data, "email", limit=254, required=False)
        token = text(data, "visitor", limit=64, required=False)
        if token and not _TOKEN.match(token):
            raise BadRequest("visitor must be the token this server gave")
        token = token or secrets.token_urlsafe(32)
        claims: list[Claim] = []
        email = None
        if email_raw:
            try:
                email = identity.email_address(email_raw)
            except identity.InvalidIdentity as err:
                raise BadRequest("email is not an email address") from err
            claims.append(Claim(Identity(IdentityKind.EMAIL, email), False))  # not verified by us
        signed = data.get("identity")
        if signed is not None:
            sender, verified_phone = self._signed(signed)
            if verified_phone is not None:
                claims.append(Claim(verified_phone, True))  # vouched for by the site's signature
        else:
            sender = Identity(IdentityKind.VISITOR, secret_id(token))
        visitor = Visitor(sender.value, sender, name, email, tuple(claims))
        old = self.visitors.get(sid)
        if old is not None and old.address != visitor.address:
            await self.leave_room(sid, room_of(old.address))
            self._untab(old.address, sid)
        self.visitors[sid] = visitor
        self.tabs.setdefault(visitor.address, set()).add(sid)
        await self.enter_room(sid, room_of(visitor.address))
        first = text(data, "message", limit=self.settings.max_text_chars, required=False)
        if first:
            await self._receive(visitor, first, None, "")
        conversation = self.current(visitor.address)
        held = self.desk.agent_of(conversation.id) if conversation is not None else None
        return {
            "visitor": token if signed is None else None,
            "conversation_id": conversation.id if conversation is not None else None,
            "history": self.history(conversation),
            "agent": self.names.get(held.agent_id, held.agent_id) if held is not None else None,
            "online": self.online(),
            # For the socket's front only (web/sockets.py keeps it, the browser never sees it):
            # whose chat a message the visitor's node stores goes to (chat_holds.py).
            "_visitor": {"kind": sender.kind.value, "address": sender.value},
        }

    def _signed(self, signed: object) -> tuple[Identity, Identity | None]:
        """``{user_id, signature}`` or ``{user_id, phone, signature}`` (the site vouches for the
        phone: calls from that number then reach the same customer)."""
        secret = self.messaging.settings.web_identity_secret
        if secret is None:
            raise BadRequest("signed identities are not enabled on this server")
        if not isinstance(signed, dict):
            raise BadRequest("identity must be {user_id, signature} or {user_id, phone, signature}")
        user_id = text(signed, "user_id", limit=256)
        signature = text(signed, "signature", limit=128)
        phone = text(signed, "phone", limit=32, required=False)
        key = secret.get_secret_value().encode()
        try:
            if phone:
                account, number = identity.signed_web_phone(user_id, phone, signature, key)
                return account, number
            return identity.signed_web_identity(user_id, signature, key), None
        except identity.InvalidIdentity as err:
            raise BadRequest("identity signature does not match") from err

    @event("message", PUBLIC)
    async def on_message(self, sid: str, data: dict[str, Any]) -> Ack:
        """``{text, id}``; ``id`` (the widget's own, optional) makes a resend after a reconnect
        harmless: the same id is stored once."""
        visitor = self._visitor(sid)
        body = text(data, "text", limit=self.settings.max_text_chars)
        ack = await self._receive(visitor, body, client_id(data) or None, "")
        # The visitor's other tabs show it too; most visitors have one, and with several nodes an
        # emit is published to every node whether or not anyone is in the room: not built then.
        if ack.get("id") and len(self.tabs.get(visitor.address, ())) > 1:
            echo = {"id": ack["id"], "from": "customer", "body": body}
            await self.emit("message", echo, room=room_of(visitor.address), skip_sid=sid)
        return ack

    async def _receive(self, visitor: Visitor, body: str, client_id: str | None, subject: str) -> Ack:
        provider_id = f"{visitor.address}:{client_id}" if client_id else f"wc-{uuid.uuid4().hex}"
        inbound = InboundMessage(
            MessagingChannel.WEBCHAT,
            provider_id,
            visitor.sender,
            "webchat",
            body,
            self.service.clock(),
            name=visitor.name,
            subject=subject,
        )
        try:
            received = await self.messaging.receive(inbound, also=visitor.claims)
        except StorageError as err:
            log.warning("webchat.not_stored", extra={"detail": str(err)})
            raise BadRequest("cannot store the message now: try again") from err
        except WebhookError as err:  # not storable as it came (a NUL character...)
            raise BadRequest(str(err)) from err
        if received.message is None or received.conversation is None:
            return {"ok": True, "duplicate": True}
        customer_id = received.conversation.customer_id
        if visitor.name and not self.messaging.customers.current(customer_id).name:
            customer = self.messaging.customers.current(customer_id)
            self.messaging.customers.update(customer.id, inbound.at, by="visitor", name=visitor.name)
            await self.messaging.save_customers({customer.id})
        return {"ok": True, "id": received.message.id, "conversation_id": received.conversation.id}

    @event("typing", PUBLIC)
    async def on_typing(self, sid: str, data: dict[str, Any]) -> Ack:
        visitor = self._visitor(sid)
        typing = flag(data, "typing")
        conversation = self.current(visitor.address)
        held = self.desk.agent_of(conversation.id) if conversation is not None else None
        if conversation is None or held is None:
            return {"ok": True, "relayed": False}
        payload = {"conversation_id": conversation.id, "typing": typing}
        await self.emit("typing", payload, room=agent_room(held.agent_id), namespace="/agent")
        return {"ok": True, "relayed": True}

    @event("offline", PUBLIC)
    async def on_offline(self, sid: str, data: dict[str, Any]) -> Ack:
        """The form shown when no agent is staffed: ``{name, email, text}`` (all required)."""
        text(data, "name", limit=100)
        text(data, "email", limit=254)
        body = text(data, "text", limit=self.settings.max_text_chars)
        form = {k: v for k, v in data.items() if k in ("name", "email", "identity", "visitor")}
        started = await self.on_start(sid, form)
        visitor = self._visitor(sid)
        ack = await self._receive(visitor, body, None, OFFLINE_SUBJECT)
        return {**ack, "visitor": started["visitor"], "_visitor": started["_visitor"]}

    @event("callback", PUBLIC)
    async def on_callback(self, sid: str, data: dict[str, Any]) -> Ack:
        """ "Call me back": ``{number, date, time}`` in the visitor's own time (widget_callbacks.py)."""
        if self._callbacks_filed.get(sid, 0) >= widget_callbacks.PER_SOCKET:
            return {"error": "too many callbacks from this page", "reason": "limit"}
        book = self.messaging.customers
        ack = await widget_callbacks.file(
            self.callbacks(),
            self.settings.widget_callback_queue,
            data,
            lambda who: None if (found := book.owner(who)) is None else found.id,
        )
        if ack.get("ok"):
            self._callbacks_filed[sid] = self._callbacks_filed.get(sid, 0) + 1
        return ack

    @event("transcript", PUBLIC)
    async def on_transcript(self, sid: str, data: dict[str, Any]) -> Ack:
        """Email the conversation to the address of the pre-chat form: once per conversation
        (whatever the socket, node or restart: the outbox row is keyed by the conversation), and
        only once an agent has answered in it. The address is not verified: this keeps our
        mailbox from mailing a visitor's own text to anyone, again and again."""
        visitor = self._visitor(sid)
        outbox, email = self.messaging.outbox, self.messaging.settings.email
        if outbox is None or email is None:
            raise BadRequest("transcripts by email are not available on this server")
        if visitor.email is None:
            raise BadRequest("give an email address in the chat form first")
        conversation = self.current(visitor.address)
        if conversation is None:
            raise BadRequest("there is no conversation to send")
        history = self.history(conversation)
        if not any(m["from"] != "customer" for m in history):
            raise BadRequest("a transcript can be sent once an agent has answered")
        message_id = f"transcript-{conversation.id}"
        try:
            sent = conversation.id in visitor.transcripts or await self.messaging.store.get(message_id)
        except StorageError as err:
            raise BadRequest("cannot queue the email now: try again") from err
        if sent:
            raise BadRequest("the transcript was already sent")
        lines = [f"{'You' if m['from'] == 'customer' else 'Agent'}: {m['body']}" for m in history]
        reply = Reply(
            message_id,
            MessagingChannel.EMAIL,
            visitor.email,
            "Your chat with us:\n\n" + "\n".join(lines) + "\n",
            subject="Your chat transcript",
        )
        try:
            await outbox.enqueue(reply)
        except StorageError as err:
            raise BadRequest("cannot queue the email now: try again") from err
        visitor.transcripts.add(conversation.id)
        return {"ok": True}

    @event("rate", PUBLIC)
    async def on_rate(self, sid: str, data: dict[str, Any]) -> Ack:
        """Satisfaction at the end: ``{score: 1..5, comment}``, kept in the event log."""
        visitor = self._visitor(sid)
        score = data.get("score")
        if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
            raise BadRequest("score must be a whole number from 1 to 5")
        comment = text(data, "comment", limit=1000, required=False)
        conversation = self._last(visitor.address)
        if conversation is None:
            raise BadRequest("there is no conversation to rate")
        try:
            rated = ChatRated(conversation.id, self.service.clock(), score, comment, conversation.customer_id)
            await self.record(rated)
            if self.surveys is not None:
                # The chat's interaction row first (it may have just ended): the answer names it.
                await self.service.stored(self.service.enqueued)
                await self.surveys.rate_chat(conversation.id, score, comment)
        except StorageError as err:
            raise BadRequest("cannot store the rating now: try again") from err
        return {"ok": True}

    async def told(self, entry: Mapping[str, str]) -> None:
        """What a visitor's node stored in a chat an agent holds (``cc:held``, chat_holds.py):
        into the books; to the agent holding the chat now if it moved since (the visitor's node
        showed it to the one it read); to the visitor's other tabs. A bad entry raises
        KeyError or ValueError."""
        await self._took(*told_message(entry))

    async def swept(self, message: Message, customer_id: str, address: str) -> None:
        """A message a visitor's node stored in a held chat and never told (it died between its
        commit and its ``cc:held`` entry: nobody saw it), found by the owner's read-back
        (``chat_holds.HeldSweep``): filed as if told, shown to the agent holding the chat and to
        the visitor's tabs (the one that sent it had no answer)."""
        sender = Identity(IdentityKind.WEB, address)
        if self.messaging.customers.owner(sender) is None:  # not a signed-in user's: a visitor's
            sender = Identity(IdentityKind.VISITOR, address)
        await self._took(message, customer_id, sender, "", "")

    async def _took(
        self, message: Message, customer_id: str, sender: Identity, shown_to: str, sid: str
    ) -> None:
        received = self.messaging.took(message, customer_id, sender, shown_to)
        if received is None or received.message is None:
            return
        if self.tabs.get(sender.value, set()) - {sid}:
            echo = {"id": message.id, "from": "customer", "body": message.body}
            await self.emit("message", echo, room=room_of(sender.value), skip_sid=sid)

    def _last(self, address: str) -> Conversation | None:
        return max(self.messaging.conversations_at(address), key=lambda c: c.last_at, default=None)

    @event("end", PUBLIC)
    async def on_end(self, sid: str, data: dict[str, Any]) -> Ack:
        """The visitor closes the chat: the agent is told and the interaction ends."""
        visitor = self._visitor(sid)
        conversation = self.current(visitor.address)
        held = self.desk.release(conversation.id) if conversation is not None else None
        if held is not None and self.write_holds is not None:  # nothing more stored for the agent
            await self.write_holds()
        if conversation is not None and held is not None:
            try:
                now = self.service.clock()
                self.service.handle(ev.ConversationEnded(held.interaction_id, "customer", now))
            except Exception as err:  # the engine may have ended it already: the visitor is gone
                raise BadRequest(f"refused: {err}") from err
            payload = {"conversation_id": conversation.id, "by": "customer"}
            await self.emit("ended", payload, room=agent_room(held.agent_id), namespace="/agent")
        return {"ok": True}


def remember(name: str, payload: Mapping[str, Any], ack: Ack, context: dict[str, Any]) -> None:
    """The front's note of the visitor (``web/sockets.py``): the form of the last ``start`` (or
    offline form) with the visitor token the server gave, never the first message."""
    if name in ("start", "offline"):
        start = {k: payload[k] for k in ("name", "email", "identity") if k in payload}
        visitor = ack.get("visitor") or payload.get("visitor")
        if isinstance(visitor, str) and visitor:
            start["visitor"] = visitor
        context["start"] = start
    # Whose chat a message stored by the visitor's node goes to (chat_holds.VisitorMessages).
    visitor_of = ack.get("_visitor")
    if isinstance(visitor_of, dict):
        context["visitor"] = visitor_of
    if name in ("start", "offline", "end"):
        context.pop("held", None)  # the chat the visitor's node knew may be another's now

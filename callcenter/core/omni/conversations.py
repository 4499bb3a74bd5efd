"""Conversations: the messages exchanged with a customer on one messaging channel, and their status.

Invariants:

- A provider message id (WeChat MsgId, WhatsApp wamid, Twilio MessageSid, email Message-ID) is
  recorded once per channel: a re-delivery is reported as a duplicate and changes nothing.
- An outbound message's delivery status only moves forward along ``_NEXT`` (a late "sent" after
  "delivered" is ignored); an inbound message is ``received`` for ever.
- Email threads by ``In-Reply-To``, then ``References`` (newest first): a reply lands in the
  conversation of the message it answers, whoever sends it. Other channels continue the customer's
  open conversation on that channel while it has been active within ``idle_seconds``.

A new conversation is the moment routing must hear of: ``receive`` returns a
:class:`ConversationOpened`, the seam towards the ACD (see docs/omnichannel.md).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace

from callcenter.core.errors import DomainError


class MessagingChannel(enum.StrEnum):
    SMS = "sms"
    WHATSAPP = "whatsapp"
    WECHAT = "wechat"
    EMAIL = "email"
    WEBCHAT = "webchat"


class Direction(enum.StrEnum):
    IN = "in"
    OUT = "out"


class Delivery(enum.StrEnum):
    RECEIVED = "received"  # inbound
    QUEUED = "queued"  # in our outbox, not yet accepted by the provider
    SENT = "sent"  # the provider accepted it
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"  # the provider gave up, or we did after the last retry


# Forward moves of an outbound message's status. Anything else is ignored (out-of-order callbacks).
_NEXT: Mapping[Delivery, frozenset[Delivery]] = {
    Delivery.QUEUED: frozenset({Delivery.SENT, Delivery.DELIVERED, Delivery.READ, Delivery.FAILED}),
    Delivery.SENT: frozenset({Delivery.DELIVERED, Delivery.READ, Delivery.FAILED}),
    Delivery.DELIVERED: frozenset({Delivery.READ}),
    Delivery.READ: frozenset(),
    Delivery.FAILED: frozenset(),
    Delivery.RECEIVED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class Media:
    kind: str  # image, audio, video, document
    ref: str  # provider media id or URL
    mime_type: str = ""
    caption: str = ""


@dataclass(frozen=True, slots=True)
class Inbound:
    """A message as an adapter parsed it (customer already resolved by the caller)."""

    channel: MessagingChannel
    provider_id: str
    body: str
    at: float
    media: tuple[Media, ...] = ()
    subject: str = ""
    # Email threading headers (angle brackets stripped).
    message_id: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    conversation_id: str
    channel: MessagingChannel
    direction: Direction
    body: str
    at: float
    status: Delivery
    provider_id: str | None = None
    media: tuple[Media, ...] = ()
    message_id: str | None = None  # email Message-ID
    status_detail: str = ""
    author: str = ""  # outbound: "" an agent (or the system), "bot" the virtual agent


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    customer_id: str
    channel: MessagingChannel
    started_at: float
    last_at: float
    subject: str = ""
    closed: bool = False


@dataclass(frozen=True, slots=True)
class ConversationOpened:
    """Seam to the ACD: a new messaging interaction wants an agent. The service turns it (with the
    customer's :class:`~callcenter.core.omni.customers.Routing`) into the engine's arrival event."""

    conversation_id: str
    customer_id: str
    channel: MessagingChannel
    at: float
    queue: str | None = None


@dataclass(frozen=True, slots=True)
class Received:
    message: Message | None  # None: a duplicate
    conversation: Conversation | None
    opened: ConversationOpened | None = None
    # The agent the visitor's node showed it to already (``ConversationBook.took``).
    shown_to: str | None = None

    @property
    def duplicate(self) -> bool:
        return self.message is None


class ConversationError(DomainError):
    """A message or change the conversation book does not allow."""


@dataclass
class ConversationBook:
    idle_seconds: float = 24 * 3600
    conversations: dict[str, Conversation] = field(default_factory=dict)
    messages: dict[str, Message] = field(default_factory=dict)
    _by_provider: dict[tuple[MessagingChannel, str], str] = field(default_factory=dict)
    _by_email_id: dict[str, str] = field(default_factory=dict)  # Message-ID -> conversation
    # Indexes, so that threading a message and a customer's timeline cost what that customer has,
    # not what the whole book holds (ordered sets: dicts with None values).
    _of_customer: dict[str, dict[str, None]] = field(default_factory=dict)  # -> conversation ids
    _of_conversation: dict[str, dict[str, None]] = field(default_factory=dict)  # -> message ids

    def receive(
        self,
        inbound: Inbound,
        customer_id: str,
        *,
        message_id: str,
        conversation_id: str,
        into: str | None = None,
        at_address: Collection[str] = (),
    ) -> Received:
        """Record an inbound message; ``message_id``/``conversation_id`` are fresh ids to use.
        ``into``: a conversation of this customer the message belongs to even if closed (the answer
        to a survey sent into it) when no open one takes it: filed there, it opens nothing.
        ``at_address``: the conversations whose replies go to the sender's address; an open one
        takes the message before the customer's others, even if filed under a customer merged into
        this one since (two browsers or phones, a chat open at each, keep their own conversations,
        as a visitor's node files them: docs/cluster.md)."""
        key = (inbound.channel, inbound.provider_id)
        if key in self._by_provider:
            return Received(None, None)
        conversation = self._thread(inbound, customer_id, at_address)
        if conversation is None and into is not None:
            target = self.conversations.get(into)
            conversation = target if target is not None and target.customer_id == customer_id else None
        opened = None
        if conversation is None:
            conversation = Conversation(
                conversation_id, customer_id, inbound.channel, inbound.at, inbound.at, inbound.subject
            )
            opened = ConversationOpened(conversation_id, customer_id, inbound.channel, inbound.at)
        else:
            conversation = replace(conversation, last_at=max(conversation.last_at, inbound.at))
        self._put(conversation)
        message = Message(
            message_id,
            conversation.id,
            inbound.channel,
            Direction.IN,
            inbound.body,
            inbound.at,
            Delivery.RECEIVED,
            inbound.provider_id,
            inbound.media,
            inbound.message_id,
        )
        self._add(message)
        return Received(message, conversation, opened)

    def took(self, message: Message, shown_to: str | None = None) -> Received:
        """An inbound message another node stored in an open conversation of this book (a web
        chat an agent holds, docs/cluster.md); a duplicate (the same id or provider id) changes
        nothing. ConversationError: no such conversation."""
        if message.id in self.messages or (
            message.provider_id and (message.channel, message.provider_id) in self._by_provider
        ):
            return Received(None, None)
        conversation = self.conversations.get(message.conversation_id)
        if conversation is None:
            raise ConversationError(f"no conversation {message.conversation_id!r}")
        conversation = replace(conversation, last_at=max(conversation.last_at, message.at))
        self._put(conversation)
        self._add(message)
        return Received(message, conversation, shown_to=shown_to)

    def reply(
        self,
        conversation_id: str,
        body: str,
        at: float,
        *,
        message_id: str,
        email_id: str | None = None,
        media: tuple[Media, ...] = (),
        author: str = "",
    ) -> Message:
        """A queued outbound message (the outbox sends it and reports its status)."""
        conversation = self.conversations.get(conversation_id)
        if conversation is None:
            raise ConversationError(f"no conversation {conversation_id!r}")
        message = Message(
            message_id,
            conversation_id,
            conversation.channel,
            Direction.OUT,
            body,
            at,
            Delivery.QUEUED,
            None,
            media,
            email_id,
            author=author,
        )
        self._add(message)
        self._put(replace(conversation, last_at=max(conversation.last_at, at)))
        return message

    def start(
        self, conversation_id: str, customer_id: str, channel: MessagingChannel, at: float
    ) -> Conversation:
        """A conversation we begin (a survey sent after a call), closed from the start: the
        customer's messages do not thread into it unless filed there (``receive(into=...)``)."""
        if conversation_id in self.conversations:
            raise ConversationError(f"conversation {conversation_id!r} exists")
        conversation = Conversation(conversation_id, customer_id, channel, at, at, closed=True)
        self._put(conversation)
        return conversation

    def close(self, conversation_id: str) -> Conversation:
        """The conversation is over (its interaction ended): the customer's next message on this
        channel opens a new one, which is routed again."""
        conversation = self.conversations.get(conversation_id)
        if conversation is None:
            raise ConversationError(f"no conversation {conversation_id!r}")
        closed = replace(conversation, closed=True)
        self._put(closed)
        return closed

    def status(
        self, message_id: str, status: Delivery, *, provider_id: str | None = None, detail: str = ""
    ) -> Message | None:
        """Move an outbound message's status forward; ``None`` if the move is not forward."""
        message = self.messages.get(message_id)
        if message is None:
            raise ConversationError(f"no message {message_id!r}")
        if status not in _NEXT[message.status]:
            return None
        updated = replace(
            message, status=status, provider_id=provider_id or message.provider_id, status_detail=detail
        )
        self._add(updated)
        return updated

    def restore(self, conversations: Iterable[Conversation], messages: Iterable[Message]) -> None:
        """Load saved conversations and their messages (oldest first)."""
        for c in conversations:
            self._put(c)
        for m in messages:
            if m.conversation_id in self.conversations:
                self._add(m)

    def forget(self, message_id: str, *, conversation_too: bool) -> None:
        """Drop a message just recorded (the database had it already: a re-delivery after a restart)."""
        message = self.messages.pop(message_id, None)
        if message is None:
            return
        if message.provider_id:
            self._by_provider.pop((message.channel, message.provider_id), None)
        if message.message_id:
            self._by_email_id.pop(message.message_id, None)
        self._of_conversation.get(message.conversation_id, {}).pop(message_id, None)
        if conversation_too:
            conversation = self.conversations.pop(message.conversation_id, None)
            if conversation is not None:
                self._of_customer.get(conversation.customer_id, {}).pop(conversation.id, None)
                self._of_conversation.pop(conversation.id, None)

    def expired(self, kept_seconds: Callable[[Conversation], float | None], now: float) -> list[Conversation]:
        """Closed conversations whose last message is older than their retention (``kept_seconds``:
        how long a conversation is kept after its last message; None: kept until deleted), and none
        of whose replies is still waiting for its provider. Open ones are kept: someone holds them."""
        found = []
        for c in self.conversations.values():
            kept = kept_seconds(c) if c.closed else None
            if kept is None or now - c.last_at <= kept:
                continue
            messages = self._of_conversation.get(c.id, ())
            if not any(self.messages[m].status == Delivery.QUEUED for m in messages):
                found.append(c)
        return found

    def drop(self, conversation_id: str) -> int:
        """Remove a conversation and all its messages (retention); how many messages went."""
        message_ids = list(self._of_conversation.get(conversation_id, ()))
        for message_id in message_ids:
            self.forget(message_id, conversation_too=False)
        conversation = self.conversations.pop(conversation_id, None)
        if conversation is not None:
            self._of_customer.get(conversation.customer_id, {}).pop(conversation_id, None)
        self._of_conversation.pop(conversation_id, None)
        return len(message_ids)

    def by_provider_id(self, channel: MessagingChannel, provider_id: str) -> Message | None:
        found = self._by_provider.get((channel, provider_id))
        return None if found is None else self.messages[found]

    def messages_of(self, conversation_id: str) -> list[Message]:
        """A conversation's messages, oldest first."""
        found = map(self.messages.__getitem__, self._of_conversation.get(conversation_id, ()))
        return sorted(found, key=lambda m: (m.at, m.id))

    def timeline(self, customer_ids: Iterable[str]) -> list[Message]:
        """Every message of these customers (a customer and those merged into it), oldest first."""
        return sorted(
            (
                self.messages[m]
                for customer_id in set(customer_ids)
                for c in self._of_customer.get(customer_id, ())
                for m in self._of_conversation.get(c, ())
            ),
            key=lambda m: (m.at, m.id),
        )

    def _thread(self, inbound: Inbound, customer_id: str, at_address: Collection[str]) -> Conversation | None:
        if inbound.channel == MessagingChannel.EMAIL:
            for parent in (inbound.in_reply_to, *reversed(inbound.references)):
                if parent and parent in self._by_email_id:
                    return self.conversations[self._by_email_id[parent]]
            return None

        def going(c: Conversation) -> bool:
            idle = inbound.at - c.last_at > self.idle_seconds
            return c.channel == inbound.channel and not c.closed and not idle

        # The sender's own first, whichever customer it was filed under (one merged since).
        own = [c for i in at_address if (c := self.conversations.get(i)) is not None and going(c)]
        if own:
            return max(own, key=lambda c: c.last_at)
        customers = map(self.conversations.__getitem__, self._of_customer.get(customer_id, ()))
        candidates = [c for c in customers if going(c)]
        return max(candidates, key=lambda c: c.last_at, default=None)

    def _put(self, conversation: Conversation) -> None:
        self.conversations[conversation.id] = conversation
        self._of_customer.setdefault(conversation.customer_id, {})[conversation.id] = None

    def _add(self, message: Message) -> None:
        self.messages[message.id] = message
        self._of_conversation.setdefault(message.conversation_id, {})[message.id] = None
        if message.provider_id:
            self._by_provider[(message.channel, message.provider_id)] = message.id
        if message.message_id:
            self._by_email_id[message.message_id] = message.conversation_id

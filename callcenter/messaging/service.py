"""The messaging service: channel events in, customers resolved, conversations kept, replies queued.

Like ``service.py`` for calls, this is where the pure books (customers, conversations) meet the
adapters (database, outbox). Each book change happens synchronously between awaits, so on one event
loop two deliveries of the same message cannot both pass the duplicate check.

The seam to routing: when a message opens a conversation, ``on_opened`` is called with the
:class:`~callcenter.core.omni.conversations.ConversationOpened` and the customer's
:class:`~callcenter.core.omni.customers.Routing` (VIP priority, business line and tags as skills,
language); it is also kept in ``opened``. The server connects it to the ACD through
``callcenter/messaging/routing.py`` (a ``ConversationArrived`` per new conversation; further
messages of an open conversation route nothing); when the interaction ends, ``close`` marks the
conversation closed, so the customer's next message opens (and routes) a new one.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from callcenter import metrics
from callcenter.core.omni.conversations import (
    Conversation,
    ConversationBook,
    ConversationError,
    ConversationOpened,
    Delivery,
    Direction,
    Inbound,
    Message,
    MessagingChannel,
    Received,
)
from callcenter.core.omni.customers import (
    Claim,
    Customer,
    CustomerBook,
    Identity,
    MergeRecord,
    Routing,
    UnknownCustomer,
    routing_of,
)
from callcenter.messaging import identity
from callcenter.messaging.channels.base import InboundMessage, Reply, StatusUpdate, WebhookError, sane_time
from callcenter.messaging.outbox import Outbox
from callcenter.settings import MessagingSettings
from callcenter.storage.db import DatabaseError
from callcenter.storage.messaging_store import CustomerChanges, DuplicateMessage, MessagingStore

log = logging.getLogger(__name__)

# Delivery reports for ids not known yet, kept (oldest dropped first) until the send returns.
_EARLY_LIMIT = 1000

OpenedCallback = Callable[[ConversationOpened, Routing], None]
# Told of every new inbound message once it is stored (the agent panel shows it live).
ReceivedListener = Callable[[Received, InboundMessage], None]
# Whether a new conversation is taken by something else than routing to agents (e-mail that opens
# tickets: callcenter/tickets/inbound.py); then ``on_opened`` is not called for it.
Divert = Callable[[ConversationOpened], bool]


class SurveyReplies(Protocol):
    """Answers to surveys sent into closed conversations (``callcenter/surveys/service.py``)."""

    def reply_conversation(self, customer_id: str, channel: str, body: str, at: float) -> str | None: ...

    async def take_reply(self, customer_id: str, channel: str, body: str, at: float) -> object: ...


@dataclass(frozen=True, slots=True)
class _Taken:
    """Customers' changes taken for one write, and what to give back if it fails."""

    changes: CustomerChanges
    ids: set[str]
    merge_ids: set[str]
    audited: int  # audit entries it covers (those with impossible times are dropped, not retried)


def _new_id() -> str:
    return uuid.uuid4().hex


# A write started within this many windows of the one before waits for company: messages are
# coming fast enough for some to arrive within the window (at 200 a second, one every 5 ms on
# average); a message after a quieter spell is written at once.
BUSY_WINDOWS = 2


def company_wait(since_last_write: float, window: float) -> float:
    """How long the first message of a write waits for others to share its commit."""
    return window if window > 0 and since_last_write < BUSY_WINDOWS * window else 0.0


@dataclass
class Messaging:
    store: MessagingStore
    settings: MessagingSettings
    clock: Callable[[], float]
    on_opened: OpenedCallback | None = None
    ids: Callable[[], str] = _new_id
    customers: CustomerBook = field(default_factory=CustomerBook)
    conversations: ConversationBook = field(default_factory=ConversationBook)
    outbox: Outbox | None = None
    opened: list[tuple[ConversationOpened, Routing]] = field(default_factory=list)
    addresses: dict[str, str] = field(default_factory=dict)  # conversation -> where replies go
    # address -> its conversations (a dict as an ordered set: a message asks whether one is there)
    _at_address: dict[str, dict[str, None]] = field(default_factory=dict)
    listeners: list[ReceivedListener] = field(default_factory=list)
    diverts: list[Divert] = field(default_factory=list)
    # A survey's answer is filed into the closed conversation it answers, and opens nothing.
    survey_replies: SurveyReplies | None = None
    _audit_saved: int = 0
    # Customers and merges changed in the book whose save failed: written with the next save.
    _unsaved: set[str] = field(default_factory=set)
    _unsaved_merges: set[str] = field(default_factory=set)
    _early: dict[tuple[MessagingChannel, str], StatusUpdate] = field(default_factory=dict)
    _save_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Resolved when the customers noted in _unsaved by then are written (group commit).
    _customers_written: asyncio.Future[None] | None = None
    _pending: list[tuple[Message, str, asyncio.Future[None]]] = field(default_factory=list)
    _flusher: asyncio.Task[None] | None = None
    _last_write: float = float("-inf")  # when the last write was started (time.monotonic)
    # Messages being written, by (channel, provider id): whether the write committed.
    _in_flight: dict[tuple[MessagingChannel, str], asyncio.Future[bool]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.conversations.idle_seconds = self.settings.conversation_idle_seconds

    async def restore(self) -> None:
        """Load customers, conversations and messages saved by earlier runs (at start-up)."""
        customers, merges, audit = await self.store.customers()
        self.customers.restore(customers, merges, audit)
        self._audit_saved = len(self.customers.audit)
        conversations = await self.store.conversations()
        messages = [m for m, _ in await self.store.messages()]
        self.conversations.restore([c for c, _ in conversations], messages)
        for c, address in conversations:
            self._set_address(c.id, address)

    def conversations_at(self, address: str) -> list[Conversation]:
        """The conversations whose replies go to this address (a web visitor, a phone number...)."""
        book = self.conversations.conversations
        return [c for cid in self._at_address.get(address, ()) if (c := book.get(cid)) is not None]

    def _set_address(self, conversation_id: str, address: str) -> None:
        if conversation_id not in self.addresses:
            self.addresses[conversation_id] = address
            self._at_address.setdefault(address, {})[conversation_id] = None

    async def save_customers(self, ids: set[str], merges: tuple[MergeRecord, ...] = ()) -> None:
        """Persist these customers as they are *now*, the merges and the new audit entries.

        Under a lock, and reading the book only once the lock is held: a slower earlier save can
        never overwrite a newer state with an older one. Saves asked for while one is written go
        together in the next transaction (group commit: a burst of new chats is one commit per
        batch, not per customer); each caller returns once its customers are written.
        """
        self._unsaved |= ids
        self._unsaved_merges |= {m.id for m in merges}
        if self._customers_written is None:
            self._customers_written = asyncio.get_running_loop().create_future()
        written = self._customers_written
        async with self._save_lock:
            if written.done():  # a save that began after this call's ids were noted wrote them
                return written.result()
            self._customers_written = asyncio.get_running_loop().create_future()
            try:
                await self._write_customers()
            except BaseException as err:
                written.set_exception(err)
                written.exception()  # retrieved: this caller raises it, the others too
                raise
            written.set_result(None)

    async def _write_customers(self) -> None:
        taken = self._take_customers()
        if taken.changes:
            try:
                await self.store.save_customers(taken.changes)
            except BaseException:
                self._give_back(taken)
                raise
        self._audit_saved += taken.audited

    def _take_customers(self) -> _Taken:
        """What of the customers' book is not written yet (under the save lock): customers noted
        in ``_unsaved`` (with those an earlier save failed to write), merges, new audit entries."""
        ids, merge_ids = self._unsaved, self._unsaved_merges
        self._unsaved, self._unsaved_merges = set(), set()
        records = [self.customers.get(i) for i in sorted(ids)]
        current = [self.customers.merge_record(m) for m in sorted(merge_ids)]
        pending = self.customers.audit[self._audit_saved :]
        # Entries not saved yet are retried with the next save, whoever's it is: one the
        # database can never take (an impossible time) would fail every later save, for every
        # customer. Such a record is dropped (logged) instead; the edge refuses those times.
        bad = [(r.id, r.created_at) for r in records if not sane_time(r.created_at)]
        bad += [(e.customer_id, e.at) for e in pending if not sane_time(e.at)]
        for customer_id, at in bad:
            log.error("messaging.unstorable_time", extra={"customer": customer_id, "at": repr(at)})
        records = [r for r in records if sane_time(r.created_at)]
        audit = [e for e in pending if sane_time(e.at)]
        return _Taken(CustomerChanges(records, current, audit), ids, merge_ids, len(pending))

    def _give_back(self, taken: _Taken) -> None:
        """A write of what ``_take_customers`` took failed: the next save writes it."""
        self._unsaved |= taken.ids
        self._unsaved_merges |= taken.merge_ids

    async def _save_conversation(self, conversation_id: str) -> None:
        async with self._save_lock:
            conversation = self.conversations.conversations.get(conversation_id)
            if conversation is None:
                return  # closed, then deleted by the retention sweep while this save waited
            await self.store.save_conversation(conversation, self.addresses.get(conversation_id, ""))

    async def _store_received(self, message: Message, customer_id: str) -> None:
        """Store a new inbound message with its conversation. Messages arriving while a write is
        in flight, or while its first waits for company (``group_commit_ms``, only while messages
        keep coming), go together in one transaction (group commit): under load the database sees
        one commit per batch, not per message."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((message, customer_id, done))
        if self._flusher is None or self._flusher.done():
            now = time.monotonic()
            wait = company_wait(now - self._last_write, self.settings.group_commit_ms / 1000)
            self._last_write = now
            self._flusher = asyncio.get_running_loop().create_task(self._flush(wait))
        await done

    async def _flush(self, wait: float) -> None:
        batch: list[tuple[Message, str, asyncio.Future[None]]] = []
        try:
            if wait > 0:
                await asyncio.sleep(wait)
            while self._pending:
                batch, self._pending = self._pending, []
                await self._write(batch)
        except BaseException as err:  # cancelled at shutdown: nobody may wait for ever
            for _, _, done in batch + self._pending:
                if not done.done():
                    done.set_exception(DatabaseError(f"not stored: {type(err).__name__}"))
            self._pending = []
            raise

    async def _write(self, batch: list[tuple[Message, str, asyncio.Future[None]]]) -> None:
        # Under the lock, conversations are read as they are now (a slower earlier save never
        # writes an older conversation over a newer one).
        async with self._save_lock:
            ids = dict.fromkeys(m.conversation_id for m, _, _ in batch)
            conversations = [(self.conversations.conversations[c], self.addresses.get(c, "")) for c in ids]
            # The customers these messages created or changed go in the same transaction.
            customers = self._take_customers()
            try:
                await self.store.save_received_batch(
                    [(m, c) for m, c, _ in batch], conversations, customers.changes or None
                )
            except Exception:
                self._give_back(customers)  # saved by the receivers' own save_customers
                # One by one below: a duplicate (stored before a restart) fails only itself.
            else:
                self._audit_saved += customers.audited
                for _, _, done in batch:
                    if not done.done():
                        done.set_result(None)
                return
            for message, customer_id, done in batch:
                conversation = self.conversations.conversations[message.conversation_id]
                address = self.addresses.get(conversation.id, "")
                try:
                    await self.store.save_received(message, customer_id, conversation, address)
                except Exception as err:
                    if not done.done():
                        done.set_exception(err)
                    continue
                if not done.done():
                    done.set_result(None)

    async def identify(self, who: Identity, at: float) -> str:
        """The customer of a strong identity seen outside messaging (a caller's number), created
        when new and saved; the id of the customer it now belongs to."""
        audit_before = len(self.customers.audit)
        resolution = self.customers.identify(Claim(who, True), at, new_id=self.ids())
        if len(self.customers.audit) > audit_before or resolution.merged:
            changed = {resolution.customer.id, *(m.source.id for m in resolution.merged)}
            await self.save_customers(changed, resolution.merged)
        return resolution.customer.id

    async def receive(self, inbound: InboundMessage, *, also: tuple[Claim, ...] = ()) -> Received:
        """Record an inbound message (a duplicate is reported and changes nothing). WebhookError:
        its time could not be stored (the adapters refuse such times first). DatabaseError: not
        stored (nor remembered: the provider's retry is a new delivery)."""
        if not sane_time(inbound.at):
            raise WebhookError(f"the message's time is out of range: {inbound.at!r}")
        check_storable(inbound)
        first = self._in_flight.get((inbound.channel, inbound.provider_id))
        if first is not None:
            # An earlier delivery of this message is being written: its outcome is this one's.
            if not await asyncio.shield(first):
                raise DatabaseError("the message could not be stored; retry")
            return Received(None, None)
        if self.conversations.by_provider_id(inbound.channel, inbound.provider_id) is not None:
            return Received(None, None)
        customer, merges, book_changed = self._sender(inbound, also)
        answers = self._answers(customer.id, inbound)
        received = self._file(inbound, customer.id, into=answers)
        assert received.message is not None and received.conversation is not None
        if received.conversation.id != answers:
            answers = None  # an open conversation took it: part of that one, not an answer
        changed = {customer.id, *(m.source.id for m in merges)}
        merged = {m.id for m in merges}
        if book_changed:
            # Written with the message (group commit), else by save_customers below; a customer
            # whose message is not stored stays in the book, saved with the next save.
            self._unsaved |= changed
            self._unsaved_merges |= merged
        key = (inbound.channel, inbound.provider_id)
        stored: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = stored
        try:
            await self._store_received(received.message, customer.id)
        except DuplicateMessage:
            # Stored before a restart: the provider re-delivered it. Forget this copy.
            self._forget(received)
            stored.set_result(True)
            return Received(None, None)
        except BaseException:
            # Not stored (503 to the provider): forget it, so the provider's retry is stored and
            # not taken for a duplicate. Deduplication follows the commit. The customer it
            # created or changed stays in the book: saved with the next save.
            self._forget(received)
            stored.set_result(False)
            raise
        finally:
            del self._in_flight[key]
        stored.set_result(True)
        if changed & self._unsaved or merged & self._unsaved_merges:
            # Not written with the message (its batch was saved one by one): saved now.
            await self.save_customers(changed, merges)
        self._announce(received, inbound, customer.id)
        if answers is not None:
            await self._survey_answer(customer.id, inbound)
        return received

    def knows(self, message_id: str) -> bool:
        """Whether this message is in the books."""
        return message_id in self.conversations.messages

    def took(self, message: Message, customer_id: str, sender: Identity, shown_to: str) -> Received | None:
        """A visitor's message another node stored in a web chat an agent holds (docs/cluster.md):
        filed in the books and given to the listeners as if received here (it opens nothing; the
        agent ``shown_to`` has seen it). None: known already, or no such conversation here."""
        try:
            received = self.conversations.took(message, shown_to)
        except ConversationError:
            metrics.WEBCHAT_TOLD.labels("unknown").inc()
            return None
        if received.message is None:
            metrics.WEBCHAT_TOLD.labels("known").inc()
            return None
        metrics.WEBCHAT_TOLD.labels("filed").inc()
        self._set_address(message.conversation_id, sender.value)
        inbound = InboundMessage(
            message.channel, message.provider_id or message.id, sender, "webchat", message.body, message.at
        )
        self._announce(received, inbound, customer_id)
        return received

    def _answers(self, customer_id: str, inbound: InboundMessage) -> str | None:
        """The closed conversation this message answers a survey in, if it does."""
        if self.survey_replies is None:
            return None
        return self.survey_replies.reply_conversation(
            customer_id, inbound.channel.value, inbound.body, inbound.at
        )

    async def _survey_answer(self, customer_id: str, inbound: InboundMessage) -> None:
        """A stored message that answers a survey: its answer recorded."""
        if self.survey_replies is None:
            return
        try:
            await self.survey_replies.take_reply(customer_id, inbound.channel.value, inbound.body, inbound.at)
        except Exception as err:  # the message is stored: the answer's row is what failed
            log.error("messaging.survey_answer_failed", extra={"error": str(err)})

    def _sender(
        self, inbound: InboundMessage, also: tuple[Claim, ...]
    ) -> tuple[Customer, tuple[MergeRecord, ...], bool]:
        """The sender's customer (found, created or merged as the claims say) and the merges;
        whether the book changed (every change is audited: no new entry, nothing to save)."""
        audit_before = len(self.customers.audit)
        claims = also + _implied_claims(inbound.sender)
        resolution = self.customers.identify(
            Claim(inbound.sender, True), inbound.at, new_id=self.ids(), also=claims
        )
        customer = resolution.customer
        if inbound.name and not customer.name:
            # The sender's display name (pre-chat form, WhatsApp profile...) names a customer who
            # has none yet, before routing: the agent's offer shows it.
            by = inbound.channel.value
            customer = self.customers.update(customer.id, inbound.at, by=by, name=inbound.name)
        merges = tuple(resolution.merged)
        return customer, merges, len(self.customers.audit) > audit_before or bool(merges)

    def _file(self, inbound: InboundMessage, customer_id: str, into: str | None = None) -> Received:
        """The message in the conversation book (threaded, or opening a conversation)."""
        received = self.conversations.receive(
            Inbound(
                inbound.channel,
                inbound.provider_id,
                inbound.body,
                inbound.at,
                inbound.media,
                inbound.subject,
                inbound.message_id,
                inbound.in_reply_to,
                inbound.references,
            ),
            customer_id,
            message_id=self.ids(),
            conversation_id=self.ids(),
            into=into,
            at_address=self._at_address.get(inbound.sender.value, ()),
        )
        assert received.message is not None and received.conversation is not None
        self._set_address(received.conversation.id, inbound.sender.value)
        return received

    def _announce(self, received: Received, inbound: InboundMessage, customer_id: str) -> None:
        """A stored message: a conversation it opened goes to routing; listeners are told."""
        diverted = received.opened is not None and any(d(received.opened) for d in self.diverts)
        if received.opened is not None and diverted:
            log.info(
                "messaging.conversation_diverted",
                extra={"conversation": received.opened.conversation_id, "channel": inbound.channel.value},
            )
        elif received.opened is not None:
            routing = routing_of(self.customers.current(customer_id), vip_priority=self.settings.vip_priority)
            self.opened.append((received.opened, routing))
            log.info(
                "messaging.conversation_opened",
                extra={"conversation": received.opened.conversation_id, "channel": inbound.channel.value},
            )
            if self.on_opened is not None:
                self.on_opened(received.opened, routing)
        for listener in self.listeners:
            try:
                listener(received, inbound)
            except Exception:  # a listener's bug must not undo a stored message
                log.exception("messaging.listener_failed")

    def _forget(self, received: Received) -> None:
        """Drop a message recorded in the books but not stored, and the conversation it opened
        unless another message went into that conversation meanwhile."""
        assert received.message is not None
        message = received.message
        others = [m for m in self.conversations.messages_of(message.conversation_id) if m.id != message.id]
        self.conversations.forget(message.id, conversation_too=received.opened is not None and not others)

    async def start_conversation(self, customer_id: str, channel: MessagingChannel, address: str) -> str:
        """A closed conversation of ours with a customer at ``address`` (their phone number...),
        stored, to send into with :meth:`reply` (a survey after a call). Its id."""
        conversation = self.conversations.start(self.ids(), customer_id, channel, self.clock())
        self._set_address(conversation.id, address)
        try:
            await self._save_conversation(conversation.id)
        except BaseException:
            self.conversations.drop(conversation.id)
            self.addresses.pop(conversation.id, None)
            self._at_address.get(address, {}).pop(conversation.id, None)
            raise
        return conversation.id

    async def close(self, conversation_id: str) -> bool:
        """Close a conversation (its interaction ended); ``False`` if unknown or already closed."""
        conversation = self.conversations.conversations.get(conversation_id)
        if conversation is None or conversation.closed:
            return False
        self.conversations.close(conversation_id)
        await self._save_conversation(conversation_id)
        log.info("messaging.conversation_closed", extra={"conversation": conversation_id})
        return True

    def _kept_seconds(self, conversation: Conversation) -> float | None:
        """How long a closed conversation is kept after its last message: the retention of its
        customer's business line (``messaging.retention_days``), else the default."""
        try:
            line = self.customers.current(conversation.customer_id).business_line
        except UnknownCustomer:
            line = None
        days = self.settings.retention_days.get(line or "default", self.settings.default_retention_days)
        return None if days is None else days * 86400.0

    async def purge(self, now: datetime) -> int:
        """Retention: delete closed conversations past their business line's retention, with their
        messages (attachments are the providers' references, stored with them). The database
        first, then the books; a failed delete leaves both as they were. How many messages went."""
        async with self._save_lock:
            expired = self.conversations.expired(self._kept_seconds, now.timestamp())
            if not expired:
                return 0
            ids = [c.id for c in expired]
            deleted = await self.store.delete_conversations(ids)
            for conversation_id in ids:
                self.conversations.drop(conversation_id)
                address = self.addresses.pop(conversation_id, None)
                self._at_address.get(address or "", {}).pop(conversation_id, None)
        log.info("messaging.purged", extra={"conversations": len(ids), "messages": deleted})
        return deleted

    async def status(self, update: StatusUpdate) -> Message | None:
        """A provider's delivery report. One for an id we do not know yet is kept a while: the
        provider can report "delivered" before our send request has returned its id."""
        message = self.conversations.by_provider_id(update.channel, update.provider_id)
        if message is None:
            self._early[(update.channel, update.provider_id)] = update
            while len(self._early) > _EARLY_LIMIT:
                self._early.pop(next(iter(self._early)))
            return None
        if message.direction != Direction.OUT:
            return None
        return await self._set_status(message.id, update.status, None, update.detail)

    async def reply(
        self,
        conversation_id: str,
        body: str,
        *,
        message_id: str | None = None,
        tag: str = "",
        author: str = "",
    ) -> Message:
        """Queue an agent's reply (``author`` "bot": the virtual agent's): stored, then sent by the
        outbox (DatabaseError: not accepted).
        A ``message_id`` already stored in this conversation is that reply, not a new one: the
        same reply carried out again (after a failover) is stored and sent once. ``tag`` (a
        ticket's ``[T-...]``) goes into an e-mail's subject unless the subject has it already."""
        if self.outbox is None:
            raise RuntimeError("the outbox is not running")
        conversation = self.conversations.conversations[conversation_id]
        if message_id is not None and (known := self.conversations.messages.get(message_id)) is not None:
            if known.conversation_id != conversation_id or known.direction != Direction.OUT:
                raise ValueError("this reply id is taken")
            return known
        channel = conversation.channel
        email_id = None
        headers: dict[str, str] = {}
        subject = ""
        if channel == MessagingChannel.EMAIL:
            email_id, headers, subject = self._email_thread(conversation, tag)
        last_in = [
            m
            for m in self.conversations.messages.values()
            if m.conversation_id == conversation_id and m.direction == Direction.IN
        ]
        message = self.conversations.reply(
            conversation_id,
            body,
            self.clock(),
            message_id=message_id or self.ids(),
            email_id=email_id,
            author=author,
        )
        await self.store.save_message(message, conversation.customer_id, new=True)
        await self._save_conversation(conversation_id)
        reply = Reply(
            message.id,
            channel,
            self.addresses[conversation_id],
            body,
            reply_to=last_in[-1].provider_id if last_in and channel == MessagingChannel.WHATSAPP else None,
            subject=subject,
            headers=headers,
            author=author,
        )
        await self.outbox.enqueue(reply)
        return message

    def _email_thread(self, conversation: Conversation, tag: str) -> tuple[str, dict[str, str], str]:
        """A reply's e-mail id of our domain, its threading headers and its subject."""
        assert self.settings.email is not None
        domain = self.settings.email.address.rpartition("@")[2]
        email_id = f"{self.ids()}@{domain}"
        thread = [
            m.message_id
            for m in self.conversations.timeline([conversation.customer_id])
            if m.conversation_id == conversation.id and m.message_id
        ]
        inbound = [
            m.message_id
            for m in self.conversations.messages.values()
            if m.conversation_id == conversation.id and m.direction == Direction.IN and m.message_id
        ]
        headers: dict[str, str] = {}
        if inbound:
            headers["In-Reply-To"] = f"<{inbound[-1]}>"
        if thread:
            headers["References"] = " ".join(f"<{t}>" for t in thread)
        headers["Message-ID"] = f"<{email_id}>"
        subject = conversation.subject
        if subject.lower().startswith("re:"):
            subject = subject[3:].strip()
        if tag and tag not in subject:
            subject = f"{tag} {subject}"
        return email_id, headers, f"Re: {subject}".strip()

    async def on_outbox(
        self, message_id: str, status: Delivery, provider_id: str | None, detail: str
    ) -> None:
        updated = await self._set_status(message_id, status, provider_id or None, detail)
        if updated is not None and updated.provider_id:
            early = self._early.pop((updated.channel, updated.provider_id), None)
            if early is not None:
                await self._set_status(message_id, early.status, None, early.detail)

    async def _set_status(
        self, message_id: str, status: Delivery, provider_id: str | None, detail: str
    ) -> Message | None:
        if message_id not in self.conversations.messages:
            return None
        updated = self.conversations.status(message_id, status, provider_id=provider_id, detail=detail)
        if updated is not None:
            customer = self.conversations.conversations[updated.conversation_id].customer_id
            await self.store.save_message(updated, customer, new=False)
        return updated


# Ids from outside (provider ids, e-mail Message-IDs) longer than this are refused, not stored.
MAX_ID = 512


def check_storable(inbound: InboundMessage) -> None:
    """What is stored as it came must be storable and sane: no NUL character anywhere (PostgreSQL
    refuses it in text: the write would fail at every retry), no id over ``MAX_ID`` characters."""
    ids = (inbound.provider_id, inbound.sender.value, inbound.message_id or "", *inbound.references)
    ids += (inbound.in_reply_to or "",)
    for value in ids:
        if len(value) > MAX_ID:
            raise WebhookError(f"an id is longer than {MAX_ID} characters")
    texts = (*ids, inbound.body, inbound.name, inbound.subject, inbound.recipient)
    texts += tuple(part for m in inbound.media for part in (m.kind, m.ref, m.mime_type, m.caption))
    if any("\x00" in value for value in texts):
        raise WebhookError("NUL characters are not accepted")


def _implied_claims(sender: Identity) -> tuple[Claim, ...]:
    # A WhatsApp id is a phone number WhatsApp has verified: link it (a shared phone stays a
    # suggestion: phones are shareable).
    if sender.kind.value == "whatsapp":
        return (Claim(identity.whatsapp_phone(sender.value), True),)
    return ()

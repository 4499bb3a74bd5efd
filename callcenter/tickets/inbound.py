"""Customers' messages into tickets: a messaging listener on the routing owner (``tickets/job.py``).

- A message that quotes one of its customer's ticket ids (``[T-XXXXXXXX]`` in an e-mail's
  subject, or anywhere in the text), or an e-mail that answers a message of a ticket (its
  In-Reply-To or References name a reply the ticket sent, or a customer's e-mail the ticket took),
  becomes the customer's comment on that ticket; a closed ticket reopens with it as the reason.
- With ``email: {type: ...}`` in the tickets file, e-mail is for tickets, not chats: a new e-mail
  conversation is not routed to agents (``Messaging.diverts``), and an e-mail that continues no
  ticket opens one of that type, its team and priority from the routing rules, its customer the
  unified identity's (business line, language and tier with it). Without it, e-mail stays in
  chat-like conversations, and only the continuations above reach tickets.

Exactly once: the SMTP server, the webhooks' messages and this listener all run on the routing
owner only, and the messaging service tells it of each stored message once.
"""

from __future__ import annotations

import asyncio
import logging
import re

from callcenter.core.errors import DomainError
from callcenter.core.omni.conversations import (
    Conversation,
    ConversationOpened,
    MessagingChannel,
    Received,
)
from callcenter.core.omni.customers import UnknownCustomer
from callcenter.core.tickets import routing
from callcenter.core.tickets import workflow as wfl
from callcenter.errors import StorageError
from callcenter.messaging.channels.base import InboundMessage
from callcenter.messaging.service import Messaging
from callcenter.tickets.service import Tickets

log = logging.getLogger(__name__)
TICKET_ID = re.compile(r"\bT-[0-9A-HJKMNP-TV-Z]{8}\b")
MAX_BODY = 20_000  # a comment keeps this much of a message (the whole message stays in messaging)
_QUOTED = 5  # at most this many ticket ids quoted in one message are answered


def title_of(inbound: InboundMessage) -> str:
    """A new ticket's title: the e-mail's subject without its Re:/Fwd: marks, else the first line
    of the text, else the sender."""
    subject = re.sub(r"^\s*((re|fw|fwd|aw|sv)\s*:\s*)+", "", inbound.subject, flags=re.IGNORECASE)
    first = next((line.strip() for line in inbound.body.splitlines() if line.strip()), "")
    return (subject.strip() or first or inbound.sender.value)[: wfl.MAX_TITLE]


class CustomerMessages:
    """``on_received`` is the messaging listener; ``diverts`` keeps new e-mail conversations from
    the agents while the tickets file says e-mail opens tickets; ``tasks`` the work under way."""

    def __init__(self, tickets: Tickets, messaging: Messaging) -> None:
        self.tickets, self.messaging = tickets, messaging
        self.tasks: set[asyncio.Task[list[str]]] = set()

    def diverts(self, opened: ConversationOpened) -> bool:
        return opened.channel is MessagingChannel.EMAIL and self.tickets.workflow.email_type is not None

    def on_received(self, received: Received, inbound: InboundMessage) -> None:
        if received.message is None or received.conversation is None:
            return
        quotes = TICKET_ID.search(inbound.body) or TICKET_ID.search(inbound.subject)
        if inbound.channel is not MessagingChannel.EMAIL and not quotes:
            return  # no ticket quoted, and only e-mail answers or opens tickets: no task to run
        task = asyncio.get_running_loop().create_task(self._take(received, inbound))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _take(self, received: Received, inbound: InboundMessage) -> list[str]:
        try:
            return await self.take(received, inbound)
        except (StorageError, DomainError, LookupError) as err:
            log.warning("tickets.customer_message_failed", extra={"detail": str(err)})
            return []

    async def take(self, received: Received, inbound: InboundMessage) -> list[str]:
        """The tickets this stored message went to (continued or opened)."""
        assert received.message is not None and received.conversation is not None
        message, conversation = received.message, received.conversation
        channel = inbound.channel.value
        body = inbound.body.strip()[:MAX_BODY] or inbound.subject.strip() or "(empty message)"
        members = self.messaging.customers.members(conversation.customer_id)
        found = []
        quoted = sorted(set(TICKET_ID.findall(f"{inbound.subject} {inbound.body}")))[:_QUOTED]
        for ticket_id in quoted:
            ticket = await self.tickets.store.get(ticket_id)
            if ticket is not None and ticket.customer_id in members:
                found.append(ticket_id)
        if not found and inbound.channel is MessagingChannel.EMAIL:
            answered = await self._answered(conversation.id, inbound)
            if answered is not None:
                found.append(answered)
        for ticket_id in found:
            await self.tickets.customer_message(ticket_id, body, message.id, channel)
            log.info("tickets.customer_message", extra={"ticket": ticket_id, "channel": channel})
        opens = received.opened is not None and self.diverts(received.opened)
        if opens and not found:
            draft = self._draft(inbound, conversation)
            ticket = await self.tickets.open_from_message(draft, body, message.id, channel)
            log.info("tickets.opened_by_message", extra={"ticket": ticket.id, "channel": channel})
            found.append(ticket.id)
        if opens:
            # Nobody holds a diverted conversation: closed now, it keeps the thread (an answer to
            # it is filed there by its headers) and ages out with the retention like any other.
            await self.messaging.close(conversation.id)
        return found

    async def _answered(self, conversation_id: str, inbound: InboundMessage) -> str | None:
        """The ticket of the messages this e-mail answers (they are in the conversation it was
        threaded into): a reply the ticket sent, or an earlier e-mail of the customer it took."""
        parents = {inbound.in_reply_to, *inbound.references} - {None}
        if not parents:
            return None
        ids = [
            m.id for m in self.messaging.conversations.messages_of(conversation_id) if m.message_id in parents
        ]
        return await self.tickets.store.ticket_of_messages(ids)

    def _draft(self, inbound: InboundMessage, conversation: Conversation) -> wfl.Draft:
        assert self.tickets.workflow.email_type is not None
        customer_id = conversation.customer_id
        line = language = tier = None
        try:
            customer = self.messaging.customers.current(customer_id)
        except UnknownCustomer:
            customer = None
        if customer is not None:
            customer_id = customer.id
            line, language = customer.business_line, customer.language
            tier = routing.tier_of(customer.tags, customer.vip)
        context = {"channel": inbound.channel.value, "from": inbound.sender.value[:254]}
        context["conversation"] = conversation.id  # where the ticket's replies go
        return wfl.Draft(
            self.tickets.workflow.email_type,
            title_of(inbound),
            customer_id=customer_id,
            line=line,
            language=language,
            tier=tier,
            context=context,
        )

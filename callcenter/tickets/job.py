"""The tickets' work that runs once, on the routing owner (``cluster.py``'s routing half):

- the SLA job: every ``tickets.sla_check_seconds``, each open ticket's clocks are checked
  (``core/tickets/sla.py``); warnings, breaches and escalations are stored as the ticket's events
  and audited, by one writer;
- replies to customers: a reply comment is stored 'pending' by whichever node took it; the owner
  hands it to the messaging service (the customer's conversation, then the outbox, which sends it
  and retries), with the ticket id in front of the text so it shows on every channel;
- customers' answers: an inbound message that quotes one of the customer's ticket ids is that
  ticket's customer reply (a closed ticket reopens with the message as its reason).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from callcenter.aio import cancel_and_wait
from callcenter.core.errors import DomainError
from callcenter.core.omni.conversations import Received
from callcenter.errors import StorageError
from callcenter.messaging.channels.base import InboundMessage
from callcenter.messaging.service import Messaging
from callcenter.service import CallCenter
from callcenter.tickets.records import Comment
from callcenter.tickets.service import Tickets
from callcenter.web import api
from callcenter.web.tickets_api import TICKETS
from callcenter.web.webhooks import MESSAGING

log = logging.getLogger(__name__)
TICKET_ID = re.compile(r"\bT-[0-9A-HJKMNP-TV-Z]{8}\b")


async def check_all(tickets: Tickets) -> int:
    """One pass of the SLA job; the number of events it gave."""
    given = 0
    for ticket in await tickets.store.open_tickets():
        if ticket.type not in tickets.workflow.types or not tickets.sla_due(ticket):
            continue  # (a type removed from the file: its tickets keep their state, unchecked)
        try:
            events = await tickets.check_sla(ticket.id)
        except (LookupError, DomainError):
            continue
        for e in events:
            log.info("tickets.sla", extra={"ticket": e.ticket_id, "kind": e.kind})
        given += len(events)
    return given


async def _conversation(
    tickets: Tickets, messaging: Messaging, service: CallCenter | None, comment: Comment
) -> str | None:
    ticket = await tickets.store.get(comment.ticket_id)
    if ticket is None:
        return None
    if ticket.interaction_id and service is not None:
        found = await service.interaction(ticket.interaction_id)
        if found is not None and found.conversation_id in messaging.addresses:
            return found.conversation_id
    if ticket.customer_id is None:
        return None
    members = messaging.customers.members(ticket.customer_id)
    candidates = [
        c
        for c in messaging.conversations.conversations.values()
        if c.customer_id in members and c.id in messaging.addresses
    ]
    return max(candidates, key=lambda c: c.last_at).id if candidates else None


async def deliver_replies(tickets: Tickets, messaging: Messaging, service: CallCenter | None) -> int:
    sent = 0
    for comment in await tickets.store.pending_replies():
        conversation_id = await _conversation(tickets, messaging, service, comment)
        if conversation_id is None:
            await tickets.store.set_delivery(comment.id, "no_channel", None)
            continue
        body = f"[{comment.ticket_id}] {comment.body}"
        try:
            message = await messaging.reply(conversation_id, body, message_id=f"ticket-{comment.id}")
        except (DomainError, ValueError, KeyError) as err:
            log.warning("tickets.reply_refused", extra={"ticket": comment.ticket_id, "detail": str(err)})
            await tickets.store.set_delivery(comment.id, "no_channel", None)
            continue
        await tickets.store.set_delivery(comment.id, "queued", message.id)
        sent += 1
    return sent


class _Answers:
    """The messaging listener: inbound messages quoting a ticket id of their customer."""

    def __init__(self, tickets: Tickets, messaging: Messaging) -> None:
        self.tickets, self.messaging = tickets, messaging
        self.tasks: set[asyncio.Task[None]] = set()

    def on_received(self, received: Received, inbound: InboundMessage) -> None:
        if received.message is None or received.conversation is None:
            return
        ids = set(TICKET_ID.findall(f"{inbound.subject} {inbound.body}"))
        for ticket_id in sorted(ids)[:5]:
            task = asyncio.get_running_loop().create_task(
                self._reply(ticket_id, received.conversation.customer_id, inbound.body)
            )
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _reply(self, ticket_id: str, customer_id: str, body: str) -> None:
        try:
            ticket = await self.tickets.store.get(ticket_id)
            if ticket is None or ticket.customer_id not in self.messaging.customers.members(customer_id):
                return
            await self.tickets.customer_replied(ticket_id, body.strip()[:500])
        except (StorageError, DomainError, LookupError) as err:
            log.warning("tickets.customer_reply_failed", extra={"ticket": ticket_id, "detail": str(err)})


async def _every(seconds: float, what: str, work: Callable[[], Awaitable[object]]) -> None:
    while True:
        try:
            await work()
        except StorageError as err:
            log.warning(f"tickets.{what}_failed", extra={"detail": str(err)})
        except Exception:
            log.exception(f"tickets.{what}_crashed")  # tried again next round
        await asyncio.sleep(seconds)


async def job_context(app: web.Application) -> AsyncIterator[None]:
    tickets = app.get(TICKETS)
    if tickets is None:  # tickets are off (no tickets.workflow_file)
        yield
        return
    settings = app[api.SETTINGS].tickets
    messaging = app.get(MESSAGING)
    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(_every(settings.sla_check_seconds, "sla", lambda: check_all(tickets)))]
    answers = None
    if messaging is not None:
        answers = _Answers(tickets, messaging)
        messaging.listeners.append(answers.on_received)
        deliver = lambda: deliver_replies(tickets, messaging, app.get(api.SERVICE))  # noqa: E731
        tasks.append(loop.create_task(_every(settings.reply_seconds, "replies", deliver)))
    try:
        yield
    finally:
        await cancel_and_wait(*tasks)
        if messaging is not None and answers is not None:
            messaging.listeners.remove(answers.on_received)
            await cancel_and_wait(*answers.tasks)

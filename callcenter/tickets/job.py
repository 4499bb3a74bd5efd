"""The tickets' work that runs once, on the routing owner (``cluster.py``'s routing half):

- the SLA job: every ``tickets.sla_check_seconds``, each open ticket's clocks are checked
  (``core/tickets/sla.py``); warnings, breaches and escalations are stored as the ticket's events
  and audited, by one writer;
- replies to customers: a reply comment is stored 'pending' by whichever node took it; the owner
  hands it to the messaging service (the customer's conversation, then the outbox, which sends it
  and retries), with the ticket id in front of the text so it shows on every channel;
- trigger rules (``tickets/triggers_job.py``): QA flags the file's rules open tickets on;
- customers' messages (``tickets/inbound.py``): a message that quotes one of the customer's ticket
  ids or an e-mail that answers a ticket's message is the customer's comment on it (a closed ticket
  reopens with it as the reason); an e-mail that continues none opens a ticket when the tickets
  file says e-mail is for tickets.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from callcenter.aio import cancel_and_wait
from callcenter.core.errors import DomainError
from callcenter.errors import StorageError
from callcenter.messaging.service import Messaging
from callcenter.service import CallCenter
from callcenter.tickets.inbound import CustomerMessages
from callcenter.tickets.records import Comment
from callcenter.tickets.service import Tickets
from callcenter.tickets.triggers_job import run_triggers
from callcenter.web import api
from callcenter.web.tickets_api import TICKETS
from callcenter.web.webhooks import MESSAGING

log = logging.getLogger(__name__)


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
    conversation_id = ticket.context.get("conversation")  # a ticket opened by a message
    if conversation_id in messaging.addresses:
        return conversation_id
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
            message = await messaging.reply(
                conversation_id, body, message_id=f"ticket-{comment.id}", tag=f"[{comment.ticket_id}]"
            )
        except (DomainError, ValueError, KeyError) as err:
            log.warning("tickets.reply_refused", extra={"ticket": comment.ticket_id, "detail": str(err)})
            await tickets.store.set_delivery(comment.id, "no_channel", None)
            continue
        await tickets.store.set_delivery(comment.id, "queued", message.id)
        sent += 1
    return sent


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
    tasks = [
        loop.create_task(_every(settings.sla_check_seconds, "sla", lambda: check_all(tickets))),
        loop.create_task(_every(settings.trigger_seconds, "triggers", lambda: run_triggers(tickets))),
    ]
    answers = None
    if messaging is not None:
        answers = CustomerMessages(tickets, messaging)
        messaging.diverts.append(answers.diverts)
        messaging.listeners.append(answers.on_received)
        deliver = lambda: deliver_replies(tickets, messaging, app.get(api.SERVICE))  # noqa: E731
        tasks.append(loop.create_task(_every(settings.reply_seconds, "replies", deliver)))
    try:
        yield
    finally:
        await cancel_and_wait(*tasks)
        if messaging is not None and answers is not None:
            messaging.listeners.remove(answers.on_received)
            messaging.diverts.remove(answers.diverts)
            await cancel_and_wait(*answers.tasks)

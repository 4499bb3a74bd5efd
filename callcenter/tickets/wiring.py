"""The tickets in the server: the store, the workflow and its watcher on every node
(``store_context``, each node serves the API); the owner's job is ``tickets/job.py``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence

from aiohttp import web

from callcenter.aio import cancel_and_wait
from callcenter.core.tickets import alerts
from callcenter.core.tickets.ticket import Ticket, TicketEvent
from callcenter.storage.attachments import AttachmentFiles
from callcenter.storage.db import Database
from callcenter.storage.recordings import keyring_of
from callcenter.storage.ticket_access_store import TicketAccessStore
from callcenter.storage.tickets_store import TicketsStore
from callcenter.tickets.access import TicketAccess
from callcenter.tickets.service import Tickets
from callcenter.tickets.workflow_file import WorkflowWatcher, load_workflow
from callcenter.web import api, ticket_mail
from callcenter.web.admin_tickets import WORKFLOW_WATCHER
from callcenter.web.chat_agent import NAMESPACE, agent_room, user_room
from callcenter.web.realtime import REALTIME
from callcenter.web.tickets_api import TICKET_ACCESS, TICKETS

log = logging.getLogger(__name__)


class Pusher:
    """Tells the agent panels of new notifications once their change is committed, on whichever
    node made it: a Socket.IO event to the rooms of each recipient (``user:<name>``,
    ``agent:<id>``) of ``/agent``; with ``realtime.redis_url`` the emit reaches a socket on any
    node. The event carries no text: the panel reads its list over HTTP, where each ticket is
    checked against the reader."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.tasks: set[asyncio.Task[None]] = set()

    def push(self, found: Sequence[alerts.Alert]) -> None:
        realtime = self.app.get(REALTIME)
        if realtime is None:
            return
        for a in found:
            payload = {"kind": a.kind, "ticket_id": a.ticket_id}
            rooms = [user_room(a.recipient), agent_room(a.recipient)]
            task = asyncio.get_running_loop().create_task(
                realtime.sio.emit("ticket_notification", payload, room=rooms, namespace=NAMESPACE)
            )
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)


def _tickets_store(
    app: web.Application, database: web.AppKey[Database], holder: list[Tickets]
) -> TicketsStore:
    """The store, with what each ticket change writes beside it: CRM deliveries, the teams'
    e-mails, the panel's notifications and their e-mail copies (``holder``: the service, once made)."""
    settings = app[api.SETTINGS]

    def closed(ticket: Ticket) -> bool:
        return holder[0].closed(ticket)

    def notify(ticket: Ticket, event: TicketEvent) -> tuple[str, dict[str, str]] | None:
        team = holder[0].workflow.teams.get(ticket_mail.team_of(ticket, event) or "")
        if team is None or team.email is None:
            return None
        subject, text = ticket_mail.compose(team.language, ticket, event)
        return team.name, {"to": team.email, "subject": subject, "text": text}

    def alert_mail(ticket: Ticket, event: TicketEvent, alert: alerts.Alert) -> dict[str, str] | None:
        copy = holder[0].workflow.email_copies.get(alert.recipient)
        if copy is None or alert.kind not in copy.kinds:
            return None
        subject, text = ticket_mail.compose_alert(copy.language, ticket, event, alert)
        return {"to": copy.email, "subject": subject, "text": text}

    return TicketsStore(
        settings.database.url,
        app[database].engine,
        closed=closed,
        subscriptions=settings.webhooks.subscriptions,  # CRM deliveries with each change
        notify=notify,  # and the teams' e-mails
        alerts=lambda t, e, note: alerts.alerts_of(holder[0].workflow, t, e, note),  # the panel's
        alert_mail=alert_mail,  # and their e-mail copies, for those who asked
    )


def store_context(database: web.AppKey[Database]) -> Callable[[web.Application], AsyncIterator[None]]:
    async def run(app: web.Application) -> AsyncIterator[None]:
        settings = app[api.SETTINGS]
        path = settings.tickets.workflow_file
        if path is None:
            yield
            return
        workflow = load_workflow(path)  # a broken file stops start-up: file:line: key: problem
        holder: list[Tickets] = []
        store = _tickets_store(app, database, holder)
        pusher = Pusher(app)
        store.alerted.append(pusher.push)
        await store.start()
        tickets = Tickets(workflow, store)
        holder.append(tickets)
        watcher = WorkflowWatcher(path, tickets.set_workflow, settings.tickets.reload_seconds)
        await watcher.start()
        app[WORKFLOW_WATCHER] = watcher  # /admin/tickets shows its last refusal
        access_store = TicketAccessStore(settings.database.url, app[database].engine, store)
        await access_store.start()
        files = AttachmentFiles(
            settings.tickets.attachments_dir or settings.recordings.directory / "attachments",
            keyring_of(settings.recordings),
        )
        app[TICKET_ACCESS] = TicketAccess(
            tickets, access_store, files, settings.tickets.attachment_max_bytes,
            frozenset(settings.tickets.attachment_types),
        )  # fmt: skip
        app[TICKETS] = tickets
        log.info("tickets.started", extra={"workflow": str(path), "types": sorted(workflow.types)})
        try:
            yield
        finally:
            await access_store.stop()
            await watcher.stop()
            store.alerted.remove(pusher.push)
            await cancel_and_wait(*pusher.tasks)
            await store.stop()

    return run

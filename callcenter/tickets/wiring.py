"""The tickets in the server: the store, the workflow and its watcher on every node
(``store_context``, each node serves the API); the owner's job is ``tickets/job.py``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable

from aiohttp import web

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
from callcenter.web.tickets_api import TICKET_ACCESS, TICKETS

log = logging.getLogger(__name__)


def store_context(database: web.AppKey[Database]) -> Callable[[web.Application], AsyncIterator[None]]:
    async def run(app: web.Application) -> AsyncIterator[None]:
        settings = app[api.SETTINGS]
        path = settings.tickets.workflow_file
        if path is None:
            yield
            return
        workflow = load_workflow(path)  # a broken file stops start-up: file:line: key: problem
        holder: list[Tickets] = []

        def closed(ticket: Ticket) -> bool:
            return holder[0].closed(ticket)

        def notify(ticket: Ticket, event: TicketEvent) -> tuple[str, dict[str, str]] | None:
            team = holder[0].workflow.teams.get(ticket_mail.team_of(ticket, event) or "")
            if team is None or team.email is None:
                return None
            subject, text = ticket_mail.compose(team.language, ticket, event)
            return team.name, {"to": team.email, "subject": subject, "text": text}

        store = TicketsStore(
            settings.database.url,
            app[database].engine,
            closed=closed,
            subscriptions=settings.webhooks.subscriptions,  # CRM deliveries with each change
            notify=notify,  # and the teams' e-mails
        )
        await store.start()
        tickets = Tickets(workflow, store)
        holder.append(tickets)
        watcher = WorkflowWatcher(path, tickets.set_workflow, settings.tickets.reload_seconds)
        await watcher.start()
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
            await store.stop()

    return run

"""The webhooks in the server: the store on every node (the API, and the tickets store writes
deliveries with each change), the sender on the routing owner only (``owner_context``), which
also sends the teams' ticket e-mails."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from callcenter.crm.sender import Sender
from callcenter.storage.db import Database
from callcenter.storage.webhooks_store import WebhooksStore
from callcenter.web import api
from callcenter.web.crm_api import CUSTOMER_LOCK, DELIVERIES, FIELD_TIMES, WAKE

log = logging.getLogger(__name__)
STORE = web.AppKey("webhooks_store", WebhooksStore)


def store_context(database: web.AppKey[Database]) -> Callable[[web.Application], AsyncIterator[None]]:
    async def run(app: web.Application) -> AsyncIterator[None]:
        store = WebhooksStore(app[api.SETTINGS].database.url, app[database].engine)
        await store.start()
        app[STORE] = store
        app[DELIVERIES] = store
        app[FIELD_TIMES] = store
        app[CUSTOMER_LOCK] = asyncio.Lock()
        try:
            yield
        finally:
            await store.stop()

    return run


async def owner_context(app: web.Application) -> AsyncIterator[None]:
    every = app[api.SETTINGS]
    settings = every.webhooks
    if not settings.subscriptions and every.tickets.workflow_file is None:
        yield  # nothing can make a delivery: no webhooks, no tickets (whose teams may get e-mails)
        return
    sender = Sender(app[STORE], settings, smtp=every.messaging.email)
    await sender.start()
    app[WAKE] = sender.wake
    log.info("webhooks.started", extra={"subscriptions": [s.name for s in settings.subscriptions]})
    try:
        yield
    finally:
        await sender.stop()

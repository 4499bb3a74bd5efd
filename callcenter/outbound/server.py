"""Outbound campaigns in the server: the store and the campaigns service every node has
(``store_context``), and what only the routing owner runs (``owner_context``): the dialling job
and the SMS "STOP" opt-out, a listener on the owner's stored inbound messages."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from callcenter.core.acd.engine import Acd
from callcenter.core.omni.conversations import MessagingChannel
from callcenter.core.omni.customers import IdentityKind
from callcenter.messaging.channels.base import InboundMessage
from callcenter.outbound.callbacks import Callbacks
from callcenter.outbound.job import Dialling, Placer
from callcenter.outbound.service import Campaigns
from callcenter.storage.db import Database
from callcenter.storage.outbound_store import OutboundStore
from callcenter.web import api, webhooks
from callcenter.web.callbacks_api import CALLBACKS
from callcenter.web.outbound_api import CAMPAIGNS

log = logging.getLogger(__name__)

STORE = web.AppKey("outbound_store", OutboundStore)
DIALLING = web.AppKey("outbound_dialling", Dialling)
#: The placer of campaign calls: the voice adapter's (asterisk/voice_outbound.py), set by the voice
#: context on the routing owner before this one starts; absent without Asterisk.
PLACER: web.AppKey[Placer] = web.AppKey("outbound_placer")


def store_context(database: web.AppKey[Database]) -> Callable[[web.Application], AsyncIterator[None]]:
    async def run(app: web.Application) -> AsyncIterator[None]:
        settings = app[api.SETTINGS]
        store = OutboundStore(settings.database.url, app[database].engine)
        await store.start()
        app[STORE] = store
        app[CAMPAIGNS] = Campaigns(store, settings.outbound, time.time)
        app[CALLBACKS] = Callbacks(store, settings.outbound, time.time)
        yield
        await store.stop()

    return run


def stop_word(message: InboundMessage, words: tuple[str, ...]) -> str | None:
    """The sender's number when an SMS says only a stop word ("STOP", "stop.", " Unsubscribe ")."""
    if message.channel != MessagingChannel.SMS or message.sender.kind != IdentityKind.PHONE:
        return None
    said = message.body.strip().strip(".!").strip().upper()
    return message.sender.value if said in {w.upper() for w in words} else None


async def owner_context(app: web.Application) -> AsyncIterator[None]:
    settings, store = app[api.SETTINGS], app[STORE]

    def engine() -> Acd | None:
        service = app.get(api.SERVICE)
        return None if service is None else service.engine

    dialling = Dialling(store, settings.outbound, engine, app.get(PLACER), time.time)
    await dialling.start()
    app[DIALLING] = dialling
    messaging = app.get(webhooks.MESSAGING)
    pending: set[asyncio.Task[None]] = set()

    async def opt_out(number: str) -> None:
        try:
            await store.add_dnc([number], "sms", time.time(), note="SMS STOP")
            log.info("outbound.opt_out", extra={"source": "sms"})
        except Exception:  # logged; the message itself is stored already
            log.exception("outbound.opt_out_failed")

    def on_received(_received: object, inbound: InboundMessage) -> None:
        number = stop_word(inbound, settings.outbound.stop_words)
        if number is not None:
            task = asyncio.get_running_loop().create_task(opt_out(number))
            pending.add(task)
            task.add_done_callback(pending.discard)

    if messaging is not None:
        messaging.listeners.append(on_received)
    try:
        yield
    finally:
        if messaging is not None:
            messaging.listeners.remove(on_received)
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        await dialling.stop()

"""The composition root: builds every component from the settings and pairs each start with its stop.

Order of start (reverse on stop): database -> engine restored from the database -> service ->
voice (FastAGI server, then AMI). Each step is one aiohttp ``cleanup_ctx`` generator, so a failure
part-way stops exactly what had started. Nothing starts at import time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

from aiohttp import web

from callcenter.adapters.db import Database
from callcenter.adapters.voice import AsteriskSnapshot, VoiceAdapter
from callcenter.config import Settings
from callcenter.core import events as ev
from callcenter.core import ivr
from callcenter.core.acd import Acd, AcdConfig
from callcenter.core.agents import Agent
from callcenter.queues_file import QueueWatcher, load_queues
from callcenter.service import CallCenter
from callcenter.web import api, auth

log = logging.getLogger(__name__)

SETTINGS = web.AppKey("settings", Settings)
DATABASE = web.AppKey("database", Database)
VOICE = web.AppKey("voice", VoiceAdapter)


class _Health:
    def __init__(self, app: web.Application) -> None:
        self._app = app

    async def check(self) -> dict[str, bool]:
        database = self._app.get(DATABASE)
        voice = self._app.get(VOICE)
        return {
            "database": bool(database is not None and await database.ping()),
            "asterisk": bool(voice is not None and voice.ami.connected),
        }


def build_engine(settings: Settings) -> Acd:
    """The engine from the settings; an invalid queue file raises ConfigError (start-up stops)."""
    agents = [
        Agent(
            id=a.id,
            extension=a.extension,
            queues=frozenset(a.queues),
            auto_login=a.auto_login,
            skills=dict(a.skills),
            languages=frozenset(a.languages),
        )
        for a in settings.agents
    ]
    queues = load_queues(settings.acd.queues_file) if settings.acd.queues_file else {}
    return Acd(
        AcdConfig(ring_timeout=settings.acd.ring_timeout, wrap_up_seconds=settings.acd.wrap_up_seconds),
        agents,
        queues,
    )


def menu_flow_factory(settings: Settings) -> ivr.MenuConfig:
    acd = settings.acd
    return ivr.MenuConfig(
        choices=dict(acd.menu),
        prompt=acd.menu_prompt,
        timeout=acd.menu_timeout,
        attempts=acd.menu_attempts,
    )


def create_app(settings: Settings) -> web.Application:
    app = web.Application(
        middlewares=[auth.middleware(auth.TokenAuthenticator(settings.security.api_tokens))],
        client_max_size=api.MAX_BODY,
    )
    app[SETTINGS] = settings
    app[api.HEALTH] = _Health(app)
    api.setup_routes(app, metrics_are_public=settings.security.metrics_public)
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_service)
    app.cleanup_ctx.append(_voice)
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    database = Database(app[SETTINGS].database.url)
    await database.start()
    app[DATABASE] = database
    log.info("database.ready", extra={"url": database.safe_url})
    yield
    await database.stop()


async def _service(app: web.Application) -> AsyncIterator[None]:
    settings, database = app[SETTINGS], app[DATABASE]
    engine = build_engine(settings)
    service = CallCenter(engine, database)
    unfinished = await database.unfinished_interactions()
    service.dispatch(engine.restore(unfinished, time.time()))
    if unfinished:
        log.warning("service.restored", extra={"interactions": len(unfinished)})
    app[api.SERVICE] = service
    await service.start()
    watcher = None
    if settings.acd.queues_file is not None:
        watcher = QueueWatcher(
            settings.acd.queues_file, service.reload_queues, settings.acd.queues_reload_seconds
        )
        await watcher.start()
    yield
    if watcher is not None:
        await watcher.stop()
    await service.stop()


async def _voice(app: web.Application) -> AsyncIterator[None]:
    settings, service = app[SETTINGS], app[api.SERVICE]
    menu = menu_flow_factory(settings)

    def on_snapshot(snapshot: AsteriskSnapshot) -> None:
        for agent in settings.agents:
            if agent.extension not in snapshot.endpoints:
                log.warning(
                    "agent.unknown_extension",
                    extra={
                        "agent": agent.id,
                        "extension": agent.extension,
                        "detail": "Asterisk has no PJSIP endpoint of this name: calls cannot reach it",
                    },
                )
        live = frozenset(i.id for i in service.engine.live.values() if i.caller_channel in snapshot.channels)
        service.submit(ev.Reconciled(live, snapshot.registered, service.clock()))

    voice = VoiceAdapter(
        settings,
        submit=service.submit,
        on_snapshot=on_snapshot,
        flow_factory=lambda: ivr.MenuFlow(menu),
    )
    voice.adopt_callers({i.caller_channel: i.id for i in service.engine.live.values() if i.caller_channel})
    service.dialer = voice
    app[VOICE] = voice
    await voice.start()
    yield
    service.dialer = None
    await voice.stop()

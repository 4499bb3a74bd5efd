"""The composition root: builds every component from the settings and pairs each start with its stop.

Order of start (reverse on stop): database -> accounts (sessions, audit) -> QA store -> engine
restored from the database -> service -> agents file -> Socket.IO server -> messaging (store,
routing of conversations into the service, outbox, SMTP server) -> chat namespaces (/customer,
/agent) -> supervisor wallboard (/supervisor) -> IVR
flows -> recordings (store, transcription, recorder) -> voice (FastAGI server, then AMI). Each step
is one aiohttp ``cleanup_ctx`` generator, so a failure part-way stops exactly what had started.
Nothing starts at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TypeVar

import aiohttp
from aiohttp import web
from redis.asyncio import Redis

from callcenter import cluster, cluster_nodes, metrics
from callcenter.accounts.audit import Audit
from callcenter.accounts.service import Accounts
from callcenter.aio import cancel_and_wait
from callcenter.asterisk.added_agents import AddedEndpoints
from callcenter.asterisk.agi import AgiChannel, AgiServer
from callcenter.asterisk.asterisk_port import AsteriskPort
from callcenter.asterisk.farm_port import build_asterisk_port, farm_routes
from callcenter.asterisk.recorder import Recorder
from callcenter.asterisk.session_record import SessionRecorder
from callcenter.asterisk.voice import VoiceAdapter
from callcenter.asterisk.voice_state import AsteriskSnapshot
from callcenter.core import events as ev
from callcenter.core import notices as nt
from callcenter.core.acd.agents import Agent
from callcenter.core.acd.engine import Acd, AcdConfig
from callcenter.core.calls import machine as cl
from callcenter.core.interaction import Interaction
from callcenter.core.ivr import chat
from callcenter.core.ivr import flow as ivr
from callcenter.core.ivr.runner import FlowRunner
from callcenter.core.omni.conversations import ConversationOpened, MessagingChannel
from callcenter.core.outbound.dialler import DialDecided
from callcenter.core.qa.scoring import Alert
from callcenter.core.tickets.workflow import Draft
from callcenter.crm import wiring as crm_wiring
from callcenter.errors import StorageError
from callcenter.gc_policy import GcPolicy
from callcenter.held_chats import HeldConsumer, listen_for_moves, publish_moves
from callcenter.held_chats import tell as tell_held
from callcenter.ivr import http as ivr_http
from callcenter.ivr.store import FlowStore
from callcenter.kb.assistant import Assistant
from callcenter.messaging import identity
from callcenter.messaging.bot_flows import BotFlows
from callcenter.messaging.channels import webchat
from callcenter.messaging.channels.email import SmtpInbound, SmtpSender
from callcenter.messaging.channels.nonces import LocalNonces, RedisNonces
from callcenter.messaging.channels.senders import TwilioSender, WeChatSender, WhatsAppSender
from callcenter.messaging.channels.webchat import WebchatSender
from callcenter.messaging.outbox import Outbox, Sender
from callcenter.messaging.routing import ConversationRouter
from callcenter.messaging.service import Messaging
from callcenter.outbound import server as outbound_server
from callcenter.outbound.callbacks import CallbackRefused, InvalidCallback
from callcenter.qa.scorecards import ScorecardError, load_scorecards
from callcenter.reports import job as report_job
from callcenter.reports import mailer as report_mailer
from callcenter.service import CallCenter
from callcenter.settings import AgentSettings, ConfigError, Settings
from callcenter.settings.agents_file import Directory
from callcenter.settings.queues_file import QueueWatcher, load_queues
from callcenter.socket_forwarding import SocketForwarder, listen_for_owners, redis_client
from callcenter.speech.adaptation_service import AdaptationService, AsyncTextSource
from callcenter.storage.accounts_store import AccountStore
from callcenter.storage.db import Database, DatabaseError
from callcenter.storage.held_chats import HeldChats
from callcenter.storage.kb_store import KbStore
from callcenter.storage.messaging_store import MessagingStore
from callcenter.storage.qa_store import QaStore
from callcenter.storage.recordings import RecordingStore
from callcenter.storage.retention import RetentionSweeper, recording_purges
from callcenter.storage.surveys_store import SurveyStore
from callcenter.surveys.file import SurveysWatcher, load_surveys
from callcenter.surveys.ivr import ROUTE as SURVEY_ROUTE
from callcenter.surveys.ivr import IvrSurvey
from callcenter.surveys.service import SurveyService
from callcenter.tickets import job as ticket_job
from callcenter.tickets import wiring as ticket_wiring
from callcenter.tickets.records import Actor as TicketActor
from callcenter.web import (
    admin_config,
    admin_pages,
    admin_roster,
    admin_tickets,
    agent_panel,
    agents_api,
    api,
    auth,
    bot_texts,
    callbacks_api,
    chat_agent,
    chat_customer,
    cluster_page,
    crm_api,
    customers_api,
    domain_errors,
    http,
    interactions_api,
    ivr_api,
    kb_api,
    outbound_api,
    pages,
    planning_api,
    qa_api,
    realtime,
    reports_api,
    schedule_api,
    sockets,
    softphone,
    supervisor,
    ticket_access_api,
    tickets_api,
    users_api,
    webhooks,
    widget,
)
from callcenter.web.agent_panel import CampaignDesk, PanelNamespace
from callcenter.web.audit import AUDIT, refusals
from callcenter.web.chat_customer import CustomerNamespace
from callcenter.web.chat_desk import Desk
from callcenter.web.chat_holds import HeldSweep, Holds, VisitorMessages
from callcenter.web.reports_api import REPORTS, SCHEDULE
from callcenter.web.sessions import LoginThrottle, RedisCounts, Sessions
from callcenter.web.tickets_api import TICKETS

log = logging.getLogger(__name__)

SETTINGS = api.SETTINGS
DATABASE = web.AppKey("database", Database)
VOICE = web.AppKey("voice", VoiceAdapter)
FLOWS = ivr_api.FLOWS
SMTP_SERVER = web.AppKey("smtp_server", SmtpInbound)
RECORDER = web.AppKey("recorder", Recorder)
ROUTER = web.AppKey("conversation_router", ConversationRouter)
BOTS = web.AppKey("bot_flows", BotFlows)
SURVEYS = web.AppKey("surveys", SurveyService)
LIVE = web.AppKey("live", object)  # the LiveTranscription, when live.enabled (tests, the bench)
CHAT = web.AppKey("chat", tuple)  # (AgentNamespace, CustomerNamespace): for tests and the bench
# More of the centre's text for the recognizer's domain adaptation: (name, async source) pairs a
# component started before the recordings adds (the knowledge base's articles). See speech/adaptation.py.
ADAPTATION_SOURCES = web.AppKey("adaptation_sources", list)
ADAPTATION = web.AppKey("adaptation", AdaptationService)


class _Health:
    def __init__(self, app: web.Application) -> None:
        self._app = app

    async def check(self) -> dict[str, bool]:
        database = self._app.get(DATABASE)
        checks = {"database": bool(database is not None and await database.ping())}
        half = self._app.get(cluster.HALF)
        if half is None or half.owner:  # only the routing owner drives Asterisk
            voice = self._app.get(VOICE)
            checks["asterisk"] = bool(voice is not None and voice.port.connected)
        return checks

    def role(self) -> str:
        half = self._app.get(cluster.HALF)
        return "owner" if half is not None and half.owner else "follower"


def build_engine(settings: Settings, roster: Iterable[AgentSettings] | None = None) -> Acd:
    """The engine from the settings (``roster``: the agents running now, the settings' when None);
    an invalid queue file raises ConfigError (start-up stops)."""
    agents = [
        Agent(
            id=a.id,
            extension=a.extension,
            queues=frozenset(a.queues),
            auto_login=a.auto_login,
            skills=dict(a.skills),
            languages=frozenset(a.languages),
            capacity={"voice": 1, **{str(c): n for c, n in a.chat_capacity.items()}},
            max_chats=a.max_chats,
            chat_while_on_call=a.chat_while_on_call,
            call_while_chatting=a.call_while_chatting,
        )
        for a in (settings.agents if roster is None else roster)
    ]
    queues = load_queues(settings.acd.queues_file) if settings.acd.queues_file else {}
    acd = settings.acd
    config = AcdConfig(
        ring_timeout=acd.ring_timeout,
        wrap_up_seconds=acd.wrap_up_seconds,
        offer_timeout=acd.offer_timeout,
        pause_on_offer_timeout=acd.pause_on_offer_timeout,
        decline_seconds=acd.decline_seconds,
        sticky_seconds=acd.sticky_seconds,
        transfer_priority=acd.transfer_priority,
        transfer_agent_seconds=acd.transfer_agent_seconds,
        dispositions=tuple(acd.dispositions),
    )
    return Acd(config, agents, queues)


def menu_flow_factory(settings: Settings) -> ivr.MenuConfig:
    acd = settings.acd
    return ivr.MenuConfig(
        choices=dict(acd.menu),
        prompt=acd.menu_prompt,
        timeout=acd.menu_timeout,
        attempts=acd.menu_attempts,
    )


# Clock of sessions, sign-in throttling and the audit log; tests replace it before the app starts.
AUTH_CLOCK: web.AppKey[Callable[[], float]] = web.AppKey("auth_clock")
SESSION_SWEEP_SECONDS = 3600.0
# The stores themselves (the web layer sees them through the ports of callcenter/qa/records.py).
QA_STORE = web.AppKey("qa_store_impl", QaStore)
RECORDING_STORE = web.AppKey("recording_store_impl", RecordingStore)
# Wrap-up forms still owed when the server stopped are given back for contacts of the last day.
WRAP_UPS_KEPT_SECONDS = 24 * 3600.0


def create_app(settings: Settings) -> web.Application:
    authenticator = auth.Authenticator(settings.security.api_tokens)
    middlewares = [refusals, auth.middleware(authenticator), cluster.follower_refusal]
    middlewares.append(domain_errors.middleware)
    app = web.Application(middlewares=middlewares, client_max_size=http.MAX_BODY)
    app[SETTINGS] = settings
    directory = app[api.DIRECTORY] = Directory(settings.agents)  # the agents file updates it
    app[auth.AUTH_KEY] = authenticator
    app[AUTH_CLOCK] = time.time
    app[api.HEALTH] = _Health(app)
    _setup_routes(app, settings)
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(admin_roster.directory_context)
    app.cleanup_ctx.append(_accounts)
    app.cleanup_ctx.append(_qa)
    app.cleanup_ctx.append(_kb)
    app.cleanup_ctx.append(report_job.store_context(DATABASE))
    app.cleanup_ctx.append(crm_wiring.store_context(DATABASE))  # webhook deliveries: every node
    app.cleanup_ctx.append(ticket_wiring.store_context(DATABASE))  # every node serves the tickets
    app.cleanup_ctx.append(outbound_server.store_context(DATABASE))  # campaigns: every node
    app.cleanup_ctx.append(realtime.server_context(settings.realtime, settings.security.api_tokens))
    app.cleanup_ctx.append(_sockets)
    app.cleanup_ctx.append(_nodes)
    if settings.ivr.flows_dir is not None:
        app.cleanup_ctx.append(_flows)
    # The routing half: started when this node is (elected) the routing owner, stopped when not.
    routing = _routing_contexts(settings, directory)
    app.cleanup_ctx.append(cluster.context(routing, DATABASE))
    app.cleanup_ctx.append(_gc_policy)  # last: it freezes what everything else has built
    return app


def _setup_routes(app: web.Application, settings: Settings) -> None:
    """Every HTTP route and page (the order of ``add_nav`` calls is the navigation's)."""
    api.setup_routes(app, metrics_are_public=settings.security.metrics_public)
    agents_api.setup_routes(app)
    interactions_api.setup_routes(app)
    ivr_api.setup_routes(app)
    webhooks.setup_routes(app)
    customers_api.setup_routes(app)
    pages.setup_routes(app, settings)
    admin_pages.setup_routes(app)
    admin_config.setup_routes(app)
    admin_roster.setup_routes(app)
    admin_tickets.setup_routes(app)
    users_api.setup_routes(app)
    qa_api.setup_routes(app)
    agent_panel.setup_routes(app)
    softphone.setup_routes(app)
    realtime.setup_routes(app)
    supervisor.setup_routes(app)
    pages.add_nav(app, "QA review", "/qa", "qa", "supervisor", "admin")  # after each role's home
    reports_api.setup_routes(app)
    schedule_api.setup_routes(app)
    planning_api.setup_routes(app)
    tickets_api.setup_routes(app)
    ticket_access_api.setup_routes(app)
    widget.setup_routes(app)
    kb_api.setup_routes(app)
    outbound_api.setup_routes(app)
    callbacks_api.setup_routes(app)
    crm_api.setup_routes(app)
    cluster_page.setup_routes(app)


def _routing_contexts(settings: Settings, directory: Directory) -> list[cluster.Context]:
    """The routing half's contexts, entered in this order on the routing owner."""
    routing: list[cluster.Context] = [_service, admin_roster.agents_context, _messaging, _surveys, _chat]
    routing.append(_held_chats)
    routing += [supervisor.context(directory.names), _recording, _voice]
    if settings.live.enabled:
        routing.append(_live)  # after the voice adapter: it forks calls through its port
    routing.append(report_job.job_context)  # the report tables: one writer, the owner
    routing += report_mailer.owner_contexts(report_job.RUNS_STORE, REPORTS, SCHEDULE, settings.report_mail)
    routing.append(ticket_job.job_context)  # SLA checks and replies to customers: the owner
    routing.append(outbound_server.owner_context)  # the diallers and the SMS opt-out: the owner
    routing.append(_campaign_panel)  # preview cards, scripts, dispositions: the dialler meets the panel
    routing.append(crm_wiring.owner_context)  # CRM webhooks: one sender, the owner
    return routing


async def _campaign_panel(app: web.Application) -> AsyncIterator[None]:
    """The agent panel and the owner's dialling job, both in the routing half: preview cards go to
    the agents' panels, their "Call" / "Skip" and campaign dispositions to the job."""
    panel: PanelNamespace = app[CHAT][0]
    dialling = app[outbound_server.DIALLING]
    desk: CampaignDesk = dialling  # (checked by mypy: the job is what the panel asks of it)
    panel.campaigns = desk
    dialling.on_preview = panel.on_preview
    yield
    dialling.on_preview = None
    panel.campaigns = None


async def _gc_policy(app: web.Application) -> AsyncIterator[None]:
    policy = GcPolicy(app[SETTINGS].runtime)
    await policy.start()
    yield
    await policy.stop()


async def _database(app: web.Application) -> AsyncIterator[None]:
    database = Database(app[SETTINGS].database.url)
    await database.start()
    app[DATABASE] = database
    log.info("database.ready", extra={"url": database.safe_url})
    yield
    await database.stop()


async def _accounts(app: web.Application) -> AsyncIterator[None]:
    """Accounts, sessions (cookie sign-in works from here on), throttling, the audit log."""
    settings, clock = app[SETTINGS], app[AUTH_CLOCK]
    store = AccountStore(settings.database.url, app[DATABASE].engine)
    await store.start()
    audit = Audit(store, clock)
    app[AUDIT] = audit
    app[pages.ACCOUNTS] = Accounts(store, audit, app[api.DIRECTORY].names, clock)
    # Several nodes share one Redis: they share the failed sign-in counts through it too.
    redis = (
        None
        if settings.realtime.redis_url is None
        else Redis.from_url(settings.realtime.redis_url, socket_connect_timeout=2)
    )
    shared = None if redis is None else RedisCounts(redis)
    app[pages.THROTTLE] = LoginThrottle(settings.security.login_throttle, clock, shared)
    sessions = Sessions(store, settings.security.sessions, clock)
    app[auth.AUTH_KEY].sessions = sessions

    async def sweep() -> None:
        while True:
            try:
                removed = await sessions.sweep()
                if removed:
                    log.info("sessions.expired", extra={"removed": removed})
            except DatabaseError as err:
                log.warning("sessions.sweep_failed", extra={"detail": str(err)})
            await asyncio.sleep(SESSION_SWEEP_SECONDS)

    sweeper = asyncio.get_running_loop().create_task(sweep())
    try:
        yield
    finally:
        await cancel_and_wait(sweeper)
        app[auth.AUTH_KEY].sessions = None
        if redis is not None:
            await redis.aclose()
        await store.stop()


def _configured_line(app: web.Application, queue: str) -> str | None:
    """The ``line:`` of ``queue`` in the engine's queues (None without one, or before the engine)."""
    service = app.get(api.SERVICE)
    found = service.engine.queues.get(queue) if service is not None else None
    return found.line if found is not None else None


async def _qa(app: web.Application) -> AsyncIterator[None]:
    """QA review: the store (transcripts, scores, reviews, playback audit), the recordings to
    play, the scorecards. The transcription service's ``results`` is this store."""
    settings = app[SETTINGS]
    cards = qa_api.Scorecards()
    if settings.qa.scorecards is not None:
        try:
            cards.update(await asyncio.to_thread(load_scorecards, settings.qa.scorecards))
        except ScorecardError as err:
            raise ConfigError(str(err)) from err
    store = QaStore(
        settings.database.url, app[DATABASE].engine, queue_lines=lambda queue: _configured_line(app, queue)
    )
    await store.start()
    recordings = RecordingStore.from_settings(settings.recordings)
    app[QA_STORE] = app[qa_api.QA_STORE] = store
    app[RECORDING_STORE] = app[qa_api.RECORDINGS] = recordings
    app[qa_api.SCORECARDS] = cards
    yield
    await store.stop()


async def _kb(app: web.Application) -> AsyncIterator[None]:
    """The knowledge base (docs/knowledge-base.md): on every node, it is only the database."""
    store = KbStore(app[SETTINGS].database.url, app[DATABASE].engine)
    await store.start()
    app[kb_api.KB] = store
    yield
    await store.stop()


async def _recording_paused(database: Database, interaction_id: str) -> bool:
    """Whether the call's events say its recording was paused last (Asterisk kept the mute)."""
    paused = False
    for event in await database.events_for(interaction_id):
        match event.notice:
            case nt.RecordingPaused():
                paused = True
            case nt.RecordingResumed():
                paused = False
    return paused


async def _service(app: web.Application) -> AsyncIterator[None]:
    settings, database = app[SETTINGS], app[DATABASE]
    engine = build_engine(settings, app[api.DIRECTORY].agents.values())
    service = CallCenter(engine, database)
    unfinished = await database.unfinished_interactions()
    service.dispatch(engine.restore(unfinished, time.time()))
    engine.restore_wrap_ups(await database.pending_wrap_ups(since=time.time() - WRAP_UPS_KEPT_SECONDS))
    for i in list(engine.interactions.values()):  # calls whose recording an agent had paused
        if i.talking_agent is not None and await _recording_paused(database, i.id):
            service.handle(cl.RecordingFound(i.id, time.time()))
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
        app[admin_config.QUEUE_WATCHER] = watcher
    yield
    if watcher is not None:
        await watcher.stop()
    await service.stop()


def build_senders(
    settings: Settings,
    session: aiohttp.ClientSession,
    clock: Callable[[], float],
    webchat: Sender | None = None,
) -> dict[MessagingChannel, Sender]:
    m = settings.messaging
    timeout = m.outbox.request_timeout
    senders: dict[MessagingChannel, Sender] = {}
    if webchat is not None:
        senders[MessagingChannel.WEBCHAT] = webchat
    if m.twilio is not None:
        senders[MessagingChannel.SMS] = TwilioSender(session, m.twilio, m.public_url, timeout)
    if m.whatsapp is not None:
        senders[MessagingChannel.WHATSAPP] = WhatsAppSender(session, m.whatsapp, timeout)
    if m.wechat is not None:
        senders[MessagingChannel.WECHAT] = WeChatSender(session, m.wechat, timeout, clock)
    if m.email is not None:
        senders[MessagingChannel.EMAIL] = SmtpSender(m.email)
    return senders


async def _messaging(app: web.Application) -> AsyncIterator[None]:
    """Messages and replies: store -> messaging service (books restored from the store) ->
    routing of conversations into the ACD (after the virtual agent's flow, when ``bot_flows`` names
    one; restored) -> HTTP session -> outbox -> SMTP server (stopped in reverse)."""
    settings, service = app[SETTINGS], app[api.SERVICE]
    # Fenced like the interactions (the election set the database's fencing before electing us).
    store = MessagingStore(settings.database.url, app[DATABASE].engine, fencing=app[DATABASE].fencing)
    await store.start()
    messaging = Messaging(store, settings.messaging, clock=time.time)
    router = ConversationRouter(service, messaging, settings)
    session = aiohttp.ClientSession()
    bots = _bot_flows(app, messaging, router, session)
    try:
        await messaging.restore()
        router.last_agent.update(await app[DATABASE].last_agents())
        router.restore(service.engine.interactions.values())
        await bots.restore()
    except BaseException:
        await session.close()
        await store.stop()
        raise
    bots.attach()  # new conversations and their messages go through the bot's flows
    service.listeners.append(router.on_command)
    app[ROUTER] = router
    app[BOTS] = bots
    outbox = Outbox(
        store,
        build_senders(settings, session, time.time, _webchat_sender(app)),
        settings.messaging.outbox,
        time.time,
        messaging.on_outbox,
    )
    messaging.outbox = outbox
    app[webhooks.MESSAGING] = messaging
    redis = (
        None
        if settings.realtime.redis_url is None
        else Redis.from_url(settings.realtime.redis_url, socket_connect_timeout=2)
    )
    app[webhooks.WECHAT_NONCES] = LocalNonces() if redis is None else RedisNonces(redis)
    sweeper = RetentionSweeper(
        {"message": messaging.purge}, time.time, settings.recordings.retention_sweep_seconds
    )
    try:
        await outbox.start()
        async with _smtp(app, messaging):
            await sweeper.start()
            yield
    finally:
        await bots.detach()  # first: its turns use the HTTP session and write replies
        await sweeper.stop()
        await outbox.stop()
        await session.close()
        if redis is not None:
            await redis.aclose()
        service.listeners.remove(router.on_command)
        await router.stop()
        await store.stop()


def _bot_flows(
    app: web.Application, messaging: Messaging, router: ConversationRouter, http: aiohttp.ClientSession
) -> BotFlows:
    """The virtual agent's chat flows (``messaging.bot_flows``; the flows of ``ivr.flows_dir``),
    answering from the knowledge base and opening tickets when a flow says so."""
    flow_store = app.get(FLOWS)
    assistant = Assistant(app[kb_api.KB]) if kb_api.KB in app else None
    tickets = app.get(TICKETS)

    async def open_ticket(wanted: chat.OpenTicket, opened: ConversationOpened, language: str | None) -> str:
        if tickets is None:
            raise RuntimeError("tickets are not configured (tickets.workflow_file)")
        try:
            line = messaging.customers.current(opened.customer_id).business_line
        except Exception:
            line = None
        draft = Draft(
            wanted.ticket_type,
            wanted.title[:200],
            fields={k: v for k, v in wanted.fields.items() if v != ""},
            customer_id=opened.customer_id,
            line=line,
            language=language,
            context={k: v for k, v in wanted.data.items() if k not in ("message", "customer")},
        )
        ticket = await tickets.create(draft, TicketActor("virtual-agent", role="bot"))
        return ticket.id

    async def lookup(conversation: str, request: ivr.HttpLookup) -> ivr.HttpResult:
        return await ivr_http.http_lookup(http, conversation, request, area="bot")

    return BotFlows(
        messaging,
        router,
        lambda: flow_store.flows if flow_store is not None else None,
        time.time,
        ask=assistant.ask if assistant is not None else None,
        http=lookup,
        open_ticket=open_ticket,
        nudge=bot_texts.nudge,
    )


async def _surveys(app: web.Application) -> AsyncIterator[None]:
    """Post-contact surveys (docs/reports.md): the store, the surveys file (watched), the service
    that asks after closed conversations and calls and takes the answers; messaging files a
    survey's answer into the conversation it answers (hooks removed in reverse)."""
    settings, messaging, router = app[SETTINGS], app[webhooks.MESSAGING], app[ROUTER]
    path = settings.surveys.file
    surveys = await asyncio.to_thread(load_surveys, path) if path is not None else None
    store = SurveyStore(
        settings.database.url, app[DATABASE].engine, queue_lines=lambda queue: _configured_line(app, queue)
    )
    await store.start()
    service = SurveyService(store, time.time, lambda queue: _configured_line(app, queue))
    if surveys is not None:
        service.reload(surveys)
    watcher = None if path is None else SurveysWatcher(path, service.reload, settings.surveys.reload_seconds)
    try:
        await service.start()
        if watcher is not None:
            await watcher.start()
    except BaseException:
        await store.stop()
        raise
    messaging.survey_replies = service
    router.surveys = service
    service.open_sms = functools.partial(_survey_sms, settings, messaging)
    service.send = router.send_survey
    app[api.SERVICE].listeners.append(service.on_command)
    app[SURVEYS] = service
    yield
    app[api.SERVICE].listeners.remove(service.on_command)
    await service.stop()
    router.surveys = None
    messaging.survey_replies = None
    if watcher is not None:
        await watcher.stop()
    await store.stop()


async def _survey_sms(settings: Settings, messaging: Messaging, i: Interaction) -> str | None:
    """A conversation with the caller's number for a call's survey by SMS (None: SMS is not
    configured, or the caller's number is not one we can text)."""
    if settings.messaging.twilio is None or i.customer_id is None:
        return None
    try:
        number = identity.phone(i.caller_number, settings.messaging.phone_region)
    except identity.InvalidIdentity:
        return None
    return await messaging.start_conversation(i.customer_id, MessagingChannel.SMS, number.value)


@contextlib.asynccontextmanager
async def _smtp(app: web.Application, messaging: Messaging) -> AsyncIterator[None]:
    """Our SMTP server for inbound e-mail, when the channel is configured."""
    email = app[SETTINGS].messaging.email
    if email is None:
        yield
        return
    smtp = SmtpInbound(email, messaging.receive, time.time)
    await smtp.start()
    app[SMTP_SERVER] = smtp
    log.info("email.listening", extra={"port": smtp.port})
    try:
        yield
    finally:
        await smtp.stop()


def _webchat_sender(app: web.Application) -> Sender | None:
    rt = app.get(realtime.REALTIME)
    return None if rt is None else WebchatSender(rt.sio)


async def _chat(app: web.Application) -> AsyncIterator[None]:
    """Web chat and the agent panel: the two Socket.IO namespaces, fed by the engine's commands
    and by every stored inbound message (listeners removed in reverse)."""
    settings, service, messaging = app[SETTINGS], app[api.SERVICE], app[webhooks.MESSAGING]
    rt, database = app[realtime.REALTIME], app[DATABASE]
    desk = Desk()
    names = app[api.DIRECTORY].names
    agents = PanelNamespace(
        settings.realtime,
        rt.tokens,
        service,
        messaging,
        desk,
        names,
        pause_reasons=tuple(settings.acd.pause_reasons),
        dispositions=tuple(settings.acd.dispositions),
        phone_region=settings.messaging.phone_region,
    )
    # Chats and calls agents held before a restart, and what the IVR or the virtual agent's flow
    # collected from them.
    collected: dict[str, Mapping[str, object]] = {}
    for i in list(service.engine.interactions.values()):
        for event in await database.events_for(i.id):
            match event.notice:
                case nt.IvrFinished(data=data):
                    collected[i.id] = data
    agents.restore(service.engine.interactions.values(), collected)
    customers = CustomerNamespace(settings.realtime, service, messaging, desk, names, database.add_notice)
    if settings.messaging.webchat_assistant:
        customers.assistant = Assistant(app[kb_api.KB])
    customers.surveys = app.get(SURVEYS)
    customers.callbacks = lambda: app.get(callbacks_api.CALLBACKS)
    bots = app.get(BOTS)
    if bots is not None:
        customers.bot_answers = lambda: bots.answers(MessagingChannel.WEBCHAT)
    relay = app[sockets.RELAY]
    relay.attach(agents)
    relay.attach(customers)
    service.listeners.append(agents.on_command)
    messaging.listeners.append(agents.on_received)
    app[CHAT] = (agents, customers)
    yield
    relay.detach(customers)
    relay.detach(agents)
    messaging.listeners.remove(agents.on_received)
    service.listeners.remove(agents.on_command)
    await agents.drain()


def _several_nodes(app: web.Application) -> bool:
    """Nodes elect a routing owner on PostgreSQL (asyncpg) and share a Redis: the visitors' nodes
    store messages of the web chats agents hold (web/chat_holds.py)."""
    settings, engine = app[SETTINGS], app[DATABASE].engine
    return (
        cluster.elects(settings.database.url, settings.database.election)
        and settings.realtime.redis_url is not None
        and (engine.dialect.name, engine.dialect.driver) == ("postgresql", "asyncpg")
    )


async def _held_chats(app: web.Application) -> AsyncIterator[None]:
    """The owner's side of the web chats agents hold, with several nodes: the desk written to
    ``chat_holds`` (all of it first: a new owner's desk), and what the visitors' nodes stored
    (``cc:held``) taken into the books, with a sweep of the database for what they did not tell."""
    if not _several_nodes(app):
        yield
        return
    agents, customers = app[CHAT]
    redis = redis_client(app[SETTINGS].realtime.redis_url or "")

    async def moved(held: Mapping[str, str], released: Collection[str], every: bool) -> None:
        await publish_moves(redis, held, released, every)

    holds = Holds(agents.desk, app[webhooks.MESSAGING].store, moved)
    await holds.write()
    agents.write_holds = customers.write_holds = holds.write
    consumer = HeldConsumer(redis, cluster.node_name(app), customers.told)
    store = app[webhooks.MESSAGING].store
    sweep = HeldSweep(store.held_messages, customers.messaging.knows, customers.swept, time.time)
    sweeping = None
    try:
        await consumer.start()
        sweeping = asyncio.get_running_loop().create_task(sweep.run())
        yield
    finally:
        await cancel_and_wait(sweeping)
        await consumer.stop()
        agents.write_holds = customers.write_holds = None
        await redis.aclose()


def _visitor_messages(app: web.Application, held: HeldChats, redis: Redis) -> VisitorMessages:
    """A visitor's message in a chat an agent holds: stored and shown by this node while it does
    not own the routing (web/chat_holds.py)."""
    settings, sio = app[SETTINGS], app[realtime.REALTIME].sio

    async def emit(name: str, payload: Mapping[str, object], room: str, namespace: str) -> None:
        await sio.emit(name, dict(payload), room=room, namespace=namespace)

    async def tell(entry: Mapping[str, str]) -> None:
        await tell_held(redis, entry)

    return VisitorMessages(
        held,
        emit,
        tell,
        settings.realtime.max_text_chars,
        settings.messaging.conversation_idle_seconds,
        time.time,
    )


async def _sockets(app: web.Application) -> AsyncIterator[None]:
    """The namespaces every node serves (``web/sockets.py``): sockets are accepted here, their
    events carried out by the routing owner's namespaces (in-process, or over ``cc:sockets``)."""
    settings, rt = app[SETTINGS], app[realtime.REALTIME]
    redis = None if settings.realtime.redis_url is None else redis_client(settings.realtime.redis_url)
    forwarder = None if redis is None else SocketForwarder(redis)
    relay = sockets.Relay(rt.sio, forwarder)
    held = None if redis is None or not _several_nodes(app) else HeldChats(app[DATABASE].engine)
    shortcut = None if held is None or redis is None else _visitor_messages(app, held, redis)
    every = {
        chat_agent.NAMESPACE: sockets.Rules(
            chat_agent.NAMESPACE, _declared(PanelNamespace), chat_agent.admit, sockets.with_id("reply")
        ),
        webchat.NAMESPACE: sockets.Rules(
            webchat.NAMESPACE,
            _declared(CustomerNamespace),
            prepare=sockets.with_id("message"),
            remember=chat_customer.remember,
            shortcut=shortcut,
        ),
        supervisor.NAMESPACE: sockets.Rules(
            supervisor.NAMESPACE, _declared(supervisor.SupervisorNamespace), supervisor.admit
        ),
    }
    for rules in every.values():
        front = sockets.Front(rules, settings.realtime, rt.tokens, relay)
        relay.fronts.append(front)
        rt.sio.register_namespace(front)
    app[sockets.RELAY] = relay
    listening = moves = None
    if redis is not None:
        listening = asyncio.get_running_loop().create_task(listen_for_owners(redis, relay))
    if redis is not None and shortcut is not None:
        moves = asyncio.get_running_loop().create_task(listen_for_moves(redis, shortcut))
    try:
        yield
    finally:
        await cancel_and_wait(moves)
        await cancel_and_wait(listening)
        if forwarder is not None:
            await forwarder.stop()
        if held is not None:
            await held.close()
        if redis is not None:
            await redis.aclose()


async def _nodes(app: web.Application) -> AsyncIterator[None]:
    """Every node: its beacon in ``cc:nodes`` (with Redis), and the admins' view of the nodes
    (``cluster_nodes.py``, ``/admin/cluster``)."""
    settings, sio = app[SETTINGS], app[realtime.REALTIME].sio
    node, health, database = cluster.node_name(app), app[api.HEALTH], app[DATABASE]

    def sockets() -> dict[str, int]:
        rooms = sio.manager.rooms
        spaces = (chat_agent.NAMESPACE, webchat.NAMESPACE, supervisor.NAMESPACE)
        return {ns.strip("/"): len(rooms.get(ns, {}).get(None, {})) for ns in spaces}

    async def term() -> tuple[str, int, float | None]:
        if cluster.elects(settings.database.url, settings.database.election):
            return await database.routing_term()
        return node, 0, this.started_at  # alone: this node routes, unfenced

    redis = None if settings.realtime.redis_url is None else redis_client(settings.realtime.redis_url)
    this = cluster_nodes.ThisNode(node, health.role, sockets)
    beacon = None if redis is None else cluster_nodes.NodeBeacon(redis, this)
    app[cluster_page.CLUSTER] = cluster_nodes.ClusterReport(this.now, term, redis)
    if beacon is not None:
        await beacon.start()
    try:
        yield
    finally:
        if beacon is not None:
            await beacon.stop()
        if redis is not None:
            await redis.aclose()


def _declared(namespace: type) -> dict[str, frozenset[str]]:
    return {name: roles for name, (roles, _handler) in realtime.handlers_of(namespace).items()}


def flow_factory(settings: Settings, store: FlowStore | None) -> Callable[[ev.CallArrived], ivr.Flow]:
    """Each call runs the flows valid at its arrival (a reload never changes a call in progress);
    without YAML flows (none configured, or none valid yet), the fixed menu."""
    menu = menu_flow_factory(settings)

    def make(arrived: ev.CallArrived) -> ivr.Flow:
        flows = store.flows if store is not None else None
        if flows is None:
            return ivr.MenuFlow(menu)
        return FlowRunner(
            flows,
            store.entry if store is not None else "",
            now=datetime.fromtimestamp(arrived.at, UTC),
            caller=arrived.caller_number,
            caller_name=arrived.caller_name,
            dialed=arrived.dialed_number,
        )

    return make


def campaign_flow(store: FlowStore | None) -> Callable[[str, DialDecided], ivr.Flow | None]:
    """An agentless campaign's flow (by name, among the flows valid when the person answers),
    with the record's list columns as variables beside ``caller`` (the number called)."""

    def make(name: str, call: DialDecided) -> ivr.Flow | None:
        flows = store.flows if store is not None else None
        if flows is None or name not in flows.flows:
            return None
        runner = FlowRunner(
            flows, name, now=datetime.fromtimestamp(call.at, UTC), caller=call.number, dialed=call.campaign
        )
        runner.variables = {**call.fields, **runner.variables}
        return runner

    return make


def flow_opening(settings: Settings, store: FlowStore | None) -> Callable[[], ivr.Opening]:
    """What calls start with under the flows valid now (the fixed menu without YAML flows)."""
    menu = ivr.MenuFlow(menu_flow_factory(settings))

    def current() -> ivr.Opening:
        flows = store.flows if store is not None else None
        if flows is None:
            return menu.opening()
        try:
            runner = FlowRunner(flows, store.entry if store is not None else "", now=datetime.now(UTC))
        except ivr.FlowError:
            return ivr.Opening()  # each call reports the broken entry on its own
        return runner.opening()

    return current


async def _flows(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    assert settings.ivr.flows_dir is not None
    store = FlowStore(settings.ivr, settings.ivr.flows_dir)
    await asyncio.to_thread(store.reload)
    if store.flows is None:
        log.error(
            "ivr.no_valid_flows", extra={"detail": "calls get the fixed menu until the flows are fixed"}
        )
    app[FLOWS] = store
    watcher = asyncio.get_running_loop().create_task(store.watch())
    yield
    await cancel_and_wait(watcher)


def _alert_supervisors(app: web.Application) -> Callable[[str, Alert], Awaitable[None]]:
    async def on_alert(interaction_id: str, alert: Alert) -> None:
        # An emergency word in a call: logged, and shown on the supervisors' consoles.
        log.warning("qa.emergency_word", extra={"interaction": interaction_id, "word": alert.word})
        board = app.get(supervisor.WALLBOARD)
        if board is not None:
            board.emergency(interaction_id, alert)

    return on_alert


async def _recording(app: web.Application) -> AsyncIterator[None]:
    """Recordings: the store -> transcription (its job queue and worker processes, when enabled) ->
    the recorder, which takes each recorded call's files in once the call has ended."""
    settings, service, database = app[SETTINGS], app[api.SERVICE], app[DATABASE]
    store = app[RECORDING_STORE]  # the same store QA plays recordings from
    transcription = None
    adapting: AdaptationService | None = None
    if settings.transcription.enabled:
        from callcenter.qa.loader import load_rules
        from callcenter.speech.pool import TranscriptionPool
        from callcenter.speech.service import TranscriptionService
        from callcenter.storage.transcription_jobs import JobStore

        conf = settings.transcription
        rules = load_rules(conf.qa_rules) if conf.qa_rules is not None else None
        if conf.adaptation.enabled and conf.engine == "pocketsphinx":
            adapting = app[ADAPTATION] = _adaptation(settings, app[QA_STORE], app.get(ADAPTATION_SOURCES, []))
        transcription = TranscriptionService(
            conf,
            JobStore(settings.database.url, database.engine),
            TranscriptionPool(conf.workers),
            rules,
            on_alert=_alert_supervisors(app),
            key=store.key,
            results=app[QA_STORE],
            adapted=adapting.model if adapting is not None else None,
        )
        await transcription.start()
        if adapting is not None:  # builds off the loop; until then the general model is used
            await adapting.start()
    recorder = Recorder(
        settings,
        service.engine,
        store,
        lookup=database.get_interaction,
        transcribe=transcription.submit if transcription is not None else None,
    )
    service.listeners.append(recorder.on_command)
    app[RECORDER] = recorder
    sweeper = RetentionSweeper(
        recording_purges(store, app[QA_STORE], store.retention),
        time.time,
        settings.recordings.retention_sweep_seconds,
    )
    try:
        await recorder.start()
        await sweeper.start()
        log.info(
            "recording.ready",
            extra={"enabled": settings.recordings.enabled, "spool": str(recorder.spool)},
        )
        yield
    finally:
        await sweeper.stop()
        service.listeners.remove(recorder.on_command)
        await recorder.stop()
        if transcription is not None:
            await transcription.stop()
        if adapting is not None:
            await adapting.stop()


def _adaptation(
    settings: Settings, qa_store: QaStore, extra: list[tuple[str, AsyncTextSource]]
) -> AdaptationService:
    """The adapted language model's keeper (docs/qa.md, "Domain adaptation"): the files named by
    the settings, the reviewed transcripts when asked for, and ``extra`` (``ADAPTATION_SOURCES``,
    the knowledge base's seam)."""
    conf = settings.transcription.adaptation
    sources = list(extra)
    if conf.reviewed_transcripts:
        limit = conf.reviewed_transcripts

        async def reviewed() -> list[str]:
            return await qa_store.reviewed_texts(limit)

        sources.append(("reviewed transcripts", reviewed))
    return AdaptationService(settings, sources)


async def _live(app: web.Application) -> AsyncIterator[None]:
    """Live transcription (docs/qa.md): the AudioSocket server, the recognizer workers, the
    service's commands followed, results to the agents' and supervisors' screens."""
    from callcenter.asterisk.audiosocket import AudioSocketServer
    from callcenter.qa.loader import load_rules
    from callcenter.qa.sentiment import anger_measure
    from callcenter.speech.live import LiveTranscription, live_preload
    from callcenter.speech.live_pool import LivePool
    from callcenter.web.live import LiveScreens

    settings, service, voice = app[SETTINGS], app[api.SERVICE], app[VOICE]
    conf = settings.live
    rules_path = settings.transcription.qa_rules
    rules = load_rules(rules_path) if rules_path is not None else None
    board = app.get(supervisor.WALLBOARD)
    panel = app.get(supervisor.AGENT_PANEL)
    screens = LiveScreens(
        lambda: service.engine,
        app[api.DIRECTORY].names,
        panel,
        board.namespace if board is not None else None,
    )
    live: LiveTranscription | None = None
    server = AudioSocketServer(conf.host, conf.port, lambda sid: live.open_stream(sid) if live else None)
    await server.start()
    live = LiveTranscription(
        settings,
        service.engine,
        voice.port,
        LivePool(conf.workers, conf.streams_per_worker, live_preload(settings.transcription)),
        screens,
        agent_channel=voice.calls.agent_channel,
        address=conf.advertise or f"{conf.host}:{server.port}",
        rules=rules,
        anger_of=anger_measure(settings.transcription.language),
    )
    live.start()
    service.listeners.append(live.on_command)
    app[LIVE] = live
    log.info("live.ready", extra={"address": live.address, "workers": conf.workers})
    try:
        yield
    finally:
        service.listeners.remove(live.on_command)
        await server.stop()
        await live.stop()
        await screens.drain()


# Set while an event from Asterisk (the voice adapter) is handled: a session recording keeps the
# others (the panel's, the API's...) as its ``input`` records, since a replay re-creates these.
_FROM_ASTERISK: ContextVar[bool] = ContextVar("from_asterisk", default=False)
T = TypeVar("T")
R = TypeVar("R")


def _from_asterisk(handler: Callable[[T], object]) -> Callable[[T], None]:
    def handle(value: T) -> None:
        token = _FROM_ASTERISK.set(True)
        try:
            handler(value)
        finally:
            _FROM_ASTERISK.reset(token)

    return handle


def _from_asterisk_returning(handler: Callable[[T], R]) -> Callable[[T], R]:
    """Like :func:`_from_asterisk`, for an adapter that reads what the handler returned."""

    def handle(value: T) -> R:
        token = _FROM_ASTERISK.set(True)
        try:
            return handler(value)
        finally:
            _FROM_ASTERISK.reset(token)

    return handle


def _asterisk_port(settings: Settings, service: CallCenter) -> tuple[AsteriskPort, SessionRecorder | None]:
    """The AMI client (one per server with ``asterisk.servers``: farm_port.py); recorded with the
    engine's other inputs when ``asterisk.session_recordings``."""
    port: AsteriskPort = build_asterisk_port(settings.asterisk)
    if settings.asterisk.session_recordings is None:
        return port, None
    recording = SessionRecorder.in_directory(settings.asterisk.session_recordings)

    def observe(event: ev.Event | cl.CallEvent) -> None:
        if not _FROM_ASTERISK.get() and not isinstance(event, ev.Tick):  # a replay ticks itself
            recording.input(event)

    service.observers.append(observe)
    log.info("asterisk.recording_session", extra={"file": str(recording.path)})
    return recording.wrap(port), recording


def _waiting_callers(service: CallCenter, snapshot: AsteriskSnapshot) -> None:
    """Callers Asterisk has waiting that the engine does not know as queued: a previous owner
    decided and died before storing it (docs/cluster.md). Asterisk's word is taken."""
    now = service.clock()
    for iid, caller in snapshot.waiting.items():
        known = service.engine.interactions.get(iid)
        if known is not None and known.queue is not None:
            continue
        log.warning("voice.waiting_caller_taken_back", extra={"interaction": iid, "queue": caller.queue})
        if known is None:
            arrived = now - caller.since
            service.submit(ev.CallArrived(iid, caller.caller_number, "", "", caller.channel, arrived))
        service.submit(ev.IvrFinished(iid, None, caller.queue, now, outcome="queue"))


def _on_snapshot(directory: Directory, service: CallCenter) -> Callable[[AsteriskSnapshot], None]:
    """What Asterisk reported after a (re)connect: agents' phones it does not know are logged, and
    the engine reconciles its interactions and registrations with it."""

    def on_snapshot(snapshot: AsteriskSnapshot) -> None:
        for agent in directory.agents.values():
            if agent.extension not in snapshot.endpoints:
                log.warning(
                    "agent.unknown_extension",
                    extra={
                        "agent": agent.id,
                        "extension": agent.extension,
                        "detail": "Asterisk has no PJSIP endpoint of this name: calls cannot reach it",
                    },
                )
        _waiting_callers(service, snapshot)
        calls = service.engine.interactions.values()
        live = frozenset(i.id for i in calls if i.caller_channel in snapshot.channels)
        service.submit(ev.Reconciled(live, snapshot.registered, service.clock()))

    return on_snapshot


def _follow_roster(app: web.Application, voice: VoiceAdapter, port: AsteriskPort) -> None:
    """Agents added and removed at runtime: feature codes find them in the engine, their phones'
    endpoints are written and loaded (asterisk.config_dir), a phone already up is seen."""
    settings, engine = app[SETTINGS], app[api.SERVICE].engine
    voice.inbound.agent_of = lambda ext: a.id if (a := engine.agent_by_extension(ext)) else None
    if settings.asterisk.config_dir is not None:
        app[admin_roster.ENDPOINTS] = AddedEndpoints(settings, settings.asterisk.config_dir, port)
    app[admin_roster.REGISTERED] = voice.registered


def _agi_routes(
    app: web.Application, voice: VoiceAdapter
) -> dict[str, Callable[[AgiChannel], Awaitable[None]]]:
    """The voice adapter's FastAGI routes (inbound calls, feature codes, campaigns' answers) and
    the post-call survey's (``surveys/ivr.py``)."""
    settings = app[SETTINGS]
    survey = IvrSurvey(
        lambda: app.get(SURVEYS),
        app[api.SERVICE].interaction,
        settings.surveys.ivr_timeout_seconds,
        several_nodes=bool(settings.agi.nodes),
    )
    voice.inbound.survey_wanted = survey.wanted
    voice.inbound.schedule_callback = ivr_callbacks(app)
    return {**voice.routes, SURVEY_ROUTE: survey}


def ivr_callbacks(
    app: web.Application,
) -> Callable[[ivr.ScheduleCallback], Awaitable[ivr.CallbackResult]]:
    """The IVR's ``schedule_callback`` step, carried out by the callbacks service (any failure is
    the flow's refused path, with why)."""

    async def schedule(step: ivr.ScheduleCallback) -> ivr.CallbackResult:
        service = app.get(callbacks_api.CALLBACKS)
        if service is None:
            return ivr.CallbackResult(False, error="no callbacks service")
        try:
            filed = await service.file_picked(
                queue=step.queue,
                number=step.number,
                minutes=step.minutes,
                day=step.day,
                at=step.at,
                source="ivr",
                by="ivr",
                fallback_zone=step.timezone,
            )
        except (CallbackRefused, InvalidCallback) as err:
            return ivr.CallbackResult(False, error=str(err)[:200])
        except StorageError as err:
            log.warning("callbacks.ivr_failed", extra={"detail": str(err)[:200]})
            return ivr.CallbackResult(False, error="the callback could not be stored")
        return ivr.CallbackResult(True, local=filed.local)

    return schedule


def _place_campaign_calls(
    app: web.Application, voice: VoiceAdapter, service: CallCenter
) -> Callable[[], None]:
    """Campaigns' calls: the owner's dialling job (outbound/server.py, started after the voice
    context) places them through the voice adapter; the engine's commands tell the placer how each
    one went. Returns what undoes it."""
    placer = voice.place_campaign_calls(_from_asterisk_returning(service.handle))
    placer.flow_of = campaign_flow(app.get(FLOWS))
    placer.sound = voice.inbound.sound
    placer.http_lookup = voice.inbound.http_lookup
    placer.schedule_callback = ivr_callbacks(app)
    app[outbound_server.PLACER] = placer
    service.listeners.append(placer.on_command)

    def unwire() -> None:
        app.pop(outbound_server.PLACER, None)
        service.listeners.remove(placer.on_command)

    return unwire


async def _voice(app: web.Application) -> AsyncIterator[None]:
    settings, service = app[SETTINGS], app[api.SERVICE]
    on_snapshot = _on_snapshot(app[api.DIRECTORY], service)
    router = app[ROUTER]

    def submit(event: ev.Event | cl.CallEvent) -> None:
        if isinstance(event, (*cl.REQUESTS, *cl.RESULTS)):
            service.submit(event)  # a call control's result
            return
        # The IVR's result, enriched with the caller's customer record (VIP, line, tags, language).
        service.submit(router.enrich_call(event))

    port, recording = _asterisk_port(settings, service)
    voice = VoiceAdapter(
        settings,
        port=port,
        new_id=recording.new_id if recording is not None else lambda: uuid.uuid4().hex,
        submit=_from_asterisk(submit),
        handle=_from_asterisk(service.handle),
        on_snapshot=_from_asterisk(on_snapshot),
        flow_factory=flow_factory(settings, app.get(FLOWS)),
        opening=flow_opening(settings, app.get(FLOWS)),
        record_base=app[RECORDER].base_for,
        identify_caller=router.identify_caller,
    )
    live = service.engine.interactions.values()
    voice.adopt_callers(
        {i.caller_channel: i.id for i in live if i.caller_channel},
        {i.id: agent for i in live if i.caller_channel and (agent := i.talking_agent)},
    )
    service.dialer = voice
    service.call_control = voice.calls
    app[VOICE] = voice
    _follow_roster(app, voice, port)
    unwire_placer = _place_campaign_calls(app, voice, service)  # before the routes: it has one
    served = _agi_routes(app, voice)
    routes = recording.wrap_routes(served) if recording else served
    routes = farm_routes(settings.asterisk, routes)  # sessions from several servers: named apart
    agi = AgiServer(settings.agi.host, settings.agi.port, routes)
    metrics.AMI_CONNECTED.set(0)  # until this server's session logs in (not a previous one's value)
    await voice.start()
    try:
        await agi.start()  # FastAGI first: a call may arrive as soon as AMI is up
        try:
            await port.start()
            synced = app[admin_roster.APPLIER].sync()  # waits for AMI, reloads if the file changed
            yield
            if synced is not None:
                await cancel_and_wait(synced)
        finally:
            app.pop(admin_roster.ENDPOINTS, None)
            unwire_placer()
            service.dialer = None
            service.call_control = None
            await port.stop()
            await agi.stop()
    finally:
        await voice.stop()
        if recording is not None:
            recording.close()

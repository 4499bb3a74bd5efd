"""The supervisor console: the live wallboard (page ``/supervisor``, Socket.IO namespace
``/supervisor``), its alerts, and the supervisor's actions (reassign a chat, listen / whisper /
barge on a call). Figures and definitions: docs/supervisor.md.

Invariants:

- Business lines: every view, push and alert is built for the principal's lines. Sockets join one
  room per distinct set of lines (``scope:*`` for unscoped principals), and each room gets a view
  built for exactly that set, so a billing supervisor never receives a sales queue or agent.
- The namespace accepts supervisors and admins only; its one event (``sync``) declares its roles
  (deny by default, :mod:`callcenter.web.realtime`). Actions are HTTP routes with their roles, and
  each one is audited.
- The :class:`Wallboard` only reads the engine; actions go through ``CallCenter.handle`` as events,
  and listen / whisper / barge through ``CallCenter.request`` (``SpyRequested``): the core checks it
  against the call's state, the audit row is written, then the call-control adapter rings the
  supervisor's phone.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import asdict
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field
from socketio import AsyncNamespace
from socketio.exceptions import ConnectionRefusedError as Refused

from callcenter.accounts.principal import Principal
from callcenter.aio import Background, cancel_and_wait
from callcenter.core import events as ev
from callcenter.core.acd.agents import IllegalTransition
from callcenter.core.acd.engine import Acd
from callcenter.core.acd.wallboard import MINUTE, RollingSeries, SlAlert, SlAlerts
from callcenter.core.business_lines import call_line
from callcenter.core.calls import machine as cl
from callcenter.core.commands import Command, SaveInteraction
from callcenter.core.errors import DomainError, UnknownAgent
from callcenter.core.interaction import Channel, Interaction
from callcenter.core.omni.customers import CustomerBook, IdentityKind
from callcenter.core.qa.scoring import Alert
from callcenter.service import CallCenter
from callcenter.settings import ApiToken, RealtimeSettings
from callcenter.web import softphone
from callcenter.web.api import SERVICE, may_see_agent, may_see_queue, queue_line
from callcenter.web.audit import record
from callcenter.web.auth import PRINCIPAL, allow
from callcenter.web.chat_agent import NAMESPACE as AGENT_NAMESPACE
from callcenter.web.chat_agent import AgentNamespace, agent_room
from callcenter.web.http import read_object
from callcenter.web.openapi import doc
from callcenter.web.pages import add_nav, render
from callcenter.web.realtime import REALTIME, Ack, GuardedNamespace, authenticate_socket, event
from callcenter.web.sockets import RELAY
from callcenter.web.webhooks import MESSAGING

_SCOPE = "a user limited to business lines sees and acts on only theirs"
log = logging.getLogger(__name__)

NAMESPACE = "/supervisor"
PUSH_SECONDS = 1.0  # at most one wallboard per scope per second while things change
IDLE_PUSH_SECONDS = 5.0  # and one every so often anyway (waits grow without events)
RESTORE_LIMIT = 500  # interactions read back at start to rebuild the last hour's series
SPY_MODES = cl.SPY_MODES
# A chat customer without a name is shown by the first of these identities it has.
_TELLING = (IdentityKind.EMAIL, IdentityKind.PHONE, IdentityKind.WHATSAPP, IdentityKind.WEB)


def scope_key(lines: frozenset[str] | None) -> str:
    return "scope:*" if lines is None else "scope:" + ",".join(sorted(lines))


def _scoped(lines: frozenset[str] | None) -> Principal:
    return Principal("wallboard", "supervisor", lines=lines)


class Wallboard:
    """Keeps the rolling series and alert state, and pushes views to the supervisors' rooms."""

    def __init__(
        self,
        service: CallCenter,
        names: Mapping[str, str],
        *,
        push_seconds: float = PUSH_SECONDS,
        idle_push_seconds: float = IDLE_PUSH_SECONDS,
        min_calls: int = 3,
        customers: Callable[[], CustomerBook | None] = lambda: None,
    ) -> None:
        self.service = service
        self.names = names
        self.customers = customers  # the messaging's book, when it runs: names instead of ids
        self.series = RollingSeries()
        self.alerts = SlAlerts(min_calls=min_calls)
        self.namespace: SupervisorNamespace | None = None
        self._push_seconds, self._idle_push_seconds = push_seconds, idle_push_seconds
        self._dirty = True
        self._pushed_at = 0.0
        self._task: asyncio.Task[None] | None = None

    @property
    def engine(self) -> Acd:
        return self.service.engine

    # --- inputs --------------------------------------------------------------------------------

    def on_command(self, command: Command) -> None:
        """A ``CallCenter`` listener: calls leaving queues feed the series; any change marks dirty."""
        if isinstance(command, SaveInteraction):
            i = command.interaction
            queue = self.engine.queues.get(i.queue) if i.queue is not None else None
            self.series.observe(i, queue.service_level_seconds if queue is not None else 20.0)
        self._dirty = True

    def mark_dirty(self) -> None:
        self._dirty = True

    def restore(self, interactions: Iterable[Interaction], now: float) -> None:
        """The last hour's series from stored interactions (older minutes are dropped)."""
        sl = {name: q.service_level_seconds for name, q in self.engine.queues.items()}
        self.series.restore(interactions, sl, now)

    def emergency(self, interaction_id: str, alert: Alert) -> None:
        """The transcription service's ``on_alert``: an emergency word heard in a call."""
        found = self.engine.interactions.get(interaction_id)
        line = None
        if found is not None:  # the call's line, as /qa files it (the customer's line first)
            queue = self.engine.queues.get(found.queue) if found.queue is not None else None
            line = call_line(found.queue, queue.line if queue is not None else None, found.skills)
        payload = {
            "kind": "emergency_word",
            "interaction_id": interaction_id,
            "queue": found.queue if found is not None else None,
            "agent_id": found.agent_id if found is not None else None,
            "agent_name": self.names.get(found.agent_id, found.agent_id)
            if found is not None and found.agent_id
            else None,
            "word": alert.word,
        }
        if self.namespace is not None:
            self.namespace.send_alert(payload, line)

    # --- outputs -------------------------------------------------------------------------------

    def view(self, principal: Principal, now: float) -> dict[str, Any]:
        """The wallboard as ``principal`` may see it."""
        engine = self.engine
        queues = []
        for name in engine.queue_names():
            if not may_see_queue(principal, engine, name):
                continue
            stats = engine.queue_stats(name, now)
            hour_sl, counted = self.series.hour_service_level(name, now)
            queues.append(
                {
                    **asdict(stats),
                    "line": queue_line(engine, name),
                    "hour_service_level": hour_sl,
                    "hour_counted": counted,
                    "alert": name in self.alerts.below,
                    "series": [
                        [p.minute * MINUTE, p.waiting, p.service_level] for p in self.series.points(name, now)
                    ],
                }
            )
        agents = []
        for agent in sorted(engine.agents.values(), key=lambda a: a.id):
            if not may_see_agent(principal, engine, agent):
                continue
            current = []
            ids = [agent.interaction_id] if agent.interaction_id else []
            ids += [i for i in engine.conversations_of(agent.id) if i not in ids]
            for iid in ids:
                live = engine.interactions.get(iid)
                if live is None:
                    continue
                current.append(
                    {
                        "interaction_id": iid,
                        "channel": live.channel.value,
                        "queue": live.queue,
                        "customer": self.customer_label(live),
                        "conversation_id": live.conversation_id,
                        "since": live.answered_at or live.started_at,
                        "held": live.agent_id == agent.id,
                    }
                )
            agents.append(
                {
                    "id": agent.id,
                    "name": self.names.get(agent.id, agent.id),
                    "extension": agent.extension,
                    "state": agent.state.value,
                    "reason": agent.reason,
                    "registered": agent.registered,
                    "since": agent.since,
                    # None: never changed state since the start (no meaningful time).
                    "seconds_in_state": max(0.0, now - agent.since) if agent.since > 0 else None,
                    "queues": sorted(q for q in agent.queues if may_see_queue(principal, engine, q)),
                    "interactions": current,
                }
            )
        return {"now": now, "queues": queues, "agents": agents}

    def customer_label(self, live: Interaction) -> str:
        """Who the customer is, for a person: the book's name, else a caller's name or number, else
        the customer's most telling identity (an email, a phone); never a bare customer id."""
        if live.caller_name or live.caller_number:
            return live.caller_name or live.caller_number
        book = self.customers()
        if book is None or live.customer_id is None:
            return ""
        try:
            customer = book.current(live.customer_id)
        except (KeyError, DomainError):
            return ""
        if customer.name:
            return customer.name
        for kind in _TELLING:
            found = sorted(i.value for i in customer.identities if i.kind == kind)
            if found:
                return found[0]
        return ""

    def tick(self, now: float) -> list[SlAlert]:
        """Sample the waiting callers and check each queue's hour service level against its target."""
        fired = []
        names = self.engine.queue_names()
        for name in names:
            self.series.sample(name, self.engine.waiting_count(name), now)
            queue = self.engine.queues.get(name)
            if queue is None:
                continue
            sl, counted = self.series.hour_service_level(name, now)
            alert = self.alerts.check(name, sl, queue.service_level_target, counted)
            if alert is not None:
                fired.append(alert)
        self.alerts.forget([q for q in list(self.alerts.below) if q not in names])
        return fired

    async def push(self) -> None:
        now = self.service.clock()
        fired = self.tick(now)
        ns = self.namespace
        if ns is None:
            return
        for alert in fired:
            log.warning(
                "supervisor.service_level_alert",
                extra={"queue": alert.queue, "below": alert.below, "service_level": alert.service_level},
            )
            ns.send_alert(
                {
                    "kind": "service_level",
                    "queue": alert.queue,
                    "below": alert.below,
                    "service_level": alert.service_level,
                    "target": alert.target,
                    "counted": alert.counted,
                },
                queue_line(self.engine, alert.queue),
            )
        due = self._dirty or fired or now - self._pushed_at >= self._idle_push_seconds
        if not due:
            return
        self._dirty, self._pushed_at = False, now
        for key, lines in ns.scopes().items():
            await ns.emit("wallboard", self.view(_scoped(lines), now), room=key)

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="wallboard")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._push_seconds)
            try:
                await self.push()
            except Exception:
                log.exception("supervisor.push_failed")


async def admit(
    namespace: AsyncNamespace,
    sid: str,
    environ: Mapping[str, Any],
    auth: object,
    tokens: tuple[ApiToken, ...],
) -> Principal:
    """Who may open a ``/supervisor`` socket (on any node: ``web/sockets.py``), and its room."""
    principal = await authenticate_socket(environ, auth, tokens)
    if principal is None:
        raise Refused("authentication required")
    if principal.role not in ("supervisor", "admin"):
        raise Refused("your role may not use the supervisor console")
    await namespace.enter_room(sid, scope_key(principal.lines))
    return principal


class SupervisorNamespace(GuardedNamespace):
    """``/supervisor``: out ``wallboard`` (the view of the socket's lines) and ``alert``; in ``sync``."""

    def __init__(self, settings: RealtimeSettings, tokens: tuple[ApiToken, ...], board: Wallboard) -> None:
        super().__init__(NAMESPACE, settings)
        self.tokens = tokens
        self.board = board
        self._tasks = Background(log, "supervisor.alert_failed")

    async def accept(self, sid: str, environ: Mapping[str, Any], auth: object) -> Principal | None:
        principal = await admit(self, sid, environ, auth, self.tokens)
        self.board.mark_dirty()  # the newcomer's scope gets a wallboard with the next push
        return principal

    async def adopted(self, sid: str, principal: Principal | None, context: Mapping[str, Any]) -> None:
        self.board.mark_dirty()  # a socket of a front (any node): its scope gets the next push

    def scopes(self) -> dict[str, frozenset[str] | None]:
        """The distinct line sets of the connected sockets, by room."""
        found: dict[str, frozenset[str] | None] = {}
        for peer in self.peers.values():
            if peer.principal is not None:
                found[scope_key(peer.principal.lines)] = peer.principal.lines
        return found

    def send_alert(self, payload: Mapping[str, Any], line: str | None) -> None:
        for key, lines in self.scopes().items():
            if lines is None or (line is not None and line in lines):
                self._tasks.spawn(self.emit("alert", dict(payload), room=key))

    @event("sync", "supervisor", "admin")
    async def on_sync(self, sid: str, data: dict[str, Any]) -> Ack:
        """The current wallboard (on connect and after a reconnect)."""
        principal = self.peers[sid].principal
        assert principal is not None  # accept() refuses anonymous sockets
        return self.board.view(principal, self.board.service.clock())

    async def drain(self) -> None:
        await self._tasks.drain()


# --- HTTP: page, wallboard, actions -----------------------------------------------------------------

WALLBOARD = web.AppKey("wallboard", Wallboard)
AGENT_PANEL = web.AppKey("supervisor_agent_panel", AgentNamespace)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _body(request: web.Request) -> dict[str, Any]:
    return await read_object(request)


class ReassignBody(BaseModel):
    interaction_id: str
    to_agent: str | None = Field(None, description="exactly one of to_agent and to_queue")
    to_queue: str | None = None


class ListenBody(BaseModel):
    agent_id: str
    mode: Literal["listen", "whisper", "barge"] = "listen"


def _name(data: Mapping[str, Any], key: str, *, required: bool = True) -> str | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= 128:
        raise web.HTTPBadRequest(
            text=f'{{"error": "{key} must be a string of 1 to 128 characters"}}',
            content_type="application/json",
        )
    return value


@doc("The supervisor console: live wallboard, alerts, actions", content="text/html", who=_SCOPE)
@allow("supervisor", "admin")
async def console_page(request: web.Request) -> web.Response:
    """The console; it is told the principal's lines (to explain an empty board) and phone."""
    principal = request[PRINCIPAL]
    own = request.app[SERVICE].engine.agents.get(principal.agent_id or "")
    phone = softphone.page_config(request)  # the browser softphone rings for listen/whisper/barge too
    return render(
        request,
        "supervisor.html",
        spy_modes=SPY_MODES,
        scope_lines=", ".join(sorted(principal.lines)) if principal.lines is not None else "",
        phone=own.extension if own is not None else "",
        softphone=json.dumps(phone) if phone else "",
        connect=softphone.connect_sources(request) if phone else (),
    )


@doc(
    "The wallboard now: per queue figures and the last hour per minute; per agent state, time in"
    " state and current interactions (what the /supervisor namespace pushes)",
    errors=(503,),
    who=_SCOPE,
)
@allow("supervisor", "admin")
async def wallboard(request: web.Request) -> web.Response:
    board = request.app.get(WALLBOARD)
    if board is None:
        return _error(503, "starting")
    return web.json_response(board.view(request[PRINCIPAL], board.service.clock()))


@doc(
    "Hand a chat held by an agent to another agent or a queue (audited)",
    body=ReassignBody,
    errors=(404, 409),
    who=_SCOPE,
)
@allow("supervisor", "admin")
async def reassign(request: web.Request) -> web.Response:
    """Hand a chat held by an agent to another agent or queue (``ConversationTransferred``)."""
    body = await _body(request)
    iid = _name(body, "interaction_id")
    to_agent = _name(body, "to_agent", required=False)
    to_queue = _name(body, "to_queue", required=False)
    if (to_agent is None) == (to_queue is None):
        return _error(400, "give exactly one of to_agent and to_queue")
    service, principal = request.app[SERVICE], request[PRINCIPAL]
    engine = service.engine
    live = engine.interactions.get(iid or "")
    if live is None or not may_see_queue(principal, engine, live.queue):
        return _error(404, "no such live interaction")
    if live.channel == Channel.VOICE or live.conversation_id is None:
        return _error(409, "only chats and messages can be reassigned")
    if live.agent_id is None:
        return _error(409, "no agent holds this conversation now")
    if to_agent is not None:
        target = engine.agents.get(to_agent)
        if target is None or not may_see_agent(principal, engine, target):
            return _error(404, "no such agent")
    if to_queue is not None and (
        to_queue not in engine.queues or not may_see_queue(principal, engine, to_queue)
    ):
        return _error(404, "no such queue")
    held_by = live.agent_id
    # Audited before the handover: no row, no handover (AuditUnavailable: 503).
    await record(
        request,
        "conversation.reassigned",
        live.id,
        {"from_agent": held_by, "to_agent": to_agent, "to_queue": to_queue},
    )
    try:
        service.handle(ev.ConversationTransferred(live.id, held_by, service.clock(), to_agent, to_queue))
    except (UnknownAgent, IllegalTransition) as err:
        return _error(409, f"refused: {err}")
    except Exception as err:  # the engine's other domain errors
        log.warning("supervisor.reassign_refused", extra={"error": repr(err)})
        return _error(409, f"refused: {err}")
    panel = request.app.get(AGENT_PANEL)
    if panel is not None:  # off the former agent's panel (its desk no longer lets it reply)
        panel.desk.release(live.conversation_id)
        if panel.write_holds is not None:  # the visitor's node stores no more for the former agent
            await panel.write_holds()
        taken = {"interaction_id": live.id, "conversation_id": live.conversation_id, "by": principal.name}
        await panel.emit("reassigned", taken, room=agent_room(held_by))
    return web.json_response({"ok": True, "interaction_id": live.id})


@doc(
    "Ring the supervisor's own phone (the extension of the account's agent id) into ChanSpy on the"
    " agent's live call: listen, whisper (the agent hears you) or barge (both do); audited",
    body=ListenBody,
    errors=(404, 409, 502, 503),
    who=_SCOPE,
)
@allow("supervisor", "admin")
async def listen(request: web.Request) -> web.Response:
    """Ring the supervisor's own phone into ChanSpy on the agent's live call: ``listen`` (nobody
    hears the supervisor), ``whisper`` (only the agent does), ``barge`` (both do). The core decides
    (``SpyRequested``: the agent's call, its state, the mode); this handler scopes the agent to the
    supervisor's lines and writes the audit row before the phone rings."""
    body = await _body(request)
    agent_id = _name(body, "agent_id")
    mode = body.get("mode", "listen")
    service, principal = request.app[SERVICE], request[PRINCIPAL]
    engine = service.engine
    agent = engine.agents.get(agent_id or "")
    if agent is None or not may_see_agent(principal, engine, agent):
        return _error(404, "no such agent")
    if service.call_control is None:
        return _error(503, "no connection to Asterisk")
    rung: list[cl.SpyCall] = []

    async def audit(commands: Sequence[Command]) -> None:
        # Audited before the phone rings: no row, no listening (AuditUnavailable: 503).
        rung.extend(c for c in commands if isinstance(c, cl.SpyCall))
        for spy in rung:
            await record(
                request,
                f"call.{spy.mode}",
                spy.agent_id,
                {"extension": spy.extension, "call": spy.interaction_id},
            )

    asked = cl.SpyRequested(principal.agent_id, agent.id, str(mode)[:32], service.clock())
    await service.request(asked, before=audit)
    extension = rung[0].extension if rung else None
    return web.json_response({"ok": True, "agent_id": agent.id, "mode": asked.mode, "extension": extension})


def setup_routes(app: web.Application) -> None:
    add_nav(app, "Supervisor", "/supervisor", "supervisor", "admin")
    app.router.add_get("/supervisor", console_page)
    app.router.add_get("/api/supervisor/wallboard", wallboard)
    app.router.add_post("/api/supervisor/reassign", reassign)
    app.router.add_post("/api/supervisor/listen", listen)


def context(names: Mapping[str, str]) -> Callable[[web.Application], AsyncIterator[None]]:
    """The cleanup_ctx of the wallboard: after the service and the Socket.IO server."""

    async def run(app: web.Application) -> AsyncIterator[None]:
        service, rt = app[SERVICE], app[REALTIME]

        def customers() -> CustomerBook | None:
            messaging = app.get(MESSAGING)
            return messaging.customers if messaging is not None else None

        board = Wallboard(service, names, customers=customers)
        store = service.store
        try:
            board.restore(await store.recent_interactions(RESTORE_LIMIT), service.clock())
        except Exception as err:  # the figures start empty instead: never a reason not to start
            log.warning("supervisor.restore_failed", extra={"error": repr(err)})
        namespace = SupervisorNamespace(rt.settings, rt.tokens, board)
        board.namespace = namespace
        relay = app[RELAY]
        relay.attach(namespace)
        service.listeners.append(board.on_command)
        app[WALLBOARD] = board
        panel = relay.backs.get(AGENT_NAMESPACE)
        if isinstance(panel, AgentNamespace):
            app[AGENT_PANEL] = panel
        await board.start()
        yield
        await board.stop()
        service.listeners.remove(board.on_command)
        relay.detach(namespace)
        await namespace.drain()

    return run

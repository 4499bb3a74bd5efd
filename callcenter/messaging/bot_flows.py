"""The virtual agent's dialogue flows on web chat and messaging: a conversation runs a chat flow
(``ivr.flows_dir``, the IVR's language) before it is queued.

Between the messaging service and the conversation router (``messaging/routing.py``): a new
conversation whose business line, queue or channel has a flow in ``messaging.bot_flows`` is not
queued at once; the pure chat runner (``core/ivr/chat.py``) takes it turn by turn — each customer
message in, the bot's messages out through the outbox (so web chat, SMS and WhatsApp alike), HTTP
lookups and knowledge-base answers carried out here — until the flow ends:

- ``queue`` (or ``agent``, ``error``): the conversation is routed like any other (``on_opened``),
  to the flow's queue, in the language the flow ended in, with what the flow collected as the
  interaction's data (the agent's panel shows it beside the conversation);
- ``ticket``: a ticket of the flow's type is opened with what was collected, and the conversation
  closed (a ticket that cannot be opened hands over to a person instead: nothing is lost);
- ``hangup``: the customer was helped; the conversation is closed (contained);
- ``abandoned``: the customer stopped answering (the flow's ``idle``: one nudge, then the end); the
  conversation is closed, or routed to the idle's queue when the flow names one.

An ``agents`` node asks whether a person could take the conversation soon (an agent logged in, not
paused, to the queue with the skills and taking chats: ``core/acd/roster.staffed`` over the engine's
agents), so a flow can take an offline form (collect how to answer, open a ticket) instead of
queueing into nothing.

The idle timers are ``loop.call_at`` handles armed from the stored state (``asked_at``, ``nudged``
in ``bot_sessions``) after each turn, and again by :meth:`BotFlows.restore` on a restarted or new
routing owner, so a quiet customer's nudge and end come however often the owner changed; a timer
that fires early or after the customer answered does nothing (the pure :func:`chat.idle` decides).

Several nodes: this runs on the routing owner only (inside the messaging context), and the runner's
state is stored after every turn (``bot_sessions``, fenced like the messaging books), so a restart
or a new owner picks each conversation up where it was (:meth:`BotFlows.restore`). A lookup that
was under way when the owner stopped is not repeated: the flow takes its failure path.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from callcenter import metrics
from callcenter.aio import Background
from callcenter.core.acd.roster import staffed
from callcenter.core.ivr import chat
from callcenter.core.ivr import flow as ivr
from callcenter.core.ivr import model as m
from callcenter.core.kb.bot import Answer
from callcenter.core.omni.conversations import ConversationOpened, MessagingChannel, Received
from callcenter.core.omni.customers import Routing, routing_of
from callcenter.messaging.channels.base import InboundMessage
from callcenter.messaging.routing import ConversationRouter
from callcenter.messaging.service import Messaging

log = logging.getLogger(__name__)

HttpLookup = Callable[[str, ivr.HttpLookup], Awaitable[ivr.HttpResult]]
KbAsk = Callable[[str, str | None], Awaitable[Any]]  # Assistant.ask: Answer | Handoff
TicketOpener = Callable[[chat.OpenTicket, ConversationOpened, str | None], Awaitable[str]]
Nudge = Callable[[str], str]  # the conversation's language -> "Are you still there?" in it


@dataclass(slots=True)
class _Session:
    opened: ConversationOpened
    routing: Routing
    flow: str
    state: chat.ChatState
    started_at: float
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class BotFlows:
    def __init__(
        self,
        messaging: Messaging,
        router: ConversationRouter,
        flows: Callable[[], m.FlowSet | None],
        clock: Callable[[], float],
        *,
        ask: KbAsk | None = None,
        http: HttpLookup | None = None,
        open_ticket: TicketOpener | None = None,
        nudge: Nudge = lambda language: "Are you still there?",
    ) -> None:
        self.messaging = messaging
        self.router = router
        self.flows = flows
        self.clock = clock
        self.ask = ask
        self.http = http
        self.open_ticket = open_ticket
        self.nudge = nudge
        self._idle_timers: dict[str, asyncio.TimerHandle] = {}
        self.choices = dict(messaging.settings.bot_flows)
        self.sessions: dict[str, _Session] = {}
        self._tasks = Background(log, "bot.turn_failed")
        self._outside_calls: set[asyncio.Task[Any]] = set()  # turns waiting for a lookup or the kb

    # -- which flow -------------------------------------------------------------------------------
    def answers(self, channel: MessagingChannel) -> bool:
        """Whether a valid chat flow takes every new conversation of ``channel`` (its channel's
        entry, or the channel's queue's): the widget is then open with no agent online, and the
        flow's ``agents`` node decides what a customer nobody can take gets (its offline form)."""
        if not self.choices:
            return False
        name = self.choices.get(f"channel:{channel.value}") or self.choices.get(
            self.router.channel_queue(channel)
        )
        flows = self.flows() if name is not None else None
        flow = flows.flows.get(name) if flows is not None and name is not None else None
        return flow is not None and "chat" in flow.channels

    def flow_for(self, opened: ConversationOpened) -> str | None:
        """The chat flow this conversation runs, if any: by business line, queue, then channel."""
        if not self.choices:
            return None
        try:
            line = self.messaging.customers.current(opened.customer_id).business_line
        except Exception:
            line = None
        keys = ([f"line:{line}"] if line else []) + [
            self.router.queue_of(opened),
            f"channel:{opened.channel.value}",
        ]
        name = next((self.choices[k] for k in keys if k in self.choices), None)
        if name is None:
            return None
        flows = self.flows()
        flow = flows.flows.get(name) if flows is not None else None
        if flow is None or "chat" not in flow.channels:
            log.error(
                "bot.no_flow",
                extra={
                    "flow": name,
                    "detail": "not a valid chat flow in ivr.flows_dir: the conversation is queued",
                },
            )
            return None
        return name

    # -- messaging -> the flow --------------------------------------------------------------------
    def on_opened(self, opened: ConversationOpened, routing: Routing) -> None:
        """``Messaging.on_opened``: a flow first when one is configured, else straight to routing."""
        name = self.flow_for(opened)
        if name is None:
            self.router.on_opened(opened, routing)
            return
        state = chat.ChatState(name, "", routing.language or "")  # replaced by the first turn
        session = _Session(opened, routing, name, state, self.clock())
        self.sessions[opened.conversation_id] = session
        self._spawn(self._guarded(session, self._begin(session)))

    def on_received(self, received: Received, inbound: InboundMessage) -> None:
        """A ``Messaging`` listener: a customer's further message in a conversation a flow holds."""
        message = received.message
        if message is None or received.opened is not None:
            return
        session = self.sessions.get(message.conversation_id)
        if session is not None:
            self._spawn(self._guarded(session, self._message(session, message.body)))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        self._tasks.spawn(work)

    async def _guarded(self, session: _Session, turn: Coroutine[Any, Any, None]) -> None:
        """A turn that fails (a flow reloaded away under it, a bug, the database) hands the
        conversation to a person rather than leaving it with nobody."""
        try:
            await turn
        except Exception as err:
            conversation = session.opened.conversation_id
            log.error("bot.turn_failed", extra={"conversation": conversation, "error": repr(err)})
            if self.sessions.get(conversation) is session:
                data = {**session.state.variables, "bot_error": repr(err)[:200]}
                await self._hand_over(
                    session,
                    ivr.Finish(
                        None, None, language=session.state.language or None, data=data, outcome="error"
                    ),
                )

    async def drain(self) -> None:
        await self._tasks.drain()

    def attach(self) -> None:
        """New conversations come here first (``Messaging.on_opened``), and further messages."""
        self.messaging.on_opened = self.on_opened
        self.messaging.listeners.append(self.on_received)

    async def detach(self) -> None:
        """Undo :meth:`attach`; cancel the turns waiting for a lookup or the knowledge base (stored
        as waiting: the next run takes their failure path), let the others finish (bounded)."""
        self.messaging.on_opened = None
        self.messaging.listeners.remove(self.on_received)
        for handle in self._idle_timers.values():
            handle.cancel()
        self._idle_timers.clear()
        for task in self._outside_calls:
            task.cancel()
        await self._tasks.settle(5)

    # -- turns ------------------------------------------------------------------------------------
    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    async def _begin(self, session: _Session) -> None:
        async with session.lock:
            flows = self.flows()
            if flows is None:
                await self._hand_over(session, ivr.Finish(None, None, outcome="error"))
                return
            conversation = session.opened.conversation_id
            channel = session.opened.channel
            # The address replies go to: a phone number, a wa_id, an e-mail (a web visitor's is a
            # token, of no use to a person)
            address = (
                self.messaging.addresses.get(conversation, "") if channel != MessagingChannel.WEBCHAT else ""
            )
            variables = {"caller": address, "channel": channel.value, "customer": session.opened.customer_id}
            first = [m.body for m in self.messaging.conversations.messages_of(conversation)]
            if first:
                variables["first_message"] = variables["message"] = first[0]
            log.info("bot.started", extra={"conversation": conversation, "flow": session.flow})
            language = session.routing.language
            if language is None and first and session.flow in flows.flows:  # a new customer: a guess
                language = chat.language_of(first[0], flows.flows[session.flow].languages)
            turn = chat.begin(flows, session.flow, now=self._now(), variables=variables, language=language)
            await self._play(session, flows, turn)

    async def _message(self, session: _Session, text: str) -> None:
        async with session.lock:
            if self.sessions.get(session.opened.conversation_id) is not session:
                return  # the flow ended while this message waited
            flows = self.flows()
            if flows is None:
                await self._hand_over(session, ivr.Finish(None, None, outcome="error"))
                return
            await self._play(session, flows, chat.message(flows, session.state, text, now=self._now()))

    async def _play(self, session: _Session, flows: m.FlowSet, turn: chat.Turn) -> None:
        """Carry a turn out: its messages, its request (then the next turn), its end."""
        conversation = session.opened.conversation_id
        while True:
            session.state = turn.state
            for step in turn.steps:  # where it went; not what the customer wrote (it may be personal)
                log.info(
                    "bot.step", extra={"conversation": conversation, "flow": step.flow, "node": step.node}
                )
            if turn.ticket is None:  # a ticket's turn speaks once the ticket is open (_finish)
                await self._say(conversation, turn.replies)
            if turn.nudge:
                await self._say(conversation, (self.nudge(turn.state.language),))
            if turn.finish is not None:
                await self._finish(session, turn)
                return
            await self._save(session, "")
            self._arm(session, flows)
            if turn.request is None:
                return
            task = asyncio.current_task()
            assert task is not None
            self._outside_calls.add(task)
            try:
                result = await self._outside(session, turn.request)
            finally:
                self._outside_calls.discard(task)
            turn = chat.resume(flows, turn.state, result, now=self._now())

    async def _say(self, conversation: str, replies: tuple[str, ...]) -> None:
        for text in replies:
            await self.messaging.reply(conversation, text, author="bot")

    async def _outside(self, session: _Session, request: chat.Request) -> chat.Result:
        if isinstance(request, chat.AgentsQuery):
            engine = self.router.service.engine
            channel = session.opened.channel.value
            return chat.AgentsResult(staffed(engine.agents.values(), request.queue, request.skills, channel))
        if isinstance(request, ivr.HttpLookup):
            if self.http is None:
                return ivr.HttpResult(None, None, "the HTTP client is not running")
            return await self.http(session.opened.conversation_id, request)
        if self.ask is None:
            return chat.KbResult(reason="the knowledge base is not running")
        flows = self.flows()
        flow = flows.flows.get(session.flow) if flows is not None else None
        # The articles of the conversation's language when it is known (the customer's, or chosen
        # in the flow); else every language's, as the widget's assistant searches.
        known = session.routing.language is not None or (
            flow is not None and request.language != flow.language
        )
        try:
            decision = await self.ask(request.question, request.language if known else None)
        except Exception as err:  # the database away: a person answers instead
            log.error(
                "bot.kb_failed", extra={"conversation": session.opened.conversation_id, "error": str(err)}
            )
            return chat.KbResult(reason="the knowledge base failed")
        if isinstance(decision, Answer):
            hit = decision.hit
            return chat.KbResult(f"{hit.title}: {hit.summary}", hit.id)
        return chat.KbResult(reason=str(getattr(decision, "reason", "no answer")))

    async def _finish(self, session: _Session, turn: chat.Turn) -> None:
        finish = turn.finish
        assert finish is not None
        conversation = session.opened.conversation_id
        outcome = finish.outcome
        if turn.ticket is not None and self.open_ticket is not None:
            try:
                ticket_id = await self.open_ticket(turn.ticket, session.opened, finish.language)
            except Exception as err:  # refused by the workflow, or the database: a person takes it
                log.error("bot.ticket_failed", extra={"conversation": conversation, "error": str(err)})
                data = {**finish.data, "ticket_error": str(err)[:200]}
                await self._hand_over(session, replace(finish, data=data, outcome="error"))
                return
            log.info("bot.ticket_opened", extra={"conversation": conversation, "ticket": ticket_id})
            await self._say(conversation, turn.replies)
            await self._close(session, outcome)
        elif turn.ticket is not None:  # no tickets here: a person takes it
            await self._hand_over(
                session, replace(finish, data={**finish.data, "ticket_error": "tickets are off"})
            )
        elif outcome == "hangup" or (outcome == chat.ABANDONED and finish.queue is None):
            await self._close(session, outcome)
        else:
            await self._hand_over(session, finish)

    async def _hand_over(self, session: _Session, finish: ivr.Finish) -> None:
        """Into the queues like any conversation, with what the flow collected. Routed before the
        session is marked done: a crash between the two finds the conversation routed at restore."""
        opened = session.opened if finish.queue is None else replace(session.opened, queue=finish.queue)
        routing = session.routing
        if finish.language:
            routing = replace(routing, language=finish.language)
        if finish.priority:
            routing = replace(routing, priority=max(routing.priority, finish.priority))
        if finish.skills:
            routing = replace(routing, skills=tuple(dict.fromkeys((*routing.skills, *finish.skills))))
        data = {k: v for k, v in finish.data.items() if k not in ("message", "channel", "customer")}
        data["bot_flow"] = session.flow
        data["bot_outcome"] = finish.outcome
        self.sessions.pop(opened.conversation_id, None)
        self.router.on_opened(opened, routing, data)
        await self._end(session, finish.outcome or "queue")

    async def _close(self, session: _Session, outcome: str) -> None:
        self.sessions.pop(session.opened.conversation_id, None)
        await self._end(session, outcome)
        await self.messaging.close(session.opened.conversation_id)

    async def _end(self, session: _Session, outcome: str) -> None:
        timer = self._idle_timers.pop(session.opened.conversation_id, None)
        if timer is not None:
            timer.cancel()
        metrics.BOT_OUTCOMES.labels(session.flow, outcome).inc()
        log.info(
            "bot.finished",
            extra={"conversation": session.opened.conversation_id, "flow": session.flow, "outcome": outcome},
        )
        await self._save(session, outcome)

    async def _save(self, session: _Session, outcome: str) -> None:
        await self.messaging.store.save_bot_session(
            session.opened.conversation_id,
            session.flow,
            json.dumps(session.state.to_json(), ensure_ascii=False),
            outcome,
            session.started_at,
            self.clock(),
        )

    # -- a customer who stops answering --------------------------------------------------------------
    def _arm(self, session: _Session, flows: m.FlowSet) -> None:
        """(Re)start the conversation's idle timer from its state's stored times."""
        conversation = session.opened.conversation_id
        old = self._idle_timers.pop(conversation, None)
        if old is not None:
            old.cancel()
        due = chat.idle_due(flows, session.state)
        if due is None:
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, due.timestamp() - self.clock())
        self._idle_timers[conversation] = loop.call_at(loop.time() + delay, self._idle_fired, session)

    def _idle_fired(self, session: _Session) -> None:
        conversation = session.opened.conversation_id
        if self._idle_timers.get(conversation) is not None:
            del self._idle_timers[conversation]
        if self.sessions.get(conversation) is session:
            self._spawn(self._guarded(session, self._idle(session)))

    async def _idle(self, session: _Session) -> None:
        async with session.lock:
            if self.sessions.get(session.opened.conversation_id) is not session:
                return  # ended while the timer waited for the lock
            flows = self.flows()
            if flows is None:
                await self._hand_over(session, ivr.Finish(None, None, outcome="error"))
                return
            turn = chat.idle(flows, session.state, now=self._now())
            if turn.state == session.state and not turn.replies and turn.finish is None:
                self._arm(session, flows)  # early (a clock step) or answered meanwhile
                return
            log.info("bot.idle", extra={"conversation": session.opened.conversation_id, "flow": session.flow})
            await self._play(session, flows, turn)

    # -- a restart, a new routing owner -----------------------------------------------------------
    async def restore(self) -> None:
        """Pick up the flows still running: each conversation where its flow stopped. A flow
        whose conversation was routed meanwhile (the owner stopped between routing and marking
        it done) or closed is marked done; one that waited for a lookup takes its failure path;
        one whose state cannot be read goes to a person (the conversation is never left alone)."""
        for conversation_id, flow, raw, started_at in await self.messaging.store.bot_sessions():
            conversation = self.messaging.conversations.conversations.get(conversation_id)
            if conversation is None:  # deleted meanwhile (retention): nothing left to run
                await self.messaging.store.save_bot_session(
                    conversation_id, flow, raw, "gone", started_at, self.clock()
                )
                continue
            opened = ConversationOpened(
                conversation.id, conversation.customer_id, conversation.channel, started_at
            )
            try:
                customer = self.messaging.customers.current(conversation.customer_id)
                routing = routing_of(customer, vip_priority=self.messaging.settings.vip_priority)
            except Exception:  # merged away or unknown: route on what the flow says
                routing = Routing(0, (), None)
            try:
                state = chat.ChatState.from_json(json.loads(raw))
            except ValueError as err:
                log.error("bot.bad_state", extra={"conversation": conversation_id, "error": str(err)})
                state = None
            session = _Session(opened, routing, flow, state or chat.ChatState(flow, "", ""), started_at)
            if conversation.closed or conversation_id in self.router.open:
                await self._save(session, "queue" if not conversation.closed else "closed")
            elif state is None:
                await self._hand_over(session, ivr.Finish(None, None, outcome="error"))
            else:
                self.sessions[conversation_id] = session
                if state.waiting in (chat.HTTP, chat.KB, chat.AGENTS):
                    self._spawn(self._guarded(session, self._interrupted(session)))
                else:
                    if state.waiting == chat.TEXT and state.asked_at is None:  # stored before idle
                        session.state = replace(state, asked_at=self.clock())  # existed: from now
                    flows = self.flows()
                    if flows is not None:
                        self._arm(session, flows)
        if self.sessions:
            log.info("bot.restored", extra={"sessions": len(self.sessions)})

    async def _interrupted(self, session: _Session) -> None:
        async with session.lock:
            flows = self.flows()
            if flows is None:
                await self._hand_over(session, ivr.Finish(None, None, outcome="error"))
                return
            result: chat.Result
            if session.state.waiting == chat.AGENTS:  # a question without effects: asked again
                state = session.state
                flow = flows.flows.get(state.flow)
                node = flow.nodes.get(state.node) if flow is not None else None
                if not isinstance(node, m.AgentsNode):
                    raise ivr.FlowError(f"node {state.node!r} is not an agents node")
                result = await self._outside(session, chat.AgentsQuery(node.queue, node.skills))
            elif session.state.waiting == chat.HTTP:
                result = ivr.HttpResult(None, None, "interrupted")
            else:
                result = chat.KbResult(reason="interrupted")
            await self._play(session, flows, chat.resume(flows, session.state, result, now=self._now()))

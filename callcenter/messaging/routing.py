"""Conversations to the ACD and back: the bridge between the messaging service and the call center.

- A new conversation (``Messaging.on_opened``) becomes one ``ConversationArrived``: its queue is
  the conversation's own, else its channel's in ``messaging.queues``, else
  ``messaging.default_queue``; priority, skills and language come from the customer's ``Routing``.
  Skills and a language that no configured agent has are dropped (and logged): nobody could ever
  take the conversation otherwise. The customer's last agent (of earlier conversations) gets the
  sticky first chance (``acd.sticky_seconds``).
- Further messages of an open conversation route nothing: they belong to its interaction.
- When the interaction ends (closed by the agent, the customer gone, or the system), the
  conversation is closed on the messaging side: the customer's next message opens a new one,
  routed again.

The engine stays pure; this module only translates, and runs on the service's event loop like the
rest of the adapters (``on_opened`` and ``on_command`` are synchronous; closing a conversation is a
task that writes to the database).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace

from callcenter.aio import Background
from callcenter.core import events as ev
from callcenter.core.acd.queues import LANGUAGE_PREFIX
from callcenter.core.commands import Command, SaveInteraction
from callcenter.core.interaction import Interaction
from callcenter.core.omni.conversations import ConversationOpened, Message, MessagingChannel
from callcenter.core.omni.customers import Routing, routing_of
from callcenter.messaging import identity
from callcenter.messaging.service import Messaging
from callcenter.service import CallCenter
from callcenter.settings import Settings
from callcenter.surveys.service import SurveyService

log = logging.getLogger(__name__)


class NotYourConversation(Exception):
    """An agent acted on a conversation it does not hold."""


def _new_id() -> str:
    return uuid.uuid4().hex


def _skill_name(skill: str) -> str:
    # As the engine reads them (acd.skill_levels): "name" or "name:level".
    name, _, level = skill.rpartition(":")
    return name if name and level.isdigit() else skill


class ConversationRouter:
    def __init__(
        self,
        service: CallCenter,
        messaging: Messaging,
        settings: Settings,
        ids: Callable[[], str] = _new_id,
    ) -> None:
        self.service = service
        self.messaging = messaging
        self.ids = ids
        self._settings = settings.messaging
        self._skills = {s for a in settings.agents for s in a.skills}
        self._languages = {lang for a in settings.agents for lang in a.languages}
        self.last_agent: dict[str, str] = {}  # customer -> the agent of their latest conversation
        self.open: dict[str, str] = {}  # open conversation -> its live interaction
        self._tasks = Background(log, "routing.close_failed")
        # Asks the post-conversation survey once a conversation an agent answered is closed.
        self.surveys: SurveyService | None = None

    def restore(self, interactions: Iterable[Interaction]) -> None:
        """Learn last agents and open conversations from stored or live interactions (oldest first)."""
        for i in interactions:
            self._note(i, close=False)

    async def stop(self) -> None:
        """Let pending conversation closes finish (they are short database writes)."""
        await self._tasks.settle(5)

    # -- messaging -> ACD ------------------------------------------------------------------------
    def _needs(self, routing: Routing, what: str) -> tuple[tuple[str, ...], str | None]:
        """The customer's skills and language that some agent has (the rest would hold the
        interaction forever: dropped and logged)."""
        skills = tuple(s for s in routing.skills if _skill_name(s) in self._skills)
        language = routing.language if routing.language in self._languages else None
        dropped = [s for s in routing.skills if s not in skills]
        if routing.language and language is None:
            dropped.append(LANGUAGE_PREFIX + routing.language)
        if dropped:
            log.info(
                "routing.needs_dropped",
                extra={
                    "interaction": what,
                    "dropped": dropped,
                    "detail": "no agent has these skills: requiring them would hold the interaction",
                },
            )
        return skills, language

    def queue_of(self, opened: ConversationOpened) -> str:
        """The conversation's own queue, else its channel's, else ``messaging.default_queue``."""
        return opened.queue or self.channel_queue(opened.channel)

    def channel_queue(self, channel: MessagingChannel) -> str:
        """The queue of the channel's conversations that name none (``messaging.queues``, else
        ``messaging.default_queue``)."""
        return self._settings.queues.get(channel.value) or self._settings.default_queue

    def on_opened(
        self, opened: ConversationOpened, routing: Routing, data: Mapping[str, str] | None = None
    ) -> None:
        """``data``: what the virtual agent's flow collected, shown to the agent with the offer."""
        if opened.conversation_id in self.open:
            return
        channel = opened.channel.value
        queue = self.queue_of(opened)
        skills, language = self._needs(routing, opened.conversation_id)
        interaction_id = self.ids()
        self.open[opened.conversation_id] = interaction_id
        self.service.submit(
            ev.ConversationArrived(
                interaction_id=interaction_id,
                channel=channel,
                customer_id=opened.customer_id,
                conversation_id=opened.conversation_id,
                queue=queue,
                at=self.service.clock(),
                priority=routing.priority,
                skills=skills,
                language=language,
                last_agent=self.last_agent.get(opened.customer_id),
                data=dict(data or {}),
            )
        )

    # -- calls ----------------------------------------------------------------------------------
    async def identify_caller(self, number: str, at: float) -> str | None:
        """The customer a caller's number belongs to (a new customer for a new number), like the
        sender of an SMS: the call lands in the same timeline as the customer's chats and messages.
        None for what is not a phone number (anonymous, an internal extension)."""
        try:
            phone = identity.phone(number, self._settings.phone_region)
        except identity.InvalidIdentity:
            return None
        return await self.messaging.identify(phone, at)

    def enrich_call(self, event: ev.Event) -> ev.Event:
        """The IVR's result plus what the caller's customer record says: VIP priority, business
        line and tags as skills (those some agent has), the language unless the IVR chose one."""
        if not isinstance(event, ev.IvrFinished) or event.queue is None:
            return event
        live = self.service.engine.interactions.get(event.interaction_id)
        if live is None or live.customer_id is None:
            return event
        try:
            customer = self.messaging.customers.current(live.customer_id)
        except Exception:  # merged away or unknown: route on what the IVR said
            return event
        routing = routing_of(customer, vip_priority=self._settings.vip_priority)
        skills, language = self._needs(routing, event.interaction_id)
        return replace(
            event,
            priority=max(event.priority, routing.priority),
            skills=tuple(dict.fromkeys((*event.skills, *skills))),
            language=event.language or language,
        )

    # -- ACD -> messaging ------------------------------------------------------------------------
    def on_command(self, command: Command) -> None:
        """A ``CallCenter`` listener: follows the snapshots of messaging interactions."""
        if isinstance(command, SaveInteraction) and command.interaction.is_messaging:
            self._note(command.interaction, close=True)

    def _note(self, i: Interaction, *, close: bool) -> None:
        if not i.is_messaging or i.conversation_id is None:
            return
        if i.agent_id is not None and i.customer_id is not None:
            self.last_agent[i.customer_id] = i.agent_id
        if i.outcome is None:
            self.open[i.conversation_id] = i.id
            return
        if self.open.get(i.conversation_id) == i.id:
            del self.open[i.conversation_id]
        if close:
            self._tasks.spawn(self._close(i.conversation_id, i))

    async def _close(self, conversation_id: str, ended: Interaction | None = None) -> None:
        try:
            await self.messaging.close(conversation_id)
        except Exception as err:
            # The book is closed already (the next message opens a new conversation); only the
            # stored flag is behind, and the next save of this conversation carries it.
            log.error("routing.close_failed", extra={"conversation": conversation_id, "error": str(err)})
        if self.surveys is not None and ended is not None and conversation_id not in self.open:
            try:
                await self.surveys.ask_message(ended, self.send_survey)
            except Exception as err:
                log.error("routing.survey_failed", extra={"interaction": ended.id, "error": str(err)})

    async def send_survey(self, conversation_id: str, text: str) -> None:
        """A survey's question into its (closed) conversation, through the outbox."""
        await self.messaging.reply(conversation_id, text)

    # -- for the agent's screen ------------------------------------------------------------------
    def holder(self, interaction_id: str) -> Interaction:
        """The live messaging interaction (KeyError: none such)."""
        i = self.service.engine.interactions.get(interaction_id)
        if i is None or not i.is_messaging:
            raise KeyError(interaction_id)
        return i

    async def reply(self, agent_id: str, interaction_id: str, body: str) -> Message:
        """The agent's reply into the conversation it holds (stored, then sent by the outbox)."""
        i = self.holder(interaction_id)
        if i.agent_id != agent_id or i.conversation_id is None:
            raise NotYourConversation(f"agent {agent_id} does not hold {interaction_id}")
        return await self.messaging.reply(i.conversation_id, body)

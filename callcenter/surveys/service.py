"""Asking the surveys and taking their answers: the adapter around ``core/surveys``.

Runs in the routing half (``cluster.py``), beside messaging and the voice adapter, on the routing
owner only. Every survey is a row (``storage/surveys_store.py``) before anything is sent; the one
piece of state here, the message surveys whose answer is awaited (by customer and channel), is
rebuilt from those rows when a node becomes the routing owner (:meth:`SurveyService.start`), so a
failover loses no awaited answer.

- **A message conversation** (SMS, WhatsApp, WeChat, e-mail) that an agent answered: when it is
  closed, its survey's ``text`` is sent into it through the outbox, and the customer's next
  message on that channel within ``reply_minutes`` that reads as a score ("4", "9/10") is the
  answer: it is filed into the closed conversation (:meth:`reply_conversation`) instead of opening
  and routing a new one. Anything else the customer writes is routed as always (and the survey
  stays awaited).
- **A web chat**: the widget's own 1-5 rating (:meth:`rate_chat`), stored as a CSAT answer.
- **A call**: the IVR survey (``callcenter/surveys/ivr.py``) stores what the caller keyed.

A low answer raises a QA review (the store writes the ``survey_low`` flag with the answer).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from callcenter import metrics
from callcenter.core.business_lines import call_line
from callcenter.core.commands import Command, SaveInteraction
from callcenter.core.interaction import Channel, Interaction
from callcenter.core.surveys.model import (
    DEFAULT_LOW,
    NO_SURVEYS,
    Question,
    Response,
    Source,
    Survey,
    Surveys,
    parse_answer,
)
from callcenter.storage.surveys_store import Awaited, SurveyStore

log = logging.getLogger(__name__)

#: Channels whose closed conversations get a message survey (web chat has the widget's rating).
MESSAGE_CHANNELS = frozenset({"sms", "whatsapp", "wechat", "email"})
#: A web chat rating with no CSAT survey defined for its queue or line: named so in the reports.
CHAT_RATING = "chat-rating"


def _new_id() -> str:
    return uuid.uuid4().hex


@dataclass
class SurveyService:
    store: SurveyStore
    clock: Callable[[], float]
    queue_line: Callable[[str], str | None] = lambda _queue: None  # a queue's ``line:`` now
    surveys: Surveys = NO_SURVEYS  # replaced when the surveys file is reloaded
    ids: Callable[[], str] = _new_id
    awaited: dict[tuple[str, str], Awaited] = field(default_factory=dict)  # (customer, channel)
    _asking: set[str] = field(default_factory=set)  # interactions whose survey is being stored
    # A call's survey by SMS (``call_by: sms``): a conversation with the caller's number, if any,
    # and sending into it (the composition root connects them to messaging).
    open_sms: Callable[[Interaction], Awaitable[str | None]] | None = None
    send: Callable[[str, str], Awaitable[object]] | None = None
    _tasks: set[asyncio.Task[bool]] = field(default_factory=set)

    async def start(self) -> None:
        """Take over the message surveys still awaiting an answer (a new routing owner)."""
        for waiting in await self.store.awaited(self.clock()):
            self.awaited[(waiting.response.customer, waiting.reply_channel)] = waiting
        log.info("surveys.started", extra={"awaited": len(self.awaited)})

    def reload(self, surveys: Surveys) -> None:
        self.surveys = surveys

    async def stop(self) -> None:
        """Let the surveys being sent finish (short database writes and an outbox entry)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)
        for task in set(self._tasks):
            task.cancel()

    def on_command(self, command: Command) -> None:
        """A ``CallCenter`` listener: an ended call whose survey goes by SMS is asked it."""
        if not isinstance(command, SaveInteraction) or self.open_sms is None or self.send is None:
            return
        i = command.interaction
        if i.channel is not Channel.VOICE or i.outcome is None:
            return
        survey = self.survey_of(i)
        if survey is None or survey.call_by != "sms":
            return
        task = asyncio.get_running_loop().create_task(self.ask_after_call(i, self.open_sms, self.send))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[bool]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("surveys.after_call_failed", extra={"error": str(task.exception())})

    def line_of(self, i: Interaction) -> str:
        configured = self.queue_line(i.queue) if i.queue else None
        return call_line(i.queue, configured, i.skills) or ""

    def survey_of(self, i: Interaction) -> Survey | None:
        """The survey this contact gets: only a contact an agent answered, about its last agent (a
        call transferred to a colleague or a queue keeps its id and is surveyed about the agent
        who had it last); a call transferred out to a number is not ours to survey."""
        if i.agent_id is None or i.answered_at is None or (i.transferred_to or "").startswith("number:"):
            return None
        return self.surveys.pick(i.queue, self.line_of(i) or None, i.channel.value)

    def _asked(self, i: Interaction, survey: Survey, source: Source, at: float) -> Response:
        return Response(
            self.ids(),
            i.id,
            survey.name,
            survey.question,
            source,
            i.channel.value,
            at,
            i.agent_id or "",
            i.queue or "",
            self.line_of(i),
            i.customer_id or "",
        )

    # -- message conversations -------------------------------------------------------------------
    async def ask_message(self, i: Interaction, send: Callable[[str, str], Awaitable[object]]) -> bool:
        """After a closed message conversation: store the survey, then ``send(conversation, text)``
        (the outbox). False when this contact gets no survey (or had one)."""
        if i.channel.value not in MESSAGE_CHANNELS or i.conversation_id is None or i.customer_id is None:
            return False
        survey = self.survey_of(i)
        if survey is None:
            return False
        conversation_id = i.conversation_id
        return await self._ask_by_message(i, survey, i.channel.value, lambda: _given(conversation_id), send)

    async def ask_after_call(
        self,
        i: Interaction,
        open_conversation: Callable[[Interaction], Awaitable[str | None]],
        send: Callable[[str, str], Awaitable[object]],
    ) -> bool:
        """After a call whose survey is sent by SMS (``call_by: sms``): store it, open a
        conversation with the caller's number (``open_conversation``: None when the caller has no
        mobile number we can text, or SMS is not configured) and send the question into it."""
        if i.channel.value != "voice" or i.outcome is None or i.customer_id is None:
            return False
        survey = self.survey_of(i)
        if survey is None or survey.call_by != "sms":
            return False
        return await self._ask_by_message(i, survey, "sms", lambda: open_conversation(i), send)

    async def _ask_by_message(
        self,
        i: Interaction,
        survey: Survey,
        reply_channel: str,
        conversation: Callable[[], Awaitable[str | None]],
        send: Callable[[str, str], Awaitable[object]],
    ) -> bool:
        if i.id in self._asking:  # the ended snapshot saved twice: one survey
            return False
        self._asking.add(i.id)
        try:
            if await self.store.get(i.id) is not None:
                return False
            conversation_id = await conversation()
            if conversation_id is None:
                return False
            now = self.clock()
            asked = self._asked(i, survey, Source.MESSAGE, now)
            expires = now + survey.reply_seconds
            stored = await self.store.ask(
                asked,
                survey.low_score,
                conversation_id=conversation_id,
                expires_at=expires,
                reply_channel=reply_channel,
            )
        finally:
            self._asking.discard(i.id)
        if not stored:
            return False
        metrics.SURVEYS.labels(source="message", event="asked").inc()
        waiting = Awaited(asked, conversation_id, expires, survey.low_score, reply_channel)
        self.awaited[(asked.customer, reply_channel)] = waiting
        await send(conversation_id, survey.text)
        log.info("surveys.asked", extra={"interaction": i.id, "survey": survey.name, "source": "message"})
        return True

    def reply_conversation(self, customer_id: str, channel: str, body: str, at: float) -> str | None:
        """The closed conversation a customer's message answers (it then opens nothing), if it
        reads as the score of the survey awaited from them on this channel."""
        waiting = self.awaited.get((customer_id, channel))
        if waiting is None:
            return None
        if at >= waiting.expires_at:
            del self.awaited[(customer_id, channel)]
            return None
        if parse_answer(waiting.response.question, body) is None:
            return None
        return waiting.conversation_id

    async def take_reply(self, customer_id: str, channel: str, body: str, at: float) -> Response | None:
        """Record a stored message that :meth:`reply_conversation` matched as the answer."""
        waiting = self.awaited.get((customer_id, channel))
        score = None if waiting is None else parse_answer(waiting.response.question, body)
        if waiting is None or score is None:
            return None
        del self.awaited[(customer_id, channel)]
        try:
            return await self._answer(waiting.response, score, at, waiting.low_score)
        except BaseException:
            self.awaited.setdefault((customer_id, channel), waiting)  # not stored: still awaited
            raise

    async def _answer(
        self, asked: Response, score: int, at: float, low_score: int, comment: str = ""
    ) -> Response | None:
        answered = asked.answered(score, at, low_score, comment)
        if not await self.store.answer(answered):
            return None
        _count_answer(answered)
        log.info(
            "surveys.answered",
            extra={"interaction": asked.interaction_id, "survey": asked.survey, "low": answered.low},
        )
        return answered

    # -- web chat --------------------------------------------------------------------------------
    async def rate_chat(self, conversation_id: str, score: int, comment: str) -> Response | None:
        """The widget's 1-5 rating of a web chat, as a CSAT answer of its (newest) interaction.
        None when the chat has no stored interaction yet, or was rated already."""
        contact = await self.store.contact_of_conversation(conversation_id)
        if contact is None:
            return None
        survey = self.surveys.pick(contact.queue or None, contact.line or None, contact.channel)
        name, low = CHAT_RATING, DEFAULT_LOW[Question.CSAT]
        if survey is not None and survey.question is Question.CSAT:
            name, low = survey.name, survey.low_score
        now = self.clock()
        asked = Response(
            self.ids(),
            contact.interaction_id,
            name,
            Question.CSAT,
            Source.CHAT,
            contact.channel,
            now,
            contact.agent,
            contact.queue,
            contact.line,
            contact.customer,
        )
        rated = asked.answered(score, now, low, comment)
        if not await self.store.ask(rated, low):
            return None
        metrics.SURVEYS.labels(source="chat", event="asked").inc()
        _count_answer(rated)
        return rated

    # -- calls -----------------------------------------------------------------------------------
    async def ask_call(self, i: Interaction) -> tuple[Response, Survey] | None:
        """Before the IVR survey plays: the survey stored as asked (None: this call gets none)."""
        if i.channel.value != "voice":
            return None
        survey = self.survey_of(i)
        if survey is None or survey.call_by != "ivr":
            return None
        asked = self._asked(i, survey, Source.IVR, self.clock())
        if not await self.store.ask(asked, survey.low_score):
            return None
        metrics.SURVEYS.labels(source="ivr", event="asked").inc()
        return asked, survey

    async def answer_call(self, asked: Response, survey: Survey, score: int) -> Response | None:
        return await self._answer(asked, score, self.clock(), survey.low_score)


def _count_answer(r: Response) -> None:
    metrics.SURVEYS.labels(source=r.source.value, event="answered").inc()
    if r.low:
        metrics.SURVEYS.labels(source=r.source.value, event="low").inc()


async def _given(conversation_id: str) -> str | None:
    return conversation_id

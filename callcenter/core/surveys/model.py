"""Survey definitions, which survey a contact gets, reading an answer, and when a score is low.

Pure: no I/O, no clock. A survey asks one question, **CSAT** (1-5: "how satisfied were you?") or
**NPS** (0-10: "how likely are you to recommend us?"), of the contacts of some queues or business
lines on some channels. The adapters ask it (an IVR survey by DTMF after a call, a message after
a closed SMS/WhatsApp/... conversation; the web chat's widget asks its own 1-5 rating) and store
the answer as a :class:`Response`. A score at or below the survey's ``low`` raises a QA review.

Which survey a contact gets (:meth:`Surveys.pick`): one that lists the contact's queue, else one
that lists its business line, else the one that lists neither (the default) — and only if that
survey is asked on the contact's channel. The loader refuses two surveys for one queue or one line.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field


class Question(enum.StrEnum):
    CSAT = "csat"  # 1..5
    NPS = "nps"  # 0..10


#: The scale of each question, inclusive.
SCALE: Mapping[Question, tuple[int, int]] = {Question.CSAT: (1, 5), Question.NPS: (0, 10)}
#: A low score by default: CSAT 1-2 (dissatisfied), NPS 0-6 (a detractor).
DEFAULT_LOW: Mapping[Question, int] = {Question.CSAT: 2, Question.NPS: 6}


class Source(enum.StrEnum):
    """How the answer was asked for."""

    IVR = "ivr"  # the caller stayed on the line after the agent hung up (DTMF)
    MESSAGE = "message"  # a message after the conversation (or the call) ended, answered by a reply
    CHAT = "chat"  # the web chat widget's rating


@dataclass(frozen=True, slots=True)
class Survey:
    name: str
    question: Question
    text: str  # what a message survey sends (and the IVR survey's words, for the record)
    prompt: str = ""  # the IVR survey's sound (a file name without extension, as IVR prompts)
    queues: frozenset[str] = frozenset()
    lines: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()  # empty: every channel
    low: int | None = None  # a score <= low raises a QA review (None: the question's default)
    reply_seconds: int = 86400  # how long a message survey's answer is awaited
    line: int = 0  # where it is defined in the file (for messages)
    call_by: str = "ivr"  # a call's survey: "ivr" (the caller stays on the line) or "sms" (a text)

    @property
    def low_score(self) -> int:
        return DEFAULT_LOW[self.question] if self.low is None else self.low

    def asked_on(self, channel: str) -> bool:
        return not self.channels or channel in self.channels


@dataclass(frozen=True, slots=True)
class Surveys:
    """The surveys file's definitions, by name."""

    by_name: Mapping[str, Survey] = field(default_factory=dict)

    def pick(self, queue: str | None, line: str | None, channel: str) -> Survey | None:
        """The survey a contact of ``queue`` and business ``line`` on ``channel`` gets, if any."""
        surveys = sorted(self.by_name.values(), key=lambda s: s.name)
        choice = (
            next((s for s in surveys if queue is not None and queue in s.queues), None)
            or next((s for s in surveys if line is not None and line in s.lines), None)
            or next((s for s in surveys if not s.queues and not s.lines), None)
        )
        return choice if choice is not None and choice.asked_on(channel) else None


NO_SURVEYS = Surveys()

_ANSWER = re.compile(r"^\s*(\d{1,2})\s*(?:/\s*(?:5|10))?\s*[.!]?\s*$")


def parse_answer(question: Question, text: str) -> int | None:
    """A reply's score ("4", " 9 ", "4/5", "10.") or None when the text is not one."""
    match = _ANSWER.match(text)
    if match is None:
        return None
    score = int(match.group(1))
    low, high = SCALE[question]
    return score if low <= score <= high else None


def check_score(question: Question, score: int) -> None:
    """ValueError when ``score`` is not on the question's scale."""
    low, high = SCALE[question]
    if isinstance(score, bool) or not isinstance(score, int) or not low <= score <= high:
        raise ValueError(f"score: a {question.value.upper()} answer is a whole number from {low} to {high}")


def is_low(survey_low: int, score: int | None) -> bool:
    """Whether an answer raises a QA review (an unanswered survey never does)."""
    return score is not None and score <= survey_low


@dataclass(frozen=True, slots=True)
class Response:
    """One survey of one contact: asked (``score`` None until answered) or answered.

    Tied to the interaction and to what the reports group by: its agent, queue, channel and
    business line, and the unified customer. ``asked_at`` places it in a report interval.
    """

    id: str
    interaction_id: str
    survey: str
    question: Question
    source: Source
    channel: str
    asked_at: float
    agent: str = ""
    queue: str = ""
    line: str = ""
    customer: str = ""
    score: int | None = None
    answered_at: float | None = None
    comment: str = ""
    low: bool = False  # answered at or below the survey's low score: a QA review was raised

    def answered(self, score: int, at: float, low_score: int, comment: str = "") -> Response:
        """This survey answered with ``score`` (ValueError: not on the scale, or answered already)."""
        if self.score is not None:
            raise ValueError("this survey is answered already")
        check_score(self.question, score)
        return Response(
            self.id,
            self.interaction_id,
            self.survey,
            self.question,
            self.source,
            self.channel,
            self.asked_at,
            self.agent,
            self.queue,
            self.line,
            self.customer,
            score,
            at,
            comment,
            is_low(low_score, score),
        )

"""Conversations' figures (web chat, SMS, WhatsApp, WeChat, e-mail): first response, resolution,
messages, per queue, agent, channel or line and interval.

Pure: one :class:`Conversation` per messaging interaction in (storage reads the interactions and
their messages), rows out. Definitions are in docs/reports.md; in short:

- A conversation counts in the interval in which its interaction **began** (the customer's
  message that opened it, or a transfer that made a new interaction).
- **First response**: from that start to the first message sent to the customer during the
  interaction (an agent's reply, wherever it was typed); conversations with no reply yet are not
  in the average.
- **Resolution**: from the start to the end of an interaction an agent answered and closed.
- **Messages**: in (from the customer) and out (to the customer) during the interaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from callcenter.core.reports.intervals import Granularity, bucket, quarter
from callcenter.core.reports.rollup import EVERYTHING, Filters, keep

#: What a conversation report may be grouped by.
CONVERSATION_GROUPS = ("queue", "agent", "channel", "line", "all")


@dataclass(frozen=True, slots=True)
class Conversation:
    """One messaging interaction as the report sees it."""

    id: str
    channel: str
    started: float
    answered: bool  # an agent took it
    ended: float | None  # closed (None: still open)
    first_reply: float | None  # the first message out during the interaction
    messages_in: int
    messages_out: int
    queue: str = ""
    agent: str = ""
    line: str = ""


@dataclass(frozen=True, slots=True)
class ConversationFigures:
    """One group's conversations (queue, agent, channel or line; "*": everything) over one interval."""

    start: int
    group: str
    conversations: int
    answered: int
    replied: int  # with a first response
    first_response_seconds: float  # summed over the replied
    first_response_max: float
    resolved: int  # answered and closed
    resolution_seconds: float  # summed over the resolved
    messages_in: int
    messages_out: int

    @property
    def average_first_response(self) -> float | None:
        return self.first_response_seconds / self.replied if self.replied else None

    @property
    def average_resolution(self) -> float | None:
        return self.resolution_seconds / self.resolved if self.resolved else None

    @property
    def messages_per_conversation(self) -> float | None:
        total = self.messages_in + self.messages_out
        return total / self.conversations if self.conversations else None


def conversation_report(
    conversations: Iterable[Conversation],
    granularity: Granularity,
    filters: Filters = EVERYTHING,
    *,
    by: str = "queue",
) -> list[ConversationFigures]:
    if by not in CONVERSATION_GROUPS:
        raise ValueError(f"by: {by!r} is not one of {', '.join(CONVERSATION_GROUPS)}")
    sums: dict[tuple[int, str], list[float]] = defaultdict(lambda: [0.0] * 9)
    for c in conversations:
        if not keep(filters, queue=c.queue, agent=c.agent, channel=c.channel, line=c.line):
            continue
        group = "*" if by == "all" else str(getattr(c, by))
        s = sums[(bucket(quarter(c.started), granularity), group)]
        s[0] += 1
        s[1] += c.answered
        if c.first_reply is not None:
            wait = max(0.0, c.first_reply - c.started)
            s[2] += 1
            s[3] += wait
            s[4] = max(s[4], wait)
        if c.answered and c.ended is not None:
            s[5] += 1
            s[6] += max(0.0, c.ended - c.started)
        s[7] += c.messages_in
        s[8] += c.messages_out
    return [
        ConversationFigures(
            k[0], k[1], int(s[0]), int(s[1]), int(s[2]), s[3], s[4], int(s[5]), s[6], int(s[7]), int(s[8])
        )
        for k, s in sorted(sums.items())
    ]

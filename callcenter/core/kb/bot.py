"""The virtual agent's decision (pure): answer a customer from the knowledge base, or hand over to a
person: the web-chat widget's one-shot assistant (``callcenter/kb/assistant.py``) and the ``kb``
step of the chat flows (``callcenter/messaging/bot_flows.py``); measured on the evaluation set by
``bench/kb_suggest.py --bot`` and ``bench/bot_flows.py`` (docs/knowledge-base.md).

Invariants:

- Asking for a person always wins: :func:`asks_for_person` (a request for a person, not any message
  with the word: ``core/kb/person.py``) is checked before any answer, in English and Chinese, and a
  handoff carries what the bot collected (the customer's messages, the articles it
  offered), so the agent starts where the bot stopped.
- The bot answers only when it is confident: the best article holds at least ``coverage`` of the
  question's words (by weight) and scores at least ``margin`` times the next one; else it hands
  over. A wrong answer costs more than a handoff, so the defaults lean to handing over.
- It answers only from articles a customer may read (``public``): the caller searches as
  ``Reader.of("customer", lines)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from callcenter.core.kb.articles import Hit
from callcenter.core.kb.person import asks_for_person

__all__ = ["Answer", "Confidence", "Handoff", "asks_for_person", "decide"]


@dataclass(frozen=True, slots=True)
class Confidence:
    # Chosen on the evaluation set (bench/kb_suggest.py --bot; docs/knowledge-base.md): about 3 %
    # wrong answers there. Both are per deployment: a center that prefers fewer answers raises them.
    coverage: float = 0.34  # share of the question's words the article holds
    margin: float = 1.5  # the best article's score over the second's


@dataclass(frozen=True, slots=True)
class Answer:
    hit: Hit


@dataclass(frozen=True, slots=True)
class Handoff:
    reason: str  # "asked for a person", "not confident", "nothing found"
    messages: tuple[str, ...]  # what the customer wrote, oldest first
    offered: tuple[int, ...] = ()  # articles the bot had answered with


def decide(
    messages: Sequence[str],
    hits: Sequence[Hit],
    confidence: Confidence = Confidence(),
    offered: tuple[int, ...] = (),
) -> Answer | Handoff:
    """What to do with the customer's latest message (the last of ``messages``), given the
    articles found for it, best first."""
    said = tuple(messages)
    if said and asks_for_person(said[-1]):
        return Handoff("asked for a person", said, offered)
    if not hits:
        return Handoff("nothing found", said, offered)
    best = hits[0]
    runner_up = hits[1].score if len(hits) > 1 else 0.0
    if best.coverage < confidence.coverage or best.score < confidence.margin * runner_up:
        return Handoff("not confident", said, offered)
    return Answer(best)

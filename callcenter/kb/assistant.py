"""The virtual agent on web chat (docs/knowledge-base.md, "The virtual agent"): a visitor's question
to an answer from a public article, or a handoff to a person (core/kb/bot.py decides).

Stateless on purpose: the widget keeps the exchange and sends the question; the routing owner's
``/customer`` namespace answers it from the database, and nothing is lost when the owner changes. A handoff is
the widget's ordinary ``start``, with the visitor's question as the first message: the same queues
as any chat.
"""

from __future__ import annotations

from callcenter.core.kb.articles import Reader
from callcenter.core.kb.bot import Answer, Confidence, Handoff, asks_for_person, decide
from callcenter.core.kb.ranking import chat_query
from callcenter.kb import text
from callcenter.kb.records import KnowledgeBase

CUSTOMER = Reader.of("customer", None)
DEPTH = 5


class Assistant:
    def __init__(self, kb: KnowledgeBase, confidence: Confidence | None = None) -> None:
        self.kb = kb
        self.confidence = confidence or Confidence()

    async def ask(self, question: str, language: str | None = None) -> Answer | Handoff:
        if asks_for_person(question):
            return Handoff("asked for a person", (question,))
        query = chat_query([text.words(question)])
        hits = await self.kb.search(query, CUSTOMER, language, None, DEPTH) if query else []
        return decide([question], hits, self.confidence)

"""The suggestion seam: recent words of a contact + its context -> the articles to show the agent.

One function for every source: a chat's customer messages (the agent panel), the words a live
transcript hears (callcenter's live-transcription work can call :meth:`Suggester.suggest` with the
caller's utterances), the IVR's choice and data, a ticket's fields. Newer text weighs more
(core/kb/ranking.py ``chat_query``); an article linked to the contact's queue is boosted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from callcenter.core.kb.articles import Hit, Reader
from callcenter.core.kb.ranking import chat_query
from callcenter.kb import text
from callcenter.kb.records import KnowledgeBase

TOP = 3


@dataclass(frozen=True, slots=True)
class Context:
    """What is known of the contact: who reads the suggestions, its queue, the language wanted."""

    reader: Reader
    queue: str | None = None
    language: str | None = None


class Suggester:
    def __init__(self, kb: KnowledgeBase, top: int = TOP) -> None:
        self.kb = kb
        self.top = top

    async def suggest(self, utterances: Sequence[str], context: Context) -> list[Hit]:
        """The best ``top`` published articles for ``utterances`` (oldest first), best first."""
        query = chat_query([text.words(u) for u in utterances])
        if not query:
            return []
        return await self.kb.search(query, context.reader, context.language, context.queue, self.top)

"""Ranking articles for a query (pure): BM25 with title words weighing more, the queue boost, and
the query a chat makes from the customer's recent messages.

Why here and not in the database: SQLite's ``bm25()`` and PostgreSQL's ``ts_rank`` are different
formulas, so the same knowledge base would rank differently on the two backends. The database
finds the candidates (every article with at least one of the query's words, through FTS5 or the
GIN index); this module ranks them, the same on both. ``df`` is counted over the candidates, which
is exact: an article holding a query word is a candidate.

BM25 (Robertson/Spärck Jones, as in Lucene): for each query word ``w`` of weight ``q_w``,
``idf(w) = ln(1 + (N - df + 0.5) / (df + 0.5))`` and the article scores
``q_w * idf(w) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avg_len))`` with
``tf = tf_all + TITLE_WEIGHT * tf_title`` (``k1 = 1.2``, ``b = 0.75``; an article's words include
its title's, so a title word counts 3 times), ``len`` being the article's number of words. An
article linked to the contact's queue scores ``QUEUE_BOOST`` times more; ties go to the lower id
(older article).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

K1 = 1.2
B = 0.75
TITLE_WEIGHT = 2.0
QUEUE_BOOST = 1.5
RECENT_MESSAGES = 4  # customer messages a chat's query is made of
DECAY = 0.5  # each older message's words weigh this much of the next one's


@dataclass(frozen=True, slots=True)
class Candidate:
    id: int
    title: tuple[str, ...]  # the title's words
    words: tuple[str, ...]  # every word of the article (title, answer, body)
    queues: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Corpus:
    """What BM25 needs of the whole searchable set: how many articles, their average length."""

    articles: int
    average_length: float


def rank(
    query: Mapping[str, float],
    candidates: Sequence[Candidate],
    corpus: Corpus,
    queue: str | None = None,
) -> list[tuple[int, float]]:
    """``(article id, score)`` best first; articles sharing no word with the query are left out."""
    df: Counter[str] = Counter()
    for c in candidates:
        df.update(set(c.words) & query.keys())
    total = max(corpus.articles, len(candidates), 1)
    average = corpus.average_length if corpus.average_length > 0 else 1.0
    scored = []
    for c in candidates:
        body, title = Counter(c.words), Counter(c.title)
        norm = K1 * (1 - B + B * len(c.words) / average)
        score = 0.0
        for word, weight in query.items():
            tf = body[word] + TITLE_WEIGHT * title[word]
            if tf:
                idf = math.log(1 + (total - df[word] + 0.5) / (df[word] + 0.5))
                score += weight * idf * tf * (K1 + 1) / (tf + norm)
        if score > 0:
            if queue is not None and queue in c.queues:
                score *= QUEUE_BOOST
            scored.append((c.id, score))
    scored.sort(key=lambda pair: (-pair[1], pair[0]))
    return scored


def query_of(words: Sequence[str]) -> dict[str, float]:
    """A typed query: each word once, weight 1."""
    return dict.fromkeys(words, 1.0)


def chat_query(messages: Sequence[Sequence[str]]) -> dict[str, float]:
    """The query of a chat from its customer messages' words, oldest first: the last
    ``RECENT_MESSAGES`` count, the newest most (a word keeps its highest weight)."""
    query: dict[str, float] = {}
    recent = list(messages)[-RECENT_MESSAGES:]
    for age, words in enumerate(reversed(recent)):
        weight = DECAY**age
        for word in words:
            query[word] = max(query.get(word, 0.0), weight)
    return query


def coverage(query: Mapping[str, float], candidate: Candidate) -> float:
    """The share of the query's weight whose words the article holds (1: every word), a score
    that, unlike BM25's, means the same for every query: the virtual agent's confidence."""
    total = sum(query.values())
    if total <= 0:
        return 0.0
    present = set(candidate.words)
    return sum(w for word, w in query.items() if word in present) / total

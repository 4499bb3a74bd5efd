"""The knowledge base's pure parts: who may read what (core/kb/articles.py) and the ranking
(core/kb/ranking.py): BM25 with title words weighing more, the queue boost, a chat's query."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from callcenter.core.kb.articles import Reader, Visibility, may_edit, may_read, readable
from callcenter.core.kb.ranking import (
    DECAY,
    QUEUE_BOOST,
    RECENT_MESSAGES,
    Candidate,
    Corpus,
    chat_query,
    coverage,
    query_of,
    rank,
)


def doc(ident: int, title: str, body: str, queues: frozenset[str] = frozenset()) -> Candidate:
    t = tuple(title.split())
    return Candidate(ident, t, t + tuple(body.split()), queues)


def test_reading_is_denied_by_default() -> None:
    assert readable("agent") == {Visibility.PUBLIC, Visibility.INTERNAL}
    assert readable("supervisor") == set(Visibility)
    assert readable("customer") == {Visibility.PUBLIC}
    assert readable("nobody") == frozenset()
    assert not may_read("agent", None, "restricted", None)
    assert not may_read("agent", None, "bogus", None)
    assert may_read("agent", frozenset({"retail"}), "internal", "retail")
    assert may_read("agent", frozenset({"retail"}), "internal", None)  # shared by every line
    assert not may_read("agent", frozenset({"retail"}), "internal", "bank")
    assert Reader.of("qa", None).visibilities == readable("qa")


def test_a_line_scoped_admin_edits_only_its_lines() -> None:
    assert may_edit(None, None) and may_edit(None, "bank")
    assert may_edit(frozenset({"bank"}), "bank")
    assert not may_edit(frozenset({"bank"}), None)  # general articles: unscoped admins only
    assert not may_edit(frozenset({"bank"}), "retail")


def test_bm25_prefers_rare_words_and_titles() -> None:
    docs = [
        doc(1, "refund policy", "money back within thirty days card"),
        doc(2, "delivery times", "parcel card tracking courier"),
        doc(3, "card lost", "block card immediately"),
    ]
    ranked = rank(query_of(["refund", "card"]), docs, Corpus(3, 5.0))
    # "refund" is in one article only: it weighs more than "card" (in all three).
    assert ranked[0][0] == 1
    # A title hit beats the same word in a body of the same length.
    titled = rank(
        query_of(["tracking"]), [doc(1, "tracking", "a b c"), doc(2, "a", "tracking b c")], Corpus(2, 4.0)
    )
    assert [i for i, _ in titled] == [1, 2]


def test_score_matches_the_formula() -> None:
    d = doc(7, "x", "y y z")  # words: x y y z (4); title: x
    corpus = Corpus(10, 5.0)
    [(ident, score)] = rank({"y": 1.0, "x": 0.5}, [d], corpus)
    norm = 1.2 * (1 - 0.75 + 0.75 * 4 / 5.0)
    idf = math.log(1 + (10 - 1 + 0.5) / (1 + 0.5))
    tf_y, tf_x = 2.0, 2.0 * 1 + 1  # x: in the title (twice) and in the words once
    expected = idf * tf_y * 2.2 / (tf_y + norm) + 0.5 * idf * tf_x * 2.2 / (tf_x + norm)
    assert ident == 7 and math.isclose(score, expected)


def test_queue_boost_and_ties() -> None:
    a = doc(1, "pin", "reset", frozenset({"cards"}))
    b = doc(2, "pin", "reset")
    plain = rank(query_of(["pin"]), [b, a], Corpus(2, 2.0))
    assert [i for i, _ in plain] == [1, 2]  # same score: the older article first
    boosted = rank(query_of(["pin"]), [b, a], Corpus(2, 2.0), queue="cards")
    assert boosted[0] == (1, plain[0][1] * QUEUE_BOOST)
    assert rank(query_of(["nothing"]), [a, b], Corpus(2, 2.0)) == []


@given(
    st.lists(st.lists(st.sampled_from("abcdefgh"), max_size=8), min_size=1, max_size=6),
    st.lists(st.sampled_from("abcdefgh"), min_size=1, max_size=4),
)
def test_ranking_is_sorted_and_only_holds_matches(bodies: list[list[str]], query: list[str]) -> None:
    docs = [Candidate(i, (), tuple(words)) for i, words in enumerate(bodies)]
    ranked = rank(query_of(query), docs, Corpus(len(docs), 4.0))
    scores = [s for _, s in ranked]
    assert scores == sorted(scores, reverse=True)
    assert {i for i, _ in ranked} == {d.id for d in docs if set(d.words) & set(query)}


def test_a_chat_query_weighs_newer_messages_more() -> None:
    messages = [["old"], ["older", "card"], ["card", "lost"], ["new"], ["newest"]]
    query = chat_query(messages)
    assert "old" not in query  # beyond the last RECENT_MESSAGES
    assert len(messages) > RECENT_MESSAGES
    assert query["newest"] == 1.0 and query["new"] == DECAY
    assert query["card"] == DECAY**2  # a word keeps its highest weight
    assert chat_query([]) == {}


def test_coverage_is_the_share_of_the_query_weight_held() -> None:
    d = doc(1, "lost card", "block it")
    assert coverage({"lost": 1.0, "card": 1.0}, d) == 1.0
    assert coverage({"lost": 1.0, "refund": 1.0}, d) == 0.5
    assert coverage({"lost": 0.25, "refund": 0.75}, d) == 0.25
    assert coverage({}, d) == 0.0

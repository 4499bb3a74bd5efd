"""The knowledge base's evaluation set (bench/data/kb_eval*, bench/kb_suggest.py) is well formed:
every article imports, every question names an article in its own language, there are 100+ pairs
in both languages, and no question is copied out of its article."""

from __future__ import annotations

from collections import Counter

from bench.kb_suggest import ARTICLES, questions
from callcenter.kb.importer import files, parse


def test_the_evaluation_set_is_well_formed() -> None:
    drafts = [parse(p).draft for p in files(ARTICLES)]
    by_key = {(d.key, d.language): d for d in drafts}
    assert len(by_key) == len(drafts) >= 30
    asked = questions()
    assert len(asked) >= 100
    assert Counter(q.language for q in asked).keys() == {"en", "zh-CN"}
    for q in asked:
        article = by_key.get((q.key, q.language))
        assert article is not None, q
        text = " ".join((article.title, article.summary, article.body)).lower()
        assert q.text.lower().rstrip("?？") not in text, q  # paraphrased, not copied
    assert len({q.text for q in asked}) == len(asked)

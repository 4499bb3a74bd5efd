"""Text to search words, the same for articles and queries, on SQLite and PostgreSQL.

Neither backend segments Chinese: FTS5's ``unicode61`` tokenizer and PostgreSQL's default parser
both take a run of Han characters without spaces as one token (docs/knowledge-base.md, "What the
databases do with Chinese"), so "退款" would never match "我想申请退款". The server therefore
stores and searches words it made itself:

- Han runs are segmented by jieba (``rjieba``, the Rust port, dictionary built in) in its search
  mode, which also emits the shorter words inside long ones (退款政策 → 退款, 政策, 退款政策);
- other text is NFKC-folded (full-width letters and digits become ASCII), lower-cased, split on
  what is not a letter or digit, and English words are Snowball-stemmed (refunds, refunded →
  refund);
- stop words of both languages are dropped.

The database then only matches whole tokens (FTS5 ``unicode61``, PostgreSQL ``'simple'``).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

import snowballstemmer

MAX_QUERY_WORDS = 32
_HAN = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)")
_WORD = re.compile(r"[^\W_]+")
_STEMMER = snowballstemmer.stemmer("english")

EN_STOP = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers herself him himself his how i if in into is it its itself
    just me more most my myself no nor not now of off on once only or other our ours ourselves out
    over own same she should so some such than that the their theirs them themselves then there
    these they this those through to too under until up very was we were what when where which
    while who whom why will with would you your yours yourself yourselves hi hello please thanks
    thank im ive id dont cant wont get got want need like one""".split()
)
ZH_STOP = frozenset(
    """的 了 是 我 你 他 她 它 们 我们 你们 他们 在 有 和 吗 呢 吧 啊 呀 哦 嗯 就 都 也 还 把
    被 给 对 从 到 会 让 与 或 及 等 这 那 这个 那个 一个 一下 怎么 怎样 如何 什么 为什么 请
    请问 可以 能 能否 要 想 需要 您 您好 你好 谢谢 么 个 得 地 着 过 上 下 里 又 很 没 没有
    不 是否""".split()
)


@lru_cache(maxsize=1)
def _jieba() -> Any:
    """The segmenter (its module and dictionary take a moment to load: once, on first use, not at
    every start of the server)."""
    import rjieba

    return rjieba.Jieba()


@lru_cache(maxsize=4096)
def _stem(word: str) -> str:
    return str(_STEMMER.stemWord(word))


def words(text: str) -> list[str]:
    """The search words of ``text``, in order (repeats kept: they count in the ranking)."""
    out: list[str] = []
    folded = unicodedata.normalize("NFKC", text)
    for i, part in enumerate(_HAN.split(folded)):
        if not part:
            continue
        if i % 2:  # a Han run
            out.extend(w for w in _jieba().cut_for_search(part) if w not in ZH_STOP and _WORD.fullmatch(w))
            continue
        for word in _WORD.findall(part.lower()):
            if word not in EN_STOP:
                out.append(_stem(word) if word.isascii() else word)
    return out


def query_words(text: str) -> list[str]:
    """The distinct words of a query, at most ``MAX_QUERY_WORDS``."""
    return list(dict.fromkeys(words(text)))[:MAX_QUERY_WORDS]

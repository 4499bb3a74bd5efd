"""Whether a customer's message asks for a person: the virtual agent's hand-over intent (pure).

A request, not a word: "agent please", "I want to talk to a human", "转人工" hand over; "my agent
number is wrong", "the agent I spoke to said...", "人工智能" do not. Data-driven, one table per
language (:data:`PHRASES`); every table is tried, since a customer's language is often unknown.

A message asks for a person when, in one language's table:

- it holds one of the ``requests`` (regular expressions over the normalised message: "talk to a
  person" after "I want", "can I"..., "transfer me to an agent", "转人工"); or
- it is *short and only that*: once the ``nouns`` (agent, human, 人工, 客服...) and the ``fillers``
  (please, I want, a, 请, 我要, 吗...) are taken out, nothing is left, and a noun was there.

Invariants: the tables are matched on the casefolded message with punctuation dropped; a message
longer than ``short_words`` words (or ``short_chars`` characters for a language written without
spaces) is a request only through ``requests``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PersonPhrases:
    nouns: tuple[str, ...]  # what names a person ("customer service" may be several words)
    fillers: tuple[str, ...]  # what a short request may add around a noun
    requests: tuple[str, ...]  # regular expressions of a request anywhere in the message
    spaced: bool = True  # written with spaces between words (English); else by characters
    short_words: int = 8  # spaced: at most this many words for the "only that" rule
    short_chars: int = 16  # unspaced: at most this many characters


_WHO = (
    r"(?:an? |the |some |your )?(?:real |live |actual |human )?"
    r"(?:agent|person|human|people|someone|somebody|representative|rep|operator|staff|advisor"
    r"|customer service)\b"
)
_ASK = (
    r"(?:want|need|would like|'d like|like|wanna|can i|could i|may i|let me|please|how do i"
    r"|how can i|i have to|i must)"
)

PHRASES: Mapping[str, PersonPhrases] = {
    "en": PersonPhrases(
        nouns=(
            "customer service",
            "customer support",
            "support team",
            "agent",
            "agents",
            "human",
            "humans",
            "person",
            "people",
            "representative",
            "rep",
            "operator",
            "someone",
            "somebody",
            "advisor",
        ),
        fillers=(
            "please",
            "pls",
            "plz",
            "a",
            "an",
            "the",
            "some",
            "real",
            "live",
            "actual",
            "now",
            "right",
            "thanks",
            "thank",
            "you",
            "hi",
            "hello",
            "hey",
            "ok",
            "i",
            "i'd",
            "want",
            "wanna",
            "need",
            "would",
            "like",
            "to",
            "talk",
            "speak",
            "chat",
            "with",
            "can",
            "could",
            "may",
            "me",
            "get",
            "give",
            "connect",
            "transfer",
            "put",
            "through",
            "let",
            "is",
            "there",
            "any",
            "just",
            "yes",
            "call",
            "contact",
            "reach",
            "your",
            "be",
        ),
        requests=(
            rf"\b{_ASK} (?:to )?(?:talk|speak|chat) (?:to|with) {_WHO}",
            rf"\b(?:connect|transfer|put|pass|hand) me (?:through )?(?:to|with|over to) {_WHO}",
            rf"\b{_ASK} (?:to )?(?:get|have|reach|contact) {_WHO}",
            r"\bis there (?:an? |any )?(?:real |live )?(?:agent|person|human|someone|somebody)\b"
            r" (?:i can|to) (?:talk|speak|chat)",
        ),
    ),
    "zh": PersonPhrases(
        nouns=(
            "人工客服",
            "客服人员",
            "人工服务",
            "人工坐席",
            "人工座席",
            "真人客服",
            "人工",
            "真人",
            "客服",
            "坐席",
            "接线员",
        ),
        fillers=(
            "请",
            "我",
            "要",
            "想",
            "找",
            "帮我",
            "给我",
            "转",
            "接",
            "转接",
            "一下",
            "吧",
            "啊",
            "呢",
            "呀",
            "谢谢",
            "麻烦",
            "你好",
            "您好",
            "可以",
            "吗",
            "能",
            "和",
            "跟",
            "与",
            "说话",
            "聊",
            "聊天",
            "个",
            "一个",
            "有",
            "没有",
            "联系",
            "需要",
            "在",
            "的",
            "好",
            "让",
            "马上",
            "现在",
            "是",
        ),
        requests=(
            r"转人工",
            r"(?:找|要|接|转接|转到|联系|换)(?:个|一个)?(?:人工|真人)",
            r"人工客服|人工服务|人工坐席|人工座席|真人客服",
            r"(?:找|转|要|联系)(?:一下)?客服(?!人员说|说)",
        ),
        spaced=False,
    ),
}

_PUNCT = re.compile(r"[^\w\s']+")
_SPACED = {lang: p for lang, p in PHRASES.items() if p.spaced}


def _normal(text: str) -> str:
    return " ".join(_PUNCT.sub(" ", text.casefold()).split())


def _only_that(said: str, p: PersonPhrases) -> bool:
    if p.spaced:
        rest = f" {said} "
        found = False
        for noun in sorted(p.nouns, key=len, reverse=True):
            if f" {noun} " in rest:
                found = True
                rest = rest.replace(f" {noun} ", " ")
        words = rest.split()
        if not found or len(said.split()) > p.short_words:
            return False
        return all(w in p.fillers for w in words)
    compact = said.replace(" ", "")
    if len(compact) > p.short_chars:
        return False
    found = False
    for noun in sorted(p.nouns, key=len, reverse=True):
        if noun in compact:
            found = True
            compact = compact.replace(noun, "")
    if not found:
        return False
    for filler in sorted(p.fillers, key=len, reverse=True):
        compact = compact.replace(filler, "")
    return compact == ""


def asks_for_person(text: str) -> bool:
    """Whether the message asks for a person, in any language of :data:`PHRASES`."""
    said = _normal(text)
    if not said:
        return False
    for p in PHRASES.values():
        if any(re.search(pattern, said) for pattern in p.requests) or _only_that(said, p):
            return True
    return False

"""The virtual agent's dialogue flow on the evaluation set: containment and wrong answers, with a
rephrase, follow-up questions in the same exchange, and "That answers my question" counted.

    .venv/bin/python bench/bot_flows.py [--url postgresql+asyncpg://...] [--verbose]

The flow is ``bench/data/bot_flows/answer.yaml`` (the IVR's YAML language, run by the chat runner
``callcenter/core/ivr/chat.py``; its flow tests beside it); its ``kb`` step is answered as in the
server: ``Assistant.ask`` (callcenter/kb/assistant.py: the public articles, ``core/kb/bot.py``'s
confidence rule at its default), over the evaluation set of ``bench/kb_suggest.py`` (34 articles,
136 questions, 4 paraphrases per topic and language).

A scripted customer per question: the question is the first message; after an answer with the right
article it says "That answers my question" (zh-CN: 是的); after a wrong one, "no"; asked to put it
another way, it sends the next paraphrase of the same topic. Contained: the flow ended with the
customer's "That answers my question" (outcome hangup); wrong: the exchange showed at least one
wrong article; handed over: the flow queued the customer. ``follow-up``: the customer, answered
right, asks a second question (another topic, same language) in the same exchange; contained when
both were answered right. The first line is what it compares against, in the same run: the
widget's one-shot assistant (one question, no flow), as ``bench/kb_suggest.py --bot`` measures it.

``an agent mentioned``: the same questions, each first message opened by a sentence that mentions
an agent without asking for one ("The agent I spoke to last week said to ask here."; 上次的客服人员
说可以在这里问。), measured twice in the run: with the rule before issue 18 (any message holding
"agent", "人工"... hands over: ``WORD_RULE`` below) and with the hand-over intent
(``core/kb/person.py``). ``asks for a person``: the customer's first message is a request for a
person (a few phrasings per language): handed over is right there.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.kb_suggest import Question, load, questions
from callcenter.core.ivr import chat
from callcenter.core.ivr import model as m
from callcenter.core.kb.bot import Answer
from callcenter.core.kb.person import asks_for_person
from callcenter.ivr import loader
from callcenter.kb import assistant as assistant_module
from callcenter.kb.assistant import Assistant
from callcenter.storage.db import Database
from callcenter.storage.kb_store import KbStore

FLOWS = Path(__file__).parent / "data" / "bot_flows"
NOW = datetime(2026, 12, 7, 10, tzinfo=UTC)
YES = {"en": "That answers my question", "zh-CN": "是的"}
NO = {"en": "no", "zh-CN": "不是"}
MAX_TURNS = 20
MENTION = {
    "en": "The agent I spoke to last week said to ask here. ",
    "zh-CN": "上次的客服人员说可以在这里问。",
}
PERSON = {
    "en": ["agent please", "Can I talk to a person?", "I want to speak to a human", "real person"],
    "zh-CN": ["转人工", "我要找人工客服", "人工", "有真人吗"],
}
# The rule before issue 18: any message holding one of these words asked for a person.
WORD_RULE = re.compile(
    r"\b(agent|human|person|representative|operator|real people|speak to someone|talk to someone)\b"
    r"|人工|真人|客服人员|转人工|找客服|接线员",
    re.IGNORECASE,
)


@contextlib.contextmanager
def person_rule(rule: Callable[[str], bool]) -> Iterator[None]:
    """Run the flow and the assistant with another hand-over rule (the comparison row)."""
    saved = chat.asks_for_person, assistant_module.asks_for_person
    chat.asks_for_person = assistant_module.asks_for_person = rule  # type: ignore[assignment]
    try:
        yield
    finally:
        chat.asks_for_person, assistant_module.asks_for_person = saved  # type: ignore[assignment]


@dataclass(slots=True)
class Exchange:
    outcome: str = ""
    right: int = 0  # answers with the right article
    wrong: int = 0
    rephrased: int = 0
    turns: int = 0
    lines: list[str] = field(default_factory=list)


class Customer:
    """Answers the bot as the docstring says; ``wanted`` are the questions it came with, in order."""

    def __init__(self, wanted: list[Question], paraphrases: dict[tuple[str, str], list[Question]]) -> None:
        self.wanted = wanted
        self.paraphrases = paraphrases
        self.current = 0
        self.tries = 0

    @property
    def question(self) -> Question:
        return self.wanted[self.current]

    def answered(self, key: str, language: str) -> tuple[str, bool]:
        """(what it says, whether the answer was right)."""
        q = self.question
        if (key, language) != (q.key, q.language):
            return NO[q.language], False
        if self.current + 1 < len(self.wanted):
            self.current += 1
            self.tries = 0
            return self.question.text, True
        return YES[q.language], True

    def rephrase(self) -> str:
        self.tries += 1
        same = self.paraphrases[(self.question.language, self.question.key)]
        return same[(same.index(self.question) + self.tries) % len(same)].text


async def exchange(
    flows: m.FlowSet, assistant: Assistant, customer: Customer, first_text: str | None = None
) -> Exchange:
    first = customer.question
    out = Exchange()
    said_first = first.text if first_text is None else first_text
    variables = {"first_message": said_first, "message": said_first, "channel": "webchat"}
    turn = chat.begin(flows, "answer", now=NOW, variables=variables, language=first.language)
    shown: tuple[str, str] | None = None
    for _ in range(MAX_TURNS):
        out.turns += 1
        out.lines += [f"  bot: {r}" for r in turn.replies]
        if turn.finish is not None:
            out.outcome = turn.finish.outcome
            return out
        if isinstance(turn.request, chat.KbQuery):
            decision = await assistant.ask(turn.request.question, None)
            if isinstance(decision, Answer):
                hit = decision.hit
                shown = (hit.key, hit.language)
                result = chat.KbResult(f"{hit.title}: {hit.summary}", hit.id)
            else:
                shown, result = None, chat.KbResult(reason=decision.reason)
            turn = chat.resume(flows, turn.state, result, now=NOW)
            continue
        if turn.state.node == "after" and shown is not None:
            said, right = customer.answered(*shown)
            out.right += right
            out.wrong += not right
        elif turn.state.node == "rephrase":
            said = customer.rephrase()
            out.rephrased += 1
        else:
            raise RuntimeError(f"the customer does not know what to say at {turn.state.node!r}")
        out.lines.append(f"  customer: {said}")
        turn = chat.message(flows, turn.state, said, now=NOW)
    out.outcome = "unfinished"
    return out


def _summary(name: str, exchanges: list[Exchange]) -> str:
    n = len(exchanges)
    outcomes = Counter(e.outcome for e in exchanges)
    contained = outcomes["hangup"] / n
    wrong = sum(1 for e in exchanges if e.wrong) / n
    handed = outcomes["queue"] / n
    after_rephrase = sum(1 for e in exchanges if e.outcome == "hangup" and e.rephrased) / n
    return (
        f"{name:26} {n:5d} {contained:10.3f} {wrong:7.3f} {handed:8.3f} {after_rephrase:15.3f}"
        f" {sum(e.turns for e in exchanges) / n:6.1f}"
    )


async def run(url: str | None, verbose: bool) -> None:
    flows, problems = loader.load([FLOWS])
    if problems:
        raise SystemExit("\n".join(map(str, problems)))
    asked = questions()
    paraphrases: dict[tuple[str, str], list[Question]] = {}
    for q in asked:
        paraphrases.setdefault((q.language, q.key), []).append(q)
    topics = sorted({q.key for q in asked})
    with tempfile.TemporaryDirectory() as tmp:
        url = url or f"sqlite+aiosqlite:///{tmp}/kb.db"
        database = Database(url)
        await database.start()
        store = KbStore(url, database.engine)
        await store.start()
        try:
            await load(store)
            assistant = Assistant(store)
            started = time.perf_counter()
            one_shot = Counter[str]()
            for q in asked:
                decision = await assistant.ask(q.text, None)
                if not isinstance(decision, Answer):
                    one_shot["handed"] += 1
                elif (decision.hit.key, decision.hit.language) == (q.key, q.language):
                    one_shot["right"] += 1
                else:
                    one_shot["wrong"] += 1
            single = [await exchange(flows, assistant, Customer([q], paraphrases)) for q in asked]
            follow = []
            for q in asked:
                other_topic = topics[(topics.index(q.key) + 1) % len(topics)]
                same = paraphrases[(q.language, q.key)]
                second = paraphrases[(q.language, other_topic)][same.index(q)]
                follow.append(await exchange(flows, assistant, Customer([q, second], paraphrases)))
            mentioned = {}
            for name, rule in (("word rule", lambda t: WORD_RULE.search(t) is not None), ("intent", None)):
                with person_rule(rule) if rule is not None else contextlib.nullcontext():
                    mentioned[name] = [
                        await exchange(
                            flows, assistant, Customer([q], paraphrases), MENTION[q.language] + q.text
                        )
                        for q in asked
                    ]
            asking = [
                await exchange(flows, assistant, Customer([q], paraphrases), text)
                for q in asked
                if q.key == topics[0]
                for text in PERSON[q.language]
            ]
            seconds = time.perf_counter() - started
        finally:
            await store.stop()
            await database.stop()
    n = len(asked)
    print(
        f"{'':26} {'n':>5} {'contained':>10} {'wrong':>7} {'handed':>8} {'after rephrase':>15} {'turns':>6}"
    )
    print(
        f"{'one-shot assistant':26} {n:5d} {one_shot['right'] / n:10.3f} {one_shot['wrong'] / n:7.3f}"
        f" {one_shot['handed'] / n:8.3f} {'-':>15} {'1.0':>6}"
    )
    print(_summary("flow: one question", single))
    print(_summary("flow: with a follow-up", follow))
    for language in ("en", "zh-CN"):
        mine = [e for e, q in zip(single, asked, strict=True) if q.language == language]
        print(_summary(f"flow: one question, {language}", mine))
    for name, done in mentioned.items():
        print(_summary(f"agent mentioned, {name}", done))
    print(_summary("asks for a person", asking))
    for name, rule in (("word rule", lambda t: WORD_RULE.search(t) is not None), ("intent", asks_for_person)):
        taken = sum(rule(MENTION[q.language] + q.text) for q in asked)
        heard = sum(rule(t) for texts in PERSON.values() for t in texts)
        print(
            f"{name:10}: first messages that mention an agent taken as a request {taken}/{n},"
            f" requests heard {heard}/{sum(map(len, PERSON.values()))}"
        )
    print(f"{5 * n + len(asking)} exchanges in {seconds:.1f} s")
    if verbose:
        for q, e in zip(asked, single, strict=True):
            if e.outcome != "hangup" or e.wrong:
                print(f"[{q.language}] {q.key}: {q.text!r} -> {e.outcome}, {e.wrong} wrong")
                print("\n".join(e.lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a database URL (default: a new SQLite file); it must be empty")
    parser.add_argument("--verbose", action="store_true", help="the exchanges not contained")
    args = parser.parse_args()
    asyncio.run(run(args.url, args.verbose))


if __name__ == "__main__":
    main()

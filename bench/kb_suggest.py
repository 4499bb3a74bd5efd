"""How good the knowledge base's suggestions are: recall@1, recall@3 and MRR on the evaluation set.

    .venv/bin/python bench/kb_suggest.py [--url postgresql+asyncpg://...] [--misses]

The set (in the repository): ``bench/data/kb_eval/`` (34 articles: 17 topics in English and
Chinese, Markdown with front matter, importable with ``callcenter kb import``) and
``bench/data/kb_eval_questions.tsv`` (136 questions, 4 per topic and language, written by hand as
customers would ask, not copied from the articles, each with its right article). Every question goes
through the agent panel's path: ``Suggester.suggest`` (callcenter/kb/suggest.py) as one customer
message, read as an agent, no language filter and no queue (the harder case: both languages'
articles compete). A question counts for recall@k when its article (by key, in the question's
language) is in the top k; MRR is the mean of 1/rank over the top 10 (0 when absent). Each
suggestion is timed too. ``--bot``: the virtual agent's decision (core/kb/bot.py) on each question
at a few confidence settings: contained (answered with the right article), wrong answers, handed
over. Figures go to docs/knowledge-base.md and docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from callcenter.core.kb.articles import Reader
from callcenter.core.kb.bot import Confidence, Handoff, decide
from callcenter.core.kb.ranking import chat_query
from callcenter.kb import text
from callcenter.kb.importer import files, parse
from callcenter.kb.suggest import Context, Suggester
from callcenter.storage.db import Database
from callcenter.storage.kb_store import KbStore

DATA = Path(__file__).parent / "data"
ARTICLES = DATA / "kb_eval"
QUESTIONS = DATA / "kb_eval_questions.tsv"
DEPTH = 10


@dataclass(frozen=True, slots=True)
class Question:
    language: str
    key: str
    text: str


def questions(path: Path = QUESTIONS) -> list[Question]:
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        language, key, text = line.split("\t")
        if not text.strip():
            raise ValueError(f"{path}:{number}: empty question")
        out.append(Question(language, key, text))
    return out


async def load(store: KbStore) -> None:
    now = datetime.now(UTC)
    for path in files(ARTICLES):
        draft = parse(path).draft
        article = await store.save(draft, "bench", now)
        await store.publish(article.id, None, "bench", now)


Miss = tuple[Question, int | None, list[str]]


async def evaluate(store: KbStore, asked: list[Question]) -> tuple[dict[str, dict[str, float]], list[Miss]]:
    """Per language and overall: questions, recall@1, recall@3, MRR; and the questions missed in
    the top 3 (with their rank and the top 3's keys)."""
    suggester = Suggester(store, top=DEPTH)
    context = Context(Reader.of("agent", None))
    ranks: dict[str, list[int | None]] = {}
    misses: list[Miss] = []
    times: list[float] = []
    for q in asked:
        started = time.perf_counter()
        hits = await suggester.suggest([q.text], context)
        times.append(time.perf_counter() - started)
        found = [i for i, h in enumerate(hits, 1) if h.key == q.key and h.language == q.language]
        rank = found[0] if found else None
        ranks.setdefault(q.language, []).append(rank)
        ranks.setdefault("all", []).append(rank)
        if rank is None or rank > 3:
            misses.append((q, rank, [h.key for h in hits[:3]]))
    figures = {
        name: {
            "questions": len(r),
            "recall@1": sum(1 for x in r if x == 1) / len(r),
            "recall@3": sum(1 for x in r if x is not None and x <= 3) / len(r),
            "mrr": sum(1 / x for x in r if x is not None) / len(r),
        }
        for name, r in ranks.items()
    }
    times.sort()
    figures["time"] = {"median_ms": 1000 * times[len(times) // 2], "max_ms": 1000 * times[-1]}
    return figures, misses


BOT_SETTINGS = (
    Confidence(0.0, 1.0),
    Confidence(0.34, 1.5),
    Confidence(0.5, 1.0),
    Confidence(0.5, 1.5),
    Confidence(0.5, 2.0),
    Confidence(0.6, 1.2),
    Confidence(0.75, 1.3),
    Confidence(0.9, 1.5),
)


async def bot(store: KbStore, asked: list[Question]) -> list[tuple[Confidence, int, int, int]]:
    """The virtual agent (core/kb/bot.py) on each question, read as a customer, at each confidence
    setting: (setting, answered right, answered wrong, handed over)."""
    reader = Reader.of("customer", None)
    found = []
    for q in asked:
        hits = await store.search(chat_query([text.words(q.text)]), reader, limit=DEPTH)
        found.append((q, hits))
    out = []
    for setting in BOT_SETTINGS:
        right = wrong = handed = 0
        for q, hits in found:
            decision = decide([q.text], hits, setting)
            if isinstance(decision, Handoff):
                handed += 1
            elif (decision.hit.key, decision.hit.language) == (q.key, q.language):
                right += 1
            else:
                wrong += 1
        out.append((setting, right, wrong, handed))
    return out


async def run(url: str | None, show_misses: bool, with_bot: bool = False) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = url or f"sqlite+aiosqlite:///{tmp}/kb.db"
        database = Database(url)
        await database.start()
        store = KbStore(url, database.engine)
        await store.start()
        try:
            await load(store)
            figures, misses = await evaluate(store, questions())
            bots = await bot(store, questions()) if with_bot else []
        finally:
            await store.stop()
            await database.stop()
    print(f"{'set':8} {'questions':>9} {'recall@1':>9} {'recall@3':>9} {'MRR':>6}")
    timing = figures.pop("time")
    for name, f in sorted(figures.items(), key=lambda kv: kv[0] == "all"):
        print(f"{name:8} {f['questions']:9.0f} {f['recall@1']:9.3f} {f['recall@3']:9.3f} {f['mrr']:6.3f}")
    print(f"one suggestion: median {timing['median_ms']:.1f} ms, slowest {timing['max_ms']:.1f} ms")
    for setting, right, wrong, handed in bots:
        n = right + wrong + handed
        print(
            f"bot coverage>={setting.coverage} margin>={setting.margin}: contained {right / n:.3f}, "
            f"wrong answers {wrong / n:.3f}, handed over {handed / n:.3f}"
        )
    if show_misses:
        for q, rank, top in misses:
            print(f"miss ({rank}): [{q.language}] {q.text!r} -> {q.key}; top 3: {top}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a database URL (default: a new SQLite file); it must be empty")
    parser.add_argument("--misses", action="store_true", help="list the questions missed in the top 3")
    parser.add_argument("--bot", action="store_true", help="also the virtual agent's containment")
    args = parser.parse_args()
    asyncio.run(run(args.url, args.misses, args.bot))


if __name__ == "__main__":
    main()

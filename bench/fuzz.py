"""The long fuzzing run: every parser fed from outside, many inputs each, outcomes counted.

Run:  python bench/fuzz.py                   (5,000 inputs per target, a few minutes)
      python bench/fuzz.py --examples 200    (quick)
      python bench/fuzz.py --only whatsapp --only wechat

The targets and their outcome rule are in tests/fuzz/targets.py (the suite runs the same targets
briefly in tests/unit/test_fuzz.py): an input is *accepted* with sane values or *rejected* with the
parser's typed error (4xx for webhooks, ``file:line`` for the loaders); anything else is a *crash*,
counted and shown with the first inputs that caused it. The run goes on after a crash.

The comparison printed beside each target: the same number of inputs as plain random bytes (or
random text for the loaders), to show how far the seeded, structure-aware inputs get past the first
check ("accepted" is the share that reached the end of the parser).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from tqdm import tqdm

from tests.fuzz.targets import Crash, Target, targets


def run(target: Target, strategy: st.SearchStrategy[Any], examples: int) -> tuple[Counter[str], list[str]]:
    counts: Counter[str] = Counter()
    crashes: list[str] = []
    bar = tqdm(total=examples, desc=f"{target.name:<11}", unit="input", leave=False)

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def one(data: Any) -> None:
        bar.update(1)
        try:
            counts[target.check(data)] += 1
        except Crash as err:
            counts["crash"] += 1
            if len(crashes) < 3:
                crashes.append(f"{err} <- {data!r}"[:400])
        except Exception as err:
            counts["crash"] += 1
            if len(crashes) < 3:
                crashes.append(f"{type(err).__name__}: {err} <- {data!r}"[:400])

    try:
        one()
    finally:
        bar.close()
    return counts, crashes


def noise_for(target: Target) -> st.SearchStrategy[Any]:
    if target.name == "twilio":
        return st.lists(st.tuples(st.text(max_size=20), st.text(max_size=40)), max_size=8)
    if target.name == "ami":
        return st.dictionaries(st.text(max_size=12), st.text(max_size=20), max_size=8)
    return st.binary(max_size=400)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--examples", type=int, default=5000, help="inputs per target (default 5000)")
    parser.add_argument("--only", action="append", help="run only this target (repeatable)")
    args = parser.parse_args()
    chosen = [t for t in targets() if not args.only or t.name in args.only]
    print(
        f"{'target':<11} {'inputs':>7} {'accepted':>9} {'rejected':>9} {'crashes':>8} {'inputs/s':>9}"
        f"   | random input: {'accepted':>8} {'rejected':>9} {'crashes':>8}"
    )
    total_crashes = 0
    for target in chosen:
        started = time.perf_counter()
        counts, crashes = run(target, target.strategy, args.examples)
        elapsed = time.perf_counter() - started
        noise, noise_crashes = run(target, noise_for(target), args.examples)
        n = sum(counts.values())
        print(
            f"{target.name:<11} {n:>7} {counts['accepted']:>9} {counts['rejected']:>9} {counts['crash']:>8}"
            f" {n / elapsed:>9.0f}   | {'':>14} {noise['accepted']:>8} {noise['rejected']:>9}"
            f" {noise['crash']:>8}"
        )
        for line in crashes + noise_crashes:
            print(f"    crash: {line}")
        total_crashes += counts["crash"] + noise["crash"]
    print(f"crashes in total: {total_crashes}")
    return 1 if total_crashes else 0


if __name__ == "__main__":
    sys.exit(main())

"""Mutation testing of the pure core: would the unit tests notice a wrong move?

Two kinds of mutants, each run against the unit tests that cover its module (not the whole suite):

- **code**: mutmut 3's mutants (operators, comparisons, numbers, strings, ``and``/``or``,
  ``True``/``False``, ``break``/``continue``, removed arguments and assignments...) of each
  module's functions, one at a time (mutmut 2's parser cannot read ``match`` statements). mutmut
  only writes the mutants; this file runs them, forking a warm process per mutant (see below),
  instead of mutmut's runner. The files on disk are never changed.
- **tables**: the module-level tables mutmut leaves alone (the agents' transition table,
  redaction's digit-word, teen, tens, repeat, filler and joiner tables and its 13/19-digit
  limits, the shareable identity kinds). Each entry is removed, and each value changed (a
  transition retargeted to every other state, a digit word given the next digit, a repeat count
  changed, a limit one more and one less).

A mutant is killed when the tests fail (or cannot even import it); Hypothesis tests run at most
``CC_MUTATION_EXAMPLES`` (60) examples per mutant, without shrinking a failure. A mutant that
runs ten times longer than the clean run is stopped and counted killed (it hung the tests), and
listed.

Run (from the repository root; two shared cores: nice it, and pick modules):

    nice -n 10 .venv/bin/python bench/mutation.py                      # every module, both kinds
    nice -n 10 .venv/bin/python bench/mutation.py --module redaction --tables
    nice -n 10 .venv/bin/python bench/mutation.py --module agents --code

It prints, per module and kind, killed/total and the score, and every survivor (file:line, the
line and its mutant).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = int(os.environ.get("CC_MUTATION_EXAMPLES", "60"))


@dataclass(frozen=True)
class Target:
    path: str
    wanted: tuple[str, ...]

    @property
    def tests(self) -> tuple[str, ...]:
        """The test files that exist (an older checkout may lack some)."""
        return tuple(t for t in self.wanted if (ROOT / t).exists())


UNIT = "tests/unit/"
TARGETS: dict[str, Target] = {
    "agents": Target(
        "callcenter/core/acd/agents.py",
        (UNIT + "test_agents.py", UNIT + "test_acd.py", UNIT + "test_acd_properties.py"),
    ),
    "redaction": Target("callcenter/core/qa/redaction.py", (UNIT + "test_redaction.py",)),
    "ivr_runner": Target("callcenter/core/ivr/runner.py", (UNIT + "test_ivr_runner.py",)),
    "customers": Target("callcenter/core/omni/customers.py", (UNIT + "test_customers.py",)),
    "queues": Target(
        "callcenter/core/acd/queues.py",
        (UNIT + "test_queues.py", UNIT + "test_acd_routing.py", UNIT + "test_acd_routing_properties.py"),
    ),
    "calls": Target(
        "callcenter/core/calls/machine.py",
        (
            UNIT + "test_calls.py",
            UNIT + "test_calls_commands.py",
            UNIT + "test_calls_supervision.py",
            UNIT + "test_acd_call_controls.py",
        ),
    ),
    "adherence": Target("callcenter/core/reports/adherence.py", (UNIT + "test_adherence.py",)),
}


# --- table mutants ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableMutant:
    describe: str
    apply: Callable[[], None]


def _dict_mutants(module: Any, name: str, change: Callable[[Any], list[Any]]) -> list[TableMutant]:
    """Each entry of the dict ``module.name`` removed, and set to each value of ``change(value)``."""
    table: dict[Any, Any] = getattr(module, name)
    out: list[TableMutant] = []
    for key in list(table):
        out.append(TableMutant(f"{name}: {key!r} removed", lambda k=key: table.pop(k)))
        for other in change(table[key]):

            def put(k: Any = key, v: Any = other) -> None:
                table[k] = v

            out.append(TableMutant(f"{name}: {key!r} -> {other!r} (was {table[key]!r})", put))
    return out


def _set_mutants(module: Any, name: str) -> list[TableMutant]:
    """Each element of the set (or frozenset) ``module.name`` removed."""
    values = getattr(module, name)
    out: list[TableMutant] = []
    for value in sorted(values):

        def drop(v: Any = value) -> None:
            setattr(module, name, type(values)(x for x in values if x != v))

        out.append(TableMutant(f"{name}: {value!r} removed", drop))
    return out


def _constant_mutants(module: Any, *names: str) -> list[TableMutant]:
    """Each integer constant one more and one less (the boundaries)."""
    out: list[TableMutant] = []
    for name in names:
        value = getattr(module, name)
        for other in (value - 1, value + 1):
            out.append(
                TableMutant(f"{name}: {other} (was {value})", lambda n=name, v=other: setattr(module, n, v))
            )
    return out


def _next_digits(digits: str) -> list[str]:
    return [str((int(digits[0]) + 1) % 10) + digits[1:]]


def table_mutants(name: str) -> list[TableMutant]:
    if name == "agents":
        agents = importlib.import_module("callcenter.core.acd.agents")
        states = list(agents.AgentState)
        return _dict_mutants(agents, "TRANSITIONS", lambda target: [s for s in states if s != target])
    if name == "redaction":
        red = importlib.import_module("callcenter.core.qa.redaction")
        return [
            *_dict_mutants(red, "_UNITS", _next_digits),
            *_dict_mutants(red, "_TEENS", lambda d: [d[0] + str((int(d[1]) + 1) % 10)]),
            *_dict_mutants(red, "_TENS", _next_digits),
            *_set_mutants(red, "_TENS_UNITS"),
            *_dict_mutants(red, "_REPEAT", lambda n: [n + 1]),
            *_set_mutants(red, "_FILLERS"),
            *_set_mutants(red, "_JOINERS"),
            *_constant_mutants(red, "MIN_CARD_DIGITS", "MAX_CARD_DIGITS"),
        ]
    if name == "customers":
        return _set_mutants(importlib.import_module("callcenter.core.omni.customers"), "SHAREABLE")
    return []


def pytest_collection_modifyitems(items: list[Any]) -> None:
    """Property tests run at most ``EXAMPLES`` examples per mutant (hundreds of mutants x the
    examples the suite asks for would take hours on two shared cores); the failing examples that
    Hypothesis keeps in its database are replayed first, so a mutant killed once stays killed.
    A failure is not shrunk (the smallest example changes nothing to "killed", and shrinking can
    take longer than the whole run). The plain tests run first, the property tests last."""
    from hypothesis import Phase, settings

    phases = [Phase.explicit, Phase.reuse, Phase.generate]
    # Property tests last: most mutants fail a plain test first, and ``-x`` stops there.
    items.sort(key=lambda item: hasattr(getattr(item, "obj", None), "_hypothesis_internal_use_settings"))
    for item in items:
        test = getattr(item, "obj", None)
        current = getattr(test, "_hypothesis_internal_use_settings", None)
        if current is not None:
            examples = min(current.max_examples, EXAMPLES)
            test._hypothesis_internal_use_settings = settings(  # type: ignore[union-attr]
                current, max_examples=examples, phases=phases
            )


# --- running the tests against one mutant ----------------------------------------------------------
#
# A fresh ``python -m pytest`` per mutant spends seconds starting up (on two shared cores, ten);
# instead the bench imports pytest, Hypothesis and the test's third-party imports once and forks
# for each mutant. The child forgets every ``callcenter`` and ``tests`` module, installs the
# mutated module (from source, never written to disk) or the mutated table, and runs pytest in
# process; the parent waits for its exit code, killing it after a time limit.


def _forget_our_modules() -> None:
    for name in list(sys.modules):
        if name.split(".")[0] in ("callcenter", "tests"):
            del sys.modules[name]


def _install(module_name: str, path: Path, source: str) -> None:
    """Import ``module_name`` from ``source`` instead of its file (the other core modules then
    import the mutant)."""
    package, _, leaf = module_name.rpartition(".")
    parent = importlib.import_module(package)
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    exec(compile(source, str(path), "exec"), module.__dict__)
    setattr(parent, leaf, module)


def _run_child(tests: tuple[str, ...], prepare: Callable[[], None]) -> int:
    if not os.environ.get("CC_MUTATION_VERBOSE"):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
    try:
        _forget_our_modules()
        prepare()
        import pytest

        # Plain asserts: pytest cannot rewrite what the parent imported already (nor need it).
        args = ["-x", "-q", "-p", "no:cacheprovider", "--assert=plain", *tests]
        return int(pytest.main(args, plugins=[sys.modules[__name__]]))
    except BaseException:  # a mutant that breaks the import (or anything else) is caught
        if os.environ.get("CC_MUTATION_VERBOSE"):
            traceback.print_exc()
        return 99


def _outcome(tests: tuple[str, ...], prepare: Callable[[], None], timeout: float) -> str:
    """'killed', 'survived' or 'timeout' (a green run is a survivor)."""
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        os._exit(_run_child(tests, prepare))
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return "survived" if os.waitstatus_to_exitcode(status) == 0 else "killed"
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "timeout"
        time.sleep(0.05)


def _warm_up() -> None:
    """Import once, in the parent, what every child needs and nobody mutates."""
    import hypothesis  # noqa: F401
    import pytest  # noqa: F401

    import tests.conftest  # noqa: F401  (yaml, pydantic, SQLAlchemy... through callcenter.settings)

    _forget_our_modules()


def _baseline(name: str) -> float:
    """The tests pass without a mutant; returns the time limit for one mutant's run."""
    started = time.monotonic()
    if _outcome(TARGETS[name].tests, lambda: None, 3600) != "survived":
        raise SystemExit(f"{name}: the tests fail without any mutant; fix them first")
    return 10 * (time.monotonic() - started) + 30


@dataclass
class Score:
    killed: int = 0
    total: int = 0
    survivors: list[str] = field(default_factory=list)
    timeouts: list[str] = field(default_factory=list)

    def add(self, outcome: str, describe: str) -> None:
        self.total += 1
        if outcome == "survived":
            self.survivors.append(describe)
            print(f"  [{self.total}] survived (so far): {describe}", flush=True)
        else:
            self.killed += 1
            if outcome == "timeout":
                self.timeouts.append(describe)


def run_tables(name: str) -> Score:
    score = Score()
    target = TARGETS[name]
    count = len(table_mutants(name))
    if not count:
        return score
    limit = _baseline(name)
    for index in range(count):
        describe = table_mutants(name)[index].describe
        if ONLY and not any(text in describe for text in ONLY):
            continue

        def prepare(i: int = index) -> None:
            table_mutants(name)[i].apply()

        score.add(_outcome(target.tests, prepare, limit), describe)
    _forget_our_modules()
    return score


def code_mutants(path: str) -> list[tuple[str, str]]:
    """mutmut's mutants of ``path``'s functions and methods: (description, mutated source) each.

    mutmut 3's operators (operators, comparisons, numbers, strings, ``and``/``or``,
    ``True``/``False``/``None``, ``break``/``continue``, arguments, assignments...) and its rules
    (no annotations, no ``len``/``isinstance`` calls, no ``# pragma: no mutate`` lines), with one
    difference: mutmut's runner weaves all mutants into one file of trampolines, which cannot copy
    decorated functions, so it skips them and every method of a decorated class (our dataclasses:
    ``Agent``, ``Redactor``...). Here each mutant is applied alone to the parsed module, so those
    are mutated too; only the decorators themselves are left alone.
    """
    import libcst as cst
    from libcst.metadata import MetadataWrapper
    from mutmut.file_mutation import MutationVisitor, deep_replace, pragma_no_mutate_lines
    from mutmut.node_mutation import mutation_operators

    class Visitor(MutationVisitor):  # type: ignore[misc]
        def _skip_node_and_children(self, node: cst.CSTNode) -> bool:
            if isinstance(node, cst.Decorator):
                return True
            if isinstance(node, (cst.FunctionDef, cst.ClassDef)) and node.decorators:
                node = node.with_changes(decorators=[])
            return bool(super()._skip_node_and_children(node))

    source = (ROOT / path).read_text()
    visitor = Visitor(mutation_operators, pragma_no_mutate_lines(source))
    module = MetadataWrapper(cst.parse_module(source)).visit(visitor)
    out: list[tuple[str, str]] = []
    for mutation in visitor.mutations:
        if not isinstance(mutation.contained_by_top_level_function, cst.FunctionDef):
            continue  # module or class level: mutmut leaves it alone (the tables are mutated below)
        mutated = deep_replace(module, mutation.original_node, mutation.mutated_node).code
        old_lines, new_lines = source.splitlines(), mutated.splitlines()
        line = next((n for n, (o, x) in enumerate(zip(old_lines, new_lines, strict=False)) if o != x), 0)
        out.append((f"{path}:{line + 1}: {old_lines[line].strip()}  ->  {new_lines[line].strip()}", mutated))
    return out


EVERY = [1]  # --every N: only every Nth code mutant (a sample, when there is no time for all)
ONLY: list[str] = []  # --only TEXT: only the mutants whose description contains TEXT (to recheck survivors)


def run_code(name: str) -> Score:
    score = Score()
    target = TARGETS[name]
    module_name = target.path.removesuffix(".py").replace("/", ".")
    limit = _baseline(name)
    mutants = [m for m in code_mutants(target.path) if not ONLY or any(text in m[0] for text in ONLY)]
    for describe, mutated in mutants[:: EVERY[0]]:

        def prepare(source: str = mutated) -> None:
            _install(module_name, ROOT / target.path, source)

        score.add(_outcome(target.tests, prepare, limit), describe)
    return score


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--module", action="append", choices=sorted(TARGETS), help="default: every module")
    parser.add_argument("--code", action="store_true", help="only mutmut's code mutants")
    parser.add_argument("--tables", action="store_true", help="only the table mutants")
    parser.add_argument("--every", type=int, default=1, help="a sample: every Nth code mutant only")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="TEXT",
        help="only the mutants whose description has TEXT (repeatable: any of them)",
    )
    args = parser.parse_args()
    EVERY[0] = args.every
    ONLY[:] = args.only
    os.chdir(ROOT)
    sys.path[:0] = [str(ROOT / "bench"), str(ROOT)]
    _warm_up()
    names = args.module or list(TARGETS)
    kinds = [k for k, on in (("code", args.code), ("tables", args.tables)) if on] or ["code", "tables"]
    results: list[tuple[str, str, Score]] = []
    for name in names:
        for kind in kinds:
            started = time.monotonic()
            score = (run_code if kind == "code" else run_tables)(name)
            if not score.total:
                continue
            took = time.monotonic() - started
            pct = 100 * score.killed / score.total
            print(
                f"{name} {kind}: {score.killed}/{score.total} killed = {pct:.1f}% ({took:.0f} s)", flush=True
            )
            for survivor in score.survivors:
                print(f"  survived: {survivor}", flush=True)
            for timeout in score.timeouts:
                print(f"  timed out (counted killed): {timeout}", flush=True)
            results.append((name, kind, score))
    print("\nmodule       kind     killed/total  score")
    for name, kind, score in results:
        pct = 100 * score.killed / score.total
        print(f"{name:<12} {kind:<8} {score.killed:>6}/{score.total:<6} {pct:5.1f}%")


if __name__ == "__main__":
    main()

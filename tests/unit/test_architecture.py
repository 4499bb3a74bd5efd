"""The layers, enforced: the domain core imports no I/O library (it is driven by events and the
time it is given); the web layer never reaches storage or Asterisk but through services and ports;
adapters never import the web layer.

The rules name packages by role (see ``LAYERS``), so a move of modules (scripts/relayout.py)
rewrites the module paths below and the rules keep holding.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import callcenter

ROOT = Path(callcenter.__file__).parent
CORE = ROOT / "core"
WEB = ROOT / "web"
ALLOWED = {
    "__future__",
    "collections",
    "dataclasses",
    "enum",
    "itertools",
    "typing",
    "types",  # MappingProxyType: read-only views of the engine
    "heapq",
    "bisect",
    "math",
    "re",
    "functools",
    "abc",
    "datetime",  # dates and tzinfo as data; the clock is never read (checked below)
    "callcenter",
}
# Modules that talk to the database or to Asterisk (packages and single modules, by dotted name).
# Both layouts are named (before and after scripts/relayout.py); those that exist are enforced.
STORAGE_AND_ASTERISK = (
    "callcenter.adapters",
    "callcenter.storage",
    "callcenter.asterisk",
    "callcenter.storage.migrations",
    "callcenter.asterisk.sandbox",
)
# The web layer may not import these libraries either: they belong to the adapters.
ADAPTER_LIBRARIES = ("sqlalchemy", "panoramisk", "alembic", "aiosqlite", "asyncpg")
# Modules the web layer must not import (``callcenter.web`` itself is checked against adapters).
ADAPTERS = tuple(
    p
    for p in STORAGE_AND_ASTERISK
    if ROOT.parent.joinpath(*p.split(".")).is_dir()
    or ROOT.parent.joinpath(*p.split(".")).with_suffix(".py").is_file()
)


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """Every module ``path`` imports, absolute (relative imports resolved), with its line."""
    package = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts[:-1])
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            yield node.lineno, base
            for alias in node.names:  # ``from callcenter import adapters``
                yield node.lineno, f"{base}.{alias.name}"


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def offenders(folder: Path, banned: tuple[str, ...]) -> list[str]:
    found = []
    for path in sorted(folder.rglob("*.py")):
        for line, name in imports(path):
            if within(name, banned):
                found.append(f"{path.relative_to(ROOT)}:{line}: {name}")
    return found


def test_core_imports_only_pure_modules() -> None:
    found = []
    for path in sorted(CORE.rglob("*.py")):
        for line, name in imports(path):
            top = name.split(".")[0]
            if top not in ALLOWED or (top == "callcenter" and not within(name, ("callcenter.core",))):
                found.append(f"{path.relative_to(ROOT)}:{line}: {name}")
    assert found == []


def test_core_never_reads_the_clock() -> None:
    for path in sorted(CORE.rglob("*.py")):
        text = path.read_text()
        assert "time.time" not in text and "datetime.now" not in text, path


def test_web_never_imports_storage_or_asterisk() -> None:
    """Handlers reach the database and Asterisk through services, app keys and small Protocols
    (ports); storage and Asterisk failures arrive as :mod:`callcenter.errors`."""
    assert offenders(WEB, ADAPTERS + ADAPTER_LIBRARIES) == []


def test_adapters_never_import_the_web() -> None:
    found = []
    for prefix in ADAPTERS:
        target = ROOT.parent.joinpath(*prefix.split("."))
        folder = target if target.is_dir() else None
        if folder is not None:
            found += offenders(folder, ("callcenter.web",))
        elif target.with_suffix(".py").is_file():
            found += [
                f"{prefix}:{line}: {name}"
                for line, name in imports(target.with_suffix(".py"))
                if within(name, ("callcenter.web",))
            ]
    assert found == []


def test_the_rules_name_real_modules() -> None:
    """A rule naming only modules that are gone would pass vacuously: after a move, update the rules."""
    assert len(ADAPTERS) >= 2, ADAPTERS
    assert any(within(name, ("callcenter.core",)) for _, name in imports(WEB / "api.py"))


# Issue 12's "done when": classes and modules one can hold in one's head.
SIZE_LIMITS = {
    "core/acd/engine.py": 600,  # Acd
    "asterisk/voice.py": 600,  # VoiceAdapter
    "web/api.py": 600,
    "settings/settings.py": 600,  # the configuration (config.py before the re-layout)
}
LONGEST_FUNCTION = 60


def test_the_big_four_stay_under_600_lines() -> None:
    sizes = {name: len((ROOT / name).read_text(encoding="utf-8").splitlines()) for name in SIZE_LIMITS}
    assert {n: s for n, s in sizes.items() if s > SIZE_LIMITS[n]} == {}


def test_no_function_is_longer_than_60_lines() -> None:
    long = []
    for path in ROOT.rglob("*.py"):
        if "versions" in path.parts:  # migrations: frozen history
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > LONGEST_FUNCTION:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length} lines)")
    assert long == []

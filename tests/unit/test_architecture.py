"""The domain core imports no I/O library: it is driven by events and the time it is given."""

from __future__ import annotations

import ast
from pathlib import Path

import callcenter.core

CORE = Path(callcenter.core.__file__).parent
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


def test_core_imports_only_pure_modules() -> None:
    offenders = []
    for path in sorted(CORE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top not in ALLOWED or (top == "callcenter" and not name.startswith("callcenter.core")):
                    offenders.append(f"{path.name}: {name}")
    assert offenders == []


def test_core_never_reads_the_clock() -> None:
    for path in sorted(CORE.rglob("*.py")):
        text = path.read_text()
        assert "time.time" not in text and "datetime.now" not in text, path

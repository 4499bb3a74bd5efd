"""The core stays small enough to hold in one's head: no function over 60 lines, the engine's class
under 600 (issue 12). Counted from the source, like the architecture test."""

from __future__ import annotations

import ast
from pathlib import Path

import callcenter.core

CORE = Path(callcenter.core.__file__).parent
MAX_FUNCTION = 60
MAX_ACD = 600


def _length(node: ast.AST) -> int:
    assert node.end_lineno is not None
    return node.end_lineno - node.lineno + 1  # type: ignore[attr-defined,no-any-return]


def test_no_function_of_the_core_is_over_60_lines() -> None:
    long = []
    for path in sorted(CORE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _length(node) > MAX_FUNCTION:
                long.append(f"{path.name}:{node.lineno}: {node.name} ({_length(node)} lines)")
    assert long == []


def test_the_engine_class_is_under_600_lines() -> None:
    tree = ast.parse((CORE / "acd" / "engine.py").read_text())
    acd = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Acd")
    assert _length(acd) < MAX_ACD  # the call controls are in core/calls.py

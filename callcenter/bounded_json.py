"""JSON from outside, parsed with a bounded nesting depth.

``json.loads`` of 8,000 nested arrays raises RecursionError (a 500, a traceback), and a value
nested a few hundred levels deep still exhausts the stack of whatever walks it later. Every JSON
body, webhook and Socket.IO payload is parsed here instead: deeper than ``MAX_DEPTH`` is a
``json.JSONDecodeError`` (a ValueError), which the callers already answer with 400. The module
also serves as python-socketio's ``json`` module (``loads`` and ``dumps``).
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64

dumps = json.dumps


def loads(raw: str | bytes | bytearray, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` that refuses nesting deeper than ``max_depth`` (JSONDecodeError)."""
    try:
        value = json.loads(raw)
    except RecursionError as err:
        raise json.JSONDecodeError(f"nested deeper than {max_depth} levels", "", 0) from err
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:  # iterative: the check itself must not recurse
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > max_depth:
                raise json.JSONDecodeError(f"nested deeper than {max_depth} levels", "", 0)
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return value

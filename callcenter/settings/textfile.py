"""Reading the text files people edit (configuration, queues, agents, IVR flows, QA rules).

Every loader reads through :func:`read_text`, so every one refuses the same things the same way, as
``file:line: problem``: something that is not a regular file (``/dev/zero`` would exhaust memory,
a FIFO would block), a file larger than any real one, bytes that are not UTF-8, and control
characters YAML does not allow. The caller turns :class:`TextFileError` into its own error type.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable

import yaml

MAX_BYTES = 4 * 1024 * 1024  # the largest example file is ~11 KB; a flow set of a big center, ~1 MB

# YAML 1.1's printable set (yaml.reader.Reader.NON_PRINTABLE): tab, LF, CR and printable characters.
_NON_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class TextFileError(ValueError):
    """A file that cannot be read as text; the message is ``file:line: problem`` (``file: problem``
    when no line is to blame)."""

    def __init__(self, source: str, line: int | None, problem: str) -> None:
        super().__init__(f"{source}:{line}: {problem}" if line else f"{source}: {problem}")
        self.source, self.line, self.problem = source, line, problem


def read_text(path: str | os.PathLike[str], what: str) -> str:
    """The file's text, or TextFileError naming the file (and the line, when there is one)."""
    source = str(path)
    try:
        with open(path, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise TextFileError(source, None, f"cannot read {what}: not a regular file")
            data = handle.read(MAX_BYTES + 1)
    except OSError as err:
        raise TextFileError(source, None, f"cannot read {what}: {err.strerror or err}") from err
    if len(data) > MAX_BYTES:
        raise TextFileError(source, None, f"cannot read {what}: larger than {MAX_BYTES >> 20} MiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        problem = f"not UTF-8 text (byte 0x{data[err.start]:02x}); save the file as UTF-8"
        raise TextFileError(source, line, problem) from err
    text = text.removeprefix("\ufeff")  # a byte-order mark some editors write
    bad = _NON_PRINTABLE.search(text)
    if bad is not None:
        line = text.count("\n", 0, bad.start()) + 1
        raise TextFileError(source, line, f"control character U+{ord(bad.group()):04X} is not allowed")
    return text


_SURROGATE = re.compile("[\ud800-\udfff]")


def scalar_line(root: yaml.Node | None, bad: Callable[[yaml.ScalarNode], bool]) -> int | None:
    """The line of the first scalar of a composed YAML document that ``bad`` refuses, if any."""
    pending = [root] if root is not None else []
    seen: set[int] = set()  # an alias can make the tree a graph with cycles (&a [*a])
    while pending:
        node = pending.pop(0)
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            if bad(node):
                return int(node.start_mark.line) + 1
        elif isinstance(node, yaml.SequenceNode):
            pending.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            pending.extend(part for pair in node.value for part in pair)
    return None


def unencodable_line(root: yaml.Node | None) -> int | None:
    """The line of the first YAML string that is not Unicode text: a lone surrogate written as an
    escape (``"\\ud800"``) loads as a Python string no file, database or socket can encode."""
    return scalar_line(root, lambda node: _SURROGATE.search(node.value) is not None)

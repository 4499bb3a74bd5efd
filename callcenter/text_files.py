"""Reading the text files an operator hands us (configuration, queues, agents, IVR flows, QA
rules): regular files of a sane size, UTF-8, no control characters. Every refusal says
``file:line: problem``, never a traceback: a path like /dev/zero used to exhaust memory, and
invalid UTF-8 gave a UnicodeDecodeError."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

# Larger than any real file of ours by far; a bigger one is a mistake (or /dev/zero).
MAX_BYTES = 4 * 1024 * 1024
# C0 (but tab and line ends), DEL and C1 controls.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class TextFileError(ValueError):
    """``file:line: problem``; ``missing`` when the file does not exist."""

    def __init__(self, message: str, *, line: int = 1, missing: bool = False) -> None:
        super().__init__(message)
        self.line = line
        self.missing = missing


def read_text_file(path: str | os.PathLike[str], what: str) -> str:
    """The file's text; TextFileError if it is not a regular file, too large, not UTF-8, or has
    control characters (other than tab and line ends)."""
    name = str(path)
    try:
        with Path(path).open("rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise TextFileError(f"{name}:1: cannot read {what}: not a regular file")
            raw = f.read(MAX_BYTES + 1)
    except FileNotFoundError as err:
        raise TextFileError(f"{name}: cannot read {what}: {err.strerror}", missing=True) from err
    except OSError as err:
        raise TextFileError(f"{name}: cannot read {what}: {err.strerror}") from err
    if len(raw) > MAX_BYTES:
        raise TextFileError(f"{name}:1: cannot read {what}: larger than {MAX_BYTES // (1024 * 1024)} MB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        problem = f"{what} is not valid UTF-8 (byte {err.start})"
        raise TextFileError(f"{name}:{line}: {problem}", line=line) from err
    if text.startswith("\ufeff"):
        text = text[1:]
    found = _CONTROL.search(text)
    if found is not None:
        line = text.count("\n", 0, found.start()) + 1
        problem = f"control character U+{ord(found.group()):04X} in {what}"
        raise TextFileError(f"{name}:{line}: {problem}", line=line)
    return text

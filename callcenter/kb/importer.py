"""Markdown files with YAML front matter to article drafts (``callcenter kb import DIR``).

A file is ``---``, YAML front matter, ``---``, then the Markdown body::

    ---
    key: refund-policy           # translations share a key (default: the file's name)
    language: en                 # default: the name's suffix (refund-policy.zh-CN.md), else en
    title: Refund policy         # default: the body's first "# heading"
    line: retail                 # a business line; absent: every line's
    visibility: internal         # public (the bot too), internal (agents), restricted
    queues: [billing]
    ticket_types: [refund]
    answer: Refunds reach your card within 5 working days.   # what an agent inserts
    ---
    # Refund policy
    ...

Every problem is ``file:line: message``; one bad file does not stop the others.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from callcenter.core.kb.articles import Draft, Visibility
from callcenter.settings.textfile import TextFileError, read_text

FIELDS = frozenset(
    {"key", "language", "title", "line", "visibility", "queues", "ticket_types", "answer", "note"}
)
KEY = re.compile(r"^[a-z0-9][a-z0-9._-]{0,127}$")
LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
NAME = re.compile(r"^[A-Za-z0-9_.:@+-]{1,64}$")
MAX_TITLE = 300
MAX_ANSWER = 2000
MAX_BODY = 200_000


class ImportError_(ValueError):
    """A file that is not a valid article: ``file:line: message``."""


@dataclass(frozen=True, slots=True)
class Parsed:
    path: Path
    draft: Draft


def parse(path: Path) -> Parsed:
    """One file's draft, or :class:`ImportError_` naming the file and line."""
    try:
        source = read_text(path, "article")
    except TextFileError as err:
        raise ImportError_(str(err)) from err
    lines = source.splitlines()
    if not lines or lines[0].strip() != "---":
        raise ImportError_(f"{path}:1: an article starts with '---' and its front matter")
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if end is None:
        raise ImportError_(f"{path}:1: the front matter has no closing '---'")
    try:
        meta = yaml.safe_load("\n".join(lines[1:end])) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = 2 + mark.line if mark is not None else 1
        raise ImportError_(f"{path}:{line}: invalid front matter: {getattr(err, 'problem', err)}") from None
    except (ValueError, OverflowError, RecursionError) as err:  # a 5000-digit number, a 13th month...
        raise ImportError_(f"{path}:2: invalid front matter: {str(err)[:200]}") from None
    if not isinstance(meta, dict):
        raise ImportError_(f"{path}:2: the front matter must be a mapping of fields")
    body = "\n".join(lines[end + 1 :]).strip() + "\n"
    return Parsed(path, _draft(path, meta, body, lambda field: _line_of(lines[1:end], field)))


def _draft(path: Path, meta: dict[str, Any], body: str, line_of: Any) -> Draft:
    def bad(field: str, problem: str) -> ImportError_:
        return ImportError_(f"{path}:{line_of(field)}: {field}: {problem}")

    unknown = sorted(str(k) for k in meta if k not in FIELDS)
    if unknown:
        raise bad(unknown[0], f"unknown field (known: {', '.join(sorted(FIELDS))})")
    stem, _, suffix = path.name.removesuffix(".md").partition(".")
    key = _text(meta, "key", stem, bad)
    if not KEY.match(key):
        raise bad("key", "lower-case letters, digits, '.', '_' or '-', at most 128")
    language = _text(meta, "language", suffix or "en", bad)
    if not LANGUAGE.match(language):
        raise bad("language", "a language tag such as en or zh-CN")
    heading = re.search(r"^#\s+(.+)$", body, re.MULTILINE)
    title = _text(meta, "title", heading.group(1).strip() if heading else "", bad)
    if not title or len(title) > MAX_TITLE:
        raise bad("title", f"required (or a '# heading'), at most {MAX_TITLE} characters")
    if len(body) > MAX_BODY:
        raise ImportError_(f"{path}:{line_of('') + 1}: the body is longer than {MAX_BODY} characters")
    try:
        visibility = Visibility(_text(meta, "visibility", "internal", bad))
    except ValueError:
        raise bad("visibility", "one of public, internal, restricted") from None
    line = _text(meta, "line", "", bad) or None
    if line is not None and not NAME.match(line):
        raise bad("line", "letters, digits and _.:@+- only")
    answer = _text(meta, "answer", "", bad)
    if len(answer) > MAX_ANSWER:
        raise bad("answer", f"at most {MAX_ANSWER} characters")
    return Draft(
        key=key,
        language=language,
        title=title,
        body=body,
        summary=answer,
        business_line=line,
        visibility=visibility,
        queues=_names(meta, "queues", bad),
        ticket_types=_names(meta, "ticket_types", bad),
        note=_text(meta, "note", "imported", bad),
    )


def _text(meta: dict[str, Any], field: str, default: str, bad: Any) -> str:
    value = meta.get(field, default)
    if value is None:
        return default
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise bad(field, "must be text")
    return str(value).strip()


def _names(meta: dict[str, Any], field: str, bad: Any) -> tuple[str, ...]:
    value = meta.get(field, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and NAME.match(v) for v in value):
        raise bad(field, "a list of names (letters, digits and _.:@+-)")
    return tuple(dict.fromkeys(value))


def _line_of(front: list[str], field: str) -> int:
    """The file line of ``field`` in the front matter (the closing '---' for "")."""
    if field:
        for i, text in enumerate(front):
            if re.match(rf"^{re.escape(field)}\s*:", text):
                return i + 2
        return 1
    return len(front) + 2


def files(directory: Path) -> list[Path]:
    """The Markdown files under ``directory``, in a stable order."""
    return sorted(p for p in directory.rglob("*.md") if p.is_file())

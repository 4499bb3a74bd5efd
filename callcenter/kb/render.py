"""Markdown to safe HTML: markdown-it-py (CommonMark, tables, strikethrough; raw HTML in the source
is shown as text, links it deems dangerous are not links), then nh3 (Ammonia) keeps only the tags
and attributes of :data:`TAGS` and http(s)/mailto links, whatever the first step let through. So no
``<script>``, no ``on*=`` handler and no ``javascript:`` URL survives (tested in Chromium:
tests/integration/test_kb_browser.py)."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import nh3

TAGS = frozenset(
    """a abbr b blockquote br code del em h1 h2 h3 h4 h5 h6 hr i img kbd li ol p pre s strong sub
    sup table tbody td th thead tr ul""".split()
)
ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "th": {"align"}, "td": {"align"}}
SCHEMES = frozenset({"http", "https", "mailto"})


@lru_cache(maxsize=1)
def _markdown() -> Any:
    """The parser, made on first use (markdown-it's import is a tenth of a second of every start)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(["table", "strikethrough"])


_BLANK = re.compile(r"\n\s*\n")


def to_html(markdown: str) -> str:
    """The article's body as HTML safe to put in a page."""
    return nh3.clean(
        _markdown().render(markdown),
        tags=set(TAGS),
        attributes={k: set(v) for k, v in ATTRIBUTES.items()},
        url_schemes=set(SCHEMES),
        link_rel="noopener noreferrer",
    )


def to_text(markdown: str) -> str:
    """Plain text of Markdown (what a chat reply can carry): the rendered HTML without tags."""
    html = to_html(markdown)
    text = nh3.clean(re.sub(r"</(p|li|h\d|tr|pre|blockquote)>", "\n", html), tags=set())
    text = re.sub(r"[ \t]+", " ", _unescape(text))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def first_paragraph(markdown: str) -> str:
    """The body's first paragraph as plain text (an article's answer when it names none)."""
    for block in _BLANK.split(markdown.strip()):
        if block.strip() and not block.lstrip().startswith("#"):
            return to_text(block)
    return ""


def _unescape(text: str) -> str:
    import html

    return html.unescape(text)

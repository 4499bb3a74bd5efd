"""Search words (callcenter/kb/text.py: jieba segmentation, Snowball stems, stop words) and Markdown
rendered safely (callcenter/kb/render.py). The browser side is tests/integration/test_kb_browser.py."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.kb import render, text


def test_english_words_are_stemmed_and_stop_words_dropped() -> None:
    assert text.words("How do I get my REFUNDS?") == ["refund"]
    assert text.words("refunded refunding") == ["refund", "refund"]
    assert text.query_words("card card lost") == ["card", "lost"]


def test_chinese_is_segmented_into_words() -> None:
    words = text.words("我想申请退款")
    assert "退款" in words and "申请" in words
    assert "我" not in words  # a stop word
    # Search mode also emits the shorter words inside a long one.
    assert {"退款", "政策"} <= set(text.words("退款政策"))


def test_mixed_and_full_width_text() -> None:
    words = text.words("我的ｉＰｈｏｎｅ充不了电，型号A2403")
    assert "iphon" in words  # full-width letters folded to ASCII, then stemmed
    assert "a2403" in words and "充" in "".join(words)
    assert text.words("") == [] and text.words("？！。,,") == []


def test_query_words_are_bounded() -> None:
    assert len(text.query_words(" ".join(f"w{i}" for i in range(100)))) == text.MAX_QUERY_WORDS


@pytest.mark.parametrize(
    "markdown",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "![x](javascript:alert(1))",
        '<a href="javascript:alert(1)">x</a>',
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        '<svg onload="alert(1)"></svg>',
        '<iframe src="https://example.org"></iframe>',
    ],
)
def test_nothing_executable_survives(markdown: str) -> None:
    tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            tags.append((tag, attrs))

    Collect().feed(render.to_html(markdown))
    assert not {tag for tag, _ in tags} & {"script", "iframe", "svg", "object", "embed", "style"}
    for tag, attrs in tags:
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name)
            if name in ("href", "src"):
                assert (value or "").split(":")[0].lower() in ("http", "https", "mailto", "x"), (tag, value)


def test_markdown_is_rendered() -> None:
    html = render.to_html(
        "# Title\n\nSome **bold** [link](https://example.org).\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    )
    assert "<h1>Title</h1>" in html and "<strong>bold</strong>" in html
    assert 'href="https://example.org"' in html and 'rel="noopener noreferrer"' in html
    assert "<table>" in html and "<td>1</td>" in html


def test_plain_text_and_first_paragraph() -> None:
    body = "# Refunds\n\nWe refund **within 5 days** & by card.\n\nMore text.\n"
    assert render.first_paragraph(body) == "We refund within 5 days & by card."
    assert render.to_text("<script>x</script>a") == "<script>x</script>a"  # shown as text, never markup
    assert render.first_paragraph("# Only a heading\n") == ""


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gives_words_and_safe_html(source: str) -> None:
    for word in text.words(source):
        assert word and re.fullmatch(r"[^\W_]+", word), word
    seen: list[tuple[str, str]] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            seen.extend((tag, name) for name, _ in attrs)
            seen.append((tag, ""))

    Collect().feed(render.to_html(source))
    assert all(tag != "script" and not name.startswith("on") for tag, name in seen), seen

"""Small pure parts of the QA web layer and store: byte ranges, search words, lines, flags."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from callcenter.accounts.principal import Principal
from callcenter.core.qa.scoring import Alert, Check, Evidence, QaResult
from callcenter.storage.qa_store import EMERGENCY, excerpt, flags_of, search_words
from callcenter.web.qa_api import _byte_range, lines_of


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("bytes=0-99", (0, 99)),
        ("bytes=100-", (100, 999)),
        ("bytes=-100", (900, 999)),
        ("bytes=-5000", (0, 999)),
        ("bytes=900-5000", (900, 999)),
        ("bytes=1000-", "unsatisfiable"),
        ("bytes=-0", "unsatisfiable"),
        ("bytes=5-2", None),  # invalid: ignored, the whole file
        ("bytes=-", None),
        ("bytes=0-1,5-6", None),  # several ranges: not supported, the whole file
        ("items=0-1", None),
        ("bytes=abc", None),
    ],
)
def test_byte_ranges(header: str | None, expected: object) -> None:
    assert _byte_range(header, 1000) == expected


def test_search_words_are_plain_lower_case_words() -> None:
    assert search_words('Refund "OR" card* -x NEAR(a b)') == ("refund", "or", "card", "x", "near", "a", "b")
    assert search_words("Zoë's 4111 café") == ("zoë", "s", "4111", "café")
    assert len(search_words("w " * 100)) == 16
    assert search_words("  ,;  ") == ()


def test_flags_are_failed_rules_and_emergency() -> None:
    e = Evidence("agent", 1.0, 2.0, "x")
    result = QaResult(
        40.0,
        (
            Check("greeting", "required", False, 10, "not said"),
            Check("rude", "forbidden", True, 30, "never said"),
            Check("silence", "silence", False, 10, "long"),
        ),
        (Alert("ambulance", e), Alert("overdose", e)),
    )
    assert flags_of(result) == ("greeting", "silence", EMERGENCY)


def test_lines_of_a_principal_with_or_without_lines() -> None:
    assert lines_of(Principal("t", "qa")) is None

    @dataclass(frozen=True)
    class WithLines:
        name: str
        role: str
        lines: frozenset[str] | None

    assert lines_of(WithLines("u", "qa", frozenset({"sales"}))) == frozenset({"sales"})  # type: ignore[arg-type]
    assert lines_of(WithLines("u", "qa", None)) is None  # type: ignore[arg-type]


def test_excerpt_centres_on_the_searched_word() -> None:
    text = " ".join(f"w{n}" for n in range(100)) + " router " + " ".join(f"v{n}" for n in range(100))
    piece = excerpt(text, ("router",))
    assert "router" in piece and piece.startswith("…") and piece.endswith("…")
    assert excerpt("short text", ()) == "short text"

"""Card numbers and configured identifiers never survive redaction, written or spoken."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.core.redaction import (
    IdentifierPattern,
    Redactor,
    digit_view,
    luhn_check_digit,
    luhn_valid,
)
from callcenter.core.transcript import Segment, Transcript, Word, redact_transcript, redact_words

NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
REDACTOR = Redactor()


def test_luhn() -> None:
    assert luhn_valid("4111111111111111")
    assert luhn_valid("79927398713")
    assert not luhn_valid("4111111111111112")
    assert not luhn_valid("")
    assert not luhn_valid("41a1")
    assert luhn_check_digit("411111111111111") == "1"


def test_written_card_is_masked_and_the_rest_kept() -> None:
    result = REDACTOR.redact("my card is 4111 1111-1111 1111, expiry soon")
    assert result.text == "my card is [CARD], expiry soon"
    assert [(m.label, m.start) for m in result.masks] == [("CARD", 11)]


def test_spoken_card_with_double_oh_and_tens_is_masked() -> None:
    # 4000 0566 5566 5556 (a valid test number) read the way people read it.
    text = "it's four oh oh oh, zero double five six, double five six six, five five five six thanks"
    assert luhn_valid("4000056655665556")
    assert REDACTOR.redact(text).text == "it's [CARD] thanks"
    paired = "forty-one eleven eleven eleven eleven eleven eleven eleven. bye"
    assert REDACTOR.redact(paired).text == "[CARD]. bye"


def test_phone_numbers_and_short_numbers_survive() -> None:
    text = "call me on 0 20 7946 0958 about order 12345"
    assert REDACTOR.redact(text).text == text


def test_long_digit_runs_that_fail_luhn_are_masked_anyway() -> None:
    # Recognition drops and mishears digits; 16+ digits in a row are treated as a card.
    text = "number 4111 1111 1111 1112 ok"
    assert not luhn_valid("4111111111111112")
    assert "[CARD]" in REDACTOR.redact(text).text
    no_window_passes = "1111 1111 1111 1111"
    assert "[CARD]" in REDACTOR.redact(no_window_passes).text
    assert Redactor(unverified_run=0).redact(no_window_passes).text == no_window_passes
    # As recognisers write it: "for" for four.
    assert REDACTOR.redact("card for one one one one one one one one one one one one one one one").text == (
        "card [CARD]"
    )


def test_configured_identifiers_are_masked() -> None:
    redactor = Redactor(patterns=(IdentifierPattern.of("ssn", r"\b\d{3}-\d{2}-\d{4}\b"),))
    assert redactor.redact("ssn 078-05-1120 please").text == "ssn [SSN] please"


def test_timed_words_are_merged_into_one_masked_word() -> None:
    words = [Word(t, float(i), i + 0.5, 0.9) for i, t in enumerate("card four one one one".split())]
    words += [Word("one", 5.0 + i, 5.5 + i, 0.5) for i in range(12)]
    words += [Word("thanks", 20.0, 20.4, 1.0)]
    masked = redact_words(words, REDACTOR)
    assert [w.text for w in masked] == ["card", "[CARD]", "thanks"]
    assert (masked[1].start, masked[1].end, masked[1].confidence) == (1.0, 16.5, 0.5)


def test_a_card_split_across_segments_of_one_speaker_is_masked() -> None:
    first = [Word(d, i, i + 0.4, 1.0) for i, d in enumerate(["4111", "1111"])]
    second = [Word(d, 10 + i, 10.4 + i, 1.0) for i, d in enumerate(["1111", "1111"])]
    other = [Word("okay", 5.0, 5.4, 1.0)]
    transcript = Transcript(
        "en",
        "test",
        (
            Segment("caller", 0, 1.4, tuple(first)),
            Segment("agent", 5.0, 5.4, tuple(other)),
            Segment("caller", 10, 11.4, tuple(second)),
        ),
    )
    redacted = redact_transcript(transcript, REDACTOR)
    assert redacted.redacted
    assert "1111" not in redacted.text
    assert [s.text for s in redacted.segments] == ["[CARD]", "okay", ""]
    assert redacted.segments[0].end == 11.4


# --- properties -------------------------------------------------------------------------------

FILLER = st.sampled_from(["hello", "my", "card", "is", "thanks", "uh", "the", "number", "and", ",", "."])


@st.composite
def cards(draw: st.DrawFn) -> str:
    length = draw(st.integers(MIN_LEN := 13, 19))
    assert MIN_LEN == 13
    body = draw(st.text("0123456789", min_size=length - 1, max_size=length - 1))
    return body + luhn_check_digit(body)


@st.composite
def spoken(draw: st.DrawFn, number: str) -> str:
    """``number`` as someone might say it: digit words, "oh", "double"/"triple", with pauses."""
    parts: list[str] = []
    i = 0
    while i < len(number):
        digit = number[i]
        run = 1
        while i + run < len(number) and number[i + run] == digit and run < 3:
            run += 1
        use = draw(st.integers(1, run))
        name = draw(st.sampled_from(["oh", "zero"])) if digit == "0" else NAMES[int(digit)]
        if use == 2 and draw(st.booleans()):
            parts.append(f"double {name}")
        elif use == 3 and draw(st.booleans()):
            parts.append(f"triple {name}")
        else:
            use = 1
            parts.append(name)
        i += use
        if draw(st.integers(0, 5)) == 0:
            parts.append(draw(st.sampled_from([",", "uh", "-"])))
    return " ".join(parts)


@st.composite
def written(draw: st.DrawFn, number: str) -> str:
    out = []
    for index, char in enumerate(number):
        if index and draw(st.integers(0, 3)) == 0:
            out.append(draw(st.sampled_from([" ", "-", " - "])))
        out.append(char)
    return "".join(out)


def _digits_of(text: str) -> str:
    """Every digit the text still says, written or spoken."""
    words = {name: str(i) for i, name in enumerate(NAMES)} | {"oh": "0", "twelve": "12"}
    out = []
    for token in re.findall(r"[a-z]+|\d", text.lower()):
        out.append(words.get(token, token if token.isdigit() else " "))
    return "".join(out)


@settings(max_examples=300, deadline=None)
@given(st.data(), cards(), st.lists(FILLER, max_size=6), st.lists(FILLER, max_size=6), st.booleans())
def test_any_valid_card_never_survives(
    data: st.DataObject, number: str, before: list[str], after: list[str], words: bool
) -> None:
    form = data.draw(spoken(number) if words else written(number))
    text = " ".join([*before, form, *after])
    redacted = REDACTOR.redact(text).text
    assert form not in redacted
    assert number not in _digits_of(redacted).replace(" ", "")
    assert "[CARD]" in redacted


@settings(max_examples=200, deadline=None)
@given(cards(), st.lists(FILLER, max_size=6), st.lists(FILLER, max_size=6), st.text("0123456789", max_size=4))
def test_a_card_beside_other_digits_never_survives(
    number: str, before: list[str], after: list[str], noise: str
) -> None:
    text = " ".join([*before, noise, number, noise, *after])
    assert number not in REDACTOR.redact(text).text


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(["hello", "my", "order", "is", "twelve", "5", "oh", "thanks", "x"]), max_size=15)
)
def test_text_without_long_numbers_is_unchanged(words: list[str]) -> None:
    text = " ".join(words)
    digits = _digits_of(text)
    if max((len(run) for run in digits.split(" ")), default=0) < 8:
        assert REDACTOR.redact(text).text == text


@settings(max_examples=150, deadline=None)
@given(st.data(), cards(), st.lists(FILLER, max_size=5), st.lists(FILLER, max_size=5), st.integers(0, 3))
def test_a_spoken_card_in_timed_words_never_survives_and_times_are_kept(
    data: st.DataObject, number: str, before: list[str], after: list[str], split_at: int
) -> None:
    """Recognised words, one Word each, over two segments of one speaker: the card is gone, and
    the masked word covers exactly the times of the words it replaced."""
    said = data.draw(spoken(number)).split()
    tokens = [*before, *said, *after]
    words = [Word(t, i * 0.5, i * 0.5 + 0.4, 0.8) for i, t in enumerate(tokens)]
    cut = min(len(before) + split_at, len(words) - 1)
    segments = tuple(
        Segment("caller", part[0].start, part[-1].end, tuple(part))
        for part in (words[:cut], words[cut:])
        if part
    )
    redacted = redact_transcript(Transcript("en", "t", segments), REDACTOR)
    out = [w for s in redacted.segments for w in s.words]
    assert number not in _digits_of(" ".join(w.text for w in out)).replace(" ", "")
    masked = [w for w in out if w.text == "[CARD]"]
    assert masked
    assert all(w.start in {x.start for x in words} and w.end in {x.end for x in words} for w in masked)
    assert [w.start for w in out] == sorted(w.start for w in out)


def test_configured_identifiers_are_masked_when_spoken_too() -> None:
    redactor = Redactor(patterns=(IdentifierPattern.of("member", r"\b\d{6}\b"),))
    assert redactor.redact("my member number is one two three, uh, four five six thanks").text == (
        "my member number is [MEMBER] thanks"
    )
    assert redactor.redact("member 123 456 ok").text == "member [MEMBER] ok"
    assert redactor.redact("one moment please, two items").text == "one moment please, two items"
    ssn = Redactor(patterns=(IdentifierPattern.of("ssn", r"\b\d{3}-\d{2}-\d{4}\b"),))
    assert ssn.redact("it is oh seven eight - oh five - one one two oh.").text == "it is [SSN]."


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(["one", "two", "oh", "12", "-", ",", "uh", "hi", "double", "forty", "x"]), max_size=12
    )
)
def test_the_digit_view_maps_back_into_the_text(tokens: list[str]) -> None:
    text = " ".join(tokens)
    view, starts, ends = digit_view(text)
    assert len(view) == len(starts) == len(ends)
    assert all(0 <= a < b <= len(text) for a, b in zip(starts, ends, strict=True))
    # Every view character comes from the text, in order.
    assert starts == sorted(starts)

"""Card numbers and configured identifiers never survive redaction, written or spoken."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.core.qa.redaction import IdentifierPattern, Redactor, digit_view, luhn_check_digit, luhn_valid
from callcenter.core.qa.transcript import Segment, Transcript, Word, redact_transcript, redact_words

NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
REDACTOR = Redactor()
# Only the Luhn-checked windows, without the "mask any long run" safety net that hides mistakes of
# the spoken-number logic from a test.
EXACT = Redactor(unverified_run=0)

# What each word is worth, written out here (not read from the module under test).
DIGIT_WORDS = {
    "zero": "0",
    "oh": "0",
    "o": "0",
    "nought": "0",
    "one": "1",
    "won": "1",
    "two": "2",
    "to": "2",
    "too": "2",
    "three": "3",
    "four": "4",
    "for": "4",
    "fore": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "ate": "8",
    "nine": "9",
}
TEEN_WORDS = {
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "thirteen": "13",
    "fourteen": "14",
    "fifteen": "15",
    "sixteen": "16",
    "seventeen": "17",
    "eighteen": "18",
    "nineteen": "19",
}
TENS_WORDS = {
    "twenty": "2",
    "thirty": "3",
    "forty": "4",
    "fourty": "4",
    "fifty": "5",
    "sixty": "6",
    "seventy": "7",
    "eighty": "8",
    "ninety": "9",
}


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
        # Any word recognisers write for the digit ("for", "won", "nought"...).
        name = draw(st.sampled_from(sorted(w for w, d in DIGIT_WORDS.items() if d == digit)))
        if use == 2 and draw(st.booleans()):
            parts.append(f"double {name}")
        elif use == 3 and draw(st.booleans()):
            parts.append(f"triple {name}")
        else:
            use = 1
            parts.append(name)
        i += use
        if draw(st.integers(0, 5)) == 0:
            parts.append(
                draw(st.sampled_from([",", "uh", "um", "er", "erm", "ah", "and", "-", ".", "/", "_"]))
            )
    return " ".join(parts)


@st.composite
def written(draw: st.DrawFn, number: str) -> str:
    out = []
    for index, char in enumerate(number):
        if index and draw(st.integers(0, 3)) == 0:
            out.append(draw(st.sampled_from([" ", "-", " - ", ".", "/", "_", ", "])))
        out.append(char)
    return "".join(out)


def _digits_of(text: str) -> str:
    """Every digit the text still says, written or spoken."""
    words = DIGIT_WORDS | TEEN_WORDS | {t: d + "0" for t, d in TENS_WORDS.items()}
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
    # Not a single digit of the card survives, written or spoken (a partial leak fails too).
    assert _digits_of(redacted).strip() == "", redacted
    assert "[CARD]" in redacted


@settings(max_examples=200, deadline=None)
@given(cards(), st.lists(FILLER, max_size=6), st.lists(FILLER, max_size=6), st.text("0123456789", max_size=4))
def test_a_card_beside_other_digits_never_survives(
    number: str, before: list[str], after: list[str], noise: str
) -> None:
    text = " ".join([*before, noise, number, noise, *after])
    redacted = REDACTOR.redact(text).text
    # The noise touching the card joins its run: nothing of either survives.
    assert _digits_of(redacted).strip() == "", redacted


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
    assert _digits_of(" ".join(w.text for w in out)).strip() == ""
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


# --- pinned mistakes: each test fails if one word, joiner or boundary of the rules is wrong -----------


def _card(prefix: str, length: int = 13, fill: str = "3") -> str:
    """A Luhn-valid number of ``length`` digits starting with ``prefix``."""
    body = (prefix + fill * length)[: length - 1]
    return body + luhn_check_digit(body)


def _say(digits: str) -> str:
    return " ".join(NAMES[int(d)] for d in digits)


def test_every_digit_word_is_read_as_its_digit() -> None:
    for word, digit in DIGIT_WORDS.items():
        assert digit_view(f"x {word} y")[0] == f"x {digit} y", word
        # A 13-digit card (below the unverified-run net) with that word as its second digit.
        number = _card("4" + digit)
        said = f"card four {word} {_say(number[2:])} thanks"
        for redactor in (REDACTOR, EXACT):
            assert redactor.redact(said).text == "card [CARD] thanks", (word, said)


def test_a_teen_word_as_the_first_spoken_digits() -> None:
    for word, digits in TEEN_WORDS.items():
        number = _card(digits)
        said = f"it is {word} {_say(number[2:])} ok"
        for redactor in (REDACTOR, EXACT):
            assert redactor.redact(said).text == "it is [CARD] ok", said


def test_tens_words_alone_and_with_a_unit() -> None:
    for word, tens in TENS_WORDS.items():
        # Alone: "forty" is 40 ("forty, oh three..." is 4 0 0 3...).
        alone = _card(tens + "00")
        said = f"it is {word}, {_say(alone[2:])} ok"
        assert EXACT.redact(said).text == "it is [CARD] ok", said
        # With a unit (homophones too): "forty one" / "forty won" is 41.
        for unit, digit in DIGIT_WORDS.items():
            if digit == "0":
                continue
            number = _card(tens + digit, 16, "7")
            said = f"it is {word} {unit} {_say(number[2:])} ok"
            assert EXACT.redact(said).text == "it is [CARD] ok", said


def test_a_tens_word_before_a_unit_is_read_both_ways() -> None:
    # 4033 3333 3333 1 said "forty three three..." (a real leak once: read only as 43 3 3...).
    number = _card("403")
    said = f"is forty {_say(number[2:])} ok"
    assert said.startswith("is forty three three")
    assert REDACTOR.redact(said).text == "is [CARD] ok"
    assert EXACT.redact(said).text == "is [CARD] ok"


def test_double_and_triple() -> None:
    number = _card("4", 16, "1")  # 4111 1111 1111 111x
    said = f"four triple one double one double one triple one one {_say(number[12:])}"
    assert said.count("one") + 5 >= 14
    assert EXACT.redact(f"hi {said} bye").text == "hi [CARD] bye"
    assert digit_view("double four triple oh")[0] == "44000"


def test_fillers_and_joiners_keep_one_number_together() -> None:
    number = _card("4", 16, "1")
    for filler in ("uh", "um", "er", "erm", "ah", "and"):
        said = f"card {_say(number[:8])} {filler} {_say(number[8:])} bye"
        for redactor in (REDACTOR, EXACT):
            assert redactor.redact(said).text == "card [CARD] bye", said
    for joiner in ("-", ",", ".", "/", "_"):
        written = joiner.join(number[i : i + 4] for i in range(0, 16, 4))
        for redactor in (REDACTOR, EXACT):
            assert redactor.redact(f"card {written} bye").text == "card [CARD] bye", written
        said = f"card {_say(number[:8])} {joiner} {_say(number[8:])} bye"
        assert EXACT.redact(said).text == "card [CARD] bye", said


def test_digits_of_other_scripts_are_digits() -> None:
    number = _card("4")
    fullwidth = "".join(chr(0xFF10 + int(d)) for d in number)
    assert REDACTOR.redact(f"card {fullwidth} ok").text == "card [CARD] ok"
    # Without the long-run net: the digits themselves are read (a 13-digit card, Arabic-Indic too).
    assert EXACT.redact(f"card {fullwidth} ok").text == "card [CARD] ok"
    arabic = "".join(chr(0x0660 + int(d)) for d in number)
    assert EXACT.redact(f"card {arabic} ok").text == "card [CARD] ok"
    assert digit_view("x \uff14\uff12 y")[0] == "x 42 y"


def test_the_mask_covers_exactly_the_card_window() -> None:
    number = _card("4")
    # Neighbours that make no other window pass the check: only the card's own words go.
    text = f"five five {_say(number)} nine nine"
    assert EXACT.redact(text).text == "five five [CARD] nine nine"
    assert EXACT.redact(f"77 {number} 86").text == "77 [CARD] 86"
    # A window starting or ending inside a token masks the whole token ("eleven" = 1 1).
    inside = _card("1", 13, "3")  # 1333 3333 3333 8: "four eleven" is 4 1 1, the card starts at the 2nd 1
    assert EXACT.redact(f"four eleven {_say(inside[1:])}").text == "four [CARD]"


def test_card_lengths_are_13_to_19_digits() -> None:
    for length in (13, 19):
        number = _card("4", length, "5")
        assert EXACT.redact(f"n {number} ok").text == "n [CARD] ok"
        assert EXACT.redact(f"n {_say(number)} ok").text == "n [CARD] ok"
    # 19 digits where only the whole 19 pass the check; 20 digits where only the whole 20 do.
    nineteen, twenty = "7721547320309319651", "97891024485948075594"
    assert luhn_valid(nineteen) and luhn_valid(twenty)
    assert EXACT.redact(f"n {nineteen} ok").text == "n [CARD] ok"
    assert EXACT.redact(f"n {twenty} ok").text == f"n {twenty} ok"
    assert EXACT.redact("n 12345678 ok").text == "n 12345678 ok"


def test_the_unverified_run_limit_is_exactly_14_digits() -> None:
    fourteen = "20048718306699"  # no window of it passes the check
    assert not any(luhn_valid(fourteen[b : b + 13]) for b in range(2)) and not luhn_valid(fourteen)
    assert REDACTOR.redact(f"ref {fourteen} ok").text == "ref [CARD] ok"
    assert REDACTOR.redact(f"ref {_say(fourteen)} ok").text == "ref [CARD] ok"
    thirteen = fourteen[:13]
    assert REDACTOR.redact(f"ref {thirteen} ok").text == f"ref {thirteen} ok"
    assert Redactor(unverified_run=13).redact(f"ref {thirteen} ok").text == "ref [CARD] ok"


def test_identifier_patterns_ignore_case_and_keep_their_label() -> None:
    pattern = IdentifierPattern.of("acct", r"AC\d{6}")
    assert pattern.label == "ACCT"
    redactor = Redactor(patterns=(pattern,), cards=False)
    assert redactor.redact("it is ac123456 ok").text == "it is [ACCT] ok"
    assert redactor.redact("it is AC 1 2 3 4 5 6 ok").text == "it is AC 1 2 3 4 5 6 ok"
    # cards=False: no card masking at all.
    number = _card("4", 16)
    assert redactor.redact(number).text == number
    assert [(m.label, m.start, m.end) for m in redactor.redact("x ac123456").masks] == [("ACCT", 2, 10)]


def test_touching_masks_merge_and_keep_the_first_label() -> None:
    redactor = Redactor(patterns=(IdentifierPattern.of("ref", r"REF-\d+"),), cards=True)
    number = _card("4", 16)
    result = redactor.redact(f"REF-{number} end")
    assert result.text == "[REF] end"
    assert [(m.label, m.start, m.end) for m in result.masks] == [("REF", 0, 20)]
    apart = redactor.redact(f"REF-1 is {number} end")
    assert apart.text == "[REF] is [CARD] end"


def test_hyphenated_tens_and_luhn_of_other_scripts() -> None:
    number = _card("41")
    assert EXACT.redact(f"card forty-one {_say(number[2:])} ok").text == "card [CARD] ok"
    # Only ASCII digits are checked (other scripts are converted before): never valid as such.
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("".join(chr(0xFF10 + int(d)) for d in "4111111111111111"))


def test_the_digit_view_offsets_of_kept_characters_and_numbers() -> None:
    # Text before a run, "-" and "/" between its numbers (spaces dropped), text between two runs
    # and after the last: each kept character maps to itself, each number to its whole word.
    text = "id one-two / three x 12 y"
    view, starts, ends = digit_view(text)
    assert view == "id 1-2/3 x 12 y"
    assert starts == [0, 1, 2, 3, 6, 7, 11, 13, 18, 19, 20, 21, 21, 23, 24]
    assert ends == [1, 2, 3, 6, 7, 10, 12, 18, 19, 20, 21, 23, 23, 24, 25]
    # Only "-" and "/" survive between the numbers of a run; spaces, fillers, commas, dots do not.
    assert digit_view("one uh, two . three _ four - five / six")[0] == "1234-5/6"


def test_identifier_masks_end_where_the_matched_characters_end() -> None:
    # A spoken match ending on a kept character: the mask ends right after that character.
    redactor = Redactor(patterns=(IdentifierPattern.of("id", r"1-2/3 x"),), cards=False)
    result = redactor.redact("id one-two / three x 12 y")
    assert [(m.label, m.start, m.end) for m in result.masks] == [("ID", 3, 20)]
    assert result.text == "id [ID] 12 y"
    ending_on_dash = Redactor(patterns=(IdentifierPattern.of("id", r"\d-"),), cards=False)
    result = ending_on_dash.redact("one - two")
    assert [(m.label, m.start, m.end) for m in result.masks] == [("ID", 0, 5)]
    assert result.text == "[ID] two"


def test_masks_that_only_touch_merge_into_one() -> None:
    redactor = Redactor(patterns=(IdentifierPattern.of("ref", r"REF-"),))
    number = _card("4", 16)
    result = redactor.redact(f"REF-{number} end")
    # [REF] is 0-4, the card 4-20: they touch, so one mask (no "[REF][CARD]").
    assert result.text == "[REF] end"
    assert [(m.label, m.start, m.end) for m in result.masks] == [("REF", 0, 20)]


def test_of_masks_starting_together_the_widest_gives_its_label() -> None:
    both = (IdentifierPattern.of("short", r"AB"), IdentifierPattern.of("long", r"ABCD"))
    result = Redactor(patterns=both, cards=False).redact("x ABCD y")
    assert result.text == "x [LONG] y"
    assert [(m.label, m.start, m.end) for m in result.masks] == [("LONG", 2, 6)]
    # The card (0-16) is wider than the first 4-digit identifier at 0: it keeps its label.
    number = _card("4", 16)
    result = Redactor(patterns=(IdentifierPattern.of("id", r"\d{4}"),)).redact(f"{number} x")
    assert result.text == "[CARD] x"


def test_a_pattern_that_can_match_nothing_masks_only_what_it_matches() -> None:
    # "(AC\d{4})?" matches the empty string at every position, in the text and in the digit view.
    redactor = Redactor(patterns=(IdentifierPattern.of("acct", r"(AC\d{4})?"),), cards=False)
    result = redactor.redact("pay double four now AC1234 ok")
    assert result.text == "pay double four now [ACCT] ok"
    assert [(m.label, m.start, m.end) for m in result.masks] == [("ACCT", 20, 26)]
    assert redactor.redact("nothing here").text == "nothing here"


# Written out here, not read from the module: typed or pasted separators between a card's digits.
TYPED_JOINERS = (
    "\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2015", "\u2212", "\ufe58", "\ufe63",
    "\uff0d", "\uff0c", "\uff0e", "\uff0f", "\uff3f", "\u3001", "\u3002",
    "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff",
)  # fmt: skip


@pytest.mark.parametrize("joiner", TYPED_JOINERS, ids=lambda c: f"U+{ord(c):04X}")
def test_cards_typed_with_unicode_dashes_fullwidth_or_invisible_separators(joiner: str) -> None:
    """Dashes other than "-", the minus sign, fullwidth punctuation and zero-width characters
    between groups used to end the number: four short runs, each kept. With the 14-digit safety
    net off, so that only the card logic can mask them."""
    fullwidth = "".join(chr(0xFF10 + int(d)) for d in "4111111111111111")
    for card in ("4111111111111111", fullwidth):
        text = "card " + joiner.join(card[i : i + 4] for i in range(0, 16, 4)) + " thanks"
        assert Redactor(unverified_run=0).redact(text).text == "card [CARD] thanks", text

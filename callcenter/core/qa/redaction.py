"""Redaction of card numbers and configured identifiers in transcripts, before anything is stored.

Pure: text in, masked text (and where the masks are) out.

Invariants:

- Any run of spoken or written digits that contains a 13-19 digit window passing the Luhn check is
  masked, whatever the surrounding digits. Digits may be written ("4111 1111-1111 1111") or spoken
  word by word ("four one one one ..."), with "oh"/"o"/"zero"/"nought" for 0, "double"/"triple" for
  repeats, teens ("eleven") and tens ("forty one", "forty" = 40), and fillers ("uh", "um") or
  punctuation between them. A window that starts or ends inside a token masks the whole token.
  A tens word before a unit is read both ways ("forty three" as 43 and as 40 3): a span is masked
  when either reading holds a card. Digits of other scripts (fullwidth, Arabic-Indic...) count as digits.
- Masking errs on the side of hiding: any digit run of 14 digits or more (``unverified_run``) is
  masked even when it fails the check, because speech recognition drops or mishears digits; and
  the words recognisers write for digits ("for", "to", "won", "ate") count as digits.
- A mask replaces the whole covered span by ``[LABEL]``; nothing of the masked characters is kept
  in the result (not even their length), so the raw form cannot be recovered from it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

CARD_LABEL = "CARD"
MIN_CARD_DIGITS = 13
MAX_CARD_DIGITS = 19

_UNITS = {
    "zero": "0",
    "oh": "0",
    "o": "0",
    "nought": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    # What speech recognition writes for spoken digits ("for one one one..."): inside a long run
    # of digits they are digits; alone they never make a run long enough to be masked.
    "for": "4",
    "fore": "4",
    "to": "2",
    "too": "2",
    "won": "1",
    "ate": "8",
}
_TEENS = {
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
_TENS = {
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
# Unit words that may complete a tens word ("forty one", "forty for" as recognisers write it).
_TENS_UNITS = {"one", "two", "three", "four", "five", "six", "seven", "eight", "nine"} | {
    "for",
    "fore",
    "to",
    "too",
    "won",
    "ate",
}
_REPEAT = {"double": 2, "triple": 3}
# Words and characters that may sit between the digits of one number without ending it.
_FILLERS = {"uh", "um", "er", "erm", "ah", "and"}
_JOINERS = {
    "-", ",", ".", "/", "_",
    # The same typed or pasted: Unicode dashes and the minus sign, fullwidth punctuation (Chinese
    # and Japanese input), and invisible characters that pasted text carries between digits.
    "\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2015", "\u2212", "\ufe58", "\ufe63",
    "\uff0d", "\uff0c", "\uff0e", "\uff0f", "\uff3f", "\u3001", "\u3002",
    "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff",
}  # fmt: skip

_TOKEN = re.compile(r"[A-Za-z]+|\d+|\S")


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check of a string of ASCII digits (False for an empty or non-digit string)."""
    if not digits or not digits.isascii() or not digits.isdigit():
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def luhn_check_digit(body: str) -> str:
    """The digit that makes ``body + digit`` pass the Luhn check."""
    for digit in "0123456789":
        if luhn_valid(body + digit):
            return digit
    raise ValueError(f"not a digit string: {body!r}")  # pragma: no cover - every body has one


@dataclass(frozen=True, slots=True)
class Mask:
    """One masked span of the ORIGINAL text: ``text[start:end]`` became ``[label]``."""

    label: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Redacted:
    text: str
    masks: tuple[Mask, ...]


@dataclass(frozen=True, slots=True)
class IdentifierPattern:
    """A configured identifier (an account number, a national id...) as a regular expression."""

    label: str
    regex: re.Pattern[str]

    @classmethod
    def of(cls, label: str, pattern: str) -> IdentifierPattern:
        return cls(label.upper(), re.compile(pattern, re.IGNORECASE))


@dataclass(frozen=True, slots=True)
class _NumberToken:
    start: int
    end: int
    digits: str


@dataclass(frozen=True, slots=True)
class Redactor:
    """Masks card numbers (Luhn-checked, written or spoken) and the configured identifiers.

    ``unverified_run``: a digit run at least this long is masked even when no window of it passes
    the Luhn check (0 disables).
    """

    patterns: tuple[IdentifierPattern, ...] = ()
    cards: bool = True
    unverified_run: int = 14
    label: str = field(default=CARD_LABEL)

    def redact(self, text: str) -> Redacted:
        spans: list[Mask] = []
        if self.cards:
            spans.extend(self._card_spans(text))
        if self.patterns:
            view, starts, ends = digit_view(text)
            for pattern in self.patterns:
                # A pattern that can match nothing ("(AC\d{6})?") matches everywhere: only a match
                # of at least one character is masked (an empty one would put a label between
                # every two characters).
                spans.extend(
                    Mask(pattern.label, m.start(), m.end())
                    for m in pattern.regex.finditer(text)
                    if m.end() > m.start()
                )
                # The same identifier said aloud: "member one two three..." as "member 123...".
                spans.extend(
                    Mask(pattern.label, starts[m.start()], ends[m.end() - 1])
                    for m in pattern.regex.finditer(view)
                    if m.end() > m.start()
                )
        merged = _merge(spans)
        out: list[str] = []
        cursor = 0
        for mask in merged:
            out.append(text[cursor : mask.start])
            out.append(f"[{mask.label}]")
            cursor = mask.end
        out.append(text[cursor:])
        return Redacted("".join(out), tuple(merged))

    def _card_spans(self, text: str) -> list[Mask]:
        masks: list[Mask] = []
        runs = _number_runs(text) + _number_runs(text, split_tens=True)
        for run in runs:
            digits = "".join(token.digits for token in run)
            # owner[i]: the index in ``run`` of the token that produced digit i.
            owner = [i for i, token in enumerate(run) for _ in token.digits]
            covered: set[int] = set()
            for size in range(MIN_CARD_DIGITS, min(MAX_CARD_DIGITS, len(digits)) + 1):
                for begin in range(len(digits) - size + 1):
                    if luhn_valid(digits[begin : begin + size]):
                        covered.update(range(owner[begin], owner[begin + size - 1] + 1))
            if self.unverified_run and len(digits) >= self.unverified_run:
                covered.update(range(len(run)))
            for first, last in _contiguous(sorted(covered)):
                masks.append(Mask(self.label, run[first].start, run[last].end))
        return masks


def _number_runs(text: str, *, split_tens: bool = False) -> list[list[_NumberToken]]:
    """Maximal runs of number tokens, separated only by joiners and fillers.

    ``split_tens``: read "forty three" as 40 3 rather than 43.
    """
    runs: list[list[_NumberToken]] = []
    current: list[_NumberToken] = []
    pending_repeat: tuple[int, int] | None = None  # (start, times) of a "double"/"triple"
    tokens = list(_TOKEN.finditer(text))
    index = 0
    while index < len(tokens):
        match = tokens[index]
        word = match.group().lower()
        number: _NumberToken | None = None
        if word.isdecimal():
            number = _NumberToken(match.start(), match.end(), _ascii_digits(word))
        elif word in _UNITS:
            number = _NumberToken(match.start(), match.end(), _UNITS[word])
        elif word in _TEENS:
            number = _NumberToken(match.start(), match.end(), _TEENS[word])
        elif word in _TENS:
            # "forty one" is 41, "forty" alone 40 ("forty-one" too: the hyphen is a joiner).
            follow = _next_word(tokens, index)
            if not split_tens and follow is not None and tokens[follow].group().lower() in _TENS_UNITS:
                unit = _UNITS[tokens[follow].group().lower()]
                number = _NumberToken(match.start(), tokens[follow].end(), _TENS[word] + unit)
                index = follow
            else:
                number = _NumberToken(match.start(), match.end(), _TENS[word] + "0")
        elif word in _REPEAT:
            pending_repeat = (match.start(), _REPEAT[word])
            index += 1
            continue
        if number is not None:
            if pending_repeat is not None:
                start, times = pending_repeat
                number = _NumberToken(start, number.end, number.digits * times)
                pending_repeat = None
            current.append(number)
        elif word in _JOINERS or word in _FILLERS:
            pass
        else:
            pending_repeat = None
            if current:
                runs.append(current)
                current = []
        index += 1
    if current:
        runs.append(current)
    return runs


def open_number_start(text: str) -> int | None:
    """Where a number still being said at the end of ``text`` begins: the start of its last number
    run when only joiners, fillers or "double"/"triple" follow it, or of a trailing "double"; else
    None. Live transcription holds such words back until the number is over, so that a card number
    heard in two utterances is redacted as one (core/qa/live.py)."""
    runs = _number_runs(text)
    run_end = runs[-1][-1].end if runs else -1
    repeat: int | None = None
    for match in reversed(list(_TOKEN.finditer(text))):
        word = match.group().lower()
        if match.end() <= run_end:
            return runs[-1][0].start
        if word in _REPEAT:
            repeat = match.start()
        elif word not in _JOINERS and word not in _FILLERS:
            return repeat
    return repeat


def digit_view(text: str) -> tuple[str, list[int], list[int]]:
    """``text`` with spoken numbers as digits, and the digits of one number run written together
    ("four one, uh, one two" -> "4112"; "-" and "/" are kept), for identifier regexes.

    Returns the view and, for each of its characters, the start and end offsets in ``text`` of
    what it came from.
    """
    view: list[str] = []
    starts: list[int] = []
    ends: list[int] = []

    def emit(chars: str, start: int, end: int) -> None:
        view.extend(chars)
        starts.extend([start] * len(chars))
        ends.extend([end] * len(chars))

    cursor = 0
    for run in _number_runs(text):
        for index, token in enumerate(run):
            gap = text[cursor : token.start]
            if index == 0:
                for offset, char in enumerate(gap):
                    emit(char, cursor + offset, cursor + offset + 1)
            else:
                # Between two numbers of a run: keep separators that identifiers are written
                # with ("078-05-1120"), drop spaces, fillers and pauses (commas).
                for offset, char in enumerate(gap):
                    if char in "-/":
                        emit(char, cursor + offset, cursor + offset + 1)
            emit(token.digits, token.start, token.end)
            cursor = token.end
    for offset, char in enumerate(text[cursor:]):
        emit(char, cursor + offset, cursor + offset + 1)
    return "".join(view), starts, ends


def _ascii_digits(word: str) -> str:
    """Decimal digits of any script (fullwidth, Arabic-Indic...) as ASCII."""
    return word if word.isascii() else "".join(str(int(char)) for char in word)


def _next_word(tokens: Sequence[re.Match[str]], index: int) -> int | None:
    """The index of the next token after ``index``, skipping one hyphen ("forty-one")."""
    nxt = index + 1
    if nxt < len(tokens) and tokens[nxt].group() == "-":
        nxt += 1
    return nxt if nxt < len(tokens) else None


def _contiguous(indices: Sequence[int]) -> list[tuple[int, int]]:
    groups: list[tuple[int, int]] = []
    for i in indices:
        if groups and groups[-1][1] == i - 1:
            groups[-1] = (groups[-1][0], i)
        else:
            groups.append((i, i))
    return groups


def _merge(spans: Sequence[Mask]) -> list[Mask]:
    """Overlapping or touching spans become one (keeping the first label)."""
    merged: list[Mask] = []
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        if merged and span.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = Mask(last.label, last.start, max(last.end, span.end))
        else:
            merged.append(span)
    return merged

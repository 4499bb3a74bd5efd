"""Call lists and do-not-call lists from CSV, checked row by row.

A list is CSV with a header. ``number`` (or ``phone``) is required: read with ``phonenumbers`` in
the default region (``outbound.phone_region``) and kept in E.164. ``timezone`` (an IANA name) is
optional: without it the callee's zone comes from the number (``phonenumbers.timezone``), and a
number whose prefix spans several zones is refused with the zones it could be, rather than
guessed: a wrong guess would call someone at night. ``email`` helps find the customer. Every other
column is kept as the record's fields (the script and the screen-pop show them).

Every problem is ``file:line: message``; good rows are imported, bad ones reported, never half a
row. A number twice in the file is refused at its second line; a number already in the campaign is
reported as a duplicate and left as it was.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as number_zones

from callcenter.messaging.identity import InvalidIdentity, e164, email_address

MAX_FIELDS = 50  # columns kept per record
MAX_FIELD_CHARS = 1000
MAX_ROWS = 1_000_000
NUMBER_COLUMNS = ("number", "phone")
#: Finds the customer of a phone number or an e-mail address (None: none known).
CustomerLookup = Callable[[str | None, str | None], str | None]


@dataclass(frozen=True, slots=True)
class ListRow:
    line: int
    number: str  # E.164
    tz: str  # IANA
    customer_id: str | None = None
    fields: dict[str, str] = field(default_factory=dict)


@dataclass
class Parsed:
    rows: list[ListRow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    duplicates: int = 0  # already in the campaign


class ListError(ValueError):
    """The file as a whole cannot be read (no header, no number column, not CSV)."""


def zone_of(number: str) -> str:
    """The one IANA zone of an E.164 number, or ValueError saying why there is none."""
    zones = [z for z in number_zones.time_zones_for_number(phonenumbers.parse(number)) if z != "Etc/Unknown"]
    if not zones:
        raise ValueError("no time zone is known for this number: add a timezone column")
    if len(zones) > 1:
        listed = ", ".join(zones[:4]) + (", ..." if len(zones) > 4 else "")
        raise ValueError(f"the number spans several time zones ({listed}): add a timezone column")
    return zones[0]


def checked_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as err:  # OSError: a name too long for a file
        raise ValueError(f"unknown time zone {name[:64]!r} (an IANA name, e.g. Europe/London)") from err
    return name


def _lines(text: str, source: str) -> Iterator[tuple[int, dict[str, Any]]]:
    if "\x00" in text:
        raise ListError(
            f"{source}:{text.count(chr(10), 0, text.index(chr(0))) + 1}: NUL byte: not a CSV file"
        )
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline=""), restkey="\x00extra")
    try:
        header = reader.fieldnames
    except csv.Error as err:
        raise ListError(f"{source}:1: {err}") from err
    if not header:
        raise ListError(f"{source}:1: empty file: expected a header line (number,timezone,...)")
    names = [h.strip().lower() for h in header]
    if not any(n in NUMBER_COLUMNS for n in names):
        raise ListError(f"{source}:1: no 'number' column in the header")
    if len(set(names)) != len(names):
        raise ListError(f"{source}:1: a column name appears twice")
    if len(names) > MAX_FIELDS + 3:
        raise ListError(f"{source}:1: more than {MAX_FIELDS} columns")
    reader.fieldnames = names
    line = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise ListError(f"{source}:{reader.line_num}: {err}") from err
        line = reader.line_num
        yield line, row


def parse_list(
    text: str,
    source: str,
    region: str,
    existing: Collection[str] = (),
    lookup: CustomerLookup | None = None,
) -> Parsed:
    """The rows of a call list; raises ListError when the file as a whole is unusable."""
    parsed = Parsed()
    seen: dict[str, int] = {}
    for count, (line, row) in enumerate(_lines(text, source)):
        if count >= MAX_ROWS:
            parsed.errors.append(f"{source}:{line}: more than {MAX_ROWS} rows: the rest is not read")
            break
        try:
            item = _row(line, row, region, lookup)
        except ValueError as err:
            parsed.errors.append(f"{source}:{line}: {err}")
            continue
        if item.number in seen:
            parsed.errors.append(f"{source}:{line}: {item.number} is a duplicate of line {seen[item.number]}")
            continue
        seen[item.number] = line
        if item.number in existing:
            parsed.duplicates += 1
            parsed.errors.append(
                f"{source}:{line}: {item.number} is already in the campaign (kept as it was)"
            )
            continue
        parsed.rows.append(item)
    return parsed


def _row(line: int, row: dict[str, Any], region: str, lookup: CustomerLookup | None) -> ListRow:
    if "\x00extra" in row:
        raise ValueError("more values than columns")
    values = {k: (v or "").strip() for k, v in row.items() if isinstance(v, str) or v is None}
    raw = next((values[c] for c in NUMBER_COLUMNS if values.get(c)), "")
    if not raw:
        raise ValueError("the number is empty")
    try:
        number = e164(raw, region)
    except InvalidIdentity as err:
        raise ValueError(str(err)) from err
    zone = checked_zone(values["timezone"]) if values.get("timezone") else zone_of(number)
    mail = None
    if values.get("email"):
        try:
            mail = email_address(values["email"])
        except InvalidIdentity as err:
            raise ValueError(str(err)) from err
    fields = {k: v for k, v in values.items() if k not in (*NUMBER_COLUMNS, "timezone") and v}
    for k, v in fields.items():
        if len(v) > MAX_FIELD_CHARS:
            raise ValueError(f"column {k!r}: longer than {MAX_FIELD_CHARS} characters")
    customer = lookup(number, mail) if lookup is not None else None
    return ListRow(line, number, zone, customer, fields)


def parse_dnc(text: str, source: str, region: str) -> tuple[list[str], list[str]]:
    """Numbers of a do-not-call CSV (a ``number`` column), and the per-row errors."""
    numbers: list[str] = []
    errors: list[str] = []
    for line, row in _lines(text, source):
        raw = next((str(row[c]).strip() for c in NUMBER_COLUMNS if row.get(c)), "")
        try:
            numbers.append(e164(raw, region))
        except InvalidIdentity as err:
            errors.append(f"{source}:{line}: {err}")
    return numbers, errors

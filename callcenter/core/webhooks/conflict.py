"""The conflict rule of the inbound CRM updates: the last update wins, by the update's own timestamp.

Each field remembers the time of the value in force (``times``; a field never updated counts from
``default``, the record's creation). An update sets a field only when its timestamp is *later*;
otherwise the value *loses*: it is returned with the newer time that beat it, for the caller to
record, never silently dropped. A tie loses, so the same update sent twice changes nothing the
second time. Fields are judged one by one: an old update may still set a field nobody touched since.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime


def judge(
    times: Mapping[str, datetime], default: datetime, changes: Mapping[str, object], source_at: datetime
) -> tuple[dict[str, object], dict[str, dict[str, object]]]:
    """(the changes that win, the losers as ``{field: {"value", "newer_at"}}``)."""
    won = {k: v for k, v in changes.items() if source_at > times.get(k, default)}
    lost: dict[str, dict[str, object]] = {
        k: {"value": v, "newer_at": times.get(k, default).isoformat()}
        for k, v in changes.items()
        if k not in won
    }
    return won, lost

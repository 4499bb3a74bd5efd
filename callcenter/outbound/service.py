"""What the command line and the API do with campaigns, on any node: import definitions, lists
and do-not-call numbers, move campaigns, read progress. The dialler itself runs only on the
routing owner (``job.py``) and follows what this writes in the database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from callcenter.core.outbound.campaign import MAX_ABANDON_CAP, CampaignMove, CampaignState
from callcenter.outbound import definitions, lists
from callcenter.settings import ConfigError
from callcenter.settings.outbound import OutboundSettings
from callcenter.storage.outbound_store import (
    Decision,
    OutboundStore,
    Progress,
    StoredCampaign,
    UnknownCampaign,
)

__all__ = ["Campaigns", "ConfigError", "ImportResult", "UnknownCampaign"]


@dataclass(frozen=True, slots=True)
class ImportResult:
    read: int  # rows read without error
    added: int
    errors: tuple[str, ...]  # file:line: message, per row
    duplicates: int


class Campaigns:
    def __init__(self, store: OutboundStore, settings: OutboundSettings, clock: Callable[[], float]) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock

    async def import_definitions(self, text: str, source: str) -> tuple[list[str], list[str]]:
        """All or nothing: ConfigError (every problem, file:line) and nothing stored, or every
        campaign of the file stored; (new names, replaced names)."""
        parsed = definitions.parse_definitions(text, source)
        for name, d in parsed.items():
            definitions.to_core(name, d, self.settings.abandon_window)  # the core's checks too
        stored = await self.store.campaigns()
        for name, d in parsed.items():
            other = next(
                (
                    c.name
                    for c in stored
                    if d.get("callbacks")
                    and c.name not in parsed
                    and c.definition.get("callbacks")
                    and c.state != CampaignState.STOPPED
                    and c.definition.get("queue") == d.get("queue")
                ),
                None,
            )
            if other is not None:
                raise ConfigError(
                    f"{source}: campaigns.{name}.callbacks: queue {d.get('queue')!r} already has a "
                    f"callbacks campaign ({other}): stop it first"
                )
        new = await self.store.save_definitions(
            [(n, d, d.get("line")) for n, d in parsed.items()], self.clock()
        )
        return new, [n for n in parsed if n not in new]

    async def all(self) -> list[StoredCampaign]:
        return await self.store.campaigns()

    async def get(self, name: str) -> StoredCampaign:
        return await self.store.campaign(name)

    async def progress(self, name: str) -> Progress:
        return await self.store.progress(name, self.clock())

    async def move(self, name: str, what: CampaignMove, by: str) -> CampaignState:
        return await self.store.move(name, what, self.clock(), by)

    async def import_list(
        self,
        name: str,
        text: str,
        source: str,
        lookup: lists.CustomerLookup | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> ImportResult:
        """Rows checked one by one (ListError: the file as a whole is unusable); good ones added."""
        await self.store.campaign(name)  # UnknownCampaign before reading a large file
        existing = await self.store.numbers(name)
        parsed = lists.parse_list(text, source, self.settings.phone_region, existing, lookup)
        added = 0
        step = 1000
        for start in range(0, len(parsed.rows), step):
            added += await self.store.add_records(name, parsed.rows[start : start + step], self.clock())
            if progress is not None:
                progress(min(start + step, len(parsed.rows)), len(parsed.rows))
        return ImportResult(
            len(parsed.rows) + parsed.duplicates, added, tuple(parsed.errors), parsed.duplicates
        )

    async def import_dnc(self, text: str, source: str, how: str = "import") -> ImportResult:
        numbers, errors = lists.parse_dnc(text, source, self.settings.phone_region)
        added = await self.store.add_dnc(numbers, how, self.clock(), note=source)
        return ImportResult(len(numbers), added, tuple(errors), len(numbers) - added)

    async def add_dnc(self, numbers: list[str], source: str, note: str = "") -> int:
        return await self.store.add_dnc(numbers, source, self.clock(), note)

    async def decisions(
        self, name: str, after: int = 0, limit: int = 200, *, newest: bool = False
    ) -> list[tuple[int, Decision]]:
        return await self.store.decisions(name, after, limit, newest=newest)


def describe(c: StoredCampaign, p: Progress | None = None) -> dict[str, Any]:
    """A campaign as the API and the command line show it."""
    d: Mapping[str, Any] = c.definition
    out: dict[str, Any] = {
        "name": c.name,
        "state": c.state.value,
        "mode": d.get("mode", "progressive"),
        "queue": d.get("queue"),
        "line": c.line,
        "origin": c.origin,
        "definition": dict(d),
        "callbacks": bool(d.get("callbacks")),
    }
    if p is not None:
        rate = None if p.ledger is None else p.ledger.rate
        out["progress"] = {
            "records": p.records,
            "pending": p.pending,
            "dialled": p.dialled,
            "done": dict(p.done),
            "outcomes": dict(p.outcomes),
            "dispositions": dict(p.dispositions),
            "window": None
            if p.ledger is None
            else {"period": p.ledger.period, "answered": p.ledger.answered, "abandoned": p.ledger.abandoned},
            "abandon_rate": rate,
            "abandon_cap": d.get("abandonment", {}).get("cap", MAX_ABANDON_CAP),
            "connected": p.done.get("connected", 0),
            "due": p.due,
        }
    return out

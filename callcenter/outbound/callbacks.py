"""Callbacks at a time the customer picks: the one service every entry point uses (the agent
panel, the web widget, the IVR's ``callback`` step, ``POST /api/callbacks``, ``callcenter
callback``), on any node.

A callback is a record of its queue's callbacks campaign (``callbacks: true`` in the campaign's
definition) due at the chosen time, so the dialler on the routing owner calls it then, with every
rule of a campaign (docs/outbound.md, "Scheduled callbacks"). Here: the number read (E.164), the
customer's zone (given, else from the number), the time read in that zone when it has none, the
pure checks (``core/outbound/callbacks.check``: do-not-call, past, too far, calling windows), then
one transaction writes the record and its decision. A number with a callback pending in the
campaign gets the new time (one callback per number and campaign).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from callcenter.core.outbound import callbacks as core
from callcenter.core.outbound.callbacks import CallbackRefused, Refusal
from callcenter.core.outbound.campaign import Campaign, CampaignState
from callcenter.messaging.identity import InvalidIdentity, e164
from callcenter.metrics import CALLBACKS
from callcenter.outbound.definitions import to_core
from callcenter.outbound.lists import checked_zone, zone_of
from callcenter.settings.outbound import OutboundSettings
from callcenter.storage.outbound_store import OutboundStore, StoredCampaign, StoredRecord

__all__ = ["SOURCES", "CallbackRefused", "Callbacks", "Filed", "InvalidCallback", "Refusal"]

log = logging.getLogger(__name__)

SOURCES = ("agent", "widget", "ivr", "api", "cli")
MAX_NOTE = 500


class InvalidCallback(ValueError):
    """The request itself is wrong: not a number, an unknown or ambiguous zone, no callbacks
    campaign for the queue."""


@dataclass(frozen=True, slots=True)
class Filed:
    record_id: int
    campaign: str
    queue: str
    number: str
    tz: str
    due_at: float
    how: str  # "scheduled", or "moved" (the number's pending callback got the new time)

    @property
    def local(self) -> str:
        return core.local(self.due_at, ZoneInfo(self.tz))


def view(r: StoredRecord) -> dict[str, object]:
    """A callback as the API, the command line and the pages show it."""
    try:
        when = core.local(r.due_at, ZoneInfo(r.tz))
    except (ValueError, KeyError):
        when = ""
    return {
        "id": r.id,
        "campaign": r.campaign,
        "number": r.number,
        "timezone": r.tz,
        "due_at": r.due_at,
        "local": when,
        "attempts": r.attempts,
        "done": r.done,
        "last_outcome": r.last_outcome,
        "customer": r.customer_id,
        "source": r.fields.get("source", ""),
        "queue": r.fields.get("queue", ""),
        "note": r.fields.get("note", ""),
    }


class Callbacks:
    def __init__(self, store: OutboundStore, settings: OutboundSettings, clock: Callable[[], float]) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock

    async def campaigns(self) -> list[tuple[StoredCampaign, Campaign]]:
        """The callbacks campaigns (stopped ones included: their callbacks are still listed)."""
        found = []
        for c in await self.store.campaigns():
            if c.definition.get("callbacks"):
                try:
                    found.append((c, to_core(c.name, c.definition, self.settings.abandon_window)))
                except ValueError:
                    continue  # a definition an older version stored: the job logs it
        return found

    async def campaign_for(self, queue: str) -> tuple[StoredCampaign, Campaign]:
        for stored, campaign in await self.campaigns():
            if campaign.queue == queue and stored.state != CampaignState.STOPPED:
                return stored, campaign
        raise InvalidCallback(f"queue {queue[:64]!r} has no callbacks campaign (callbacks: true)")

    def read_number(self, number: str) -> str:
        try:
            return e164(number, self.settings.phone_region)
        except InvalidIdentity as err:
            raise InvalidCallback(str(err)) from err

    def zone(self, number: str, tz: str | None) -> str:
        try:
            return checked_zone(tz) if tz else zone_of(number)
        except ValueError as err:
            raise InvalidCallback(str(err).replace("add a timezone column", "give the time zone")) from err

    async def file(
        self,
        *,
        queue: str,
        number: str,
        when: datetime,
        source: str,
        by: str,
        tz: str | None = None,
        note: str = "",
        customer_id: str | None = None,
        lookup: Callable[[str], str | None] | None = None,
    ) -> Filed:
        """File a callback; :class:`CallbackRefused` (with the next opening when the time is
        outside the calling hours) or :class:`InvalidCallback`, and nothing stored, otherwise.
        ``when`` without a zone is the customer's local time."""
        assert source in SOURCES, source
        stored, campaign = await self.campaign_for(queue)
        e = self.read_number(number)
        zone = self.zone(e, tz)
        info = ZoneInfo(zone)
        at = (when if when.tzinfo is not None else when.replace(tzinfo=info)).timestamp()
        now = self.clock()
        await self._check(campaign, stored.name, e, at, now, info, source)
        due = max(at, now)
        if customer_id is None and lookup is not None:
            customer_id = lookup(e)
        fields = {"source": source, "queue": queue, "requested_by": by[:64]}
        if note.strip():
            fields["note"] = note.strip()[:MAX_NOTE]
        record_id, how = await self.store.file_callback(
            stored.name,
            e,
            zone,
            due,
            customer_id,
            fields,
            now,
            {"number": e, "due_at": due, "local": core.local(due, info), "source": source, "by": by[:64]},
        )
        filed = Filed(record_id, stored.name, queue, e, zone, due, how)
        CALLBACKS.labels(source, how).inc()
        log.info(
            "callbacks.filed",
            extra={"campaign": stored.name, "record": record_id, "how": how, "source": source, "due_at": due},
        )
        return filed

    async def _check(
        self, campaign: Campaign, name: str, number: str, at: float, now: float, info: ZoneInfo, source: str
    ) -> None:
        try:
            core.check(
                campaign.windows,
                at,
                now,
                info,
                on_dnc=await self.store.on_dnc(number),
                max_ahead=self.settings.callback_max_days * 86400.0,
            )
        except CallbackRefused as err:
            CALLBACKS.labels(source, err.reason.value).inc()
            log.info(
                "callbacks.refused", extra={"campaign": name, "reason": err.reason.value, "source": source}
            )
            raise

    async def file_picked(
        self,
        *,
        queue: str,
        number: str,
        minutes: int | None,
        day: int,
        at: str,
        source: str,
        by: str,
        fallback_zone: str = "",
    ) -> Filed:
        """A time picked from a menu (the IVR's ``schedule_callback``): in the caller's zone, the
        number's, else ``fallback_zone`` (a number that spans several zones)."""
        e = self.read_number(number)
        try:
            name = self.zone(e, None)
        except InvalidCallback:
            if not fallback_zone:
                raise
            name = self.zone(e, fallback_zone)
        zone = ZoneInfo(name)
        when = core.picked(self.clock(), zone, minutes=minutes, day=day, at=at)
        return await self.file(queue=queue, number=e, when=when, tz=name, source=source, by=by)

    async def list(
        self, *, pending_only: bool = True, customers: Sequence[str] = (), lines: Callable[[str | None], bool]
    ) -> list[StoredRecord]:
        names = [s.name for s, _ in await self.campaigns() if lines(s.line)]
        return await self.store.callbacks(names, pending_only=pending_only, customers=customers)

    async def cancel(
        self, record_id: int, by: str, lines: Callable[[str | None], bool]
    ) -> StoredRecord | None:
        """A pending callback of a callbacks campaign the caller may see, cancelled; None: none such."""
        found = await self.store.record(record_id)
        visible = {s.name for s, _ in await self.campaigns() if lines(s.line)}
        if found is None or found.campaign not in visible:
            return None
        cancelled = await self.store.cancel_callback(record_id, self.clock(), by)
        if cancelled is not None:
            log.info("callbacks.cancelled", extra={"campaign": found.campaign, "record": record_id})
        return cancelled

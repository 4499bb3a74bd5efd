"""The web widget's "Call me back" (docs/omnichannel.md, docs/outbound.md "Scheduled callbacks"):
a visitor — when no agent is online, or any time — gives a phone number, a date and a time (their
own local time); the callbacks service checks it all on the server (the number, its zone, the
do-not-call list, the past, too far ahead, the calling hours with the next opening) and files it
with the callbacks campaign of ``realtime.widget_callback_queue``.

The event is public (anyone may open the widget), so besides the socket's token bucket a socket
may file at most :data:`PER_SOCKET` callbacks: a page cannot be used to have the center ring a
list of strangers (a number has at most one pending callback per campaign, and the do-not-call
list holds).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from callcenter.core.omni.customers import Identity, IdentityKind
from callcenter.core.outbound.callbacks import local
from callcenter.errors import StorageError
from callcenter.outbound.callbacks import CallbackRefused, Callbacks, InvalidCallback
from callcenter.web.realtime import Ack, BadRequest, text

PER_SOCKET = 3


def _when(data: Mapping[str, Any]) -> datetime:
    try:
        day = date.fromisoformat(text(data, "date", limit=10))
        at = time.fromisoformat(text(data, "time", limit=5))
    except ValueError as err:
        raise BadRequest("date is YYYY-MM-DD and time HH:MM") from err
    return datetime.combine(day, at)  # no zone: the customer's, from the number


async def file(
    service: Callbacks | None,
    queue: str,
    data: Mapping[str, Any],
    owner: Callable[[Identity], str | None],
) -> Ack:
    """The widget's ``callback`` event: ``{number, date, time}``; the answer carries the time in
    the customer's zone, or the refusal's reason (and the next opening)."""
    if service is None or not queue:
        return {"error": "callbacks are not offered here", "reason": "off"}
    number = text(data, "number", limit=32)
    when = _when(data)
    try:
        e164 = service.read_number(number)
        filed = await service.file(
            queue=queue,
            number=e164,
            when=when,
            source="widget",
            by="widget",
            customer_id=owner(Identity(IdentityKind.PHONE, e164)),
        )
    except InvalidCallback as err:
        return {"error": str(err), "reason": "invalid"}
    except CallbackRefused as err:
        ack: dict[str, Any] = {"error": str(err), "reason": err.reason.value}
        if err.opening is not None:
            ack["next_opening"] = err.opening
            ack["next_local"] = local(err.opening, ZoneInfo(service.zone(e164, None)))
        return ack
    except StorageError:
        return {"error": "the callback could not be stored: try again", "reason": "unavailable"}
    return {"ok": True, "number": filed.number, "local": filed.local, "due_at": filed.due_at}

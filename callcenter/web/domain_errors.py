"""Domain errors to responses, in one place: the HTTP status of each
:class:`~callcenter.core.errors.DomainError` family member, for the aiohttp middleware below and for
the Socket.IO acknowledgements (``realtime.GuardedNamespace``: ``{"error": message}``).

The core's errors know nothing of HTTP; a handler lets them propagate instead of catching each one.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from aiohttp import web

from callcenter.core.calls.machine import CallRefused, ControlInProgress, ControlRefused
from callcenter.core.errors import DomainError, NotYourCall, UnknownAgent
from callcenter.core.tickets.workflow import TicketRefused

# Most specific first: the first class the error is an instance of gives the status.
STATUS: tuple[tuple[type[DomainError], int], ...] = (
    (NotYourCall, 403),
    (UnknownAgent, 404),
    (ControlRefused, 502),  # Asterisk could not carry it out
    (ControlInProgress, 409),
    (CallRefused, 409),  # the call's state does not allow it
    (TicketRefused, 409),  # the ticket's state (or its team's transfer paths) does not allow it
)
DEFAULT_STATUS = 400


def status_of(err: DomainError) -> int:
    return next((status for cls, status in STATUS if isinstance(err, cls)), DEFAULT_STATUS)


def message_of(err: DomainError) -> str:
    return str(err) or type(err).__name__


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except DomainError as err:
        body = json.dumps({"error": message_of(err)})
        return web.Response(status=status_of(err), text=body, content_type="application/json")

"""Trigger rules on the routing owner (``tickets/job.py`` runs a pass every
``tickets.trigger_seconds``): the QA flags some rule watches, on contacts of the last
``LOOKBACK``, that no one has claimed yet, each given to the pure core
(``core/tickets/triggers.py``); the ticket it says to open is created with the flag's key claimed
in the same transaction, and a flag no rule matches is claimed with no ticket. So each flag is
considered once, whatever the number of passes, restarts or nodes; a flag stored while no owner
ran is found by the next pass (within the look-back).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from callcenter.core.errors import DomainError
from callcenter.core.tickets import triggers
from callcenter.tickets.records import Claimed
from callcenter.tickets.service import Tickets

log = logging.getLogger(__name__)
LOOKBACK = timedelta(days=7)  # flags on older contacts are not looked at


async def run_triggers(tickets: Tickets) -> int:
    """One pass; the number of tickets it opened."""
    wf = tickets.workflow
    opened = 0
    for event in await tickets.store.flagged(triggers.flags_watched(wf), tickets.clock() - LOOKBACK):
        command = triggers.evaluate(wf, event)
        if command is None:
            await tickets.store.claim_nothing(event.key, tickets.clock())
            continue
        try:
            ticket = await tickets.open_by_rule(command)
        except Claimed:
            continue
        except DomainError as err:  # the file changed under the rule: considered, not retried
            log.warning("tickets.trigger_refused", extra={"key": event.key, "detail": str(err)})
            await tickets.store.claim_nothing(event.key, tickets.clock())
            continue
        log.info("tickets.opened_by_rule", extra={"ticket": ticket.id, "key": event.key, "team": ticket.team})
        opened += 1
    return opened

"""Team boards: per team, the open tickets by priority, those overdue (a target missed and not
met) and those about to breach (less than the policy's warning time left), at ``now``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from callcenter.core.tickets import sla
from callcenter.core.tickets.model import Workflow
from callcenter.core.tickets.ticket import Ticket


@dataclass(slots=True)
class TeamBoard:
    team: str
    open: int = 0
    by_priority: dict[str, int] = field(default_factory=dict)
    overdue: list[str] = field(default_factory=list)  # ticket ids, oldest first
    at_risk: list[str] = field(default_factory=list)


def _state(wf: Workflow, ticket: Ticket, now: datetime) -> str:
    """'overdue', 'at_risk' or '' for the worse of the ticket's two clocks."""
    policy = wf.policy(ticket.type, ticket.priority)
    worst = ""
    for target in (sla.FIRST_RESPONSE, sla.RESOLUTION):
        c = sla.clock(wf, ticket, target, now)
        if c is None or c.met:
            continue
        if c.late:
            return "overdue"
        if c.running and policy is not None and c.target_seconds - c.elapsed_seconds <= policy.warn_before:
            worst = "at_risk"
    return worst


def boards(wf: Workflow, tickets: Iterable[Ticket], now: datetime) -> list[TeamBoard]:
    """One board per team of the workflow (and per team a ticket names that the file no longer
    has), in the file's order; closed tickets and types the file no longer has are left out."""
    out = {name: TeamBoard(name) for name in wf.teams}
    for t in sorted(tickets, key=lambda t: t.created_at):
        tt = wf.types.get(t.type)
        if tt is None or t.status in tt.closed:
            continue
        board = out.setdefault(t.team, TeamBoard(t.team))
        board.open += 1
        board.by_priority[t.priority] = board.by_priority.get(t.priority, 0) + 1
        state = _state(wf, t, now)
        if state == "overdue":
            board.overdue.append(t.id)
        elif state == "at_risk":
            board.at_risk.append(t.id)
    return list(out.values())

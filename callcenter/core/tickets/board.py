"""Team boards: per team, the open tickets by priority, those overdue (a target missed and not
met) and those about to breach (less than the policy's warning time left), at ``now``; optionally
only some teams, types and priorities (the boards page's filters)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from callcenter.core.tickets import sla
from callcenter.core.tickets.model import Workflow
from callcenter.core.tickets.ticket import Ticket


@dataclass(frozen=True, slots=True)
class Listed:
    """A ticket of an overdue or about-to-breach list, as the board shows it: an about-to-breach
    one's ``due_at`` (when its clock falls due if it keeps running), an overdue one's
    ``late_seconds`` (business seconds past its target)."""

    id: str
    title: str
    type: str
    priority: str
    status: str
    due_at: datetime | None = None
    late_seconds: float | None = None


@dataclass(slots=True)
class TeamBoard:
    team: str
    open: int = 0
    by_priority: dict[str, int] = field(default_factory=dict)
    overdue: list[str] = field(default_factory=list)  # ticket ids, oldest first
    at_risk: list[str] = field(default_factory=list)
    tickets: dict[str, Listed] = field(default_factory=dict)  # those of the two lists


def _state(wf: Workflow, ticket: Ticket, now: datetime) -> tuple[str, sla.Clock | None]:
    """'overdue', 'at_risk' or '' for the worse of the ticket's two clocks, and that clock."""
    policy = wf.policy(ticket.type, ticket.priority)
    worst: tuple[str, sla.Clock | None] = ("", None)
    for target in (sla.FIRST_RESPONSE, sla.RESOLUTION):
        c = sla.clock(wf, ticket, target, now)
        if c is None or c.met:
            continue
        if c.late:
            return "overdue", c
        if c.running and policy is not None and c.target_seconds - c.elapsed_seconds <= policy.warn_before:
            worst = ("at_risk", c)
    return worst


def boards(
    wf: Workflow,
    tickets: Iterable[Ticket],
    now: datetime,
    *,
    teams: Collection[str] | None = None,
    types: Collection[str] | None = None,
    priorities: Collection[str] | None = None,
) -> list[TeamBoard]:
    """One board per team of the workflow (and per team a ticket names that the file no longer
    has), in the file's order; closed tickets and types the file no longer has are left out.
    ``teams``/``types``/``priorities``: only those (None: all)."""
    out = {name: TeamBoard(name) for name in wf.teams if teams is None or name in teams}
    for t in sorted(tickets, key=lambda t: t.created_at):
        tt = wf.types.get(t.type)
        if tt is None or t.status in tt.closed:
            continue
        if (teams is not None and t.team not in teams) or (types is not None and t.type not in types):
            continue
        if priorities is not None and t.priority not in priorities:
            continue
        board = out.setdefault(t.team, TeamBoard(t.team))
        board.open += 1
        board.by_priority[t.priority] = board.by_priority.get(t.priority, 0) + 1
        state, c = _state(wf, t, now)
        if c is None:
            continue
        if state == "overdue":
            board.overdue.append(t.id)
            late = round(c.elapsed_seconds - c.target_seconds)
            board.tickets[t.id] = Listed(t.id, t.title, t.type, t.priority, t.status, late_seconds=late)
        else:
            board.at_risk.append(t.id)
            board.tickets[t.id] = Listed(t.id, t.title, t.type, t.priority, t.status, due_at=c.due_at)
    return list(out.values())

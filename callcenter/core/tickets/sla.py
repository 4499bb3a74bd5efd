"""SLA clocks in business hours, and what happens as a target nears and passes.

Two targets per ticket, from the policy of its type and priority: *first response* (the first reply
to the customer) and *resolution* (reaching a resolved status). A clock counts the calendar's working
seconds while the ticket is in a status that is not paused ("waiting for customer"); the resolution
clock also stops in resolved statuses (and goes on if the ticket reopens). Each target's warning and
breach fire once (``Ticket.sla_marks``); the breach runs the policy's escalation steps (notify,
reassign, raise priority), each an event.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from callcenter.core.tickets.calendar import add_business, business_seconds
from callcenter.core.tickets.model import Escalation, SlaPolicy, Workflow
from callcenter.core.tickets.ticket import (
    SYSTEM,
    Escalated,
    SlaBreached,
    SlaWarning,
    Ticket,
    TicketEvent,
)

FIRST_RESPONSE = "first_response"
RESOLUTION = "resolution"


@dataclass(frozen=True, slots=True)
class Clock:
    target: str
    target_seconds: int
    elapsed_seconds: float
    running: bool  # counting now (not paused, not met)
    met: bool
    due_at: datetime | None  # if it keeps running from now; None when stopped or never

    @property
    def late(self) -> bool:
        """The target was (or is being) missed: more time counted than it allows."""
        return self.elapsed_seconds >= self.target_seconds


def _stops(wf: Workflow, ticket: Ticket, target: str) -> frozenset[str]:
    tt = wf.types[ticket.type]
    return tt.paused | tt.resolved if target == RESOLUTION else tt.paused


def elapsed(wf: Workflow, ticket: Ticket, target: str, now: datetime) -> float:
    """Working seconds counted on the target's clock up to ``now`` (or the first response)."""
    stops = _stops(wf, ticket, target)
    until = now
    if target == FIRST_RESPONSE and ticket.first_response_at is not None:
        until = min(now, ticket.first_response_at)
    total = 0.0
    history = ticket.history
    for n, change in enumerate(history):
        end = history[n + 1].at if n + 1 < len(history) else until
        end = min(end, until)
        if change.status not in stops and end > change.at:
            total += business_seconds(wf.calendar, change.at, end)
    return total


def clock(wf: Workflow, ticket: Ticket, target: str, now: datetime) -> Clock | None:
    policy = wf.policy(ticket.type, ticket.priority)
    seconds = _target_seconds(policy, target)
    if seconds is None:
        return None
    tt = wf.types[ticket.type]
    met = ticket.first_response_at is not None if target == FIRST_RESPONSE else ticket.status in tt.resolved
    spent = elapsed(wf, ticket, target, now)
    running = not met and ticket.status not in _stops(wf, ticket, target)
    due = add_business(wf.calendar, now, seconds - spent) if running else None
    return Clock(target, seconds, spent, running, met, due)


def _target_seconds(policy: SlaPolicy | None, target: str) -> int | None:
    if policy is None:
        return None
    return policy.first_response if target == FIRST_RESPONSE else policy.resolution


def check(wf: Workflow, ticket: Ticket, now: datetime) -> tuple[Ticket, tuple[TicketEvent, ...]]:
    """Warnings and breaches due at ``now`` that were not given yet, with the breach's escalation.

    Run it periodically (the SLA job) and after each change; it is idempotent for a given state."""
    events: list[TicketEvent] = []
    for target in (FIRST_RESPONSE, RESOLUTION):
        policy = wf.policy(ticket.type, ticket.priority)
        c = clock(wf, ticket, target, now)
        if policy is None or c is None or not c.running:
            continue
        remaining = c.target_seconds - c.elapsed_seconds
        due = c.due_at or now
        marks = ticket.sla_marks
        if remaining <= 0 and f"{target}:breached" not in marks:
            events.append(SlaBreached(ticket.id, now, SYSTEM, target, due))
            ticket = replace(ticket, sla_marks=marks | {f"{target}:breached", f"{target}:warned"})
            ticket, steps = _escalate(wf, ticket, target, policy, now)
            events += steps
        elif 0 < remaining <= policy.warn_before and f"{target}:warned" not in marks:
            events.append(SlaWarning(ticket.id, now, SYSTEM, target, due, remaining))
            ticket = replace(ticket, sla_marks=marks | {f"{target}:warned"})
    return ticket, tuple(events)


def _escalate(
    wf: Workflow, ticket: Ticket, target: str, policy: SlaPolicy, now: datetime
) -> tuple[Ticket, list[TicketEvent]]:
    out: list[TicketEvent] = []
    for step in policy.on_breach:
        match step.action:
            case Escalation.NOTIFY:
                out.append(Escalated(ticket.id, now, SYSTEM, target, "notify", ticket.team, ticket.team))
            case Escalation.REASSIGN if step.team != ticket.team:
                out.append(Escalated(ticket.id, now, SYSTEM, target, "reassign", ticket.team, step.team))
                ticket = replace(ticket, team=step.team)
            case Escalation.RAISE_PRIORITY:
                higher = wf.raised(ticket.priority)
                if higher != ticket.priority:
                    out.append(
                        Escalated(ticket.id, now, SYSTEM, target, "raise_priority", ticket.priority, higher)
                    )
                    ticket = replace(ticket, priority=higher)
    return ticket, out

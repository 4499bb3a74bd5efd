"""Tickets as the server runs them: the workflow in force (reloaded from the tickets file), the
store, ids and time; each request runs a pure core function inside the store's transaction.

Every node serves the API with this object (the state is the database's); the SLA job and the
replies to customers run on the routing owner only (``tickets/job.py``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from callcenter.accounts.principal import Principal
from callcenter.core.tickets import crm, sla
from callcenter.core.tickets import workflow as wfl
from callcenter.core.tickets.model import Workflow
from callcenter.core.tickets.ticket import CUSTOMER, SYSTEM, CrmUpdated, CustomerWrote, Ticket, TicketEvent
from callcenter.core.tickets.triggers import OpenTicket
from callcenter.tickets.records import Actor, Change, Comment, TicketsPort

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base 32: no I, L, O, U


def new_id() -> str:
    """``T-`` and 8 characters (40 random bits): unique across nodes without a shared counter,
    short enough to read out on the phone and to quote in a reply."""
    return "T-" + "".join(secrets.choice(_ALPHABET) for _ in range(8))


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Tickets:
    workflow: Workflow
    store: TicketsPort
    clock: Callable[[], datetime] = utc_now
    ids: Callable[[], str] = new_id

    def set_workflow(self, workflow: Workflow) -> None:
        self.workflow = workflow

    def closed(self, ticket: Ticket) -> bool:
        tt = self.workflow.types.get(ticket.type)
        return tt is not None and ticket.status in tt.closed

    # -- who may do what ----------------------------------------------------------------------
    def teams_of(self, principal: Principal) -> frozenset[str] | None:
        """The teams whose tickets ``principal`` works; None: every team (supervisors, admins)."""
        if principal.role in ("supervisor", "admin"):
            return None
        names = {principal.name, principal.agent_id or ""}
        return frozenset(t.name for t in self.workflow.teams.values() if t.members & names)

    def may_view(self, principal: Principal, ticket: Ticket) -> bool:
        if not principal.may_see(ticket.line):
            return False
        teams = self.teams_of(principal)
        return teams is None or ticket.team in teams or ticket.created_by == principal.name

    def may_work(self, principal: Principal, ticket: Ticket) -> bool:
        teams = self.teams_of(principal)
        return principal.may_see(ticket.line) and (teams is None or ticket.team in teams)

    # -- requests -----------------------------------------------------------------------------
    async def create(self, draft: wfl.Draft, actor: Actor) -> Ticket:
        at = self.clock()
        ticket, events = wfl.create(self.workflow, draft, self.ids(), at, actor.name)
        await self.store.create(ticket, events, actor)
        return ticket

    async def _change(
        self, ticket_id: str, change: Change, actor: Actor
    ) -> tuple[Ticket, tuple[TicketEvent, ...]]:
        return await self.store.change(ticket_id, change, actor)

    async def transition(self, ticket_id: str, status: str, actor: Actor) -> Ticket:
        at = self.clock()
        wf = self.workflow
        ticket, _ = await self._change(
            ticket_id, lambda t: wfl.transition(wf, t, status, at, actor.name), actor
        )
        return ticket

    async def transfer(self, ticket_id: str, team: str, reason: str, actor: Actor) -> Ticket:
        at, wf = self.clock(), self.workflow
        ticket, _ = await self._change(
            ticket_id, lambda t: wfl.transfer(wf, t, team, at, actor.name, reason), actor
        )
        return ticket

    async def set_priority(self, ticket_id: str, priority: str, actor: Actor) -> Ticket:
        at, wf = self.clock(), self.workflow
        ticket, _ = await self._change(
            ticket_id, lambda t: wfl.set_priority(wf, t, priority, at, actor.name), actor
        )
        return ticket

    async def crm_update(
        self, ticket_id: str, changes: Mapping[str, object], source_at: datetime, actor: Actor
    ) -> tuple[Ticket, CrmUpdated]:
        """A CRM's update (core/tickets/crm.py: the last update wins by its own timestamp)."""
        at, wf = self.clock(), self.workflow
        ticket, events = await self._change(
            ticket_id, lambda t: crm.update(wf, t, changes, source_at, at, actor.name), actor
        )
        event = events[0]
        assert isinstance(event, CrmUpdated)
        return ticket, event

    async def comment(
        self, ticket_id: str, body: str, internal: bool, actor: Actor
    ) -> tuple[Ticket, Comment]:
        at = self.clock()
        return await self.store.add_comment(
            ticket_id, lambda t: wfl.comment(t, at, actor.name, internal=internal), body, internal, actor
        )

    async def customer_message(
        self, ticket_id: str, body: str, message_id: str, channel: str
    ) -> tuple[Ticket, Comment]:
        """The customer's message (messaging's ``message_id``) as their comment on the ticket; a
        closed ticket reopens with it as the reason (``workflow.customer_wrote``)."""
        at, wf = self.clock(), self.workflow
        return await self.store.add_comment(
            ticket_id,
            lambda t: wfl.customer_wrote(wf, t, at, body, channel),
            body,
            False,
            Actor(CUSTOMER),
            received=message_id,
        )

    async def open_from_message(self, draft: wfl.Draft, body: str, message_id: str, channel: str) -> Ticket:
        """A ticket opened by the customer's message (an e-mail that continues none): routed like
        any other, the message its first comment."""
        at = self.clock()
        ticket, events = wfl.create(self.workflow, draft, self.ids(), at, CUSTOMER)
        wrote = CustomerWrote(ticket.id, at, CUSTOMER, channel)
        await self.store.create(ticket, (*events, wrote), Actor(CUSTOMER), received=(body, message_id))
        return ticket

    async def open_by_rule(self, command: OpenTicket) -> Ticket:
        """The ticket a trigger rule opens, its event's key claimed with it (``Claimed``: it was
        opened already, by this node or another)."""
        at = self.clock()
        ticket, events = wfl.create(self.workflow, command.draft, self.ids(), at, SYSTEM)
        await self.store.create(ticket, events, Actor(SYSTEM), claim=command.key)
        return ticket

    def sla_due(self, ticket: Ticket) -> bool:
        """Whether a check now would give an event (read-only: the job writes only those)."""
        return bool(sla.check(self.workflow, ticket, self.clock())[1])

    async def check_sla(self, ticket_id: str) -> tuple[TicketEvent, ...]:
        at, wf = self.clock(), self.workflow
        _, events = await self._change(ticket_id, lambda t: sla.check(wf, t, at), Actor("system"))
        return events

    def clocks(self, ticket: Ticket) -> list[dict[str, object]]:
        now = self.clock()
        out: list[dict[str, object]] = []
        for target in (sla.FIRST_RESPONSE, sla.RESOLUTION):
            c = sla.clock(self.workflow, ticket, target, now)
            if c is not None:
                out.append({
                    "target": target, "target_seconds": c.target_seconds,
                    "elapsed_seconds": round(c.elapsed_seconds), "running": c.running,
                    "met": c.met, "late": c.late, "due_at": c.due_at,
                })  # fmt: skip
        return out

"""The tickets' configuration as data: types (templates of typed fields, statuses, transitions),
teams and the transfers between them, priorities, routing rules, SLA policies and the calendar.

Built by the loader (``callcenter/tickets/workflow_file.py``) from YAML, or by hand in tests.
Invariant (checked by :func:`check`, which the loader runs): every status a transition names belongs
to its type, every team a transfer or a rule names exists, every priority a rule or a policy names
is in ``priorities``. The workflow functions rely on it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time, tzinfo


class FieldKind(enum.Enum):
    TEXT = "text"
    CHOICE = "choice"
    NUMBER = "number"
    DATE = "date"
    CUSTOMER = "customer"  # a customer id
    ATTACHMENT = "attachment"  # a reference to a stored file (its id), not the bytes


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    kind: FieldKind
    required: bool = False
    label: str = ""
    choices: tuple[str, ...] = ()  # CHOICE only
    max_length: int = 2000  # TEXT
    minimum: float | None = None  # NUMBER
    maximum: float | None = None


@dataclass(frozen=True, slots=True)
class TicketType:
    """One kind of ticket: its template and its own state table.

    ``transitions`` is the whole table: a move not in it is illegal. ``closed`` statuses are those
    a customer's reply reopens (to ``reopen_to``); ``resolved`` statuses stop the resolution
    clock; ``paused`` ones stop every clock (waiting for the customer)."""

    name: str
    fields: tuple[FieldSpec, ...]
    statuses: tuple[str, ...]
    initial: str
    transitions: Mapping[str, frozenset[str]]
    closed: frozenset[str]
    resolved: frozenset[str]
    paused: frozenset[str] = frozenset()
    reopen_to: str = ""
    label: str = ""

    def field(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)

    def allowed(self, status: str) -> frozenset[str]:
        return self.transitions.get(status, frozenset())


@dataclass(frozen=True, slots=True)
class Team:
    name: str
    transfers: frozenset[str]  # the teams this one may hand a ticket to
    line: str | None = None  # the business line the team works for (None: every line)
    members: frozenset[str] = frozenset()  # user names or agent ids
    email: str | None = None  # the team's mailbox: e-mail notifications of its tickets' events
    language: str = "en"  # of those e-mails


Condition = Mapping[str, frozenset[str]]  # key -> accepted values (any of)


@dataclass(frozen=True, slots=True)
class RoutingRule:
    """``when`` keys: ``type``, ``tier``, ``language``, ``line`` and ``field.<name>``; every key
    must match (one of its values). The first matching rule wins."""

    when: Condition
    team: str
    priority: str


@dataclass(frozen=True, slots=True)
class Trigger:
    """A ticket opened by what happens (``core/tickets/triggers.py``): ``when`` keys ``qa_flag``
    (required), ``line`` and ``queue``, every key matching (one of its values); the ticket's type,
    its title, and a team and priority that, when given, replace what the routing rules say."""

    when: Condition
    type: str
    title: str
    team: str | None = None
    priority: str | None = None


@dataclass(frozen=True, slots=True)
class EmailCopy:
    """Someone (a user name or an agent id) who asked for e-mail copies of their panel
    notifications of these kinds (core/tickets/alerts.py), in their language."""

    email: str
    language: str = "en"
    kinds: frozenset[str] = frozenset({"assigned", "mention", "sla_warning", "sla_breached"})


class Escalation(enum.Enum):
    NOTIFY = "notify"
    REASSIGN = "reassign"
    RAISE_PRIORITY = "raise_priority"


@dataclass(frozen=True, slots=True)
class EscalationStep:
    action: Escalation
    team: str = ""  # REASSIGN: to which team


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """Targets in business seconds for tickets of ``priority`` (and ``type``, or any type when
    empty). A warning is due ``warn_before`` seconds before a target; ``on_breach`` runs at it."""

    priority: str
    first_response: int | None
    resolution: int | None
    type: str = ""
    warn_before: int = 0
    on_breach: tuple[EscalationStep, ...] = (EscalationStep(Escalation.NOTIFY),)


@dataclass(frozen=True, slots=True)
class Calendar:
    """Working hours per weekday (0 = Monday) as local [start, end) windows, in ``zone``; whole
    holidays by local date. ``time(0)`` as an end means midnight at the end of the day."""

    zone: tzinfo
    hours: Mapping[int, tuple[tuple[time, time], ...]]
    holidays: frozenset[date] = frozenset()


ALWAYS_OPEN_HOURS: Mapping[int, tuple[tuple[time, time], ...]] = {
    day: ((time(0), time(0)),) for day in range(7)
}


@dataclass(frozen=True, slots=True)
class Workflow:
    types: Mapping[str, TicketType]
    teams: Mapping[str, Team]
    priorities: tuple[str, ...]  # highest first
    rules: tuple[RoutingRule, ...]
    policies: tuple[SlaPolicy, ...]
    calendar: Calendar
    default_team: str = ""
    default_priority: str = ""
    source: str = ""  # the file it came from, for messages
    # The type a customer's e-mail that continues no ticket opens; None: e-mail stays in chat-like
    # conversations routed to agents (docs/tickets.md, "Tickets from e-mail").
    email_type: str | None = None
    triggers: tuple[Trigger, ...] = ()
    email_copies: Mapping[str, EmailCopy] = field(default_factory=dict)

    def policy(self, type_name: str, priority: str) -> SlaPolicy | None:
        """The policy of this type and priority, else the priority's type-less one."""
        typed = [p for p in self.policies if p.priority == priority and p.type == type_name]
        if typed:
            return typed[0]
        return next((p for p in self.policies if p.priority == priority and not p.type), None)

    def raised(self, priority: str) -> str:
        """One step higher (the highest stays)."""
        at = self.priorities.index(priority)
        return self.priorities[max(at - 1, 0)]


@dataclass(frozen=True, slots=True)
class Problem:
    """A configuration problem; ``where`` is a dotted path the loader turns into ``file:line``."""

    where: tuple[str | int, ...]
    message: str


def check(wf: Workflow) -> list[Problem]:
    """Every reference resolved, every status reachable from the initial one."""
    out: list[Problem] = []
    if not wf.priorities:
        out.append(Problem(("priorities",), "at least one priority is needed"))
    for tt in wf.types.values():
        out += _check_type(tt)
    for name, team in wf.teams.items():
        for other in sorted(team.transfers - set(wf.teams)):
            out.append(Problem(("teams", name, "transfers"), f"unknown team {other!r}"))
    for n, rule in enumerate(wf.rules):
        if rule.team not in wf.teams:
            out.append(Problem(("routing", n, "team"), f"unknown team {rule.team!r}"))
        if rule.priority not in wf.priorities:
            out.append(Problem(("routing", n, "priority"), f"unknown priority {rule.priority!r}"))
        for t in sorted(rule.when.get("type", frozenset()) - set(wf.types)):
            out.append(Problem(("routing", n, "when", "type"), f"unknown ticket type {t!r}"))
    if wf.default_team not in wf.teams:
        out.append(Problem(("default_team",), f"unknown team {wf.default_team!r}"))
    if wf.default_priority not in wf.priorities:
        out.append(Problem(("default_priority",), f"unknown priority {wf.default_priority!r}"))
    for n, pol in enumerate(wf.policies):
        if pol.priority not in wf.priorities:
            out.append(Problem(("sla", n, "priority"), f"unknown priority {pol.priority!r}"))
        if pol.type and pol.type not in wf.types:
            out.append(Problem(("sla", n, "type"), f"unknown ticket type {pol.type!r}"))
        for step in pol.on_breach:
            if step.action is Escalation.REASSIGN and step.team not in wf.teams:
                out.append(Problem(("sla", n, "on_breach"), f"unknown team {step.team!r}"))
    if wf.email_type is not None:
        email_type = wf.types.get(wf.email_type)
        if email_type is None:
            out.append(Problem(("email", "type"), f"unknown ticket type {wf.email_type!r}"))
        elif required := [f.name for f in email_type.fields if f.required]:
            names = ", ".join(required)
            out.append(Problem(("email", "type"), f"an e-mail cannot fill the required field(s) {names}"))
    for n, trigger in enumerate(wf.triggers):
        out += _check_trigger(wf, n, trigger)
    if not any(wf.calendar.hours.get(day) for day in range(7)):
        out.append(Problem(("calendar", "hours"), "no working hours in the week"))
    return out


def _check_trigger(wf: Workflow, n: int, trigger: Trigger) -> list[Problem]:
    out: list[Problem] = []
    where: tuple[str | int, ...] = ("triggers", n)
    tt = wf.types.get(trigger.type)
    if tt is None:
        out.append(Problem((*where, "type"), f"unknown ticket type {trigger.type!r}"))
    elif required := [f.name for f in tt.fields if f.required]:
        names = ", ".join(required)
        out.append(Problem((*where, "type"), f"a rule cannot fill the required field(s) {names}"))
    if trigger.team is not None and trigger.team not in wf.teams:
        out.append(Problem((*where, "team"), f"unknown team {trigger.team!r}"))
    if trigger.priority is not None and trigger.priority not in wf.priorities:
        out.append(Problem((*where, "priority"), f"unknown priority {trigger.priority!r}"))
    if not trigger.when.get("qa_flag"):
        out.append(Problem((*where, "when"), "qa_flag is required (the event that opens the ticket)"))
    return out


def _check_type(tt: TicketType) -> list[Problem]:
    out: list[Problem] = []
    where: tuple[str | int, ...] = ("types", tt.name)
    statuses = set(tt.statuses)
    if len(statuses) != len(tt.statuses):
        out.append(Problem((*where, "statuses"), "a status is listed twice"))
    if tt.initial not in statuses:
        out.append(Problem((*where, "initial"), f"unknown status {tt.initial!r}"))
    for src, targets in tt.transitions.items():
        if src not in statuses:
            out.append(Problem((*where, "transitions", src), f"unknown status {src!r}"))
        for dst in sorted(targets - statuses):
            out.append(Problem((*where, "transitions", src), f"unknown status {dst!r}"))
    for key, group in (("closed", tt.closed), ("resolved", tt.resolved), ("paused", tt.paused)):
        for status in sorted(group - statuses):
            out.append(Problem((*where, key), f"unknown status {status!r}"))
    if not tt.closed:
        out.append(Problem((*where, "closed"), "at least one closed status is needed"))
    if tt.reopen_to not in statuses:
        out.append(Problem((*where, "reopen_to"), f"unknown status {tt.reopen_to!r}"))
    elif tt.reopen_to in tt.closed:
        out.append(Problem((*where, "reopen_to"), "a ticket cannot reopen to a closed status"))
    reachable, todo = {tt.initial, tt.reopen_to}, [tt.initial, tt.reopen_to]
    while todo:
        for nxt in tt.allowed(todo.pop()):
            if nxt not in reachable:
                reachable.add(nxt)
                todo.append(nxt)
    for status in tt.statuses:
        if status not in reachable:
            out.append(Problem((*where, "statuses"), f"status {status!r} cannot be reached"))
    names = [f.name for f in tt.fields]
    for f in tt.fields:
        if names.count(f.name) > 1:
            out.append(Problem((*where, "fields", f.name), "defined twice"))
        if f.kind is FieldKind.CHOICE and not f.choices:
            out.append(Problem((*where, "fields", f.name), "a choice field needs choices"))
    return out

"""Tickets opened by rules (``triggers:`` in the tickets file): an event in, at most one ticket to
open out. Pure: the routing owner's job (``tickets/triggers_job.py``) gives the events and carries
out the command; the command's ``key`` is what the store claims with the ticket, in one
transaction, so each event opens at most one ticket whatever the number of nodes or passes.

Events today: a QA flag on a contact (``qa_flag``: a failed check's rule id, ``emergency``, or
``survey_low`` when the customer answered a survey with a low score). The first rule whose every
condition matches opens the ticket; none: nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from callcenter.core.tickets.model import Workflow
from callcenter.core.tickets.workflow import Draft


@dataclass(frozen=True, slots=True)
class Flagged:
    """A contact got a QA flag (the event); what the store knows of the contact."""

    interaction_id: str
    flag: str
    line: str | None = None
    queue: str | None = None
    customer_id: str | None = None
    agent_id: str | None = None

    @property
    def key(self) -> str:
        return f"qa:{self.interaction_id}:{self.flag}"


@dataclass(frozen=True, slots=True)
class OpenTicket:
    """Open this ticket, claiming ``key`` with it."""

    key: str
    draft: Draft


def evaluate(wf: Workflow, event: Flagged) -> OpenTicket | None:
    known = {"qa_flag": event.flag, "line": event.line or "", "queue": event.queue or ""}
    for n, trigger in enumerate(wf.triggers):
        if not all(known.get(key, "") in accepted for key, accepted in trigger.when.items()):
            continue
        context = {"trigger": str(n + 1), "qa_flag": event.flag, "interaction": event.interaction_id}
        if event.agent_id:
            context["agent"] = event.agent_id
        draft = Draft(
            trigger.type,
            trigger.title,
            customer_id=event.customer_id,
            interaction_id=event.interaction_id,
            line=event.line,
            context=context,
            team=trigger.team,
            priority=trigger.priority,
            why=f"trigger rule {n + 1} (qa_flag {event.flag})",
        )
        return OpenTicket(event.key, draft)
    return None


def flags_watched(wf: Workflow) -> frozenset[str]:
    """The flags some rule opens tickets on (the job reads only these)."""
    return frozenset(flag for t in wf.triggers for flag in t.when.get("qa_flag", ()))

"""One webhook delivery's life as a table of outcomes: what an attempt's answer means, and when
the next attempt is due.

Invariants: a delivery is ``pending`` (due at ``next_at``) until an attempt is answered 2xx
(``delivered``) or it is given up (``failed``): at once on a 4xx other than 408 and 429 (the
receiver refuses this body; sending it again cannot help), else after ``max_attempts`` attempts.
5xx, 408, 429, a timeout and a connection error are retried, each delay doubling from
``min_delay`` up to ``max_delay``; a ``Retry-After`` the receiver gave (429, 503) is honoured up to
``max_delay``. A team's e-mail (same table, ``mail:<team>``) has no HTTP status: an SMTP 5xx is
``permanent`` (failed at once), anything else retried. Pure: the time is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# The events a subscription may ask for (docs/webhooks.md has each body): a ticket's are its
# events' kinds (core/tickets/ticket.py), an interaction's the event log's endings and wrap-ups.
TICKET_EVENTS = (
    "ticket.created",
    "ticket.status",
    "ticket.reopened",
    "ticket.transferred",
    "ticket.priority",
    "ticket.commented",
    "ticket.sla_warning",
    "ticket.sla_breached",
    "ticket.escalated",
    "ticket.crm_updated",
    "ticket.attached",
    "ticket.deleted",  # not an event of the ticket (it is gone): written with its deletion
)
INTERACTION_EVENTS = ("interaction.ended", "interaction.wrapped_up")
EVENTS = TICKET_EVENTS + INTERACTION_EVENTS


class State(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Policy:
    max_attempts: int = 8
    min_delay: float = 5.0
    max_delay: float = 3600.0


@dataclass(frozen=True, slots=True)
class Answer:
    """What one attempt got: an HTTP status, or ``None`` with the error (timeout, connection)."""

    status: int | None
    error: str = ""
    retry_after: float | None = None
    permanent: bool = False  # refused for good without an HTTP status (an SMTP 5xx): not retried


@dataclass(frozen=True, slots=True)
class Verdict:
    state: State
    next_at: float | None  # when the next attempt is due (pending only)
    reason: str


def backoff(attempts: int, policy: Policy) -> float:
    """The delay after attempt number ``attempts`` (1-based): doubling from ``min_delay``, capped."""
    return float(min(policy.max_delay, policy.min_delay * 2.0 ** max(0, attempts - 1)))


def retryable(answer: Answer) -> bool:
    if answer.permanent:
        return False
    if answer.status is None:
        return True
    return answer.status >= 500 or answer.status in (408, 429)


def judge(answer: Answer, attempts: int, at: float, policy: Policy) -> Verdict:
    """The delivery after its attempt number ``attempts`` (1-based) was answered ``answer`` at ``at``."""
    if answer.status is not None and 200 <= answer.status < 300:
        return Verdict(State.DELIVERED, None, f"HTTP {answer.status}")
    reason = f"HTTP {answer.status}" if answer.status is not None else (answer.error or "no answer")
    if not retryable(answer):
        return Verdict(State.FAILED, None, f"{reason}: refused, not retried")
    if attempts >= policy.max_attempts:
        return Verdict(State.FAILED, None, f"{reason}: gave up after {attempts} attempts")
    delay = backoff(attempts, policy)
    if answer.retry_after is not None and answer.retry_after > 0:
        delay = max(delay, min(policy.max_delay, answer.retry_after))
    return Verdict(State.PENDING, at + delay, f"{reason}: retried in {delay:g} s")

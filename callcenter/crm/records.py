"""What the webhooks' API reads and does, as it sees it: records and the port the store
implements. The web layer depends on these, never on the store (tests/unit/test_architecture.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Attempt:
    at: datetime
    status: int | None  # the receiver's HTTP status; None: no answer (``error`` says why)
    error: str
    seconds: float


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    id: int
    subscription: str
    event: str
    event_id: str  # the body's "id": the same for every subscription and every attempt
    created_at: datetime
    state: str  # pending | delivered | failed
    attempts: int  # in the current round (a redelivery starts a new one)
    next_at: datetime | None  # pending: when the next attempt is due
    last_status: int | None
    last_error: str | None
    finished_at: datetime | None
    log: tuple[Attempt, ...]  # every attempt, all rounds, oldest first


class DeliveryLog(Protocol):
    async def find(
        self,
        *,
        state: str | None = None,
        subscription: str | None = None,
        event: str | None = None,
        before: int | None = None,
        limit: int = 50,
    ) -> list[DeliveryRecord]: ...

    async def get(self, delivery_id: int) -> DeliveryRecord | None: ...

    async def redeliver(self, delivery_id: int, now: float) -> bool: ...


class FieldTimes(Protocol):
    """The conflict rule's memory for customers (a ticket keeps its own)."""

    async def field_times(self, entity: str, entity_id: str) -> dict[str, datetime]: ...

    async def set_field_times(
        self, entity: str, entity_id: str, fields: Sequence[str], at: datetime
    ) -> None: ...

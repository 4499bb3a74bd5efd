"""What the voice adapter knows of Asterisk's channels, shared by its parts.

Invariants: a caller's uniqueid maps to at most one interaction (``callers``); an agent leg is keyed
by the uniqueid we chose for it when originating it (``<interaction>-<attempt>``, ``-cb<n>``,
``-consult<n>``, ``-conf<n>``), so its events map back without guessing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class AsteriskSnapshot:
    """What Asterisk says is live right now (after a (re)connect)."""

    channels: frozenset[str]  # channel names
    uniqueids: frozenset[str]
    registered: frozenset[str]  # endpoint names with at least one contact
    endpoints: frozenset[str]  # every PJSIP endpoint Asterisk knows
    # Callers Asterisk has waiting for an agent (cc-wait) by the interaction id their FastAGI session
    # set: after a failover the new owner may know them unqueued, or not at all (the old owner died
    # before storing them). Each with what Asterisk knows of it.
    waiting: Mapping[str, WaitingCaller] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WaitingCaller:
    queue: str  # CC_QUEUE, as the IVR set it
    channel: str
    caller_number: str
    since: float  # seconds the channel has been up


@dataclass(slots=True)
class AgentLeg:
    interaction_id: str
    agent_id: str
    channel: str | None = None
    cancelled: bool = False
    ended: bool = False  # its HangupRequest was seen (or its end was ours: a transfer, a hang-up)


@dataclass(slots=True)
class VoiceState:
    callers: dict[str, str] = field(default_factory=dict)  # caller uniqueid -> interaction id
    legs: dict[str, AgentLeg] = field(default_factory=dict)  # agent leg uniqueid -> leg
    contacts: dict[str, set[str]] = field(default_factory=dict)  # AOR -> its registered contact URIs
    # Contact changes seen as events, counted; AOR -> the count at its last one. A reconcile
    # keeps an AOR whose change came after it asked for the endpoints (the newer word).
    contact_changes: int = 0
    contact_changed: dict[str, int] = field(default_factory=dict)

    def callers_of(self, interaction_id: str) -> list[str]:
        return [uid for uid, iid in self.callers.items() if iid == interaction_id]


class Tasks:
    """The adapter's background tasks: spawned without waiting, all cancelled at stop."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def cancel_all(self) -> None:
        pending = list(self._tasks)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

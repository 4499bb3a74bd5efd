"""The service hands queue commands (callbacks, announcements, exits) to a voice adapter that can
do them, and only logs them otherwise; a queue reload re-routes waiting callers."""

from __future__ import annotations

import pytest

from callcenter.core import events as ev
from callcenter.core.acd import queues as qs
from callcenter.core.acd.agents import Agent
from callcenter.core.acd.engine import Acd, AcdConfig
from callcenter.core.commands import Announce, CancelDial, DialAgent, DialCustomer, ExitQueue
from callcenter.core.interaction import Interaction
from callcenter.service import CallCenter


class MemoryStore:
    async def save_interaction(self, interaction: Interaction) -> None:
        pass

    async def get_interaction(self, interaction_id: str) -> Interaction | None:
        return None

    async def recent_interactions(self, limit: int = 50, *, queues: object = None) -> list[Interaction]:
        return []

    async def add_notice(self, notice: object) -> None:
        pass


class Voice:
    def __init__(self) -> None:
        self.dials: list[DialAgent | CancelDial] = []
        self.queue_commands: list[DialCustomer | Announce | ExitQueue] = []

    def execute(self, command: DialAgent | CancelDial) -> None:
        self.dials.append(command)

    def execute_queue(self, command: DialCustomer | Announce | ExitQueue) -> None:
        self.queue_commands.append(command)


def make(queue: qs.Queue) -> tuple[CallCenter, Voice]:
    engine = Acd(
        AcdConfig(), [Agent(id="a", extension="a", queues=frozenset({"s"}), skills={"x": 1})], {"s": queue}
    )
    service = CallCenter(engine, MemoryStore(), clock=lambda: 100.0)
    voice = Voice()
    service.dialer = voice
    return service, voice


async def test_queue_commands_reach_a_voice_adapter_that_has_them() -> None:
    service, voice = make(
        qs.Queue("s", announce_every=30, max_wait=60, exit=qs.QueueExit(qs.ExitKind.VOICEMAIL))
    )
    service.handle(ev.CallArrived("c", "1", "", "5000", "PJSIP/c", 0.0))
    service.handle(ev.IvrFinished("c", "1", "s", 0.0))
    service.handle(ev.Tick(30.0))
    service.handle(ev.Tick(60.0))
    assert [type(c) for c in voice.queue_commands] == [Announce, ExitQueue]


async def test_without_the_adapter_side_they_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    service, _ = make(qs.Queue("s", announce_every=30))
    service.dialer = None
    service.handle(ev.CallArrived("c", "1", "", "5000", "PJSIP/c", 0.0))
    service.handle(ev.IvrFinished("c", "1", "s", 0.0))
    service.handle(ev.Tick(30.0))
    assert "service.not_wired" in caplog.text


async def test_reload_routes_waiting_callers_again() -> None:
    service, voice = make(qs.Queue("s", skills={"x": 2}))
    service.handle(ev.AgentRegistered("a", 0.0))
    service.handle(ev.CallArrived("c", "1", "", "5000", "PJSIP/c", 1.0))
    service.handle(ev.IvrFinished("c", "1", "s", 1.0))
    assert not voice.dials
    service.reload_queues({"s": qs.Queue("s", skills={"x": 1})})
    assert [type(c) for c in voice.dials] == [DialAgent]

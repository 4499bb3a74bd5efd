"""The load bench in short: five concurrent calls from a second Asterisk (the load generator of
bench/load.py) through the menu, the queue, an agent and recording, and nothing left behind.

The generator's callers dial over a loopback trunk and press 1 as RFC 4733 telephone events; it
also registers as every agent's phone and answers. Behaviour only (bench/load.py measures speed):
every call reached its own agent, was recorded (three tracks stored), every record is closed as
answered, no channel is left.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.load_generator import CallPlan, GeneratorSandbox, LoadCalls, channel_count, contact_count
from tests.conftest import config_with, instance, port, settings_from

pytestmark = pytest.mark.asterisk

CALLS = 5
TRACKS = ("mixed", "caller", "agent")
AGENTS = [{"id": f"{1001 + n}", "extension": f"{1001 + n}", "queues": ["support"]} for n in range(CALLS)]


@pytest.fixture
def generator(asterisk: Any) -> Iterator[GeneratorSandbox]:
    settings = settings_from(
        config_with(
            asterisk={
                "sandbox_instance": instance("loadgen-t"),
                "sip_port": port(23060),
                "ami_port": port(23038),
                "rtp_port_start": port(23100),
                "rtp_port_end": port(23399),
                "ami_username": "load",
            },
            agents=AGENTS,
        )
    )
    sandbox = GeneratorSandbox(settings, server_sip_port=asterisk.settings.asterisk.sip_port)
    sandbox.down()
    sandbox.forget_state()
    sandbox.up(timeout=120)
    yield sandbox
    # Leave the test instance as the next test expects it: no agent registered.
    # (If one is left, the next test's fixture restarts the instance: conftest.py.)
    sandbox.cli("pjsip send unregister *all")
    deadline = time.monotonic() + 5
    while contact_count(asterisk) and time.monotonic() < deadline:
        time.sleep(0.1)
    sandbox.down()


def ami(sandbox: Any) -> tuple[str, int, str, str]:
    s = sandbox.settings.asterisk
    return s.host, s.ami_port, s.ami_username, s.ami_secret.get_secret_value()


async def test_concurrent_generated_calls_reach_agents_and_leave_nothing_open(
    asterisk: Any, generator: GeneratorSandbox, server_factory: Any, tmp_path: Path
) -> None:
    server = server_factory(agents=AGENTS, recordings={"settle_seconds": 0.5}).start()
    server.wait_until(lambda: contact_count(asterisk) >= CALLS, 60, "the generator's agent registrations")
    server.wait_until(
        lambda: all(a["state"] == "available" for a in server.api("GET", "/api/agents")[1]["agents"]),
        30,
        "every agent available",
    )
    s = asterisk.settings.asterisk
    plan = CallPlan(inbound_number=s.inbound_number, trunk_username=s.trunk_username, talk_seconds=3)
    calls = LoadCalls(ami(generator), ami(asterisk), plan, [a["extension"] for a in AGENTS])
    await calls.start()
    try:
        traces = [await calls.call() for _ in range(CALLS)]
        await asyncio.wait_for(asyncio.gather(*(t.done.wait() for t in traces)), 150)
    finally:
        await calls.stop()

    assert [t.failure for t in traces] == [None] * CALLS
    assert all(t.completed and t.key_at is not None for t in traces)
    # Five callers at once, five free agents: each call went to an agent of its own.
    agents = {re.sub(r"-[0-9a-f]+$", "", t.agent_channel or "") for t in traces}
    assert agents == {f"PJSIP/{a['extension']}" for a in AGENTS}

    ids = {t.id for t in traces}

    def records() -> list[dict[str, Any]]:
        status, body = server.api("GET", "/api/interactions?limit=50")
        assert status == 200, body
        return [r for r in body["interactions"] if r["caller_name"] in ids]

    server.wait_until(lambda: len(records()) == CALLS and all(r["outcome"] for r in records()), 30, "records")
    assert sorted(r["outcome"] for r in records()) == ["answered"] * CALLS
    assert {r["caller_channel"] for r in records()} == {t.srv_channel for t in traces}
    assert {r["agent_id"] for r in records()} == {a["id"] for a in AGENTS}
    stored = tmp_path / "recordings"  # the server's working directory is tmp_path
    server.wait_until(
        lambda: all((stored / f"{r['id']}.{track}.json").exists() for r in records() for track in TRACKS),
        30,
        "every call's recording stored",
    )

    server.wait_until(lambda: channel_count(asterisk) == 0, 30, "no channel left on the server's Asterisk")
    assert channel_count(generator) == 0

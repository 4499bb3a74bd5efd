"""Helpers shared by the end-to-end call tests: phones on the test ports, API polling."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

from pyVoIP.VoIP import VoIPCall

from tests.conftest import ServerProcess, port
from tests.sip import CallAudio, Phone, goertzel, level, wait_for

CALLER_FREQ, AGENT_FREQ = 440.0, 1000.0

# Every phone of a test session gets SIP and RTP ports no earlier phone had: pyVoIP leaves its
# sockets to the garbage collector, and a stale socket on a reused port can swallow the replies meant
# for the new phone.
_phones = itertools.count()


def _ports() -> tuple[int, int, int]:
    n = next(_phones) % 50
    return port(25100 + n), port(27000 + 20 * n), port(27000 + 20 * n + 18)


def agent_phone(asterisk: Any, ext: str, *, answer: bool = True) -> Phone:
    s = asterisk.settings.asterisk
    return Phone(
        s.sip_port,
        ext,
        s.agent_password.get_secret_value(),
        *_ports(),
        answer=answer,
        send_freq=AGENT_FREQ,
    )


def caller_phone(asterisk: Any, *, answer: bool = False) -> Phone:
    """The customer's phone, on the sandbox trunk; ``answer``: it picks up calls to it (callbacks)."""
    s = asterisk.settings.asterisk
    return Phone(
        s.sip_port,
        s.trunk_username,
        s.trunk_password.get_secret_value(),
        *_ports(),
        answer=answer,
        send_freq=CALLER_FREQ,
    )


def latest_interaction(server: ServerProcess) -> dict[str, Any] | None:
    status, body = server.api("GET", "/api/interactions?limit=1")
    assert status == 200, body
    return body["interactions"][0] if body["interactions"] else None


def wait_agent(server: ServerProcess, agent_id: str, state: str, timeout: float = 15) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        status, body = server.api("GET", f"/api/agents/{agent_id}")
        return body if status == 200 and body["state"] == state else None

    return server.wait_until(check, timeout, f"agent {agent_id} {state}")  # type: ignore[no-any-return]


def dominant(audio: bytes, mine: float, theirs: float) -> float:
    return goertzel(audio, theirs) / max(goertzel(audio, mine), 1e-9)


def call_in(caller: Phone, sandbox: Any, digits: str = "") -> tuple[VoIPCall, CallAudio]:
    """Dial the inbound number, wait until the menu prompt is heard, then press ``digits``."""
    call, heard = caller.dial(sandbox.settings.asterisk.inbound_number)
    answered = time.monotonic()
    wait_for(lambda: level(heard.heard_since(answered)) > 3, 10, "the menu prompt")
    if digits:
        caller.press(heard, digits)
    return call, heard


def ended_record(server: ServerProcess, timeout: float = 20) -> dict[str, Any]:
    """The latest interaction, once it has an outcome."""

    def ended() -> dict[str, Any] | None:
        record = latest_interaction(server)
        return record if record and record["outcome"] else None

    return server.wait_until(ended, timeout, "the call record")  # type: ignore[no-any-return]


def latest_record_where(
    server: ServerProcess, check: Callable[[dict[str, Any]], bool], what: str, timeout: float = 10
) -> dict[str, Any]:
    """The latest interaction once ``check`` holds for it. The record is read from the database,
    which the engine's live state (e.g. an agent's "busy") is ahead of by a commit or two."""

    def matches() -> dict[str, Any] | None:
        record = latest_interaction(server)
        return record if record is not None and check(record) else None

    return server.wait_until(matches, timeout, what)  # type: ignore[no-any-return]


def queued_record(server: ServerProcess, timeout: float = 15) -> dict[str, Any]:
    """The latest interaction, once it is waiting in a queue."""

    def queued() -> dict[str, Any] | None:
        record = latest_interaction(server)
        return record if record and record["queued_at"] else None

    return server.wait_until(queued, timeout, "the caller in line")  # type: ignore[no-any-return]

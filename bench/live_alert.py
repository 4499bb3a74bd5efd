"""Emergency-word alerts: from the word said on a real call to the supervisor's socket, live vs offline.

Makes ``--calls`` real calls through its own sandbox instance ("benchlive", ports 31xxx): a pyVoIP
caller reaches agent 1001 through the menu; once the call is up, the caller says two flite sentences
that end on an emergency word ("... an ambulance", "... my lawyer"), a few seconds apart, then hangs
up. A supervisor's Socket.IO client (``/supervisor``) records every ``alert``:

- **live**: the alert raised from the live transcript while the call is up (``live: true``): time
  from the end of the sentence (its last sample played by the phone) to the alert on the socket.
  It includes the phone's RTP, Asterisk's ChanSpy fork into AudioSocket, the worker's endpointer
  (0.3 s of silence), recognition, the QA rules and the Socket.IO emit.
- **offline**: the alert of the same word from the recording, transcribed after the call (what a
  centre without live transcription gets): from the same end of sentence to its alert.

    .venv/bin/python bench/live_alert.py [--calls 5]

Needs root (its own sandbox instance) and nothing else on ports 31xxx. Traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import socketio

from callcenter.asterisk.sandbox import AsteriskSandbox
from tests.conftest import ADMIN_TOKEN, ServerProcess, config_with, settings_from
from tests.sip import Phone, level, wait_for

KEY = base64.b64encode(os.urandom(32)).decode()
SENTENCES = [("please send an ambulance", "ambulance"), ("i am going to call my lawyer", "lawyer")]
RULES = 'emergency_words: ["ambulance", "lawyer"]\n'
BENCH: dict[str, Any] = {
    "asterisk": {
        "sandbox_instance": "benchlive",
        "sip_port": 31060,
        "ami_port": 31038,
        "rtp_port_start": 31100,
        "rtp_port_end": 31499,
    },
    "agi": {"port": 31573},
    "http": {"port": 31080},
    "logging": {"level": "INFO", "format": "json"},
    "acd": {"ring_timeout": 10},
    "agents": [{"id": "1001", "extension": "1001", "queues": ["support"]}],
    "recordings": {"encryption_key": KEY, "settle_seconds": 0.5},
    "live": {"enabled": True, "port": 31575, "partial_seconds": 0.5},
}
WAIT = 30.0  # seconds for an alert before it counts as missed


def phone_pcm(text: str, directory: Path, name: str) -> bytes:
    """flite speech as pyVoIP plays it: 8 kHz, 8-bit unsigned, mono (one byte a sample)."""
    wide, raw = directory / f"{name}.wav", directory / f"{name}.raw"
    subprocess.run(["flite", "-voice", "slt", "-t", text, "-o", str(wide)], check=True)
    subprocess.run(
        ["sox", "-D", str(wide), "-r", "8000", "-c", "1", "-b", "8", "-e", "unsigned-integer", str(raw)],
        check=True,
    )
    return raw.read_bytes()


class Board:
    """The supervisor's socket: every alert, with the time it arrived."""

    def __init__(self) -> None:
        self.alerts: list[tuple[float, dict[str, Any]]] = []
        self.arrived = asyncio.Event()
        self.client = socketio.AsyncClient(reconnection=False)
        self.client.on("alert", self._alert, namespace="/supervisor")

    def _alert(self, payload: dict[str, Any]) -> None:
        self.alerts.append((time.monotonic(), payload))
        self.arrived.set()

    def first(self, interaction: str, word: str, live: bool) -> float | None:
        for at, a in self.alerts:
            if (a.get("interaction_id"), a.get("word"), bool(a.get("live"))) == (interaction, word, live):
                return at
        return None

    async def until(self, done: Callable[[], bool], deadline: float) -> None:
        """Until ``done()`` (checked at each alert) or the deadline (monotonic)."""
        while not done() and time.monotonic() < deadline:
            self.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), deadline - time.monotonic())


async def one_call(
    server: ServerProcess,
    sandbox: AsteriskSandbox,
    caller: Phone,
    agent: Phone,
    board: Board,
    pcm: list[bytes],
) -> tuple[str, list[float]]:
    """Returns the call's interaction id and, per sentence, when its last sample was played."""
    before = len(agent.incoming)
    call, heard = caller.dial(sandbox.settings.asterisk.inbound_number)
    answered = time.monotonic()
    await asyncio.to_thread(wait_for, lambda: level(heard.heard_since(answered)) > 3, 10, "the menu prompt")
    caller.press(heard, "1")
    await asyncio.to_thread(
        wait_for, lambda: len(agent.incoming) > before and id(agent.incoming[-1]) in agent.audio, 20, "agent"
    )
    await asyncio.to_thread(
        wait_for, lambda: server.api("GET", "/api/agents/1001")[1].get("state") == "busy", 15, "agent busy"
    )
    interaction: str = server.api("GET", "/api/interactions?limit=1")[1]["interactions"][0]["id"]
    await asyncio.sleep(1.5)  # the forks connect (AMI Originate, ChanSpy into AudioSocket)
    ends = []
    for (_, word), audio in zip(SENTENCES, pcm, strict=True):
        heard.send(audio)
        end = time.monotonic() + len(audio) / 8000
        ends.append(end)
        await board.until(lambda w=word: board.first(interaction, w, True) is not None, end + WAIT)
        await asyncio.sleep(max(0.0, end + 1.0 - time.monotonic()))
    call.hangup()
    return interaction, ends


async def run(sandbox: AsteriskSandbox, workdir: Path, calls: int) -> int:
    rules = workdir / "qa_rules.yaml"
    rules.write_text(RULES)
    server = ServerProcess(
        config_with(
            **BENCH,
            database={"url": f"sqlite+aiosqlite:///{workdir}/bench.db"},
            transcription={"enabled": True, "qa_rules": str(rules)},
        ),
        workdir,
    )
    server.start()
    s = sandbox.settings.asterisk
    agent = Phone(s.sip_port, "1001", s.agent_password.get_secret_value(), 31600, 31610, 31648, answer=True)
    caller = Phone(s.sip_port, s.trunk_username, s.trunk_password.get_secret_value(), 31601, 31650, 31698)
    agent.send_freq = caller.send_freq = None  # silence between sentences
    pcm = [phone_pcm(text, workdir, f"s{n}") for n, (text, _) in enumerate(SENTENCES)]
    board = Board()
    done: list[tuple[str, list[float]]] = []
    try:
        server.wait_until(
            lambda: "live.worker_ready" in server.log_path.read_text(errors="replace"), 120, "live worker"
        )
        await board.client.connect(
            server.url, namespaces=["/supervisor"], auth={"token": ADMIN_TOKEN}, transports=["websocket"]
        )
        agent.start()
        caller.start()

        def available() -> bool:
            return bool(server.api("GET", "/api/agents/1001")[1].get("state") == "available")

        await asyncio.to_thread(wait_for, available, 20, "agent")
        for n in range(calls):
            done.append(await one_call(server, sandbox, caller, agent, board, pcm))
            await asyncio.to_thread(wait_for, available, 20, "the call to end")
            print(f"  call {n + 1}/{calls} done", file=sys.stderr)
        # The offline alerts: the recordings are transcribed after each call.
        await board.until(
            lambda: all(board.first(i, w, False) is not None for i, _ in done for _, w in SENTENCES),
            time.monotonic() + 60 + 20 * calls,
        )
    finally:
        await board.client.disconnect()
        caller.stop()
        agent.stop()
        server.stop()
    return report(done, board)


def report(done: list[tuple[str, list[float]]], board: Board) -> int:
    live: list[float] = []
    offline: list[float] = []
    missed = {"live": 0, "offline": 0}
    for interaction, ends in done:
        for (_, word), end in zip(SENTENCES, ends, strict=True):
            for kind, into in (("live", live), ("offline", offline)):
                at = board.first(interaction, word, kind == "live")
                if at is None:
                    missed[kind] += 1
                else:
                    into.append(at - end)
    said = len(done) * len(SENTENCES)
    print(f"\n{len(done)} calls, {said} emergency words said (slt voice, G.711 over RTP)\n")
    print(f"{'path':<10} {'alerts':>8} {'p50':>8} {'p95':>8} {'max':>8}")
    for kind, values in (("live", live), ("offline", offline)):
        if values:
            p95 = statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else values[0]
            print(
                f"{kind:<10} {len(values):>4}/{said:<3} {statistics.median(values):>7.2f}s {p95:>7.2f}s "
                f"{max(values):>7.2f}s"
            )
        else:
            print(f"{kind:<10} {0:>4}/{said:<3}        -        -        -")
    print(f"missed: live {missed['live']}, offline {missed['offline']}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=5)
    args = parser.parse_args()
    sandbox = AsteriskSandbox(settings_from(config_with(**BENCH)))
    sandbox.fresh()
    try:
        with tempfile.TemporaryDirectory(prefix="cc-bench-alert-") as tmp:
            return asyncio.run(run(sandbox, Path(tmp), args.calls))
    finally:
        sandbox.down()


if __name__ == "__main__":
    sys.exit(main())

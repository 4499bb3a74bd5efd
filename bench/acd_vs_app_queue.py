"""Our ACD against Asterisk's app_queue on the same sandbox, in one run.

What is timed, for both: from the caller's menu key reaching Asterisk (AMI ``DTMFEnd`` on the caller's
channel) to the agent's phone being dialled (AMI ``Newchannel`` of ``PJSIP/<agent>``). Both paths
run the same FastAGI menu on our server; then either our ACD originates the agent leg (number 5000)
or the dialplan runs ``Queue()`` and app_queue rings its member (number 5900). Both include the
FastAGI round trip. app_queue's own ``QueueCallerJoin`` -> ``AgentCalled`` is printed too, for
reference, as is our engine's in-process decision time (from /metrics).

    .venv/bin/python bench/acd_vs_app_queue.py [--calls 20]

Needs root (it starts its own sandbox instance "bench", ports 29xxx) and nothing else running on
those ports. Traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from panoramisk import Manager

from callcenter.asterisk.sandbox import AsteriskSandbox
from tests.conftest import ServerProcess, config_with, settings_from
from tests.sip import Phone, level, wait_for

BENCH = {
    "asterisk": {
        "sandbox_instance": "bench",
        "sip_port": 29060,
        "ami_port": 29038,
        "rtp_port_start": 29100,
        "rtp_port_end": 29499,
    },
    "agi": {"port": 29573},
    "http": {"port": 29080},
    "logging": {"level": "INFO"},
    "acd": {"ring_timeout": 10},
}
AGENT = "1001"


class Observer:
    """A second AMI session that timestamps the events we measure, as they arrive."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.events: list[tuple[float, str, dict[str, str]]] = []
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()
        if not self.ready.wait(15):
            raise RuntimeError("the observer could not log in to AMI")

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        s = self.settings.asterisk
        manager = Manager(
            loop=self.loop,
            host=s.host,
            port=s.ami_port,
            username=s.ami_username,
            secret=s.ami_secret.get_secret_value(),
            ping_delay=60,
        )

        def keep(_: Any, message: Any) -> None:
            if message.event in ("DTMFEnd", "Newchannel", "QueueCallerJoin", "AgentCalled"):
                self.events.append((time.monotonic(), message.event, dict(message)))

        manager.register_event("*", keep)
        manager.on_login = lambda _m: self.ready.set()
        manager.connect()
        self.loop.run_forever()

    def since(self, t0: float) -> list[tuple[float, str, dict[str, str]]]:
        return [e for e in list(self.events) if e[0] >= t0]


def one_call(caller: Phone, observer: Observer, number: str) -> tuple[float, float | None]:
    """Place a call, choose 1, wait for the agent leg; return (key->dial, join->AgentCalled)."""
    t0 = time.monotonic()
    call, heard = caller.dial(number)
    answered = time.monotonic()
    wait_for(lambda: level(heard.heard_since(answered)) > 3, 10, "the menu prompt")
    caller.press(heard, "1")

    def agent_leg() -> tuple[float, dict[str, str]] | None:
        for t, name, data in observer.since(t0):
            if name == "Newchannel" and data.get("Channel", "").startswith(f"PJSIP/{AGENT}-"):
                return t, data
        return None

    wait_for(agent_leg, 15, "the agent's phone to be dialled")
    dialled_at = agent_leg()[0]  # type: ignore[index]
    keys = [
        t
        for t, name, d in observer.since(t0)
        if name == "DTMFEnd"
        and d.get("Channel", "").startswith("PJSIP/caller-")
        and d.get("Direction") == "Received"
    ]
    joined = [t for t, name, _ in observer.since(t0) if name == "QueueCallerJoin"]
    called = [t for t, name, _ in observer.since(t0) if name == "AgentCalled"]
    call.hangup()
    time.sleep(1.0)  # let the abandoned call and the cancelled ring settle
    if not keys:
        raise AssertionError("no DTMFEnd seen for the caller's key")
    internal = called[0] - joined[0] if joined and called else None
    return dialled_at - keys[-1], internal


def phase(sandbox: AsteriskSandbox, workdir: Path, *, ours: bool, calls: int) -> dict[str, list[float]]:
    # For app_queue the server runs only the menu: with no agents our ACD never dials anybody.
    agents = [{"id": AGENT, "extension": AGENT, "queues": ["support"]}] if ours else []
    server = ServerProcess(
        config_with(
            **BENCH,
            agents=agents,
            database={"url": f"sqlite+aiosqlite:///{workdir}/{'ours' if ours else 'appq'}.db"},
        ),
        workdir,
    )
    server.start()
    s = sandbox.settings.asterisk
    base = 29600 if ours else 29700
    agent = Phone(s.sip_port, AGENT, s.agent_password.get_secret_value(), base, base + 10, base + 48)
    caller = Phone(
        s.sip_port,
        s.trunk_username,
        s.trunk_password.get_secret_value(),
        base + 1,
        base + 50,
        base + 98,
        send_freq=440.0,
    )
    observer = Observer(sandbox.settings)
    results: dict[str, list[float]] = {"key_to_dial": [], "join_to_called": []}
    try:
        agent.start()
        caller.start()
        if ours:
            wait_for(
                lambda: server.api("GET", f"/api/agents/{AGENT}")[1].get("state") == "available",
                15,
                "the agent available",
            )
        number = sandbox.settings.asterisk.inbound_number if ours else "5900"
        for n in range(calls):
            latency, internal = one_call(caller, observer, number)
            results["key_to_dial"].append(latency)
            if internal is not None:
                results["join_to_called"].append(internal)
            print(
                f"  {'ours' if ours else 'app_queue'} call {n + 1}/{calls}: {latency * 1000:.1f} ms",
                file=sys.stderr,
            )
        if ours:
            metrics = server.api("GET", "/metrics", token=None)[1]
            results["engine"] = _histogram_mean(str(metrics), "callcenter_engine_event_seconds")
    finally:
        caller.stop()
        agent.stop()
        server.stop()
    return results


def _histogram_mean(text: str, name: str) -> list[float]:
    values = {}
    for line in text.splitlines():
        for suffix in ("_sum", "_count"):
            if line.startswith(name + suffix + " "):
                values[suffix] = float(line.split()[1])
    return [values["_sum"] / values["_count"]] if values.get("_count") else []


def summary(values: list[float]) -> str:
    if not values:
        return "n/a"
    ms = sorted(v * 1000 for v in values)
    p90 = ms[min(len(ms) - 1, round(0.9 * (len(ms) - 1)))]
    return f"p50 {statistics.median(ms):7.1f} ms   p90 {p90:7.1f} ms   max {ms[-1]:7.1f} ms   (n={len(ms)})"


def main() -> int:
    logging.getLogger("panoramisk").setLevel(logging.CRITICAL)  # the observer's reconnect chatter
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    sandbox = AsteriskSandbox(settings_from(config_with(**BENCH)))
    sandbox.fresh()
    try:
        with tempfile.TemporaryDirectory(prefix="cc-bench-") as tmp:
            ours = phase(sandbox, Path(tmp), ours=True, calls=args.calls)
            theirs = phase(sandbox, Path(tmp), ours=False, calls=args.calls)
    finally:
        sandbox.down()
    print("\nCaller's menu key (DTMFEnd) -> agent's phone dialled (Newchannel), same sandbox, same menu:")
    print(f"  our ACD (5000):    {summary(ours['key_to_dial'])}")
    print(f"  app_queue (5900):  {summary(theirs['key_to_dial'])}")
    ratio = statistics.median(ours["key_to_dial"]) / statistics.median(theirs["key_to_dial"])
    print(f"  ratio ours/app_queue (p50): {ratio:.2f}x")
    print(f"\napp_queue internal QueueCallerJoin -> AgentCalled: {summary(theirs['join_to_called'])}")
    if ours.get("engine"):
        print(f"our engine, mean time per event (in process): {ours['engine'][0] * 1e6:.1f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())

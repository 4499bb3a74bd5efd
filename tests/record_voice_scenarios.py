"""Re-record the voice scenarios the replay tests play (tests/data/voice/*.jsonl).

Drives the real sandbox Asterisk with pyVoIP phones and a real server (``callcenter serve`` with
``asterisk.session_recordings`` set), one scenario at a time, and copies each server run's recording
into tests/data/voice/<scenario>[.<run>].jsonl. Run it after a change that makes the voice adapter
send other actions (the replay tests then say which action they expected):

    CC_TEST_SLOT=1 .venv/bin/python -m tests.record_voice_scenarios            # all of them
    CC_TEST_SLOT=1 .venv/bin/python -m tests.record_voice_scenarios hold_resume

It uses the slot's test sandbox instance (as pytest does) and its own temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.calls import (
    agent_phone,
    call_in,
    caller_phone,
    ended_record,
    latest_record_where,
    queued_record,
    wait_agent,
)
from tests.conftest import AGENT_TOKEN, ServerProcess, config_with, settings_from
from tests.sip import Phone, wait_for

DATA = Path(__file__).parent / "data" / "voice"


class Scenario:
    def __init__(self, sandbox: Any, workdir: Path) -> None:
        self.sandbox = sandbox
        self.workdir = workdir
        self.sessions = workdir / "sessions"
        self.phones: list[Phone] = []

    def server(self, **overrides: Any) -> ServerProcess:
        # No call recording: its path depends on the sandbox instance (the test slot), and the
        # replay tests must match the recorded Originate on any slot.
        config = config_with(
            asterisk={"session_recordings": str(self.sessions)}, recordings={"enabled": False}, **overrides
        )
        config.setdefault("database", {"url": f"sqlite+aiosqlite:///{self.workdir}/callcenter.db"})
        return ServerProcess(config, self.workdir)

    def agent(self, ext: str) -> Phone:
        phone = agent_phone(self.sandbox, ext).start()
        self.phones.append(phone)
        return phone

    def caller(self) -> Phone:
        phone = caller_phone(self.sandbox).start()
        self.phones.append(phone)
        return phone

    def recordings(self) -> list[Path]:
        return sorted(self.sessions.glob("session-*.jsonl"), key=lambda p: p.stat().st_mtime)


def panel(server: ServerProcess, event: str, data: dict[str, Any]) -> Any:
    """One action from the agent's panel (Socket.IO /agent, as the page sends it)."""
    import socketio

    async def run() -> Any:
        sio = socketio.AsyncClient(reconnection=False)
        await sio.connect(
            server.url, namespaces=["/agent"], auth={"token": AGENT_TOKEN}, transports=["websocket"]
        )
        try:
            return await sio.call(event, data, namespace="/agent", timeout=15)
        finally:
            await sio.disconnect()

    return asyncio.run(run())


def hang_up(call: Any, agent: Phone) -> None:
    """The caller hangs up; pyVoIP sometimes lost track of the call's state (then the agent does)."""
    from pyVoIP.VoIP import InvalidStateError

    try:
        call.hangup()
    except InvalidStateError:
        agent.incoming[-1].hangup()


def answered_by(server: ServerProcess, agent_id: str) -> str:
    wait_agent(server, agent_id, "busy", timeout=30)
    record = latest_record_where(server, lambda r: r["agent_id"] == agent_id, f"{agent_id} answering")
    return str(record["id"])


# -- the scenarios -----------------------------------------------------------------------------


def inbound_answer(s: Scenario) -> None:
    """A caller presses 1, waits, agent 1001 answers, they talk, the caller hangs up."""
    server = s.server().start()
    try:
        s.agent("1001")
        wait_agent(server, "1001", "available")
        call, _ = call_in(s.caller(), s.sandbox, "1")
        answered_by(server, "1001")
        time.sleep(1.5)
        call.hangup()
        assert ended_record(server)["outcome"] == "answered"
    finally:
        server.stop()


def restart_reconcile(s: Scenario) -> None:
    """A caller waits; the server is killed; the restarted one finds the caller in Asterisk
    (reconcile) and gives it to agent 1001 when it registers. Two recordings: .1 and .2."""
    server = s.server().start()
    try:
        call, _ = call_in(s.caller(), s.sandbox, "1")
        queued_record(server)
        time.sleep(0.5)
        server.stop(signal.SIGKILL)
        server.start()
        agent = s.agent("1001")
        answered_by(server, "1001")
        time.sleep(1.0)
        hang_up(call, agent)
        assert ended_record(server)["outcome"] == "answered"
    finally:
        server.stop()


def hold_resume(s: Scenario) -> None:
    server = s.server().start()
    try:
        s.agent("1001")
        wait_agent(server, "1001", "available")
        call, _ = call_in(s.caller(), s.sandbox, "1")
        iid = answered_by(server, "1001")
        time.sleep(1.0)
        assert panel(server, "call_hold", {"interaction_id": iid, "held": True})["ok"]
        time.sleep(1.5)
        assert panel(server, "call_hold", {"interaction_id": iid, "held": False})["ok"]
        time.sleep(1.5)
        call.hangup()
        ended_record(server)
    finally:
        server.stop()


def _two_agents(s: Scenario, server: ServerProcess) -> tuple[Any, str, Phone]:
    s.agent("1001")
    wait_agent(server, "1001", "available")
    call, _ = call_in(s.caller(), s.sandbox, "1")
    iid = answered_by(server, "1001")
    second = s.agent("1002")
    wait_agent(server, "1002", "available")
    return call, iid, second


def blind_transfer(s: Scenario) -> None:
    server = s.server().start()
    try:
        call, iid, second = _two_agents(s, server)
        assert panel(server, "call_transfer", {"interaction_id": iid, "to_agent": "1002"})["ok"]
        wait_for(lambda: second.incoming and second.audio, 20, "the second agent answering")
        wait_agent(server, "1002", "busy", timeout=20)
        time.sleep(1.5)
        call.hangup()
        ended_record(server)
    finally:
        server.stop()


def attended_transfer(s: Scenario) -> None:
    server = s.server().start()
    try:
        call, iid, second = _two_agents(s, server)
        assert panel(server, "call_consult", {"interaction_id": iid, "to_agent": "1002"})["ok"]
        wait_for(lambda: second.incoming and second.audio, 20, "the consulted agent answering")
        time.sleep(1.5)
        assert panel(server, "call_consult_end", {"interaction_id": iid, "complete": True})["ok"]
        wait_agent(server, "1002", "busy")
        time.sleep(1.5)
        call.hangup()
        ended_record(server)
    finally:
        server.stop()


def conference(s: Scenario) -> None:
    server = s.server().start()
    try:
        call, iid, second = _two_agents(s, server)
        assert panel(server, "call_conference", {"interaction_id": iid, "to_agent": "1002"})["ok"]
        wait_for(lambda: second.incoming and second.audio, 20, "the invited agent answering")
        wait_agent(server, "1002", "busy")
        time.sleep(1.5)
        assert panel(server, "call_conference_end", {"interaction_id": iid})["ok"]
        wait_agent(server, "1002", "available")
        time.sleep(1.0)
        call.hangup()
        ended_record(server)
    finally:
        server.stop()


SCENARIOS: dict[str, Callable[[Scenario], None]] = {
    "inbound_answer": inbound_answer,
    "restart_reconcile": restart_reconcile,
    "hold_resume": hold_resume,
    "blind_transfer": blind_transfer,
    "attended_transfer": attended_transfer,
    "conference": conference,
}


@contextmanager
def sandbox_up() -> Iterator[Any]:
    from callcenter.asterisk.sandbox import AsteriskSandbox

    sandbox = AsteriskSandbox(settings_from(config_with()))
    sandbox.fresh(timeout=120)
    try:
        yield sandbox
    finally:
        sandbox.down()


def no_registered_phones(sandbox: Any) -> None:
    """A phone left registered by the previous scenario would be offered calls (as in
    tests/e2e/conftest.py): restart the instance from a clean astdb."""
    found = re.search(r"Objects found: (\d+)", sandbox.cli("pjsip show contacts"))
    if found and int(found.group(1)):
        sandbox.fresh(timeout=120)


def record(name: str, sandbox: Any) -> list[Path]:
    with tempfile.TemporaryDirectory(prefix=f"record-{name}-") as tmp:
        scenario = Scenario(sandbox, Path(tmp))
        try:
            SCENARIOS[name](scenario)
        finally:
            for phone in scenario.phones:
                phone.stop()
        found = scenario.recordings()
        if not found:
            raise RuntimeError(f"{name}: the server wrote no recording")
        DATA.mkdir(parents=True, exist_ok=True)
        for old in DATA.glob(f"{name}.*jsonl"):
            old.unlink()
        written = []
        for run, path in enumerate(found, 1):
            target = DATA / (f"{name}.jsonl" if len(found) == 1 else f"{name}.{run}.jsonl")
            shutil.copyfile(path, target)
            written.append(target)
        return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", help=f"default: all of {', '.join(SCENARIOS)}")
    args = parser.parse_args(argv)
    names = args.scenarios or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    with sandbox_up() as sandbox:
        for name in names:
            no_registered_phones(sandbox)
            started = time.monotonic()
            for path in record(name, sandbox):
                lines = sum(1 for _ in path.open())
                print(f"{name}: {path} ({lines} lines, {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

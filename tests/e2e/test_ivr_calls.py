"""Real calls through a YAML flow: in-band DTMF walks the menu, an account number is typed, the
flow asks a small local HTTP server (the "CRM") about it, and the caller lands with an agent.

Prompts are rendered by text-to-speech into a directory inside the sandbox root, so the chroot's
Asterisk reads the same files the server rendered (``ivr.asterisk_prompts_dir``).
"""

from __future__ import annotations

import json
import threading
import wave
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.calls import agent_phone, call_in, caller_phone, ended_record, queued_record, wait_agent
from tests.conftest import port
from tests.sip import wait_for

pytestmark = pytest.mark.asterisk

FLOWS = Path(__file__).parent / "flows"
CRM_PORT = port(28191)
WAV_BYTES_PER_SECOND = 8000 * 2  # VoiceMail's "wav": 8 kHz, 16-bit mono, after a 44-byte header


def recorded_seconds(mailbox: Path) -> float:
    """How much sound VoiceMail's recording in progress holds (the mailbox's tmp/*.wav): it grows
    only once the greeting and the beep have played."""
    sizes = []
    for path in (mailbox / "tmp").glob("*.wav"):
        try:
            sizes.append(path.stat().st_size)
        except FileNotFoundError:  # saved to INBOX meanwhile
            continue
    return max((size - 44) / WAV_BYTES_PER_SECOND for size in sizes) if sizes else 0.0


def leave_message(mailbox: Path, seconds: float = 3.0) -> None:
    """Until the caller's tone has been recorded for ``seconds`` (more than voicemail.conf's
    minsecs = 2, or Asterisk drops the message), instead of a fixed wait for greeting and beep."""
    wait_for(lambda: recorded_seconds(mailbox) >= seconds, 40, f"{seconds:g} s of the message recorded")


def empty_mailbox(mailbox: Path) -> None:
    for old in [*mailbox.glob("INBOX/msg*"), *mailbox.glob("tmp/*")]:
        old.unlink()


class Crm(ThreadingHTTPServer):
    requests: list[str]
    answers: dict[str, Any]


@pytest.fixture
def crm() -> Iterator[Crm]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server: Crm = self.server  # type: ignore[assignment]
            server.requests.append(self.path)
            account = self.path.split("/accounts/", 1)[-1].split("?", 1)[0]
            answer = server.answers.get(account)
            body = json.dumps(answer or {"error": "unknown"}).encode()
            self.send_response(200 if answer else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = Crm(("127.0.0.1", CRM_PORT), Handler)
    server.requests, server.answers = [], {"4729": {"customer": {"name": "Ana", "vip": True}}}
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def ivr_config(asterisk: Any, tmp_path: Path) -> dict[str, Any]:
    inside = "/var/lib/callcenter/prompts-e2e"
    # The flows name the CRM at the slot-0 port; this test slot's CRM listens elsewhere.
    flows = tmp_path / "flows"
    flows.mkdir()
    for source in FLOWS.glob("*.yaml"):
        text = source.read_text().replace("127.0.0.1:28191", f"127.0.0.1:{CRM_PORT}")
        (flows / source.name).write_text(text)
    return {
        "flows_dir": str(flows),
        "entry_flow": "e2e_main",
        "prompts_dir": str(asterisk.host_path(inside)),
        "asterisk_prompts_dir": inside,
    }


def test_menu_account_lookup_and_vip_routing(
    asterisk: Any, server_factory: Any, crm: Crm, ivr_config: dict[str, Any]
) -> None:
    # The flow's VIP queue node asks for the skills billing and vip, and the caller's language is
    # always required: the agent has them all.
    skilled = [
        {
            "id": "1001",
            "extension": "1001",
            "queues": ["support"],
            "skills": {"billing": 1, "vip": 1},
            "languages": ["en"],
        }
    ]
    server = server_factory(ivr=ivr_config, agents=skilled).start(timeout=90)  # renders speech
    agent = agent_phone(asterisk, "1001").start()
    caller = caller_phone(asterisk).start()
    try:
        wait_agent(server, "1001", "available")
        # Wait for the menu prompt, press 1; then the account number, ended by '#'.
        call, heard = call_in(caller, asterisk, "1")
        caller.press(heard, "4729#")
        wait_agent(server, "1001", "busy", timeout=40)
        assert crm.requests == ["/accounts/4729?caller=caller"]
        record = queued_record(server)
        assert record["queue"] == "support" and record["priority"] == 10  # the VIP path
        call.hangup()
        record = ended_record(server)
        assert record["outcome"] == "answered" and record["agent_id"] == "1001"
        # What the flow collected travels with the interaction.
        status, story = server.api("GET", f"/api/interactions/{record['id']}")
        finished = [e for e in story["events"] if e["kind"] == "ivr_finished"]
        assert status == 200 and finished[0]["data"]["outcome"] == "queue"
        collected = finished[0]["data"]["data"]
        assert collected["account"] == "4729" and collected["customer_name"] == "Ana"
        assert collected["vip"] == "true"
    finally:
        caller.stop()
        agent.stop()


def test_lookup_failure_takes_the_failure_path(
    asterisk: Any, server_factory: Any, crm: Crm, ivr_config: dict[str, Any]
) -> None:
    crm.answers.clear()  # the CRM knows nobody: 404, so the flow goes to the plain billing queue
    server = server_factory(ivr=ivr_config).start(timeout=90)
    caller = caller_phone(asterisk).start()
    try:
        call, heard = call_in(caller, asterisk, "1")
        caller.press(heard, "5555#")
        record = queued_record(server, timeout=30)
        assert record["queue"] == "support" and record["priority"] == 0
        assert crm.requests == ["/accounts/5555?caller=caller"]
        call.hangup()
        assert ended_record(server)["outcome"] == "abandoned"
    finally:
        caller.stop()


def test_voicemail_keeps_the_callers_message(
    asterisk: Any, server_factory: Any, ivr_config: dict[str, Any]
) -> None:
    mailbox = asterisk.instance_dir / "spool" / "voicemail" / "default" / "100"
    inbox = mailbox / "INBOX"
    empty_mailbox(mailbox)
    server = server_factory(ivr={**ivr_config, "entry_flow": "e2e_after_hours"}).start(timeout=90)
    caller = caller_phone(asterisk).start()
    try:
        call, _heard = caller.dial(asterisk.settings.asterisk.inbound_number)
        # The caller's 440 Hz tone is the "message", recorded after the greeting and the beep.
        leave_message(mailbox)
        call.hangup()
        wait_for(lambda: list(inbox.glob("msg*.wav")), 15, "the voicemail message file")
        message = next(iter(inbox.glob("msg*.wav")))
        with wave.open(str(message)) as w:
            audio = w.readframes(w.getnframes())
            rate, width = w.getframerate(), w.getsampwidth()
        assert width == 2 and len(audio) > rate * width  # more than a second of sound
        record = ended_record(server)
        assert record["outcome"] == "voicemail" and record["queue"] is None
    finally:
        caller.stop()

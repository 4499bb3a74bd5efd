"""A real call recorded by Asterisk, stored, transcribed, redacted and scored.

Both phones speak synthesized speech (flite) over real RTP: the agent answers without the greeting
the QA rules require, the caller reads out a card number, then the agent pauses the recording (PCI)
while the caller gives the security code, and resumes it. What must hold:
- MixMonitor's three files (mix, caller, agent) land in the recording store, encrypted, by
  interaction id; the caller's track carries the caller's speech and the agent's the agent's;
- the transcript is stored with the card number masked (the digits never reach the database, the
  store's metadata or the server's log), nothing said during the pause is in it;
- the QA score flags the missing greeting, with the pause audited in the interaction's events.
"""

from __future__ import annotations

import array
import base64
import io
import json
import re
import sqlite3
import subprocess
import time
import wave
from pathlib import Path
from typing import Any

import pytest

from callcenter.storage.recordings import Keyring, RecordingStore
from tests.calls import agent_phone, call_in, caller_phone, ended_record, latest_interaction, wait_agent
from tests.conftest import AGENT_TOKEN
from tests.sip import level, wait_for
from tests.tools import require

pytestmark = pytest.mark.asterisk

KEY = base64.b64encode(bytes(range(32))).decode()
RULES = """\
required:
  greeting: {phrases: ["thank you for calling"], where: start, within: 20}
forbidden:
  rude: {phrases: ["shut up"]}
"""
# The card number as a recogniser writes it (words), or as digit groups: "4111" inside a longer
# number (a float's 1.0161793231964111, a hex id) is not the card.
CARD_LEAK = re.compile(
    r"\b(?:four|one)(?: one){3}\b"  # words
    r"|(?<![0-9A-Za-z.])(?:4111|1111)(?![0-9A-Za-z])"  # a group on its own
    r"|4111[\s-]?1111"  # groups run together
)


def card_leaks(text: str) -> list[str]:
    return CARD_LEAK.findall(text)


CARD_SPOKEN = "my card number is four one one one, one one one one, one one one one, one one one one"
PAUSED_SPOKEN = "the security code is seven three nine"


def speech(text: str, tmp: Path) -> bytes:
    """flite speech as pyVoIP plays it: 8 kHz, 8-bit unsigned mono."""
    require("flite", "flite")
    require("sox", "sox")
    wide, raw = tmp / "tts.wav", tmp / "tts.raw"
    subprocess.run(["flite", "-voice", "slt", "-t", text, "-o", str(wide)], check=True)
    subprocess.run(
        ["sox", "-D", str(wide), "-r", "8000", "-c", "1", "-b", "8", "-e", "unsigned-integer", str(raw)],
        check=True,
    )
    return raw.read_bytes()


def say(audio: Any, pcm: bytes) -> None:
    audio.send(pcm)
    time.sleep(len(pcm) / 8000 + 0.6)


def transcription_job(db: Path, interaction_id: str) -> dict[str, Any] | None:
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT status, transcript, qa, error FROM transcription_jobs WHERE interaction_id = ?",
            (interaction_id,),
        ).fetchone()
    if row is None:
        return None
    status, transcript, qa, error = row
    return {
        "status": status,
        "transcript": json.loads(transcript) if transcript else None,
        "qa": json.loads(qa) if qa else None,
        "error": error,
    }


def test_recorded_call_is_stored_transcribed_redacted_and_scored(
    asterisk: Any, server_factory: Any, tmp_path: Path
) -> None:
    rules = tmp_path / "qa_rules.yaml"
    rules.write_text(RULES)
    server = server_factory(
        recordings={"encryption_key": KEY, "settle_seconds": 0.5},
        transcription={"enabled": True, "qa_rules": str(rules)},
    ).start()
    greeting = speech("hello, this is support. how can i help you", tmp_path)
    card = speech(CARD_SPOKEN, tmp_path)
    paused = speech(PAUSED_SPOKEN, tmp_path)
    bye = speech("thank you, goodbye", tmp_path)

    agent = agent_phone(asterisk, "1001")
    agent.send_freq = None  # silence between sentences: the tracks carry speech only
    caller = caller_phone(asterisk)
    caller.send_freq = None
    agent.start()
    caller.start()
    try:
        wait_agent(server, "1001", "available")
        call, heard = call_in(caller, asterisk, "1")
        wait_for(lambda: agent.incoming and agent.audio, 20, "the agent's phone to ring and answer")
        wait_agent(server, "1001", "busy")
        live = latest_interaction(server)
        assert live is not None
        interaction_id = live["id"]
        agent_audio = next(iter(agent.audio.values()))
        time.sleep(0.5)

        say(agent_audio, greeting)
        say(heard, card)
        # PCI: the agent pauses the recording for the security code, then resumes it.
        status, body = server.api(
            "POST", f"/api/interactions/{interaction_id}/recording", {"paused": True}, token=AGENT_TOKEN
        )
        assert status == 200 and body["recording"] == "paused", body
        t0 = time.monotonic()
        say(heard, paused)
        assert level(agent_audio.heard_since(t0)) > 3, "the agent must still hear the caller"
        status, body = server.api(
            "POST", f"/api/interactions/{interaction_id}/recording", {"paused": False}, token=AGENT_TOKEN
        )
        assert status == 200 and body["recording"] == "on", body
        say(heard, bye)
        call.hangup()
        record = ended_record(server)
        assert record["id"] == interaction_id and record["outcome"] == "answered"
    finally:
        caller.stop()
        agent.stop()

    # Another agent's token may not pause someone else's call (and this one has ended anyway).
    status, _ = server.api(
        "POST", f"/api/interactions/{interaction_id}/recording", {"paused": True}, token=AGENT_TOKEN
    )
    assert status == 404

    store = RecordingStore(tmp_path / "recordings", Keyring({"default": base64.b64decode(KEY)}, "default"))
    wait_for(
        lambda: (tmp_path / "recordings" / f"{interaction_id}.agent.json").exists(),
        30,
        "the recording in the store",
    )
    tracks = {r.track: r for r in store.all() if r.interaction_id == interaction_id}
    assert set(tracks) == {"mixed", "caller", "agent"}
    assert all(r.encrypted and r.path.name.endswith(".wav.enc") for r in tracks.values())
    assert all(r.business_line == "support" for r in tracks.values())
    spool = asterisk.host_path(f"/srv/callcenter/{asterisk.instance}/spool/monitor")
    assert not list(spool.glob(f"{interaction_id}.*")), "files left in Asterisk's spool"

    # Each track holds its own speaker: the caller said much more than the agent.
    def seconds_of_speech(track: str) -> float:
        """Tenths of a second with a loud sample, in seconds."""
        with wave.open(io.BytesIO(store.read(interaction_id, track))) as w:
            samples = array.array("h", w.readframes(w.getnframes()))
            tenth = w.getframerate() // 10
        chunks = (samples[i : i + tenth] for i in range(0, len(samples) - tenth, tenth))
        return sum(1 for c in chunks if max(abs(min(c)), max(c)) > 2000) / 10

    caller_speech, agent_speech = seconds_of_speech("caller"), seconds_of_speech("agent")
    # Each track carries its speaker at the real pace: about as long as what they said.
    said_by_caller, said_by_agent = (len(card) + len(bye)) / 8000, len(greeting) / 8000
    assert 0.6 * said_by_caller <= caller_speech <= said_by_caller + 1.0, (caller_speech, said_by_caller)
    assert 0.6 * said_by_agent <= agent_speech <= said_by_agent + 1.0, (agent_speech, said_by_agent)
    with wave.open(io.BytesIO(store.read(interaction_id, "mixed"))) as w:
        mixed_seconds = w.getnframes() / w.getframerate()
    with wave.open(io.BytesIO(store.read(interaction_id, "caller"))) as w:
        caller_seconds = w.getnframes() / w.getframerate()
    assert abs(mixed_seconds - caller_seconds) < 1.0, (mixed_seconds, caller_seconds)

    # Transcribed, redacted and scored.
    db = tmp_path / "callcenter.db"

    def done() -> dict[str, Any] | None:
        job = transcription_job(db, interaction_id)
        return job if job and job["status"] in ("done", "failed") else None

    job = server.wait_until(done, 120, "the transcription job")
    assert job["status"] == "done", job
    transcript = job["transcript"]
    speakers = {s["speaker"] for s in transcript["segments"]}
    assert speakers == {"caller", "agent"}, speakers
    text = " ".join(s["text"] for s in transcript["segments"] if s["speaker"] == "caller")
    # flite through an 8-bit phone and G.711 is hard to hear: the recogniser gets some of the words,
    # and must have found the card number (masked where it was said).
    assert "[CARD]" in text and transcript["redacted"], f"the card number was not masked: {text}"
    assert "security" not in text and "seven three" not in text, "speech during the pause was recorded"
    stored = json.dumps(job)
    assert not card_leaks(stored), f"card digits reached the database: {card_leaks(stored)}"
    log_text = server.log_path.read_text(errors="replace")
    assert not card_leaks(log_text), f"card digits reached the log: {card_leaks(log_text)}"

    qa = job["qa"]
    greeting_check = next(c for c in qa["checks"] if c["rule"] == "greeting")
    assert not greeting_check["passed"], greeting_check
    assert qa["score"] < 100

    # The pause and the resume are in the call's story, with who did them.
    status, found = server.api("GET", f"/api/interactions/{interaction_id}")
    assert status == 200
    kinds = [(e["kind"], e["data"].get("by")) for e in found["events"] if e["kind"].startswith("recording_")]
    assert kinds == [("recording_paused", "agent-1001"), ("recording_resumed", "agent-1001")]

"""Recognition on real phone-channel recordings, and the transcription pipeline under a burst.

1. Makes ``--calls`` real calls through its own sandbox instance ("benchrec", ports 30xxx): a pyVoIP
   caller and agent each speak one flite sentence over RTP (G.711), Asterisk records them
   (MixMonitor, caller and agent tracks) and the server stores the recordings (encrypted) as in
   production.
2. Word error rate of each engine on those recorded tracks, against the text spoken — compared in
   the same run with the same sentences straight from flite at 8 kHz (no phone line): what the
   phone path costs.
3. Pipeline throughput: every recording is queued at once (calls closing together) into the
   transcription service with its persisted job queue, first with one worker process, then with
   one per core; drained wall time, recordings per minute, seconds of audio per second.

    .venv/bin/python bench/recorded_calls.py [--calls 8]

Needs root (its own sandbox instance) and nothing else on ports 30xxx. Traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jiwer

from bench.transcription import SENTENCES, normalise
from callcenter.asterisk.sandbox import AsteriskSandbox
from callcenter.settings import TranscriptionSettings
from callcenter.speech.audio import read_wav
from callcenter.speech.pool import TranscriptionPool
from callcenter.speech.service import TranscriptionService
from callcenter.speech.transcribe import request_for, transcribe
from callcenter.storage.recordings import RecordingStore, read_audio
from callcenter.storage.transcription_jobs import DONE, FAILED, JobStore
from tests.conftest import ServerProcess, config_with, settings_from
from tests.sip import Phone, level, wait_for

KEY = base64.b64encode(os.urandom(32)).decode()
BENCH = {
    "asterisk": {
        "sandbox_instance": "benchrec",
        "sip_port": 30060,
        "ami_port": 30038,
        "rtp_port_start": 30100,
        "rtp_port_end": 30499,
    },
    "agi": {"port": 30573},
    "http": {"port": 30080},
    "logging": {"level": "INFO"},
    "acd": {"ring_timeout": 10},
    "agents": [{"id": "1001", "extension": "1001", "queues": ["support"]}],
    "recordings": {"encryption_key": KEY, "settle_seconds": 0.5},
}


def phone_pcm(text: str, directory: Path, name: str) -> tuple[bytes, Path]:
    """flite speech as pyVoIP plays it (8 kHz 8-bit unsigned), and as a clean 8 kHz 16-bit WAV."""
    wide, raw, clean = directory / f"{name}.tts.wav", directory / f"{name}.raw", directory / f"{name}.wav"
    subprocess.run(["flite", "-voice", "slt", "-t", text, "-o", str(wide)], check=True)
    subprocess.run(
        ["sox", "-D", str(wide), "-r", "8000", "-c", "1", "-b", "8", "-e", "unsigned-integer", str(raw)],
        check=True,
    )
    subprocess.run(["sox", "-D", str(wide), "-r", "8000", "-c", "1", "-b", "16", str(clean)], check=True)
    return raw.read_bytes(), clean


def one_call(
    server: ServerProcess, caller: Phone, agent: Phone, number: str, caller_pcm: bytes, agent_pcm: bytes
) -> str:
    """One call: menu key 1, the agent answers and speaks, the caller speaks and hangs up."""
    before = len(agent.incoming)
    call, heard = caller.dial(number)
    answered = time.monotonic()
    wait_for(lambda: level(heard.heard_since(answered)) > 3, 10, "the menu prompt")
    caller.press(heard, "1")
    wait_for(lambda: len(agent.incoming) > before and id(agent.incoming[-1]) in agent.audio, 20, "agent")
    wait_for(lambda: server.api("GET", "/api/agents/1001")[1].get("state") == "busy", 15, "agent busy")
    interaction_id: str = server.api("GET", "/api/interactions?limit=1")[1]["interactions"][0]["id"]
    talk = agent.audio[id(agent.incoming[-1])]
    time.sleep(0.3)
    talk.send(agent_pcm)
    time.sleep(len(agent_pcm) / 8000 + 0.4)
    heard.send(caller_pcm)
    time.sleep(len(caller_pcm) / 8000 + 0.4)
    call.hangup()
    wait_for(
        lambda: server.api("GET", "/api/agents/1001")[1].get("state") in ("available", "wrap_up"),
        20,
        "the call to end",
    )
    return interaction_id


def make_calls(sandbox: AsteriskSandbox, workdir: Path, calls: int) -> list[tuple[str, str, str]]:
    """Returns (interaction id, what the caller said, what the agent said) per recorded call."""
    server = ServerProcess(
        config_with(**BENCH, database={"url": f"sqlite+aiosqlite:///{workdir}/bench.db"}), workdir
    )
    server.start()
    s = sandbox.settings.asterisk
    agent = Phone(s.sip_port, "1001", s.agent_password.get_secret_value(), 30600, 30610, 30648, answer=True)
    caller = Phone(s.sip_port, s.trunk_username, s.trunk_password.get_secret_value(), 30601, 30650, 30698)
    done: list[tuple[str, str, str]] = []
    try:
        agent.start()
        caller.start()
        wait_for(lambda: server.api("GET", "/api/agents/1001")[1].get("state") == "available", 15, "agent")
        for n in range(calls):
            said_caller = SENTENCES[(2 * n) % len(SENTENCES)]
            said_agent = SENTENCES[(2 * n + 1) % len(SENTENCES)]
            caller_pcm, _ = phone_pcm(said_caller, workdir, f"c{n}")
            agent_pcm, _ = phone_pcm(said_agent, workdir, f"a{n}")
            interaction_id = one_call(server, caller, agent, s.inbound_number, caller_pcm, agent_pcm)
            done.append((interaction_id, said_caller, said_agent))
            print(f"  call {n + 1}/{calls} recorded", file=sys.stderr)
        store = workdir / "recordings"
        wait_for(
            lambda: all((store / f"{i}.agent.json").exists() for i, _, _ in done), 60, "the recordings stored"
        )
    finally:
        caller.stop()
        agent.stop()
        server.stop()
    return done


def wer_on(
    files: list[tuple[tuple[str, ...], str]], settings: TranscriptionSettings, key: bytes | None
) -> float:
    """Each entry: the file(s) of one speaker's track and what was said."""
    from callcenter.speech.engine import create_engine

    engine = create_engine(settings.engine, None)
    references, hypotheses = [], []
    for paths, text in files:
        got = transcribe(request_for(settings, paths, key), engine)
        references.append(normalise(text))
        hypotheses.append(normalise(got.text.replace("[SPEECH]", "")) or "<empty>")
    return float(jiwer.wer(references, hypotheses))


async def burst(
    db_url: str, store: RecordingStore, ids: list[str], workers: int, settings: TranscriptionSettings
) -> float:
    """Queue every recording at once; the wall time until all are transcribed."""
    conf = settings.model_copy(update={"workers": workers})
    service = TranscriptionService(conf, JobStore(db_url), TranscriptionPool(workers), None, key=store.key)
    await service.start()
    try:
        await service.store.counts()
        t0 = time.perf_counter()
        for interaction_id in ids:
            await service.submit(interaction_id, store.files_of(interaction_id))
        while True:
            counts = await service.store.counts()
            if counts.get(DONE, 0) + counts.get(FAILED, 0) >= len(ids):
                break
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - t0
        if counts.get(FAILED):
            raise RuntimeError(f"{counts[FAILED]} transcription job(s) failed")
        return elapsed
    finally:
        await service.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=8)
    args = parser.parse_args()
    sandbox = AsteriskSandbox(settings_from(config_with(**BENCH)))
    sandbox.fresh()
    try:
        with tempfile.TemporaryDirectory(prefix="cc-bench-rec-") as tmp:
            workdir = Path(tmp)
            calls = make_calls(sandbox, workdir, args.calls)
            sandbox.down()
            store = RecordingStore(workdir / "recordings", base64.b64decode(KEY))
            key = store.key
            recorded: list[tuple[tuple[str, ...], str]] = []
            clean: list[tuple[tuple[str, ...], str]] = []
            audio_seconds = 0.0
            for n, (interaction_id, said_caller, said_agent) in enumerate(calls):
                caller_file, agent_file = store.files_of(interaction_id)
                recorded += [((str(caller_file),), said_caller), ((str(agent_file),), said_agent)]
                clean += [
                    ((str(workdir / f"c{n}.wav"),), said_caller),
                    ((str(workdir / f"a{n}.wav"),), said_agent),
                ]
                for path in (caller_file, agent_file):
                    track = workdir / "plain.wav"
                    track.write_bytes(read_audio(path, key))
                    audio_seconds += read_wav(track)[0].seconds
            print(f"\n{len(calls)} recorded calls, {audio_seconds:.1f} s of caller + agent tracks\n")
            print(f"{'engine':<34} {'WER recorded (phone)':>21} {'WER same text, no line':>23}")
            for label, conf in [
                ("pocketsphinx (bundled en-us)", TranscriptionSettings()),
                (
                    "pocketsphinx + domain phrases",
                    TranscriptionSettings(phrases=("acme", "anything else", "date of birth")),
                ),
            ]:
                on_phone = wer_on(recorded, conf, key)
                off_phone = wer_on(clean, conf, None)
                print(f"{label:<34} {on_phone:>21.1%} {off_phone:>23.1%}")

            ids = [i for i, _, _ in calls]
            cores = os.cpu_count() or 1
            print(f"\nBurst: {len(ids)} recordings queued at once (persisted queue, worker processes)")
            results = {}
            for workers in sorted({1, cores}):
                url = f"sqlite+aiosqlite:///{workdir}/jobs-{workers}.db"
                elapsed = asyncio.run(burst(url, store, ids, workers, TranscriptionSettings()))
                results[workers] = elapsed
                per_minute = len(ids) / elapsed * 60
                print(
                    f"  {workers} worker(s): {elapsed:6.1f} s wall, {per_minute:6.1f} recordings/min, "
                    f"{audio_seconds / elapsed:5.2f} s of audio per s"
                )
            if len(results) > 1:
                print(f"  speed-up {cores} workers vs 1: {results[1] / results[cores]:.2f}x")
    finally:
        sandbox.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())

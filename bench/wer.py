"""Word error rate of the offline transcription path on the phone-channel evaluation set.

The set (bench/wer_set.py, texts in bench/data/wer_sentences.txt) is made at bench time: every
sentence spoken by flite voices kal16, awb, rms and slt at three speaking rates, through G.711 mu-law
at 8 kHz. Each file is transcribed by the project's own offline path (``callcenter.speech.transcribe``
with the default settings, as ``callcenter transcribe`` does: pocketsphinx, resampling to 16 kHz,
redaction) and scored with jiwer against its reference text. The same files are also transcribed
after libsoxr's band-limited resampler (``resample_hq``) instead of the project's linear
interpolation, so one run compares the two, per voice, per speaking rate and overall.

    .venv/bin/python bench/wer.py [--jobs 2] [--voices kal16,awb,rms,slt] [--stretch 0.8,1.0,1.25]
                                  [--runs linear,soxr] [--sentences N] (the first N only; all 17 by default)
                                  [--audio DIR]  (keep and reuse the generated audio)
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
import wave
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import jiwer
from wer_set import STRETCHES, VOICES, Utterance, generate, sentences

from callcenter.settings import TranscriptionSettings
from callcenter.speech.audio import read_wav, resample_hq
from callcenter.speech.transcribe import request_for, run

RATE = 16000  # pocketsphinx's model rate


def normalise(text: str) -> str:
    return " ".join(re.findall(r"[a-z']+", text.lower()))


def transcribe_file(path: Path, settings: TranscriptionSettings) -> str:
    transcript = run(request_for(settings, (str(path),)))
    return normalise(transcript.text) or "<empty>"


def linear(path: Path) -> str:
    """The project's path as it is: its linear-interpolation resampler (speech/audio.py)."""
    return transcribe_file(path, TranscriptionSettings())


def soxr_first(path: Path) -> str:
    """Resampled to 16 kHz by libsoxr first (resample_hq); the project's path then sees 16 kHz."""
    wide = resample_hq(read_wav(path)[0], RATE)
    with tempfile.NamedTemporaryFile(suffix=".wav") as handle:
        with wave.open(handle.name, "wb") as writer:
            writer.setnchannels(1)
            writer.setsampwidth(2)
            writer.setframerate(RATE)
            writer.writeframes(wide.pcm)
        return transcribe_file(Path(handle.name), TranscriptionSettings())


RUNS: dict[str, Callable[[Path], str]] = {"linear (project)": linear, "soxr first": soxr_first}
RUN_NAMES = {"linear": "linear (project)", "soxr": "soxr first"}


def score(
    utterances: list[Utterance], hypotheses: list[str], key: Callable[[Utterance], str]
) -> dict[str, float]:
    groups: dict[str, tuple[list[str], list[str]]] = {}
    for utterance, hypothesis in zip(utterances, hypotheses, strict=True):
        refs, hyps = groups.setdefault(key(utterance), ([], []))
        refs.append(utterance.reference)
        hyps.append(hypothesis)
    return {name: jiwer.wer(refs, hyps) for name, (refs, hyps) in groups.items()}


def table(title: str, rows: Iterable[str], columns: dict[str, dict[str, float]]) -> None:
    names = list(columns)
    print(f"\n{title:<14}" + "".join(f"{n:>18}" for n in names))
    for row in rows:
        print(f"{row:<14}" + "".join(f"{100 * columns[n][row]:>17.1f}%" for n in names))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (one engine each)")
    parser.add_argument("--voices", default=",".join(VOICES))
    parser.add_argument("--stretch", default=",".join(str(s) for s in STRETCHES))
    parser.add_argument("--sentences", type=int, help="only the first N sentences of the set")
    parser.add_argument("--audio", type=Path, help="directory for the generated audio (kept, reused)")
    parser.add_argument("--runs", default="linear,soxr", help="which resamplers to compare")
    parser.add_argument("--show", action="store_true", help="print every hypothesis beside its reference")
    args = parser.parse_args()
    voices = tuple(args.voices.split(","))
    stretches = tuple(float(s) for s in args.stretch.split(","))

    with tempfile.TemporaryDirectory() as scratch:
        directory = args.audio or Path(scratch)
        started = time.perf_counter()
        utterances = generate(directory, voices, stretches, sentences()[: args.sentences])
        seconds = sum(read_wav(u.path)[0].seconds for u in utterances)
        print(
            f"{len(utterances)} utterances, {seconds:.0f} s of 8 kHz G.711 speech "
            f"({len(voices)} voices x {len(stretches)} rates), made in {time.perf_counter() - started:.0f} s"
        )
        results: dict[str, list[str]] = {}
        with ProcessPoolExecutor(args.jobs) as pool:
            for name in (RUN_NAMES[run] for run in args.runs.split(",")):
                function = RUNS[name]
                started = time.perf_counter()
                results[name] = list(pool.map(function, [u.path for u in utterances]))
                print(f"{name}: transcribed in {time.perf_counter() - started:.0f} s")

    if args.show:
        for index, u in enumerate(utterances):
            print(f"\n{u.path.name}\n  ref: {u.reference}")
            for name, hyps in results.items():
                print(f"  {name}: {hyps[index]}")
    by_voice = {name: score(utterances, hyps, lambda u: u.voice) for name, hyps in results.items()}
    by_rate = {
        name: score(utterances, hyps, lambda u: f"stretch {u.stretch}") for name, hyps in results.items()
    }
    overall = {name: score(utterances, hyps, lambda u: "overall") for name, hyps in results.items()}
    table("WER by voice", voices, by_voice)
    table("by rate", [f"stretch {s}" for s in stretches], by_rate)
    table("", ["overall"], overall)


if __name__ == "__main__":
    main()

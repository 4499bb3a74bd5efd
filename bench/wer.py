"""Word error rate and speed of the offline transcription path on the phone-channel evaluation set.

The set (bench/wer_set.py, texts and their fixed dev/test split in bench/data/wer_sentences.txt) is
made at bench time: every sentence of the split spoken by flite voices kal, kal16, awb, rms and slt
at three speaking rates, through G.711 mu-law at 8 kHz. Each file is transcribed by the project's
own offline path (``callcenter.speech.transcribe``, as ``callcenter transcribe`` does: pocketsphinx,
resampling to 16 kHz, redaction) once per run and scored with jiwer against its reference text:

- ``general``: the default settings (the bundled general language model);
- ``adapted``: the language model adapted to the example centre's text (qa_rules.example.yaml,
  scorecards.example.yaml, ivr_flows/, agent_scripts.example.txt; never the evaluation sentences:
  the bench stops if one is in it, and prints how many of the references' 4-grams the text holds);
- ``soxr``: the general model after libsoxr's band-limited resampler instead of the interpolation;
- ``am:PATH``: the general language model with an adapted acoustic model (bench/am_adapt.py):
  PATH is a whole model directory (with ``mdef``: pocketsphinx's ``-hmm``) or an MLLR means
  transform for the bundled model (a file: ``-mllr``).

A run may carry pocketsphinx decoder options: ``adapted:lw=10:beam=1e-60``. Every run prints WER by
voice, by speaking rate and overall, and its real-time factor (decoding CPU seconds per second of
audio, engine loading excluded).

    .venv/bin/python bench/wer.py [--split test|dev] [--runs general,adapted] [--jobs 2]
                                  [--voices kal,kal16,awb,rms,slt] [--stretch 0.8,1.0,1.25]
                                  [--sentences N] (the first N of the split) [--weight 0.5]
                                  [--audio DIR] [--models DIR] [--show]
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
from wer_set import SPLITS, STRETCHES, VOICES, Utterance, generate, sentences

from callcenter.settings import TranscriptionSettings
from callcenter.speech import adaptation
from callcenter.speech.audio import read_wav, resample_hq
from callcenter.speech.transcribe import Request, _engines, request_for, transcribe

ROOT = Path(__file__).resolve().parents[1]
RATE = 16000  # pocketsphinx's model rate
EXAMPLE_SOURCES = adaptation.Sources(
    qa_rules=ROOT / "qa_rules.example.yaml",
    scorecards=ROOT / "scorecards.example.yaml",
    ivr_flows=ROOT / "ivr_flows",
    texts=(ROOT / "agent_scripts.example.txt",),
)


def normalise(text: str) -> str:
    return " ".join(re.findall(r"[a-z']+", text.lower()))


def _timed(request: Request) -> tuple[str, float]:
    """The hypothesis and the CPU seconds it took (the engine is made first, outside the timing)."""
    engine = _engines.get(request.engine)
    if engine is None:
        engine = _engines[request.engine] = request.engine.create()
    started = time.process_time()
    transcript = transcribe(request, engine)
    return normalise(transcript.text) or "<empty>", time.process_time() - started


def run_one(job: tuple[str, Path, str | None, tuple[tuple[str, str], ...]]) -> tuple[str, float]:
    kind, path, adapted, options = job
    settings = TranscriptionSettings(decoder=dict(options))
    if kind != "soxr":
        return _timed(request_for(settings, (str(path),), adapted=Path(adapted) if adapted else None))
    wide = resample_hq(read_wav(path)[0], RATE)
    with tempfile.NamedTemporaryFile(suffix=".wav") as handle:
        with wave.open(handle.name, "wb") as writer:
            writer.setnchannels(1)
            writer.setsampwidth(2)
            writer.setframerate(RATE)
            writer.writeframes(wide.pcm)
        return _timed(request_for(settings, (handle.name,)))


def parse_run(name: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    kind, *pairs = name.split(":")
    if kind not in ("general", "adapted", "soxr", "am"):
        raise SystemExit(
            f"unknown run {name!r}: general, adapted, soxr or am:PATH, optionally :option=value..."
        )
    if kind == "am":
        if not pairs or "=" in pairs[0]:
            raise SystemExit(f"run {name!r}: am:PATH names an acoustic model directory or MLLR file")
        path = Path(pairs.pop(0)).resolve()
        if not (path / "mdef").is_file() and not path.is_file():
            raise SystemExit(f"run {name!r}: {path} is neither a model directory (mdef) nor a file")
        pairs.insert(0, f"{'hmm' if path.is_dir() else 'mllr'}={path}")
        kind = "general"
    options = tuple(tuple(pair.split("=", 1)) for pair in pairs)
    if any(len(o) != 2 for o in options):
        raise SystemExit(f"run {name!r}: options are written option=value")
    return kind, options  # type: ignore[return-value]


def adapted_model(directory: Path, weight: float) -> adaptation.AdaptedModel:
    texts = adaptation.center_texts(EXAMPLE_SOURCES)
    written = [
        " ".join(words)
        for passages in texts.values()
        for p in passages
        for words in adaptation.sentences_of(p)
    ]
    corpus = "\n".join(written)
    for reference in sentences():
        if reference in corpus:
            raise SystemExit(f"the adaptation text holds an evaluation sentence: {reference!r}")
    grams = {tuple(w.split()[i : i + 4]) for w in written for i in range(len(w.split()) - 3)}
    refs = [tuple(r.split()[i : i + 4]) for r in sentences() for i in range(len(r.split()) - 3)]
    shared = sum(1 for g in refs if g in grams)
    print(
        f"adaptation text: {len(written)} sentences from {len(texts)} sources; "
        f"{shared} of the {len(refs)} 4-grams of the evaluation references occur in it"
    )
    recipe = adaptation.recipe(texts, weight, {}, adaptation.GeneralModel.bundled())
    started = time.perf_counter()
    model = adaptation.build(recipe, directory)
    print(
        f"adapted model {model.key} ready in {time.perf_counter() - started:.0f} s: "
        f"{model.meta()['ngrams']} n-grams"
    )
    return model


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
    print(f"\n{title:<14}" + "".join(f"{n[-23:]:>24}" for n in names))  # am:PATH: the path's end
    for row in rows:
        print(f"{row:<14}" + "".join(f"{100 * columns[n][row]:>23.1f}%" for n in names))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (one engine each)")
    parser.add_argument("--split", choices=SPLITS, default="test")
    parser.add_argument("--voices", default=",".join(VOICES))
    parser.add_argument("--stretch", default=",".join(str(s) for s in STRETCHES))
    parser.add_argument("--sentences", type=int, help="only the first N sentences of the split")
    parser.add_argument("--audio", type=Path, help="directory for the generated audio (kept, reused)")
    parser.add_argument("--models", type=Path, default=Path(tempfile.gettempdir()) / "callcenter-wer-models")
    parser.add_argument(
        "--weight", type=float, default=0.5, help="the centre text's share in the adapted model"
    )
    parser.add_argument(
        "--runs", default="general,adapted", help="general, adapted, soxr, am:PATH [:option=value...]"
    )
    parser.add_argument("--show", action="store_true", help="print every hypothesis beside its reference")
    args = parser.parse_args()
    voices = tuple(args.voices.split(","))
    stretches = tuple(float(s) for s in args.stretch.split(","))
    runs = {name: parse_run(name) for name in args.runs.split(",")}
    model = adapted_model(args.models, args.weight) if any(k == "adapted" for k, _ in runs.values()) else None

    with tempfile.TemporaryDirectory() as scratch:
        directory = args.audio or Path(scratch)
        started = time.perf_counter()
        utterances = generate(directory, voices, stretches, args.split, args.sentences)
        seconds = sum(read_wav(u.path)[0].seconds for u in utterances)
        print(
            f"{len(utterances)} {args.split} utterances, {seconds:.0f} s of 8 kHz G.711 speech "
            f"({len(voices)} voices x {len(stretches)} rates), made in {time.perf_counter() - started:.0f} s"
        )
        results: dict[str, list[str]] = {}
        rtf: dict[str, float] = {}
        with ProcessPoolExecutor(args.jobs) as pool:
            for name, (kind, options) in runs.items():
                adapted = str(model.directory) if kind == "adapted" and model is not None else None
                jobs = [(kind, u.path, adapted, options) for u in utterances]
                started = time.perf_counter()
                out = list(pool.map(run_one, jobs))
                results[name] = [hyp for hyp, _ in out]
                rtf[name] = sum(cpu for _, cpu in out) / seconds
                print(
                    f"{name}: transcribed in {time.perf_counter() - started:.0f} s, "
                    f"RTF {rtf[name]:.2f} (CPU s per s)"
                )

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
    print("\nRTF           " + "".join(f"{rtf[n]:>24.2f}" for n in results))


if __name__ == "__main__":
    main()

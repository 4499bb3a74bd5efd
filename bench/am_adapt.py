"""Adapt pocketsphinx's bundled acoustic model to the phone channel (MLLR, then MAP), with Debian's
sphinxtrain: CMU's "Adapting the default acoustic model" recipe, on speech that is not the test split.

The adaptation speech is made as bench/wer_set.py makes the evaluation set (its ``speak``: flite,
G.711 mu-law at 8 kHz and back), from sentences that are not held out: the ``[dev]`` split, the
example centre's text (bench/wer.py's ``EXAMPLE_SOURCES``: QA rules, scorecards, IVR prompts, agent
scripts) and seeded random digit strings ("my number is four seven ..."), each said by the chosen
voices. Every file then goes the decoder's own way: ``callcenter.speech.audio.resample`` to 16 kHz,
and features by ``sphinx_fe`` with the model's feat.params (what pocketsphinx 5.1.1 computes: no
dither, spectral noise removal on, no silence removal).

The bundled model ships ``sendump`` (8-bit quantised mixture weights) and no ``mixture_weights``,
which ``bw`` needs: they are expanded back (p = 1.0001 ** -(byte << shift)); the quantisation is
lossy, which is why the MAP model's weights are written back the same way (``mk_s2sendump``).

    .venv/bin/python bench/am_adapt.py OUT [--voices kal,kal16,awb,rms,slt] [--stretch 1.0]
                                           [--digits 60] [--jobs 2] [--audio DIR] [--tau 1000]

writes OUT/mllr_matrix (a means transform for the bundled model: pocketsphinx's ``-mllr``),
OUT/map/ (a whole acoustic model, MAP over the MLLR-transformed means: pocketsphinx's ``-hmm``) and
OUT/work/ (features, counts, logs). Needs the Debian packages sphinxtrain, sphinxbase-utils and
pocketsphinx (for pocketsphinx_mdef_convert), which only this bench uses (scripts/setup.sh does
not install them; the script says what to install when one is missing).
"""

from __future__ import annotations

import argparse
import random
import shutil
import struct
import subprocess
import sys
import time
import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from wer_set import SPLITS, VOICES, sentences, speak

from callcenter.speech import adaptation
from callcenter.speech.audio import read_wav, resample

ROOT = Path(__file__).resolve().parents[1]
TOOLS = Path("/usr/lib/sphinxtrain")
RATE = 16000
DIGITS = "zero one two three four five six seven eight nine".split()
LEADS = ("my number is", "the reference is", "it is", "my account number is", "call me on", "")


def bundled_model() -> Path:
    import pocketsphinx

    return Path(pocketsphinx.get_model_path()) / "en-us"


NEEDED = {"bw": "sphinxtrain", "sphinx_fe": "sphinxbase-utils", "pocketsphinx_mdef_convert": "pocketsphinx"}


def check_tools() -> None:
    missing = {p for name, p in NEEDED.items() if not (TOOLS / name).exists() and not shutil.which(name)}
    if missing:
        raise SystemExit(f"missing tools: apt-get install -y {' '.join(sorted(missing))}")


def tool(name: str, *args: str, log: Path) -> None:
    path = TOOLS / name if (TOOLS / name).exists() else Path(shutil.which(name) or name)
    with log.open("a", encoding="utf-8") as out:
        out.write(f"\n$ {path} {' '.join(args)}\n")
        out.flush()
        done = subprocess.run([str(path), *args], stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{name} failed (exit {done.returncode}); see {log}")


# --- sendump <-> mixture_weights ----------------------------------------------------------------


def _string(data: bytes, at: int) -> tuple[bytes | None, int]:
    (size,) = struct.unpack_from("<I", data, at)
    at += 4
    return (data[at : at + size - 1] if size else None), at + size


def sendump_to_mixw(sendump: Path, target: Path) -> tuple[int, int, int]:
    """Expand pocketsphinx's quantised ``sendump`` into a Sphinx-III ``mixture_weights`` file;
    returns (senones, streams, densities)."""
    data = sendump.read_bytes()
    _, at = _string(data, 0)  # title
    header: dict[str, int] = {}
    while True:
        line, at = _string(data, at)
        if line is None:
            break
        key, _, value = line.decode().partition(" ")
        if value.strip().lstrip("-").isdigit():
            header[key] = int(value)
    shift, streams = header.get("mixw_shift", 10), header["feature_count"]
    if header.get("cluster_count", 0):
        raise SystemExit(f"{sendump}: clustered (4-bit) sendump is not supported")
    densities, senones = struct.unpack_from("<II", data, at)
    at += 8
    raw = np.frombuffer(data, np.uint8, streams * densities * senones, at)
    logs = raw.reshape(streams, densities, senones).astype(np.float64) * (1 << shift)
    weights = np.power(1.0001, -logs).transpose(2, 0, 1)  # senone, stream, density
    weights /= weights.sum(axis=2, keepdims=True)
    with target.open("wb") as out:
        head = b"s3\nversion 1.0\n"
        pad = (len(head) + len(b"endhdr\n")) & 3
        out.write(head + (b" " * (4 - pad) if pad else b"") + b"endhdr\n")
        out.write(struct.pack("<i", 0x11223344))
        out.write(struct.pack("<IIII", senones, streams, densities, weights.size))
        out.write(weights.astype("<f4").tobytes())
    return senones, streams, densities


# --- the adaptation speech ----------------------------------------------------------------------


def adaptation_sentences(digits: int, known: set[str]) -> list[str]:
    """Sentences that are not the test split, with every word in the dictionary."""
    import wer  # bench/wer.py: the example centre's sources

    centre = [
        " ".join(words)
        for passages in adaptation.center_texts(wer.EXAMPLE_SOURCES).values()
        for p in passages
        for words in adaptation.sentences_of(p)
    ]
    rng = random.Random(16)
    numbers = [
        f"{rng.choice(LEADS)} {' '.join(rng.choice(DIGITS) for _ in range(rng.randint(4, 9)))}".strip()
        for _ in range(digits)
    ]
    held_out = set(sentences("test"))
    out = []
    for text in dict.fromkeys([*sentences("dev"), *centre, *numbers]):
        if text in held_out:
            raise SystemExit(f"an adaptation sentence is in the test split: {text!r}")
        if 2 <= len(text.split()) <= 40 and all(w in known for w in text.split()):
            out.append(text)
    return out


def dictionary_words(path: Path) -> set[str]:
    with path.open(encoding="utf-8") as handle:
        return {line.split(maxsplit=1)[0] for line in handle if line.strip()}


def make_speech(
    texts: list[str], voices: tuple[str, ...], stretches: tuple[float, ...], audio: Path, jobs: int
) -> list[tuple[str, str]]:
    """(file id, text) of every utterance: 16 kHz WAVs resampled as the decoder resamples."""
    audio.mkdir(parents=True, exist_ok=True)
    todo = [
        (f"{voice}-{stretch}-{i:03d}", text, voice, stretch)
        for voice in voices
        for stretch in stretches
        for i, text in enumerate(texts)
    ]

    def one(item: tuple[str, str, str, float]) -> tuple[str, str]:
        name, text, voice, stretch = item
        wide = audio / f"{name}.wav"
        if not wide.exists():
            phone = speak(text, voice, stretch, audio / f"{name}.8k.wav")
            track = resample(read_wav(phone)[0], RATE)
            with wave.open(str(wide), "wb") as writer:
                writer.setnchannels(1)
                writer.setsampwidth(2)
                writer.setframerate(RATE)
                writer.writeframes(track.pcm)
            phone.unlink()
        return name, text

    with ThreadPoolExecutor(jobs) as pool:
        return list(pool.map(one, todo))


# --- the recipe ---------------------------------------------------------------------------------


def adapt(
    out: Path,
    utterances: list[tuple[str, str]],
    audio: Path,
    base: Path,
    log: Path,
    tau: float | None = None,
) -> None:
    hmm = base / "en-us"
    work = out / "work"
    work.mkdir(parents=True, exist_ok=True)
    ids = work / "adapt.fileids"
    ids.write_text("".join(f"{name}\n" for name, _ in utterances), encoding="utf-8")
    (work / "adapt.transcription").write_text(
        "".join(f"<s> {text} </s> ({name})\n" for name, text in utterances), encoding="utf-8"
    )
    feats = work / "feats"
    feats.mkdir(exist_ok=True)
    step("features (sphinx_fe)")
    tool(
        "sphinx_fe", "-argfile", str(hmm / "feat.params"), "-samprate", str(RATE),
        "-dither", "no", "-remove_silence", "no", "-c", str(ids), "-di", str(audio),
        "-do", str(feats), "-ei", "wav", "-eo", "mfc", "-mswav", "yes",
        log=log,
    )  # fmt: skip
    base_copy = work / "base"
    base_copy.mkdir(exist_ok=True)
    for name in ("means", "variances", "transition_matrices", "mdef", "feat.params", "noisedict"):
        shutil.copy(hmm / name, base_copy / name)
    step("mixture weights from sendump")
    shape = sendump_to_mixw(hmm / "sendump", base_copy / "mixture_weights")
    print(f"    {shape[0]} senones x {shape[1]} streams x {shape[2]} densities")
    tool("pocketsphinx_mdef_convert", "-text", str(hmm / "mdef"), str(work / "mdef.txt"), log=log)
    fillers = work / "fillers.dict"
    fillers.write_text((hmm / "noisedict").read_text(encoding="utf-8"), encoding="utf-8")
    common = [
        "-moddeffn", str(work / "mdef.txt"), "-ts2cbfn", ".ptm.", "-feat", "1s_c_d_dd",
        "-svspec", "0-12/13-25/26-38", "-cmn", "batch", "-agc", "none",
        "-dictfn", str(base / "cmudict-en-us.dict"), "-fdictfn", str(fillers),
        "-ctlfn", str(ids), "-lsnfn", str(work / "adapt.transcription"),
        "-cepdir", str(feats), "-cepext", "mfc",
        "-tmatfn", str(base_copy / "transition_matrices"),
        "-mixwfn", str(base_copy / "mixture_weights"), "-varfn", str(base_copy / "variances"),
    ]  # fmt: skip
    # 1. MLLR: one global means transform from the bundled model's statistics.
    step("bw (statistics of the bundled model)")
    counts = work / "counts-general"
    counts.mkdir(exist_ok=True)
    tool("bw", *common, "-meanfn", str(base_copy / "means"), "-accumdir", str(counts), log=log)
    step("mllr_solve")
    tool(
        "mllr_solve", "-meanfn", str(base_copy / "means"), "-varfn", str(base_copy / "variances"),
        "-outmllrfn", str(out / "mllr_matrix"), "-accumdir", str(counts),
        log=log,
    )  # fmt: skip
    # 2. MAP over the transformed means: statistics again, then each Gaussian moved by its data.
    step("mllr_transform, bw again, map_adapt")
    tool(
        "mllr_transform", "-inmeanfn", str(base_copy / "means"),
        "-outmeanfn", str(work / "mllr_means"), "-mllrmat", str(out / "mllr_matrix"),
        log=log,
    )  # fmt: skip
    counts = work / "counts-mllr"
    counts.mkdir(exist_ok=True)
    tool("bw", *common, "-meanfn", str(work / "mllr_means"), "-accumdir", str(counts), log=log)
    model = out / "map"
    model.mkdir(exist_ok=True)
    tool(
        "map_adapt", "-moddeffn", str(work / "mdef.txt"), "-ts2cbfn", ".ptm.",
        "-meanfn", str(work / "mllr_means"), "-varfn", str(base_copy / "variances"),
        "-mixwfn", str(base_copy / "mixture_weights"),
        "-tmatfn", str(base_copy / "transition_matrices"), "-accumdir", str(counts),
        "-mapmeanfn", str(model / "means"), "-mapvarfn", str(model / "variances"),
        "-mapmixwfn", str(work / "map_mixture_weights"),
        "-maptmatfn", str(model / "transition_matrices"),
        *(("-bayesmean", "no", "-fixedtau", "yes", "-tau", str(tau)) if tau is not None else ()),
        log=log,
    )  # fmt: skip
    tool(
        "mk_s2sendump", "-pocketsphinx", "yes", "-moddeffn", str(work / "mdef.txt"),
        "-mixwfn", str(work / "map_mixture_weights"), "-sendumpfn", str(model / "sendump"),
        log=log,
    )  # fmt: skip
    for name in ("mdef", "feat.params", "noisedict", "README"):
        shutil.copy(hmm / name, model / name)


_started = time.perf_counter()


def step(what: str) -> None:
    print(f"[{time.perf_counter() - _started:6.0f} s] {what}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("--voices", default=",".join(VOICES))
    parser.add_argument("--stretch", default="1.0")
    parser.add_argument("--digits", type=int, default=60, help="random digit-string sentences")
    parser.add_argument("--jobs", type=int, default=2, help="flite and sox runs at once")
    parser.add_argument(
        "--tau", type=float, help="MAP with this fixed prior weight (default: map_adapt's Bayesian means)"
    )
    parser.add_argument("--audio", type=Path, help="directory of the adaptation audio (kept, reused)")
    args = parser.parse_args()
    assert SPLITS == ("dev", "test")
    check_tools()
    base = bundled_model()
    args.out.mkdir(parents=True, exist_ok=True)
    log = args.out / "adapt.log"
    log.write_text("", encoding="utf-8")
    texts = adaptation_sentences(args.digits, dictionary_words(base / "cmudict-en-us.dict"))
    voices = tuple(args.voices.split(","))
    stretches = tuple(float(s) for s in args.stretch.split(","))
    audio = args.audio or args.out / "work" / "audio"
    step(f"speech: {len(texts)} sentences x {len(voices)} voices x {len(stretches)} rates")
    utterances = make_speech(texts, voices, stretches, audio, args.jobs)
    seconds = sum(read_wav(audio / f"{name}.wav")[0].seconds for name, _ in utterances)
    print(f"    {len(utterances)} utterances, {seconds:.0f} s of speech")
    adapt(args.out, utterances, audio, base, log, args.tau)
    step(f"done: {args.out / 'mllr_matrix'} and {args.out / 'map'}")


if __name__ == "__main__":
    main()

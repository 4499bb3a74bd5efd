"""The phone-channel evaluation set: contact-center sentences spoken by several voices at several
speaking rates, through G.711 at 8 kHz, as a phone recording is.

Reference texts live in bench/data/wer_sentences.txt (in the repository), in a fixed split: ``dev``
(12 sentences, for choosing settings) and ``test`` (28, held out: the published figures). The audio
is made here at bench time (never committed; the same text, voice and rate always give the same
file): flite (Debian) speaks each sentence with each voice — kal (the 8 kHz diphone voice), kal16,
awb, rms, slt: five speakers, two accents — and ``--setf duration_stretch=S`` (above 1: slower),
sox converts it to 8 kHz mu-law (G.711) and back to 16-bit PCM, which is what a call recording holds.

    .venv/bin/python bench/wer_set.py DIR [--split test] [--voices kal16,awb] [--stretch 0.8,1.0,1.25]

writes DIR/<split>-<voice>-<stretch>-<n>.wav and DIR/index.tsv (file, split, voice, stretch, reference).
"""

from __future__ import annotations

import argparse
import subprocess
from dataclasses import dataclass
from pathlib import Path

SENTENCES_FILE = Path(__file__).resolve().parent / "data" / "wer_sentences.txt"
VOICES = ("kal", "kal16", "awb", "rms", "slt")  # flite's general voices (awb_time speaks only times)
SPLITS = ("dev", "test")
STRETCHES = (0.8, 1.0, 1.25)  # flite duration_stretch: faster, normal, slower


@dataclass(frozen=True, slots=True)
class Utterance:
    path: Path
    split: str
    voice: str
    stretch: float
    reference: str


def split_sentences(path: Path = SENTENCES_FILE) -> dict[str, list[str]]:
    """The sentences of each split (``[dev]``, ``[test]`` sections), in file order."""
    out: dict[str, list[str]] = {name: [] for name in SPLITS}
    current: str | None = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            if current not in out:
                raise ValueError(f"{path}:{number}: unknown split {current!r}; use one of {SPLITS}")
            continue
        if current is None:
            raise ValueError(f"{path}:{number}: a sentence before any [dev] or [test] header")
        out[current].append(line)
    return out


def sentences(split: str | None = None, path: Path = SENTENCES_FILE) -> list[str]:
    """The sentences of ``split``, or of all splits."""
    splits = split_sentences(path)
    return [s for name in ((split,) if split else SPLITS) for s in splits[name]]


def speak(text: str, voice: str, stretch: float, target: Path) -> Path:
    """flite -> 8 kHz G.711 mu-law -> 16-bit PCM WAV at ``target``."""
    wide, law = target.with_suffix(".tts.wav"), target.with_suffix(".ulaw.wav")
    subprocess.run(
        ["flite", "-voice", voice, "--setf", f"duration_stretch={stretch}", "-t", text, "-o", str(wide)],
        check=True,
    )
    subprocess.run(["sox", "-D", str(wide), "-r", "8000", "-c", "1", "-e", "u-law", str(law)], check=True)
    subprocess.run(["sox", "-D", str(law), "-e", "signed-integer", "-b", "16", str(target)], check=True)
    wide.unlink()
    law.unlink()
    return target


def generate(
    directory: Path,
    voices: tuple[str, ...] = VOICES,
    stretches: tuple[float, ...] = STRETCHES,
    split: str | None = "test",
    limit: int | None = None,
) -> list[Utterance]:
    """The utterances of ``split`` (None: both), the first ``limit`` sentences of each split."""
    directory.mkdir(parents=True, exist_ok=True)
    splits = split_sentences()
    out: list[Utterance] = []
    for name in (split,) if split else SPLITS:
        for voice in voices:
            for stretch in stretches:
                for index, text in enumerate(splits[name][:limit]):
                    path = directory / f"{name}-{voice}-{stretch}-{index:02d}.wav"
                    if not path.exists():
                        speak(text, voice, stretch, path)
                    out.append(Utterance(path, name, voice, stretch, text))
    with (directory / "index.tsv").open("w", encoding="utf-8") as index_file:
        for u in out:
            index_file.write(f"{u.path.name}\t{u.split}\t{u.voice}\t{u.stretch}\t{u.reference}\n")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("directory", type=Path)
    parser.add_argument("--split", choices=[*SPLITS, "all"], default="test")
    parser.add_argument("--voices", default=",".join(VOICES))
    parser.add_argument("--stretch", default=",".join(str(s) for s in STRETCHES))
    args = parser.parse_args()
    made = generate(
        args.directory,
        tuple(args.voices.split(",")),
        tuple(float(s) for s in args.stretch.split(",")),
        None if args.split == "all" else args.split,
    )
    print(f"{len(made)} utterances in {args.directory}")


if __name__ == "__main__":
    main()

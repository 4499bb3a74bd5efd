"""The phone-channel evaluation set: contact-center sentences spoken by several voices at several
speaking rates, through G.711 at 8 kHz, as a phone recording is.

Reference texts live in bench/data/wer_sentences.txt (in the repository); the audio is made here at
bench time (never committed): flite (Debian) speaks each sentence with each voice and
``--setf duration_stretch=S`` (above 1: slower), sox converts it to 8 kHz mu-law (G.711) and back to
16-bit PCM, which is what a call recording holds.

    .venv/bin/python bench/wer_set.py DIR [--voices kal16,awb] [--stretch 0.8,1.0,1.25]

writes DIR/<voice>-<stretch>-<n>.wav and DIR/index.tsv (file, voice, stretch, reference).
"""

from __future__ import annotations

import argparse
import subprocess
from dataclasses import dataclass
from pathlib import Path

SENTENCES_FILE = Path(__file__).resolve().parent / "data" / "wer_sentences.txt"
VOICES = ("kal16", "awb", "rms", "slt")
STRETCHES = (0.8, 1.0, 1.25)  # flite duration_stretch: faster, normal, slower


@dataclass(frozen=True, slots=True)
class Utterance:
    path: Path
    voice: str
    stretch: float
    reference: str


def sentences(path: Path = SENTENCES_FILE) -> list[str]:
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


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
    texts: list[str] | None = None,
) -> list[Utterance]:
    directory.mkdir(parents=True, exist_ok=True)
    out: list[Utterance] = []
    for voice in voices:
        for stretch in stretches:
            for index, text in enumerate(texts if texts is not None else sentences()):
                path = directory / f"{voice}-{stretch}-{index:02d}.wav"
                if not path.exists():
                    speak(text, voice, stretch, path)
                out.append(Utterance(path, voice, stretch, text))
    with (directory / "index.tsv").open("w", encoding="utf-8") as index_file:
        for u in out:
            index_file.write(f"{u.path.name}\t{u.voice}\t{u.stretch}\t{u.reference}\n")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("directory", type=Path)
    parser.add_argument("--voices", default=",".join(VOICES))
    parser.add_argument("--stretch", default=",".join(str(s) for s in STRETCHES))
    args = parser.parse_args()
    made = generate(
        args.directory, tuple(args.voices.split(",")), tuple(float(s) for s in args.stretch.split(","))
    )
    print(f"{len(made)} utterances in {args.directory}")


if __name__ == "__main__":
    main()

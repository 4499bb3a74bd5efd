"""Phone-quality speech for tests: flite (voice slt) rendered, then sox to 8 kHz 16-bit mono."""

from __future__ import annotations

import subprocess
from pathlib import Path


def say(text: str, path: Path, voice: str = "slt", rate: int = 8000) -> Path:
    wide = path.with_suffix(".tts.wav")
    subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(wide)], check=True)
    subprocess.run(["sox", "-D", str(wide), "-r", str(rate), "-c", "1", "-b", "16", str(path)], check=True)
    wide.unlink()
    return path


def stereo(left: Path, right: Path, path: Path) -> Path:
    """Caller left, agent right, padded to the same length."""
    subprocess.run(["sox", "-D", "-M", str(left), str(right), str(path)], check=True)
    return path


def pad(path: Path, before: float, out: Path) -> Path:
    subprocess.run(["sox", "-D", str(path), str(out), "pad", str(before), "0"], check=True)
    return out

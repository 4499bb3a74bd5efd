"""Prompt audio: text-to-speech rendered once, cached by text + voice + language, in the format
Asterisk plays without transcoding surprises (8 kHz, mono, 16-bit WAV), under ``prompts_dir``.

The sound name of a text prompt (what the flow tells Asterisk to play) is derived from the same key,
so loading a flow never renders anything and the runner stays pure; rendering is a separate step
(server start-up and reload, ``callcenter ivr validate --audio``), skipped for prompts already in the
cache. Speech comes from pyttsx3's espeak driver (espeak-ng); the 22 kHz result is converted with
sox when it is installed, else resampled here with libsoxr (python-soxr).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Iterable, Iterator
from pathlib import Path

from callcenter.core.ivr import model as m

log = logging.getLogger(__name__)

SOUND_DIR = "cc-tts"  # sub-directory of the prompts directory; TTS sound names start with it
RATE = 8000
EXTENSIONS = (".wav", ".gsm", ".ulaw", ".alaw", ".sln", ".sln16", ".g722", ".wav16")


class PromptError(Exception):
    """A prompt could not be rendered."""


def sound_name(text: str, language: str, voice: str) -> str:
    key = hashlib.sha256(f"{voice}\x00{language}\x00{text}".encode()).hexdigest()[:20]
    return f"{SOUND_DIR}/{language}-{key}"


def variants(flows: m.FlowSet) -> Iterator[tuple[m.Node, m.Prompt, str | None, m.PromptVariant]]:
    """Every prompt variant of every node of a voice flow: (node, prompt, language or None for
    "any", variant)."""
    for flow in flows.flows.values():
        if "voice" not in flow.channels:
            continue  # chat flows send the text
        for node in flow.nodes.values():
            for prompt in node.prompts():
                for language, variant in prompt.variants.items():
                    yield node, prompt, language, variant
                if prompt.any is not None:
                    yield node, prompt, None, prompt.any


def find(sound: str, directories: Iterable[Path]) -> Path | None:
    for directory in directories:
        for extension in EXTENSIONS:
            candidate = directory / (sound + extension)
            if candidate.is_file():
                return candidate
    return None


def missing_audio(flows: m.FlowSet, prompts_dir: Path, sound_dirs: Iterable[Path] = ()) -> list[m.Problem]:
    """A problem for each prompt whose audio is nowhere: not rendered (text) or not recorded (file)."""
    directories = [prompts_dir, *sound_dirs]
    where = ", ".join(map(str, directories))
    problems = []
    for node, prompt, language, variant in variants(flows):
        if find(variant.sound, directories) is None:
            what = (
                f"text-to-speech for {variant.text!r} not rendered"
                if variant.text
                else f"sound file {variant.sound!r} not found"
            )
            lang = f" ({language})" if language else ""
            problems.append(
                m.Problem(
                    prompt.pos,
                    f"missing audio in node {node.name!r}{lang}: {what} in {where}",
                )
            )
    return sorted(set(problems), key=lambda p: (p.pos, p.message))


def render_all(flows: m.FlowSet, prompts_dir: Path, voice: str = "") -> int:
    """Render every text prompt not yet in the cache; returns how many were rendered."""
    rendered = 0
    for _, _, language, variant in variants(flows):
        if variant.text and language and find(variant.sound, [prompts_dir]) is None:
            render(variant.text, language, voice, prompts_dir / (variant.sound + ".wav"))
            rendered += 1
    return rendered


def render(text: str, language: str, voice: str, target: Path) -> None:
    """Speak ``text`` into ``target`` as 8 kHz mono 16-bit WAV (written atomically).

    pyttsx3 drives espeak-ng; its espeak driver now and then writes no file (seen when many prompts
    are rendered in a row from a worker thread). Then the same voice is asked for through the
    ``espeak-ng`` command, so a flaky driver never leaves a caller in silence.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    espeak_voice = f"{language}+{voice}" if voice else language
    with tempfile.TemporaryDirectory(prefix="cc-tts-") as tmp:
        raw = Path(tmp) / "raw.wav"
        error = _pyttsx3(text, espeak_voice, raw)
        if error is not None:
            log.warning("ivr.pyttsx3_failed", extra={"error": error, "fallback": "espeak-ng"})
            error = _espeak_ng(text, espeak_voice, raw)
        if error is not None:
            raise PromptError(f"text-to-speech failed for {text!r} ({language}): {error}")
        partial = Path(tmp) / "out.wav"
        convert(raw, partial)
        shutil.move(str(partial), target)
    log.info("ivr.prompt_rendered", extra={"sound": str(target), "language": language})


def _has_audio(path: Path) -> bool:
    try:
        with wave.open(str(path)) as w:
            return bool(w.getnframes() > 0)
    except (OSError, EOFError, wave.Error):
        return False


def _pyttsx3(text: str, voice: str, raw: Path) -> str | None:
    """Render with pyttsx3; None on success, else why not."""
    try:
        import pyttsx3
    except ImportError:
        return "pyttsx3 is not installed"
    try:
        engine = pyttsx3.init("espeak")
        engine.setProperty("voice", voice)
        with contextlib.redirect_stdout(io.StringIO()):  # the driver prints "Audio saved to ..."
            engine.save_to_file(text, str(raw))
            engine.runAndWait()
    except Exception as err:  # pyttsx3 raises bare RuntimeError/OSError from its drivers
        return f"pyttsx3: {err}"
    return None if _has_audio(raw) else "pyttsx3 produced no audio"


def _espeak_ng(text: str, voice: str, raw: Path) -> str | None:
    command = shutil.which("espeak-ng")
    if command is None:
        return "espeak-ng is not installed (apt-get install espeak-ng)"
    result = subprocess.run(
        [command, "-v", voice, "-w", str(raw), "--", text], capture_output=True, timeout=60, check=False
    )
    if result.returncode != 0 or not _has_audio(raw):
        return f"espeak-ng: {result.stderr.decode(errors='replace')[:200] or 'no audio'}"
    return None


def convert(source: Path, target: Path) -> None:
    """Any WAV -> 8 kHz mono 16-bit WAV: sox when installed, else in Python."""
    sox = shutil.which("sox")
    if sox is not None:
        result = subprocess.run(
            [sox, str(source), "-r", str(RATE), "-c", "1", "-b", "16", "-e", "signed-integer", str(target)],
            capture_output=True,
            timeout=60,
            check=False,
        )
        if result.returncode == 0:
            return
        log.warning("ivr.sox_failed", extra={"error": result.stderr.decode(errors="replace")[:300]})
    resample(source, target)


def resample(source: Path, target: Path) -> None:
    """In-process conversion without sox: mix to mono, then libsoxr's band-limited resampler."""
    import numpy  # imported here: only a prompt without sox needs it (start-up stays light)

    from callcenter.speech.audio import AudioError, Track, read_wav, resample_hq

    try:
        tracks = read_wav(source)
    except AudioError as err:
        raise PromptError(str(err)) from err
    mono = tracks[0]
    if len(tracks) > 1:
        mixed = numpy.mean([numpy.frombuffer(t.pcm, dtype="<i2") for t in tracks], axis=0)
        mono = Track(numpy.round(mixed).astype("<i2").tobytes(), mono.rate)
    with wave.open(str(target), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(RATE)
        writer.writeframes(resample_hq(mono, RATE).pcm)

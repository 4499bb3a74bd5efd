"""Text-to-speech prompts rendered for real (espeak-ng through pyttsx3) and the conversion to the
format Asterisk plays: 8 kHz, mono, 16-bit WAV."""

from __future__ import annotations

import array
import math
import wave
from pathlib import Path

import pyttsx3  # noqa: F401  (a test dependency: its absence is an error, not a skip)

from callcenter.core.ivr import model as m
from callcenter.ivr import loader, prompts
from tests.tools import require


def fmt(path: Path) -> tuple[int, int, int, float]:
    with wave.open(str(path), "rb") as w:
        return w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes() / w.getframerate()


def test_sound_name_is_a_cache_key_of_text_voice_and_language() -> None:
    a = prompts.sound_name("Hello", "en", "")
    assert a.startswith("cc-tts/en-") and a == prompts.sound_name("Hello", "en", "")
    assert len({a, prompts.sound_name("Hello", "es", ""), prompts.sound_name("Hello", "en", "f3")}) == 3


def test_render_a_real_prompt_once(tmp_path: Path) -> None:
    require("espeak-ng", "espeak-ng")
    flow, problems = loader.parse_text(
        "languages: [en, es]\nstart: a\nnodes:\n"
        '  a: {type: hangup, prompt: {say: {en: "Goodbye.", es: "Adiós."}}}\n',
        "f.yaml",
    )
    assert flow is not None and problems == []
    flows = m.FlowSet({"f": flow})
    assert len(prompts.missing_audio(flows, tmp_path)) == 2
    assert prompts.render_all(flows, tmp_path) == 2
    assert prompts.missing_audio(flows, tmp_path) == []
    for variant in flow.nodes["a"].prompts()[0].variants.values():
        rate, channels, width, audio_seconds = fmt(tmp_path / (variant.sound + ".wav"))
        assert (rate, channels, width) == (8000, 1, 2) and 0.3 < audio_seconds < 5  # the audio's length
    assert prompts.render_all(flows, tmp_path) == 0  # cached


def _tone(path: Path, rate: int, channels: int, seconds: float) -> None:
    samples = array.array("h")
    for i in range(int(rate * seconds)):
        value = int(10000 * math.sin(2 * math.pi * 440 * i / rate))
        samples.extend([value] * channels)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())


def test_python_resampling_without_sox(tmp_path: Path) -> None:
    _tone(tmp_path / "in.wav", 22050, 2, 1.0)
    prompts.resample(tmp_path / "in.wav", tmp_path / "out.wav")
    rate, channels, width, seconds = fmt(tmp_path / "out.wav")
    assert (rate, channels, width) == (8000, 1, 2) and abs(seconds - 1.0) < 0.01
    with wave.open(str(tmp_path / "out.wav"), "rb") as w:
        out = array.array("h")
        out.frombytes(w.readframes(w.getnframes()))
    assert 8000 < max(out) <= 10000  # the tone survives


def test_sox_conversion(tmp_path: Path) -> None:
    require("sox", "sox")
    _tone(tmp_path / "in.wav", 44100, 1, 0.5)
    prompts.convert(tmp_path / "in.wav", tmp_path / "out.wav")
    assert fmt(tmp_path / "out.wav")[:3] == (8000, 1, 2)

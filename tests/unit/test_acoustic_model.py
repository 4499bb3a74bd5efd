"""transcription.acoustic_model: checked at load, and it reaches pocketsphinx (offline and live
build their engines from the same options)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pocketsphinx
import pytest

from callcenter.settings import ConfigError, load_settings
from callcenter.speech.pocketsphinx_engine import PocketsphinxEngine
from callcenter.speech.transcribe import engine_for
from tests.unit.speech_fixtures import say

BUNDLED = Path(pocketsphinx.get_model_path()) / "en-us" / "en-us"


def _settings(tmp_path: Path, acoustic: str, extra: str = ""):  # type: ignore[no-untyped-def]
    path = tmp_path / "c.yaml"
    path.write_text(f"transcription:\n  acoustic_model: {acoustic}\n{extra}")
    return load_settings(path, environ={}).transcription


def test_a_missing_or_incomplete_model_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"c.yaml:2: transcription.acoustic_model: .*no such"):
        _settings(tmp_path, str(tmp_path / "nowhere"))
    half = tmp_path / "half"
    half.mkdir()
    shutil.copy(BUNDLED / "mdef", half / "mdef")
    with pytest.raises(ConfigError, match=r"not an acoustic model directory: no means, variances"):
        _settings(tmp_path, str(half))
    with pytest.raises(ConfigError, match=r"decoder.hmm or decoder.mllr"):
        _settings(tmp_path, str(BUNDLED), f"  decoder: {{hmm: {BUNDLED}}}\n")


def test_the_model_directory_and_an_mllr_file_reach_the_decoder(tmp_path: Path) -> None:
    model = tmp_path / "am"
    shutil.copytree(BUNDLED, model)
    engine = engine_for(_settings(tmp_path, str(model))).create()
    assert isinstance(engine, PocketsphinxEngine)
    assert engine._decoder.config["hmm"] == str(model)
    words = engine.recognize(_phone(tmp_path))
    assert "account" in [w.text for w in words]

    # An MLLR file: the identity transform (one class, three streams of 13) leaves recognition as is.
    identity = "1\n3\n" + "".join(
        "13\n" + "".join(" ".join("1.0" if i == j else "0.0" for j in range(13)) + "\n" for i in range(13))
        + " ".join(["0.0"] * 13) + "\n" + " ".join(["1.0"] * 13) + "\n"
        for _ in range(3)
    )  # fmt: skip
    (tmp_path / "mllr_matrix").write_text(identity)
    spec = engine_for(_settings(tmp_path, str(tmp_path / "mllr_matrix")))
    assert ("mllr", str(tmp_path / "mllr_matrix")) in spec.options
    engine = spec.create()
    assert isinstance(engine, PocketsphinxEngine)
    assert engine._decoder.config["mllr"] == str(tmp_path / "mllr_matrix")
    assert [w.text for w in engine.recognize(_phone(tmp_path))] == [w.text for w in words]


def _phone(tmp_path: Path):  # type: ignore[no-untyped-def]
    from callcenter.speech.audio import read_wav, resample

    path = tmp_path / "a.wav"
    if not path.exists():
        say("please check my account balance", path)
    return resample(read_wav(path)[0], 16000)


def test_the_bundled_sendump_expands_to_mixture_weights_bw_can_read(tmp_path: Path) -> None:
    """bench/am_adapt.py's conversion: the bundled model has quantised weights only; bw needs a
    Sphinx-III mixture_weights file (senones x streams x densities, each row a distribution)."""
    import struct
    import sys

    import numpy as np

    sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))
    from am_adapt import sendump_to_mixw

    target = tmp_path / "mixture_weights"
    assert sendump_to_mixw(BUNDLED / "sendump", target) == (5126, 3, 128)
    data = target.read_bytes()
    start = data.index(b"endhdr\n") + len(b"endhdr\n")
    assert data.startswith(b"s3\nversion 1.0\n") and start % 4 == 0
    assert struct.unpack_from("<iIIII", data, start) == (0x11223344, 5126, 3, 128, 5126 * 3 * 128)
    weights = np.frombuffer(data, "<f4", offset=start + 20).reshape(5126, 3, 128)
    assert np.allclose(weights.sum(axis=2), 1.0, atol=1e-4)
    # Quantised back as mk_s2sendump does (-log base 1.0001, >> 10), the bytes come back within one step.
    back = np.rint(-np.log(weights.astype(np.float64)) / np.log(1.0001) / 1024).clip(0, 255)
    raw = BUNDLED.joinpath("sendump").read_bytes()
    original = np.frombuffer(raw, np.uint8, 3 * 128 * 5126, len(raw) - 3 * 128 * 5126)
    assert np.abs(back.transpose(1, 2, 0).ravel() - original).max() <= 1

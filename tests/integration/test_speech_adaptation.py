"""``callcenter transcribe`` with domain adaptation: the centre's text is built into a language model
interpolated with a general one, and a product word the general dictionary does not have is
recognised in phone-quality speech.

The general model here is the bundled one cut to its unigrams (in a model directory with the bundled
acoustic model and dictionary, as ``transcription.model`` takes one): the same code reads, mixes and
writes it, in seconds instead of the minutes the bundled 3.8 million n-grams take. The full-size build
is what ``bench/wer.py`` measures (docs/qa.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from callcenter import cli
from callcenter.speech import sphinx_lm
from tests.unit.speech_fixtures import say

PRODUCT = "zentrobox"  # not in the general dictionary: the general model can never write it


def transcribe(capsys: pytest.CaptureFixture[str], settings: list[str], *argv: str) -> tuple[int, dict, str]:
    code = cli.main(["--set", "logging.level=WARNING", *settings, "transcribe", "--format", "json", *argv])
    captured = capsys.readouterr()
    items = json.loads(captured.out)
    assert len(items) == 1
    return code, items[0], captured.err


def unigram_model(root: Path) -> Path:
    """A pocketsphinx model directory whose language model is the bundled one's unigrams."""
    import pocketsphinx

    bundled = Path(pocketsphinx.get_model_path("en-us"))
    root.mkdir()
    (root / "en-us").mkdir()  # the acoustic model, file by file (rglob does not enter linked dirs)
    for part in (bundled / "en-us").iterdir():
        (root / "en-us" / part.name).symlink_to(part)
    (root / "cmudict-en-us.dict").symlink_to(bundled / "cmudict-en-us.dict")
    unigrams = []
    for order, logprob, gram, _backoff in sphinx_lm.read_entries(bundled / "en-us.lm.bin"):
        if order > 1:
            break
        unigrams.append(f"{logprob:.6f}\t{gram[0]}\n")
    assert len(unigrams) > 50_000  # a general vocabulary, not a toy one
    with (root / "general.arpa").open("w", encoding="utf-8") as out:
        out.write(f"\\data\\\nngram 1={len(unigrams)}\n\n\\1-grams:\n")
        out.writelines(unigrams)
        out.write("\n\\end\\\n")
    return root


@pytest.mark.timeout(600)
def test_the_adapted_model_is_used_and_knows_the_centres_product(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scripts = tmp_path / "scripts.txt"
    scripts.write_text(
        "# the centre's scripts\n"
        "Thank you for calling Acme, how can I help?\n"
        "The Zentrobox is our new home hub.\n"
        "Would you like to add a Zentrobox to your plan?\n"
        "The Zentrobox comes with free delivery.\n"
    )
    audio = say(f"I would like to order the {PRODUCT} please", tmp_path / "call.wav", voice="rms")
    models = tmp_path / "models"
    general_model = unigram_model(tmp_path / "general")
    settings = [
        "--set", f"transcription.model={general_model}",
        "--set", "transcription.adaptation.enabled=true",
        "--set", f"transcription.adaptation.texts=[\"{scripts}\"]",
        "--set", f"transcription.adaptation.directory={models}",
        "--set", f"transcription.adaptation.pronunciations={{{PRODUCT}: Z EH N T R OW B AA K S}}",
        "--set", "transcription.adaptation.ivr_prompts=false",
    ]  # fmt: skip

    code, general, err = transcribe(capsys, settings, str(audio), "--no-adaptation")
    assert code == 0 and "adapted language model" not in err
    assert PRODUCT not in general["text"].split()

    code, adapted, err = transcribe(capsys, settings, str(audio))
    assert code == 0, err
    built = [p for p in models.iterdir() if (p / "model.json").exists()]
    assert len(built) == 1 and f"adapted language model: {built[0]}" in err
    meta = json.loads((built[0] / "model.json").read_text())
    assert meta["added_words"] == [PRODUCT] and meta["sources"] == {f"text {scripts}": 4}
    assert PRODUCT in adapted["text"].split(), adapted["text"]
    assert adapted["engine"] == "pocketsphinx"

"""The language model builder (Witten-Bell estimation, ARPA, interpolation) and domain adaptation:
the centre's text, pronunciations, the build with pocketsphinx's own model code, and the server's
rebuild when the text changes."""

from __future__ import annotations

import asyncio
import io
import math
import shutil
from pathlib import Path

import pytest

from callcenter.settings import Settings
from callcenter.speech import adaptation, lm
from callcenter.speech.adaptation_service import AdaptationService
from callcenter.speech.engine import EngineError

ROOT = Path(__file__).resolve().parents[2]

GENERAL = [
    "the cat sat on the mat",
    "the dog sat on the log",
    "a cat and a dog",
    "the mat is on the floor",
    "call me on my phone",
    "my phone is on the table",
]
DOMAIN = [
    "thank you for calling acme",
    "your account number please",
    "thank you for your patience",
    "call acme on my phone",
]


def words(lines: list[str]) -> list[list[str]]:
    return [line.split() for line in lines]


def total(model: lm.NgramModel, history: tuple[str, ...], vocabulary: set[str]) -> float:
    return sum(10 ** model.prob(history, w) for w in vocabulary | {lm.END})


def test_witten_bell_distributions_sum_to_one() -> None:
    model = lm.estimate(words(GENERAL), order=3)
    vocabulary = {w for line in GENERAL for w in line.split()}
    assert model.counts()[0] == len(vocabulary) + 2  # + <s>, </s>
    # Seen and unseen histories of every order: each distribution is complete.
    for history in [(), ("the",), ("<s>",), ("sat", "on"), ("on", "the"), ("dog", "cat"), ("zebra",)]:
        assert total(model, history, vocabulary) == pytest.approx(1.0, abs=1e-6), history
    # Counts shape it: "the" is followed by cat, dog, mat, log, floor, table; "sat" always by "on".
    assert model.prob(("sat",), "on") > model.prob(("the",), "cat") > model.prob(("sat",), "cat")
    assert model.prob(("the",), "unknown") == lm.NEVER
    with pytest.raises(ValueError, match="no words"):
        lm.estimate([[]])


def test_arpa_round_trip_and_bad_files() -> None:
    model = lm.estimate(words(GENERAL), order=3)
    text = io.StringIO()
    lm.write_arpa(model, text)
    again = lm.read_arpa(text.getvalue().splitlines())
    assert again.order == 3 and again.logprob.keys() == model.logprob.keys()
    assert all(again.logprob[g] == pytest.approx(p, abs=1e-6) for g, p in model.logprob.items())
    assert all(again.backoff[g] == pytest.approx(b, abs=1e-6) for g, b in model.backoff.items())
    with pytest.raises(lm.ArpaError, match="line 4: a 1-gram line needs"):
        lm.read_arpa(["\\data\\", "ngram 1=1", "\\1-grams:", "-1.0 a b c d"])
    with pytest.raises(lm.ArpaError, match="cut short"):
        lm.read_arpa(["\\data\\", "ngram 1=1", "\\1-grams:", "-1.0 a"])
    with pytest.raises(lm.ArpaError, match="line 4: could not convert"):
        lm.read_arpa(["\\data\\", "ngram 1=1", "\\1-grams:", "x a", "\\end\\"])


def mixed_model(weight: float) -> tuple[lm.NgramModel, lm.NgramModel, lm.NgramModel]:
    general = lm.estimate(words(GENERAL), order=3)
    domain = lm.estimate(words(DOMAIN), order=3)
    arpa = io.StringIO()
    lm.write_arpa(general, arpa)
    out = io.StringIO()
    counts = lm.mix_arpa(
        lambda: lm.arpa_entries(arpa.getvalue().splitlines()), general.prob, domain, weight, out
    )
    mixed = lm.read_arpa(out.getvalue().splitlines())
    assert counts == mixed.counts()
    return general, domain, mixed


def test_interpolation_is_the_weighted_sum_and_stays_normalised() -> None:
    general, domain, mixed = mixed_model(0.3)
    both = general.logprob.keys() | domain.logprob.keys()
    assert mixed.logprob.keys() == both  # every n-gram of either model
    for gram in [("the", "cat"), ("thank", "you", "for"), ("on",), ("acme",), ("my", "phone")]:
        expected = 0.7 * 10 ** general.prob(gram[:-1], gram[-1]) + 0.3 * 10 ** domain.prob(
            gram[:-1], gram[-1]
        )
        assert 10 ** mixed.prob(gram[:-1], gram[-1]) == pytest.approx(expected, rel=1e-4), gram
    # A word only the centre says ("acme") gets the centre's share; one only the general text has
    # keeps the general share.
    assert 10 ** mixed.prob((), "acme") == pytest.approx(0.3 * 10 ** domain.prob((), "acme"), rel=1e-4)
    assert 10 ** mixed.prob((), "floor") == pytest.approx(0.7 * 10 ** general.prob((), "floor"), rel=1e-4)
    vocabulary = {w for line in GENERAL + DOMAIN for w in line.split()}
    for history in [(), ("<s>",), ("thank", "you"), ("on", "the"), ("call",), ("the", "zebra")]:
        assert total(mixed, history, vocabulary) == pytest.approx(1.0, abs=1e-3), history
    with pytest.raises(ValueError, match="between 0 and 1"):
        lm.mix_arpa(lambda: [], general.prob, domain, 1.0, io.StringIO())


def test_a_larger_weight_moves_probability_to_the_centres_phrases() -> None:
    _, _, light = mixed_model(0.1)
    _, _, heavy = mixed_model(0.8)
    assert heavy.prob(("thank", "you"), "for") > light.prob(("thank", "you"), "for")
    assert heavy.prob(("on", "the"), "mat") < light.prob(("on", "the"), "mat")


def test_text_is_normalised_to_spoken_words() -> None:
    assert adaptation.sentences_of("For English, press 1. Or say 'agent'!") == [
        ["for", "english", "press", "one"],
        ["or", "say", "agent"],
    ]
    assert adaptation.sentences_of("Call 0800-42 now; it's FREE") == [
        ["call", "zero", "eight", "zero", "zero", "four", "two", "now"],
        ["it's", "free"],
    ]
    # A redaction mask is no word: the sentence breaks there.
    assert adaptation.sentences_of("my card is [CARD] thanks") == [["my", "card", "is"], ["thanks"]]


def test_new_words_are_pronounced_from_the_words_they_are_made_of() -> None:
    known = {"acme": "AE K M IY", "fiber": "F AY B ER", "net": "N EH T", "a": "AH"}
    assert adaptation.compound("acmefiber", known) == "AE K M IY F AY B ER"
    assert adaptation.compound("acmenet", known) == "AE K M IY N EH T"
    assert adaptation.compound("zentrobox", known) is None
    assert adaptation.compound("acme", known) is None  # one known word is not a compound


def test_the_example_texts_hold_no_evaluation_sentence() -> None:
    import sys

    sys.path.insert(0, str(ROOT / "bench"))
    from wer_set import sentences

    texts = adaptation.center_texts(
        adaptation.Sources(
            qa_rules=ROOT / "qa_rules.example.yaml",
            scorecards=ROOT / "scorecards.example.yaml",
            ivr_flows=ROOT / "ivr_flows",
            texts=(ROOT / "agent_scripts.example.txt",),
        )
    )
    assert {name.split()[0] for name in texts} == {"qa", "scorecards", "ivr", "text"}
    assert "Welcome to Acme." in texts[f"ivr prompts {ROOT / 'ivr_flows'}"]
    assert "thank you for calling" in texts[f"qa rules {ROOT / 'qa_rules.example.yaml'}"]
    corpus = {
        " ".join(s) for passages in texts.values() for p in passages for s in adaptation.sentences_of(p)
    }
    joined = "\n".join(corpus)
    evaluation = sentences()
    assert len(evaluation) == 40
    assert not [s for s in evaluation if s in joined]


# --- building with pocketsphinx's model code, and the server's rebuild ----------------------------


def tiny_general(directory: Path) -> Path:
    """A model directory: the bundled acoustic model and dictionary, a small general LM."""
    import pocketsphinx

    model = directory / "general"
    bundled = Path(pocketsphinx.get_model_path("en-us"))
    shutil.copytree(bundled / "en-us", model / "acoustic")
    shutil.copyfile(bundled / "cmudict-en-us.dict", model / "general.dict")
    with (model / "general.lm").open("w") as out:
        lm.write_arpa(lm.estimate(words(GENERAL), order=3), out)
    return model


@pytest.fixture(scope="module")
def general_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_general(tmp_path_factory.mktemp("general"))


def settings_for(tmp_path: Path, general: Path, texts: list[Path], **adapt: object) -> Settings:
    return Settings.model_validate(
        {
            "transcription": {
                "model": str(general),
                "adaptation": {
                    "enabled": True,
                    "texts": [str(t) for t in texts],
                    "directory": str(tmp_path / "models"),
                    "check_seconds": 0.1,
                    **adapt,
                },
            }
        }
    )


def test_build_makes_a_model_pocketsphinx_loads_with_the_new_words(tmp_path: Path, general_dir: Path) -> None:
    import pocketsphinx

    script = tmp_path / "script.txt"
    script.write_text("# a comment\nThank you for calling Acme.\nCall the Zentrobox on my catphone!\n")
    given = {"zentrobox": "z eh n t r ow b aa k s"}
    settings = settings_for(tmp_path, general_dir, [script], pronunciations=given)
    model = adaptation.ensure(settings)
    meta = model.meta()
    assert meta["added_words"] == ["catphone", "zentrobox"] and meta["unknown_words"] == []
    assert meta["sources"] == {f"text {script}": 2} and meta["sentences"] == 2
    decoder = pocketsphinx.Decoder(
        hmm=str(general_dir / "acoustic"), lm=str(model.lm), dict=str(model.dictionary)
    )
    assert decoder.lookup_word("zentrobox") == "Z EH N T R OW B AA K S"
    assert decoder.lookup_word("catphone") == f"{decoder.lookup_word('cat')} {decoder.lookup_word('phone')}"
    assert decoder.lookup_word("cat") is not None  # the general words stay
    mixed = pocketsphinx.NGramModel(pocketsphinx.Config(lm=None), pocketsphinx.LogMath(), str(model.lm))
    assert mixed.size() == 3
    # Built again from the same text: the same directory, not rebuilt.
    assert adaptation.ensure(settings) == model
    script.write_text("the dog sat on my phone\n")
    assert adaptation.ensure(settings).key != model.key


def test_unknown_words_are_left_out_and_reported(tmp_path: Path, general_dir: Path) -> None:
    script = tmp_path / "script.txt"
    script.write_text("the qwxzy cat sat\n")
    model = adaptation.ensure(settings_for(tmp_path, general_dir, [script]))
    assert model.meta()["unknown_words"] == ["qwxzy"]
    assert (model.directory / adaptation.TEXT_FILE).read_text().splitlines() == ["the", "cat sat"]
    missing = settings_for(tmp_path, general_dir, [tmp_path / "nope.txt"])
    with pytest.raises(EngineError, match=r"nope\.txt: cannot read"):
        adaptation.ensure(missing)


async def test_the_service_rebuilds_when_the_text_changes_and_keeps_the_last_on_a_bad_edit(
    tmp_path: Path, general_dir: Path
) -> None:
    script = tmp_path / "script.txt"
    script.write_text("thank you for calling acme\n")
    reviewed = ["the caller said [CARD] and thanks"]

    async def reviewed_source() -> list[str]:
        return reviewed

    service = AdaptationService(
        settings_for(tmp_path, general_dir, [script]), [("reviewed transcripts", reviewed_source)]
    )
    assert service.model() is None  # the general model until the first build
    await service.start()
    try:
        await asyncio.wait_for(service.changed.wait(), 120)
        first = service.current
        assert first is not None and service.model() == first.directory
        assert first.meta()["sources"] == {f"text {script}": 1, "reviewed transcripts": 1}
        service.changed.clear()
        assert not await service.check()  # nothing changed: nothing built

        script.write_text("your account number please\n")
        await asyncio.wait_for(service.changed.wait(), 120)
        second = service.current
        assert second is not None and second.key != first.key
        assert not first.directory.exists()  # the older model is pruned
        assert "account number please" in (second.directory / adaptation.TEXT_FILE).read_text()

        script.unlink()  # a bad edit: the model in use stays
        for _ in range(100):
            if service.last_error:
                break
            await asyncio.sleep(0.1)
        assert service.last_error is not None and "script.txt: cannot read" in service.last_error
        assert service.current == second
    finally:
        await service.stop()


def test_log_mix_of_impossible_events() -> None:
    assert lm._log_mix(lm.NEVER, lm.NEVER, 0.5) == lm.NEVER
    assert lm._log_mix(math.log10(0.5), lm.NEVER, 0.5) == pytest.approx(math.log10(0.25))


def test_a_pronunciation_with_phones_the_model_lacks_is_refused(tmp_path: Path, general_dir: Path) -> None:
    script = tmp_path / "script.txt"
    script.write_text("the zentrobox\n")
    bad = settings_for(tmp_path, general_dir, [script], pronunciations={"zentrobox": "Z Q1 N"})
    with pytest.raises(EngineError, match="zentrobox: unknown phones \\['Q1'\\]"):
        adaptation.ensure(bad)


async def test_reviewed_transcripts_are_the_text_of_reviewed_calls_only(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from callcenter.core.qa.transcript import Segment, Transcript, Word
    from callcenter.storage.qa_store import QaStore

    store = QaStore(f"sqlite+aiosqlite:///{tmp_path / 'qa.db'}")
    await store.start()
    try:
        now = datetime.now(UTC)
        for call, text in (("call-1", "your router is ready"), ("call-2", "nobody looked at this")):
            words = tuple(Word(w, i, i + 0.5, 0.9) for i, w in enumerate(text.split()))
            transcript = Transcript("en-US", "pocketsphinx", (Segment("agent", 0, 5, words),), redacted=True)
            await store.save_result(call, transcript, None, now)
        assert await store.reviewed_texts(10) == []
        await store.add_review("call-1", "qa-1", "standard", {"greeting": 1}, "", 100.0, now)
        assert await store.reviewed_texts(10) == ["your router is ready"]
        assert await store.reviewed_texts(0) == []
    finally:
        await store.stop()


def test_prune_keeps_the_model_in_use_and_builds_under_way(tmp_path: Path) -> None:
    import os
    import time

    for name in ("aaa", "bbb"):
        (tmp_path / name).mkdir()
        (tmp_path / name / adaptation.META_FILE).write_text("{}")
    (tmp_path / ".ccc-fresh").mkdir()  # a build under way
    (tmp_path / ".ddd-old").mkdir()  # left by a killed build
    old = time.time() - adaptation.STALE_BUILD_SECONDS - 60
    os.utime(tmp_path / ".ddd-old", (old, old))
    assert sorted(adaptation.prune(tmp_path, ["bbb"])) == [".ddd-old", "aaa"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".ccc-fresh", "bbb"]

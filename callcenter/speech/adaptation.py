"""Domain adaptation of the recognizer: a language model built from the centre's own text,
interpolated with the general model, plus pronunciations for the centre's words the general
dictionary lacks.

The text (see :func:`center_texts`): the QA rules' phrases and emergency words, the scorecards'
titles and criteria, the IVR prompts (English), the agents' scripts and other text files named by
``transcription.adaptation.texts``, and whatever a :data:`TextSource` adds (reviewed transcripts,
knowledge-base articles). It is normalised to words as spoken (digits read one by one), estimated
as a trigram model (:func:`callcenter.speech.lm.estimate`) and mixed with the engine's general model
(:func:`callcenter.speech.lm.mix_arpa`); the result, with a dictionary holding the general one plus
the centre's new words, is one directory named by the hash of everything that went in. Building is
blocking and heavy (about a minute of CPU for the bundled 3.8-million n-gram model): the server
runs it in a worker process (:mod:`callcenter.speech.adaptation_service`), ``callcenter transcribe``
before it starts; an unchanged text reuses the directory.

A word outside the general dictionary is pronounced as given in
``transcription.adaptation.pronunciations``, else as the known words it is made of ("acmefibre" =
"acme" + "fibre"), else it is left out (and listed in the model's ``model.json``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from callcenter.speech import lm, sphinx_lm
from callcenter.speech.engine import EngineError

if TYPE_CHECKING:
    from callcenter.settings import Settings

log = logging.getLogger("callcenter.speech.adaptation")

FORMAT = 1  # bumped when the builder changes what it makes from the same text
ORDER = 3
LM_FILE, DICT_FILE, META_FILE, TEXT_FILE = "adapted.lm.bin", "adapted.dict", "model.json", "text.txt"

STALE_BUILD_SECONDS = 3600.0
TextSource = Callable[[], Iterable[str]]  # more of the centre's text (each item: a passage)

_DIGITS = "zero one two three four five six seven eight nine".split()
_SENTENCE_END = re.compile(r"[.!?;:\n]+")
_MASK = re.compile(r"\[[A-Z_]+\]")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def sentences_of(text: str) -> list[list[str]]:
    """Lower-case words as spoken, one list per sentence: punctuation and symbols dropped, digits
    read one by one ("press 1" -> "press one"), hyphens and slashes between words as spaces."""
    out: list[list[str]] = []
    text = _MASK.sub(".", text)  # a redaction mask ("[CARD]") is not a word: the sentence breaks there
    for piece in _SENTENCE_END.split(text.lower().replace("\u2019", "'")):
        words: list[str] = []
        for token in _WORD.findall(re.sub(r"[-/_]", " ", piece)):
            parts = re.findall(r"\d|[a-z']+", token)
            words.extend(_DIGITS[int(p)] if p.isdigit() else p for p in parts)
        if words:
            out.append(words)
    return out


# --- the centre's text ------------------------------------------------------------------------


def qa_rule_texts(path: Path) -> list[str]:
    from callcenter.qa.loader import load_rules

    rules = load_rules(path)
    phrases = [p for rule in (*rules.required, *rules.forbidden) for p in rule.phrases]
    return phrases + list(rules.emergency_words)


def scorecard_texts(path: Path) -> list[str]:
    from callcenter.qa.scorecards import load_scorecards

    return [
        text
        for card in load_scorecards(path).values()
        for text in (card.title, *(criterion.label for criterion in card.criteria))
    ]


def ivr_prompt_texts(directory: Path, language: str = "en") -> list[str]:
    """The text-to-speech prompts of the flows in ``directory`` in ``language`` (and its
    variants, "en-GB"...): every ``say`` mapping's text, wherever it sits in a flow."""
    from callcenter.ivr.loader import flow_files

    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                if key == "say" and isinstance(value, Mapping):
                    out.extend(
                        str(text)
                        for lang, text in value.items()
                        if str(lang).split("-")[0] == language and isinstance(text, str)
                    )
                elif key == "say" and isinstance(value, str):
                    out.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for path in flow_files([directory]) if directory.is_dir() else []:
        try:
            walk(yaml.safe_load(path.read_text(encoding="utf-8")))
        except (OSError, yaml.YAMLError) as err:  # the flow store reports bad flows itself
            log.warning("adaptation.ivr_unreadable", extra={"file": str(path), "error": type(err).__name__})
    return out


def text_file_texts(path: Path) -> list[str]:
    """A text file: each line a passage; blank lines and ``#`` comments skipped."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.lstrip().startswith("#")]


@dataclass(frozen=True, slots=True)
class Sources:
    """Where the centre's text is (paths from the settings) and further sources."""

    qa_rules: Path | None = None
    scorecards: Path | None = None
    ivr_flows: Path | None = None
    texts: tuple[Path, ...] = ()
    extra: tuple[tuple[str, TextSource], ...] = ()  # (name, source): reviewed transcripts, the KB


def center_texts(sources: Sources) -> dict[str, list[str]]:
    """The text of each source, by name. A source that cannot be read raises (``EngineError``
    with the file and the problem): a model silently built without it would be worse."""
    out: dict[str, list[str]] = {}

    def take(name: str, read: Callable[[], Iterable[str]]) -> None:
        try:
            out[name] = list(read())
        except OSError as err:
            raise EngineError(f"{name}: cannot read: {err.strerror or err}") from err
        except Exception as err:  # a loader's own error (file:line: problem)
            raise EngineError(f"{name}: {err}") from err

    if sources.qa_rules is not None:
        path = sources.qa_rules
        take(f"qa rules {path}", lambda: qa_rule_texts(path))
    if sources.scorecards is not None:
        cards = sources.scorecards
        take(f"scorecards {cards}", lambda: scorecard_texts(cards))
    if sources.ivr_flows is not None:
        flows = sources.ivr_flows
        take(f"ivr prompts {flows}", lambda: ivr_prompt_texts(flows))
    for text_path in sources.texts:
        take(f"text {text_path}", functools.partial(text_file_texts, text_path))
    for name, source in sources.extra:
        take(name, source)
    return out


# --- pronunciations -----------------------------------------------------------------------------


def read_dictionary(path: Path) -> dict[str, str]:
    """word -> phones of a CMU-style dictionary (first pronunciation of each word)."""
    out: dict[str, str] = {}
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            word, _, phones = line.strip().partition(" ")
            if word and phones and "(" not in word:
                out.setdefault(word, phones.strip())
    return out


def compound(word: str, known: Mapping[str, str]) -> str | None:
    """Phones of ``word`` as the fewest known words it is made of (each at least 2 letters), or None."""
    best: list[list[str] | None] = [None] * (len(word) + 1)
    best[0] = []
    for end in range(2, len(word) + 1):
        for start in range(0, end - 1):
            head = best[start]
            part = word[start:end]
            if head is None or part not in known:
                continue
            candidate = [*head, part]
            current = best[end]
            if current is None or len(candidate) < len(current):
                best[end] = candidate
    parts = best[len(word)]
    if not parts or len(parts) < 2:
        return None
    return " ".join(known[p] for p in parts)


# --- building -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GeneralModel:
    """The engine's general language model and dictionary (pocketsphinx's bundled ones by default)."""

    lm: Path
    dictionary: Path

    @classmethod
    def bundled(cls) -> GeneralModel:
        try:
            import pocketsphinx
        except ImportError as err:
            raise EngineError("pocketsphinx is not installed: pip install 'callcenter[speech]'") from err
        root = Path(pocketsphinx.get_model_path("en-us"))
        return cls(root / "en-us.lm.bin", root / "cmudict-en-us.dict")

    @classmethod
    def of(cls, model: Path | None) -> GeneralModel:
        if model is None:
            return cls.bundled()
        from callcenter.speech.pocketsphinx_engine import _model_files

        files = _model_files(model)
        return cls(Path(files["lm"]), Path(files["dict"]))

    def identity(self) -> str:
        stat = self.lm.stat()
        return f"{self.lm.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"


@dataclass(frozen=True, slots=True)
class Recipe:
    """Everything a built model depends on; its hash names the model's directory."""

    texts: tuple[tuple[str, tuple[str, ...]], ...]  # (source, passages)
    weight: float
    pronunciations: tuple[tuple[str, str], ...]
    general: GeneralModel

    def key(self) -> str:
        digest = hashlib.sha256()
        digest.update(
            json.dumps([FORMAT, self.weight, self.pronunciations, self.general.identity()]).encode()
        )
        for name, passages in self.texts:
            digest.update(name.encode() + b"\0")
            for passage in passages:
                digest.update(passage.encode() + b"\n")
        return digest.hexdigest()[:16]


def recipe(
    texts: Mapping[str, Sequence[str]],
    weight: float,
    pronunciations: Mapping[str, str],
    general: GeneralModel,
) -> Recipe:
    return Recipe(
        tuple((name, tuple(passages)) for name, passages in sorted(texts.items())),
        weight,
        tuple(sorted((w.lower(), p.upper()) for w, p in pronunciations.items())),
        general,
    )


@dataclass(frozen=True, slots=True)
class AdaptedModel:
    directory: Path
    key: str

    @property
    def lm(self) -> Path:
        return self.directory / LM_FILE

    @property
    def dictionary(self) -> Path:
        return self.directory / DICT_FILE

    def meta(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.directory / META_FILE).read_text(encoding="utf-8"))
        return data


def existing(directory: Path, key: str) -> AdaptedModel | None:
    model = AdaptedModel(directory / key, key)
    return model if (model.directory / META_FILE).exists() else None


def general_entries(general: GeneralModel) -> Iterator[lm.Entry]:
    """The general model's n-grams: read from pocketsphinx's binary (its own writer cannot turn
    the bundled model into ARPA, see sphinx_lm.py) or from ARPA text."""
    with general.lm.open("rb") as handle:
        binary = handle.read(len(sphinx_lm.HEADER)) == sphinx_lm.HEADER
    if binary:
        yield from sphinx_lm.read_entries(general.lm)
        return
    with general.lm.open(encoding="utf-8", errors="replace") as text:
        yield from lm.arpa_entries(text)


def _check_pronunciations(given: Mapping[str, str], known: Mapping[str, str]) -> None:
    phone_set = {phone for phones in known.values() for phone in phones.split()}
    for word, spelled in given.items():
        strange = [phone for phone in spelled.split() if phone not in phone_set]
        if strange or not spelled.split():
            raise EngineError(
                f"transcription.adaptation.pronunciations: {word}: unknown phones {strange or spelled!r} "
                f"(the dictionary's phones: {' '.join(sorted(phone_set))})"
            )


@dataclass
class _Text:
    """The centre's text as sentences of pronounceable words, and the words it added or lost."""

    sentences: list[list[str]]
    added: dict[str, str]
    unknown: set[str]


def _domain_text(the_recipe: Recipe, known: Mapping[str, str]) -> _Text:
    given = dict(the_recipe.pronunciations)
    _check_pronunciations(given, known)
    out = _Text([], {}, set())
    for _name, passages in the_recipe.texts:
        for passage in passages:
            for sentence in sentences_of(passage):
                piece: list[str] = []
                for word in sentence:
                    phones = known[word] if word in known else given.get(word)
                    if phones is None:
                        phones = compound(word, known)
                    if phones is None:  # unpronounceable: the sentence is cut there
                        out.unknown.add(word)
                        if piece:
                            out.sentences.append(piece)
                        piece = []
                        continue
                    if word not in known:
                        out.added[word] = phones
                    piece.append(word)
                if piece:
                    out.sentences.append(piece)
    if not out.sentences:
        raise EngineError("no usable text to adapt the language model with")
    return out


def _write_lm(general: GeneralModel, domain: lm.NgramModel, weight: float, target: Path) -> list[int]:
    """The interpolated model as pocketsphinx's binary at ``target`` (through ARPA beside it)."""
    import pocketsphinx

    config = pocketsphinx.Config(lm=None)
    logmath = pocketsphinx.LogMath()
    general_model = pocketsphinx.NGramModel(config, logmath, str(general.lm))

    def general_prob(history: tuple[str, ...], word: str) -> float:
        # NGramModel.prob takes the word first, then its history backwards ("b a" is p(b | a)),
        # and answers in logmath units (integer logs to base 1.0001).
        return float(logmath.log_to_log10(general_model.prob([word, *reversed(history)])))

    mixed = target.with_suffix(".arpa")
    with mixed.open("w", encoding="utf-8") as out:
        counts = lm.mix_arpa(lambda: general_entries(general), general_prob, domain, weight, out)
    binary = pocketsphinx.NGramModel(config, logmath, str(mixed))
    binary.write(str(target), pocketsphinx.NGramModel.str_to_type("bin"))
    mixed.unlink()
    return counts


def build(the_recipe: Recipe, directory: Path) -> AdaptedModel:
    """Build (or find) the adapted model of ``the_recipe`` under ``directory``. Blocking, CPU-heavy."""
    key = the_recipe.key()
    found = existing(directory, key)
    if found is not None:
        return found
    directory.mkdir(parents=True, exist_ok=True)
    general = the_recipe.general
    text = _domain_text(the_recipe, read_dictionary(general.dictionary))
    domain = lm.estimate(text.sentences, ORDER)
    work = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=directory))
    try:
        counts = _write_lm(general, domain, the_recipe.weight, work / LM_FILE)
        shutil.copyfile(general.dictionary, work / DICT_FILE)
        with (work / DICT_FILE).open("a", encoding="utf-8") as handle:
            handle.writelines(f"{word} {phones}\n" for word, phones in sorted(text.added.items()))
        with (work / TEXT_FILE).open("w", encoding="utf-8") as handle:
            handle.writelines(" ".join(sentence) + "\n" for sentence in text.sentences)
        meta = {
            "format": FORMAT,
            "key": key,
            "weight": the_recipe.weight,
            "sources": {name: len(passages) for name, passages in the_recipe.texts},
            "sentences": len(text.sentences),
            "domain_ngrams": domain.counts(),
            "ngrams": counts,
            "added_words": sorted(text.added),
            "unknown_words": sorted(text.unknown),
            "general": str(general.lm),
        }
        (work / META_FILE).write_text(json.dumps(meta, indent=1), encoding="utf-8")
        try:
            os.replace(work, directory / key)
        except OSError:  # another builder got there first with the same recipe
            if not (directory / key / META_FILE).exists():
                raise
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    log.info(
        "adaptation.built", extra={"key": key, "sentences": len(text.sentences), "added": len(text.added)}
    )
    return AdaptedModel(directory / key, key)


def prune(directory: Path, keep: Iterable[str]) -> list[str]:
    """Delete built models other than ``keep`` (keys), and half-made ones (a build killed with its
    server leaves its hidden working directory) once an hour old: a build under way is younger."""
    wanted = set(keep)
    removed = []
    stale = time.time() - STALE_BUILD_SECONDS
    for child in directory.iterdir() if directory.is_dir() else ():
        if child.name.startswith(".") and child.is_dir() and child.stat().st_mtime < stale:
            shutil.rmtree(child, ignore_errors=True)
            removed.append(child.name)
        elif child.is_dir() and (child / META_FILE).exists() and child.name not in wanted:
            shutil.rmtree(child, ignore_errors=True)
            removed.append(child.name)
    return removed


# --- from the settings --------------------------------------------------------------------------


def sources_from(settings: Settings, extra: Sequence[tuple[str, TextSource]] = ()) -> Sources:
    conf = settings.transcription.adaptation
    return Sources(
        qa_rules=settings.transcription.qa_rules if conf.qa_rules else None,
        scorecards=settings.qa.scorecards if conf.scorecards else None,
        ivr_flows=settings.ivr.flows_dir if conf.ivr_prompts else None,
        texts=tuple(conf.texts),
        extra=tuple(extra),
    )


def recipe_from(settings: Settings, texts: Mapping[str, Sequence[str]]) -> Recipe:
    conf = settings.transcription.adaptation
    return recipe(texts, conf.weight, conf.pronunciations, GeneralModel.of(settings.transcription.model))


def ensure(settings: Settings, extra: Sequence[tuple[str, TextSource]] = ()) -> AdaptedModel:
    """The adapted model of the centre's text as it is now: found, or built here (blocking)."""
    the_recipe = recipe_from(settings, center_texts(sources_from(settings, extra)))
    return build(the_recipe, settings.transcription.adaptation.directory)

"""A small n-gram language model builder (Witten-Bell backoff) and its linear interpolation with a
large ARPA model, written as ARPA.

Why our own: pocketsphinx 5's Python API loads, queries and writes models (``NGramModel``) but
neither estimates nor combines them (its ``lm.ArpaBoLM`` is an untyped script class with a fixed
discount, and ``-lmctl`` model sets switch between models instead of interpolating). The centre's
text is small (thousands of sentences at most), so estimating it in Python is cheap; the general
model is large (about 3.8 million n-grams), so :func:`mix_arpa` streams it twice (once to sum,
once to write) and asks the general model's own C implementation for the probabilities it does not
hold explicitly.

All probabilities are log10, as ARPA files hold them. Invariants of :class:`NgramModel`: every
n-gram's prefix is an n-gram of the model (what ARPA readers need), and ``<s>`` has probability 0
(log10 ``-99``) but a backoff weight.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TextIO

START, END = "<s>", "</s>"
NEVER = -99.0  # log10 of "impossible", as ARPA files write it
_FLOOR = 1e-9  # a probability mass below this is treated as this (never log(0))

Ngram = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NgramModel:
    order: int
    logprob: Mapping[Ngram, float]  # log10 p(w | h) for the explicit n-grams (h + (w,))
    backoff: Mapping[Ngram, float]  # log10 backoff weight of each history that has one

    @property
    def vocabulary(self) -> frozenset[str]:
        return frozenset(ngram[0] for ngram in self.logprob if len(ngram) == 1)

    def prob(self, history: Sequence[str], word: str) -> float:
        """log10 p(word | history) with backoff; :data:`NEVER` for a word the model does not know."""
        context = tuple(history[len(history) - self.order + 1 :]) if self.order > 1 else ()
        weight = 0.0
        while True:
            found = self.logprob.get((*context, word))
            if found is not None:
                return found + weight
            if not context:
                return NEVER
            weight += self.backoff.get(context, 0.0)
            context = context[1:]

    def counts(self) -> list[int]:
        out = [0] * self.order
        for ngram in self.logprob:
            out[len(ngram) - 1] += 1
        return out


def estimate(sentences: Iterable[Sequence[str]], order: int = 3) -> NgramModel:
    """A Witten-Bell backoff model of ``sentences`` (each a sequence of words, without ``<s>``).

    For a history h seen c(h) times with T(h) different next words: p(w | h) = c(hw) / (c(h) + T(h))
    for the words seen after it; the mass T(h) / (c(h) + T(h)) goes to the shorter history through
    h's backoff weight. Unigrams are relative frequencies (a closed vocabulary: interpolation with
    the general model gives other words their chance).
    """
    if order < 1:
        raise ValueError("order must be at least 1")
    counts: list[dict[Ngram, int]] = [defaultdict(int) for _ in range(order)]
    for sentence in sentences:
        if not sentence:
            continue
        padded = (START, *sentence, END)
        for n in range(1, order + 1):
            for end in range(n, len(padded) + 1):
                gram = padded[end - n : end]
                if gram == (START,):
                    continue
                if n > 1 and START in gram[1:]:  # pragma: no cover - <s> only opens a sentence
                    continue
                counts[n - 1][gram] += 1
    if not counts[0]:
        raise ValueError("no words to build a language model from")
    logprob: dict[Ngram, float] = {}
    backoff: dict[Ngram, float] = {}
    total = sum(counts[0].values())
    for (word,), count in counts[0].items():
        logprob[(word,)] = math.log10(count / total)
    logprob[(START,)] = NEVER
    for n in range(2, order + 1):
        followers: dict[Ngram, list[tuple[str, int]]] = defaultdict(list)
        for gram, count in counts[n - 1].items():
            followers[gram[:-1]].append((gram[-1], count))
        lower = NgramModel(n - 1, logprob, backoff)
        for history, seen in followers.items():
            seen_total = sum(count for _, count in seen)
            denominator = seen_total + len(seen)
            for word, count in seen:
                logprob[(*history, word)] = math.log10(count / denominator)
            left = len(seen) / denominator
            lower_seen = sum(10 ** lower.prob(history[1:], word) for word, _ in seen)
            backoff[history] = math.log10(left / max(_FLOOR, 1.0 - lower_seen))
    return NgramModel(order, logprob, backoff)


# --- ARPA text -------------------------------------------------------------------------------


def write_arpa(model: NgramModel, out: TextIO) -> None:
    counts = model.counts()
    out.write("\\data\\\n")
    for n, count in enumerate(counts, 1):
        out.write(f"ngram {n}={count}\n")
    for n in range(1, model.order + 1):
        out.write(f"\n\\{n}-grams:\n")
        for gram in sorted(g for g in model.logprob if len(g) == n):
            out.write(_line(model.logprob[gram], gram, model.backoff.get(gram) if n < model.order else None))
    out.write("\n\\end\\\n")


def _line(logprob: float, gram: Ngram, backoff: float | None) -> str:
    words = " ".join(gram)
    if backoff is None:
        return f"{logprob:.6f}\t{words}\n"
    return f"{logprob:.6f}\t{words}\t{backoff:.6f}\n"


class ArpaError(ValueError):
    pass


def arpa_entries(lines: Iterable[str]) -> Iterator[tuple[int, float, Ngram, float | None]]:
    """(order, log10 p, n-gram, log10 backoff or None) for each n-gram line of an ARPA file."""
    order = 0
    in_data = False
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line:
            continue
        if line[0] == "\\":  # a section line (rare: tested first only for its first character)
            if line == "\\data\\":
                in_data = True
                continue
            if line == "\\end\\":
                return
            match = re.fullmatch(r"\\(\d+)-grams:", line)
            if match:
                order = int(match.group(1))
                continue
        if order == 0:
            if in_data and not line.startswith("ngram "):
                raise ArpaError(f"line {number}: expected 'ngram N=count', got {line[:40]!r}")
            continue
        fields = line.split()
        if len(fields) not in (order + 1, order + 2):
            raise ArpaError(f"line {number}: a {order}-gram line needs {order + 1} or {order + 2} fields")
        try:
            logprob = float(fields[0])
            bow = float(fields[order + 1]) if len(fields) == order + 2 else None
        except ValueError as err:
            raise ArpaError(f"line {number}: {err}") from err
        yield order, logprob, tuple(fields[1 : order + 1]), bow
    raise ArpaError("no \\end\\ line: the file is cut short")


def read_arpa(lines: Iterable[str]) -> NgramModel:
    logprob: dict[Ngram, float] = {}
    backoff: dict[Ngram, float] = {}
    order = 0
    for n, p, gram, bow in arpa_entries(lines):
        order = max(order, n)
        logprob[gram] = p
        if bow is not None:
            backoff[gram] = bow
    return NgramModel(order, logprob, backoff)


# --- interpolation -----------------------------------------------------------------------------


def _log_mix(general: float, domain: float, weight: float) -> float:
    """log10((1 - weight) 10^general + weight 10^domain)."""
    value = (1.0 - weight) * (10**general if general > NEVER else 0.0) + weight * (
        10**domain if domain > NEVER else 0.0
    )
    return math.log10(value) if value > 0 else NEVER


GeneralProb = Callable[[Ngram, str], float]  # log10 p(word | history) of the general model


Entry = tuple[int, float, Ngram, float | None]  # (order, log10 p, n-gram, log10 backoff or None)


def mix_arpa(
    general_entries: Callable[[], Iterable[Entry]],
    general_prob: GeneralProb,
    domain: NgramModel,
    weight: float,
    out: TextIO,
) -> list[int]:
    """Write the linear interpolation ``(1 - weight) general + weight domain`` as ARPA to ``out``.

    The mixed model holds every n-gram of either model, with p(w | h) the weighted sum of both
    models' probabilities (each with its own backoff where it has no such n-gram), and backoff
    weights computed again so that each history's distribution sums to one over the mixed
    explicit n-grams plus the backed-off rest (what SRILM's ``ngram -mix-lm`` does).

    ``general_entries`` (the general model's n-grams, by order: :func:`arpa_entries` of an ARPA
    file, :func:`callcenter.speech.sphinx_lm.read_entries` of a binary one) is called twice (the
    sums first, then the lines); ``general_prob`` answers for the n-grams the general model does
    not list. Returns the n-gram counts written.
    """
    if not 0.0 < weight < 1.0:
        raise ValueError("the domain weight must be between 0 and 1")
    mixer = _Mixer(general_prob, domain, weight)
    mixer.sum(general_entries())
    return mixer.write(general_entries(), out)


class _Mixer:
    def __init__(self, general_prob: GeneralProb, domain: NgramModel, weight: float) -> None:
        self.general_prob, self.domain, self.weight = general_prob, domain, weight
        self.domain_words = domain.vocabulary
        self.numerators: dict[Ngram, float] = defaultdict(float)  # sum of mixed p(w | h), explicit w
        self.denominators: dict[Ngram, float] = defaultdict(float)  # same words, shorter history
        self.unigram: dict[str, float] = {}  # the general model's unigrams
        self.counts: dict[int, int] = defaultdict(int)
        self.order = domain.order
        self.extra: list[Ngram] = []  # the domain's n-grams the general model does not list
        self.extra_values: dict[Ngram, float] = {}

    def general_known(self, history: Ngram, word: str) -> float:
        return self.general_prob(history, word) if word in self.unigram else NEVER

    def domain_prob(self, gram: Ngram) -> float:
        if gram[-1] not in self.domain_words:
            return NEVER
        return self.domain.prob(gram[:-1], gram[-1])

    def mixed(self, gram: Ngram, general: float) -> float:
        if gram == (START,):
            return NEVER
        return _log_mix(general, self.domain_prob(gram), self.weight)

    def lower_general(self, gram: Ngram) -> float:
        if len(gram) == 2:
            return self.unigram.get(gram[1], NEVER)
        return self.general_known(gram[1:-1], gram[-1])

    def account(self, gram: Ngram, value: float) -> None:
        if len(gram) < 2:
            return
        history = gram[:-1]
        self.numerators[history] += 10**value if value > NEVER else 0.0
        lower = _log_mix(self.lower_general(gram), self.domain_prob(gram[1:]), self.weight)
        self.denominators[history] += 10**lower if lower > NEVER else 0.0

    def sum(self, entries: Iterable[Entry]) -> None:
        """Pass 1: the sums over the general model's n-grams, then the domain's own n-grams."""
        seen: set[Ngram] = set()
        for n, p, gram, _bow in entries:
            self.order = max(self.order, n)
            self.counts[n] += 1
            if n == 1:
                self.unigram[gram[0]] = p
            if gram in self.domain.logprob:
                seen.add(gram)
            self.account(gram, self.mixed(gram, p))
        self.extra = sorted((g for g in self.domain.logprob if g not in seen), key=lambda g: (len(g), g))
        for gram in self.extra:
            if len(gram) == 1:
                general = self.unigram.get(gram[0], NEVER)
            else:
                general = self.general_known(gram[:-1], gram[-1])
            self.extra_values[gram] = value = self.mixed(gram, general)
            self.counts[len(gram)] += 1
            self.account(gram, value)

    def backoff(self, gram: Ngram) -> float | None:
        if len(gram) >= self.order:
            return None
        if gram not in self.numerators:
            return 0.0
        left = max(_FLOOR, 1.0 - self.numerators[gram])
        return math.log10(left / max(_FLOOR, 1.0 - self.denominators[gram]))

    def write(self, entries: Iterable[Entry], out: TextIO) -> list[int]:
        """Pass 2: the lines, each order's section opened with the domain's own n-grams."""
        out.write("\\data\\\n")
        for n in range(1, self.order + 1):
            out.write(f"ngram {n}={self.counts[n]}\n")
        current = 0
        for n, p, gram, _bow in entries:
            while current < n:
                current += 1
                self._section(current, out)
            out.write(_line(self.mixed(gram, p), gram, self.backoff(gram)))
        while current < self.order:
            current += 1
            self._section(current, out)
        out.write("\n\\end\\\n")
        return [self.counts[n] for n in range(1, self.order + 1)]

    def _section(self, n: int, out: TextIO) -> None:
        out.write(f"\n\\{n}-grams:\n")
        for gram in (g for g in self.extra if len(g) == n):
            out.write(_line(self.extra_values[gram], gram, self.backoff(gram)))

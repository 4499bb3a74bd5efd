"""Reading pocketsphinx's binary language model ("Trie Language Model", ``*.lm.bin``).

Why: pocketsphinx 5.1.1 cannot turn its own bundled ``en-us.lm.bin`` back into ARPA text — its
``NGramModel.write`` (and ``pocketsphinx_lm_convert``) writes garbage probabilities and then crashes
(a count mismatch in the C ``ngram_model_trie_write_arpa``; measured here: a segmentation fault
after the bigrams). The interpolation (:func:`callcenter.speech.lm.mix_arpa`) needs every n-gram
of the general model, so this module reads the binary itself, vectorised with numpy.

The layout (pocketsphinx's ``src/lm/ngram_model_trie.c``, ``lm_trie.c``, ``lm_trie_quant.c``),
little-endian: the header text, the order (one byte), the n-gram counts (uint32 each); for order > 1
a 4-byte quantisation type, then float32 tables: per middle order 65536 probabilities and 65536
backoff weights, then 65536 probabilities of the highest order; the unigrams, (count + 1) records
of (float32 probability, float32 backoff, uint32 index of the first child); the bit-packed middle
orders (each entry: word id, 16-bit backoff index, 16-bit probability index, index of the first
child) and the highest order (word id, 16-bit probability index), each array ``((1 + n) * bits + 7)
// 8 + 8`` bytes; the words (uint32 byte count, NUL-separated). The trie is reversed: a unigram's
children are the words *before* it. Values are in logmath units, logs to base 1.0001.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy

from callcenter.speech.lm import ArpaError, Ngram

HEADER = b"Trie Language Model"
_QUANT_BITS = 16
_MID_TABLE = 2 << _QUANT_BITS  # probabilities then backoff weights
_LONG_TABLE = 1 << _QUANT_BITS
_TO_LOG10 = math.log10(1.0001)


def _fields(
    memory: numpy.ndarray, start_bit: int, count: int, stride: int, offset: int, width: int
) -> numpy.ndarray:
    """The ``width``-bit field at ``offset`` of ``count`` entries of ``stride`` bits from ``start_bit``."""
    if width == 0:
        return numpy.zeros(count, dtype=numpy.int64)
    bits = start_bit + numpy.arange(count, dtype=numpy.int64) * stride + offset
    first = bits >> 3
    window = numpy.zeros(count, dtype=numpy.uint64)
    for k in range(8):
        window |= memory[first + k].astype(numpy.uint64) << numpy.uint64(8 * k)
    shifted = window >> (bits & 7).astype(numpy.uint64)
    return (shifted & numpy.uint64((1 << width) - 1)).astype(numpy.int64)


@dataclass(frozen=True)
class _Trie:
    order: int
    counts: tuple[int, ...]
    quant: numpy.ndarray  # log10 values of the quantisation tables
    unigrams: numpy.ndarray  # (p, bo, next) records, count + 1
    memory: numpy.ndarray  # the bit-packed orders 2..order, as bytes
    layout: list[tuple[int, int, int]]  # per order 2..: (byte offset, entry bits, child index bits)
    words: list[str]
    word_bits: int

    def field(self, n: int, count: int, offset: int, width: int) -> numpy.ndarray:
        start, stride, _ = self.layout[n - 2]
        return _fields(self.memory, start * 8, count, stride, offset, width)


def _read(path: Path) -> _Trie:
    data = path.read_bytes()
    if not data.startswith(HEADER):
        raise ArpaError(f"{path}: not a pocketsphinx binary language model")
    pos = len(HEADER)
    order = data[pos]
    pos += 1
    if not 1 <= order <= 3:
        raise ArpaError(f"{path}: order {order} (only 1 to 3 are read)")
    counts = struct.unpack_from(f"<{order}I", data, pos)
    pos += 4 * order
    quant = numpy.zeros(0, dtype=numpy.float64)
    if order > 1:
        pos += 4
        size = (order - 2) * _MID_TABLE + _LONG_TABLE
        quant = numpy.frombuffer(data, dtype="<f4", count=size, offset=pos).astype(numpy.float64) * _TO_LOG10
        pos += 4 * size
    n1 = counts[0]
    record = numpy.dtype([("p", "<f4"), ("bo", "<f4"), ("next", "<u4")])
    unigrams = numpy.frombuffer(data, dtype=record, count=n1 + 1, offset=pos)
    pos += 12 * (n1 + 1)
    word_bits = n1.bit_length()
    layout = []
    memory_size = 0
    for n in range(2, order + 1):
        next_bits = counts[n].bit_length() if n < order else 0
        stride = word_bits + _QUANT_BITS + (_QUANT_BITS + next_bits if n < order else 0)
        layout.append((memory_size, stride, next_bits))
        memory_size += ((1 + counts[n - 1]) * stride + 7) // 8 + 8
    memory = numpy.frombuffer(data, dtype=numpy.uint8, count=memory_size, offset=pos)
    pos += memory_size
    (text_size,) = struct.unpack_from("<I", data, pos)
    words = [w.decode("utf-8", "replace") for w in data[pos + 4 : pos + 4 + text_size].split(b"\0")[:n1]]
    if len(words) != n1:
        raise ArpaError(f"{path}: {len(words)} words for {n1} unigrams: the file is damaged")
    return _Trie(order, counts, quant, unigrams, memory, layout, words, word_bits)


def read_entries(path: Path) -> Iterator[tuple[int, float, Ngram, float | None]]:
    """(order, log10 p, n-gram in reading order, log10 backoff or None), by order, like
    :func:`callcenter.speech.lm.arpa_entries` reads ARPA text. Orders 1 to 3."""
    trie = _read(path)
    words, order = trie.words, trie.order
    for w, (p, bo, _next) in enumerate(trie.unigrams[:-1].tolist()):
        yield 1, p * _TO_LOG10, (words[w],), bo * _TO_LOG10 if order > 1 else None
    if order == 1:
        return
    # Bigrams: the children of unigram w are the bigrams (child word, w). The trie may hold fewer
    # n-grams than the header counts (the bundled model: 6 bigrams fewer, what trips pocketsphinx's
    # own writer); the child indices say how many there are.
    starts = trie.unigrams["next"].astype(numpy.int64)
    n2 = int(starts[-1])
    child = trie.field(2, n2, 0, trie.word_bits).tolist()
    parent = (numpy.searchsorted(starts, numpy.arange(n2), side="right") - 1).tolist()
    bits = trie.word_bits
    if order == 2:
        probs = trie.quant[trie.field(2, n2, bits, _QUANT_BITS)].tolist()
        for i in range(n2):
            yield 2, probs[i], (words[child[i]], words[parent[i]]), None
        return
    bows = trie.quant[_LONG_TABLE + trie.field(2, n2, bits, _QUANT_BITS)].tolist()
    probs = trie.quant[trie.field(2, n2, bits + _QUANT_BITS, _QUANT_BITS)].tolist()
    for i in range(n2):
        yield 2, probs[i], (words[child[i]], words[parent[i]]), bows[i]
    # Trigrams: the children of bigram entry i (b, c) are the trigrams (a, b, c).
    nexts = trie.field(2, n2 + 1, bits + 2 * _QUANT_BITS, trie.layout[0][2])
    n3 = int(nexts[n2])
    first = trie.field(3, n3, 0, bits).tolist()
    probs3 = trie.quant[_MID_TABLE + trie.field(3, n3, bits, _QUANT_BITS)].tolist()
    owner = (numpy.searchsorted(nexts, numpy.arange(n3), side="right") - 1).tolist()
    for j in range(n3):
        i = owner[j]
        yield 3, probs3[j], (words[first[j]], words[child[i]], words[parent[i]]), None

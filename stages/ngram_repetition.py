"""Gopher's word n-gram repetition measures for a whole batch of documents at once.

Per document, for each n: the characters of its most frequent n-gram times its count (ties go
to the n-gram seen first, as Counter.most_common does), and the characters in repeated n-grams
counted left to right, skipping past each repeat (Gopher's greedy count). An n-gram is a repeat
if it occurred anywhere before in the same document; datatrove's scan also forgets n-grams that
start inside a skipped repeat, which can only make its count smaller.

The batch's words are one array of ids; an n-gram is identified by a 64-bit rolling hash of its
ids, built for n from the one for n - 1. One sort per n over the whole batch finds every
document's repeats: the key is the hash's high bits over the n-gram's index in the batch, so
equal n-grams sort together, earliest first, with no per-document call. The index takes
ceil(log2(n-grams sorted)) bits (at most 20 for 1,024 documents of 700 words), leaving 44 of the
hash: two different n-grams of one document share a key with odds ~g²/2^45 for g n-grams.

Only n-grams that can repeat are sorted: an n-gram occurs twice in a document only if the
(n-1)-grams at its start and at its second word each occur twice there, so from the second n
measured on, each n sorts the positions whose two (n-1)-grams did (on the benchmark corpus's
English web text, 14 % of the 3-grams and 2 % of the 10-grams: `measure` 2.3 -> 0.75 s of
CPU). The others occur once: they are no repeat, and a document's most frequent n-gram is its
first one unless some n-gram occurs twice.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.shuffle import group_bounds

_MULT = np.uint64(0x9E3779B97F4A7C15)
NOT_MEASURED = -1  # a document with fewer than n words has no top n-gram


@dataclass
class BatchWords:
    """Every document's words laid end to end (`flat`): `ids` equal where the words are equal,
    `cum` the running character count (cum[p] = characters in words before p), `doc` per word its
    document, `offsets` each document's first word (and, last, the total)."""
    flat: pa.Array
    ids: np.ndarray
    cum: np.ndarray
    doc: np.ndarray
    offsets: np.ndarray

    @classmethod
    def of(cls, words: list[list[str]]) -> "BatchWords":
        counts = np.fromiter(map(len, words), np.int64, len(words))
        offsets = np.zeros(len(words) + 1, np.int64)
        np.cumsum(counts, out=offsets[1:])
        return cls.of_tokens(pa.array(list(itertools.chain.from_iterable(words)), pa.large_string()), offsets)

    @classmethod
    def of_tokens(cls, flat: pa.Array, offsets: np.ndarray) -> "BatchWords":
        """From every document's words end to end and each document's first word (and the total)."""
        offsets = np.asarray(offsets, np.int64)
        ids = flat.dictionary_encode().indices.to_numpy().astype(np.uint64)
        cum = np.zeros(len(flat) + 1, np.int64)
        np.cumsum(pc.utf8_length(flat).to_numpy(), out=cum[1:])
        doc = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
        return cls(flat, ids, cum, doc, offsets - offsets[0])


@dataclass
class Repetition:
    """Per n, per document: `top[n]` characters of the most frequent n-gram times its count
    (NOT_MEASURED below n words), `dup[n]` characters in repeated n-grams (0 below n words)."""
    top: dict[int, np.ndarray]
    dup: dict[int, np.ndarray]


def measure(batch: BatchWords, top_ns: list[int], dup_ns: list[int]) -> Repetition:
    docs, n_words = len(batch.offsets) - 1, len(batch.ids)
    top: dict[int, np.ndarray] = {}
    dup: dict[int, np.ndarray] = {}
    wanted = {*top_ns, *dup_ns}
    ends = batch.offsets[1:][batch.doc]  # per word, the position just past its document
    hashes = np.zeros(n_words, np.uint64)
    twice = None  # per position: whether the (n-1)-gram there occurs again in its document
    with np.errstate(over="ignore"):
        for n in range(1, max(wanted, default=0) + 1):
            hashes = (hashes[:n_words - n + 1] ^ batch.ids[n - 1:]) * _MULT
            if n < min(wanted):
                continue
            starts = np.flatnonzero(np.arange(len(hashes)) + n <= ends[:len(hashes)])
            if twice is not None:  # the one-word shift stays inside the document: starts + n <= its end
                starts = starts[twice[starts] & twice[starts + 1]]
            groups = _Groups(hashes[starts], batch.doc[starts])
            twice = np.zeros(len(hashes), bool)
            twice[starts[groups.order[groups.repeat | np.append(groups.repeat[1:], False)]]] = True
            if n in top_ns:
                top[n] = _top_chars(groups, starts, batch, n)
            if n in dup_ns:
                dup[n] = _dup_chars(groups, starts, batch, n)
    return Repetition(top, dup)


class _Groups:
    """The n-grams at `starts` sorted so that equal n-grams of one document are adjacent, earliest
    first: `order[k]` is the k-th n-gram's index in `starts`, `repeat[k]` whether it equals the
    one before."""

    def __init__(self, hashes: np.ndarray, doc: np.ndarray) -> None:
        bits = max(int(len(hashes) - 1).bit_length(), 1)
        low = np.uint64((1 << bits) - 1)
        keys = np.sort((hashes & ~low) | np.arange(len(hashes), dtype=np.uint64))
        self.order = (keys & low).astype(np.int64)
        gram_doc = doc[self.order]
        self.doc = doc
        self.repeat = np.zeros(len(keys), bool)
        self.repeat[1:] = ((keys[1:] >> np.uint64(bits)) == (keys[:-1] >> np.uint64(bits))) & (gram_doc[1:] == gram_doc[:-1])


def _top_chars(groups: _Groups, starts: np.ndarray, batch: BatchWords, n: int) -> np.ndarray:
    cum, offsets = batch.cum, batch.offsets
    out = np.full(len(offsets) - 1, NOT_MEASURED, np.int64)
    # where no n-gram occurs twice, every one occurs once and the first one is the top one
    measured = np.flatnonzero(np.diff(offsets) >= n)
    out[measured] = cum[offsets[measured] + n] - cum[offsets[measured]] + n - 1
    first = np.flatnonzero(~groups.repeat)
    counts = np.diff(np.append(first, len(groups.order)))
    first, counts = first[counts > 1], counts[counts > 1]
    if not len(first):
        return out
    # distinct n-grams in order of first occurrence, hence document by document
    keyed = np.sort((groups.order[first].astype(np.uint64) << np.uint64(32)) | counts.astype(np.uint64))
    gram = (keyed >> np.uint64(32)).astype(np.int64)
    count = (keyed & np.uint64(0xFFFFFFFF)).astype(np.int64)
    doc = groups.doc[gram]
    doc_start, doc_end = group_bounds(doc)
    most = np.maximum.reduceat(count, doc_start)
    tied = np.flatnonzero(count == np.repeat(most, doc_end - doc_start))
    earliest = tied[np.diff(doc[tied], prepend=-1) != 0]
    pos = starts[gram[earliest]]
    out[doc[doc_start]] = (cum[pos + n] - cum[pos] + n - 1) * most
    return out


def _dup_chars(groups: _Groups, starts: np.ndarray, batch: BatchWords, n: int) -> np.ndarray:
    out = np.zeros(len(batch.offsets) - 1, np.int64)
    repeats = np.sort(starts[groups.order[groups.repeat]])  # word positions
    if not len(repeats):
        return out
    doc = batch.doc[repeats]
    # runs of consecutive repeats in one document: the greedy count takes every n-th of a run,
    # starting where the last taken n-gram ends, and those taken cover cum[last + n] - cum[first]
    brk = np.flatnonzero((np.diff(repeats) != 1) | (np.diff(doc) != 0)) + 1
    run_first = repeats[np.r_[0, brk]].tolist()
    run_last = repeats[np.r_[brk - 1, len(repeats) - 1]].tolist()
    run_doc = doc[np.r_[0, brk]].tolist()
    taken_doc, taken_first, taken_last = [], [], []
    current, next_free = -1, 0
    for first, last, d in zip(run_first, run_last, run_doc):
        if d != current:
            current, next_free = d, 0
        first = max(first, next_free)
        if first > last:
            continue
        last = first + (last - first) // n * n
        taken_doc.append(d)
        taken_first.append(first)
        taken_last.append(last)
        next_free = last + n
    lo = np.asarray(taken_first, np.int64)
    hi = np.asarray(taken_last, np.int64) + n
    np.add.at(out, np.asarray(taken_doc, np.int64), batch.cum[hi] - batch.cum[lo])
    return out

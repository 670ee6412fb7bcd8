"""Words and word n-grams of whole batches as 64-bit hashes, in numpy: what near-duplicate
detection (`minhash_dedup`) and benchmark decontamination (`decontaminate`) compare.

Text is NFKC, lower case, punctuation and symbols turned to spaces; scripts written without
spaces (Han, kana, Thai, Lao, Khmer) count every character as a word.
"""
from __future__ import annotations

import functools

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline import unicode
from pipeline.hashing import hash64
from pipeline.shuffle import mix64
from pipeline.tokens import ALONE, SEPARATOR, WORD, CharClasses, tokens

SHINGLE_MULT = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93,
                          0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53, 0x27D4EB2F165667C5, 0x85EBCA77C2B2AE63],
                         dtype=np.uint64)


_UNSPACED = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}"

# How `words` sees a character: punctuation and symbols (RE2's \p{P}, \p{S}) and white space (as
# Arrow's utf8_split_whitespace) separate words, characters of scripts written without spaces are
# words by themselves; punctuation goes first.
def _minhash_classes(chars: list[str]) -> np.ndarray:
    arr = pa.array(chars, pa.string())
    sep = pc.match_substring_regex(arr, r"[\p{P}\p{S}]")
    # white space as utf8_split_whitespace sees it: "a" + c + "b" comes apart
    sep = pc.or_(sep, pc.equal(pc.list_value_length(pc.utf8_split_whitespace(
        pc.binary_join_element_wise("a", arr, "b", ""))), 2))
    alone = pc.match_substring_regex(arr, f"[{_UNSPACED}]")
    return np.where(sep.to_numpy(zero_copy_only=False), SEPARATOR,
                    np.where(alone.to_numpy(zero_copy_only=False), ALONE, WORD))


@functools.cache
def char_classes() -> CharClasses:
    return CharClasses(_minhash_classes)


def words(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(64-bit hash of every word, word offsets per document) of normalised text.

    A word is a run of characters between white space, punctuation and symbols, or one character
    of a script written without spaces - what rewriting punctuation to spaces and those characters
    to " c " and splitting on white space gives, found in numpy on the text's bytes (the whole
    function 2.4 -> 1.6 s of one core per 100 MB of the benchmark corpus against those kernels).
    """
    t = pc.utf8_lower(unicode.normalize(texts, "NFKC"))
    if isinstance(t, pa.ChunkedArray):
        t = t.combine_chunks()
    offsets, data = unicode.string_bytes(t)
    offsets = offsets.astype(np.int64)  # (the blank words below index by them)
    begin_at, lengths, kept = tokens(data, offsets, char_classes())
    # every byte but the separators' is in a word: words are end to end in `kept`
    starts = np.zeros(len(lengths), np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    first = np.searchsorted(begin_at, offsets)
    counts = np.diff(first)
    # a text without a word has one empty word, as Arrow's split of "" gives [""]
    blank = counts == 0
    if t.null_count:
        blank &= t.is_valid().to_numpy(zero_copy_only=False)
    if blank.any():
        # at the end of the words before it
        before = first[:-1][blank]
        starts = np.insert(starts, before, np.append(starts, len(kept))[before])
        counts = counts + blank
    doc_offsets = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=doc_offsets[1:])
    if len(starts) == 0:
        return np.zeros(0, np.uint64), doc_offsets
    flat = pa.Array.from_buffers(pa.large_string(), len(starts),
                                 [None, pa.py_buffer(np.append(starts, len(kept)).astype(np.int64)), pa.py_buffer(kept)])
    encoded = pc.dictionary_encode(flat)
    word_hash = hash64(encoded.dictionary)[encoded.indices.to_numpy(zero_copy_only=False)]
    return word_hash, doc_offsets


def ngram_hashes(word_hash: np.ndarray, offsets: np.ndarray, n: int, short_docs: bool = True
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(64-bit hash of every word n-gram, n-gram offsets per document).

    With `short_docs`, a document with fewer than n words (but at least one) gets one n-gram of
    all its words; without, it gets none.
    """
    counts = np.diff(offsets)
    starts = offsets[:-1]
    per_doc = np.where(counts >= n, counts - n + 1, np.minimum(counts, 1) if short_docs else 0)
    total = int(per_doc.sum())
    width = len(word_hash)
    padded = np.concatenate([word_hash, np.zeros(n, np.uint64)])
    # every window of n words of the flat array, across documents too, by slices (no gathers:
    # 4-6x faster); the windows that start and end inside one document are then picked
    full = np.zeros(width, np.uint64)
    with np.errstate(over="ignore"):
        for k in range(n):
            full += padded[k:k + width] * SHINGLE_MULT[k % len(SHINGLE_MULT)] + np.uint64(k + 1)
    first_out = np.cumsum(per_doc) - per_doc
    pos = np.repeat(starts, per_doc) + (np.arange(total) - np.repeat(first_out, per_doc))
    h = full[pos]
    short = np.flatnonzero((counts < n) & (per_doc > 0))
    if len(short):  # fewer than n words: one n-gram of the words there are
        partial = np.zeros(len(short), np.uint64)
        with np.errstate(over="ignore"):
            for k in range(n):
                term = padded[starts[short] + k] * SHINGLE_MULT[k % len(SHINGLE_MULT)] + np.uint64(k + 1)
                partial += np.where(k < counts[short], term, np.uint64(0))
        h[first_out[short]] = partial
    return mix64(h), np.concatenate([[0], np.cumsum(per_doc)])


def shingles(word_hash: np.ndarray, offsets: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(32-bit hash of every word n-gram, n-gram offsets per document), for MinHash.

    A document with fewer than n words (but at least one) gets one shingle of all its words.
    """
    h, out_offsets = ngram_hashes(word_hash, offsets, n)
    return ((h >> np.uint64(32)) ^ h).astype(np.uint32), out_offsets

"""Words and word n-grams of whole batches as 64-bit hashes, in numpy: what near-duplicate
detection (`minhash_dedup`) and benchmark decontamination (`decontaminate`) compare.

Text is NFKC, lower case, punctuation and symbols turned to spaces; scripts written without
spaces (Han, kana, Thai, Lao, Khmer) count every character as a word.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline import unicode
from pipeline.hashing import hash64
from pipeline.shuffle import mix64

SHINGLE_MULT = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93,
                          0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53, 0x27D4EB2F165667C5, 0x85EBCA77C2B2AE63],
                         dtype=np.uint64)


_UNSPACED = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}"


def words(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(64-bit hash of every word, word offsets per document) of normalised text."""
    t = pc.utf8_lower(unicode.normalize(texts, "NFKC"))
    t = pc.replace_substring_regex(t, r"[\p{P}\p{S}]+", " ")
    # scripts written without spaces: every character is a word (the rewrite only on the texts
    # that hold one: finding them costs a tenth of rewriting every text)
    unspaced = pc.fill_null(pc.match_substring_regex(t, f"[{_UNSPACED}]"), False)
    if pc.any(unspaced).as_py():  # t is one array: unicode.normalize combines chunks
        t = pc.replace_with_mask(t, unspaced, pc.replace_substring_regex(t.filter(unspaced), f"([{_UNSPACED}])", " \\1 "))
    # trimmed first: Arrow's split gives an empty word at either end of text that starts or ends
    # with white space (punctuation turned into spaces, often)
    lists = pc.utf8_split_whitespace(pc.utf8_trim_whitespace(t))
    if isinstance(lists, pa.ChunkedArray):
        lists = lists.combine_chunks()
    offsets = np.asarray(lists.offsets.to_numpy(zero_copy_only=False), dtype=np.int64)
    flat = lists.flatten()
    if len(flat) == 0:
        return np.zeros(0, np.uint64), offsets - offsets[0]
    encoded = pc.dictionary_encode(flat)
    word_hash = hash64(encoded.dictionary)[encoded.indices.to_numpy(zero_copy_only=False)]
    return word_hash, offsets - offsets[0]


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

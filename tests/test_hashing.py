"""pipeline.hashing: the same digests as the xxhash library, whatever path computes them."""
from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import xxhash

from pipeline.hashing import hash64, hash128


def test_hash64_is_xxh3_64_for_every_length_class():
    rng = random.Random(3)
    # every length from 0 to 40 bytes (the numpy paths: 0, 1-3, 4-8, 9-16; the library's above),
    # random bytes as Latin-1 text (so multi-byte UTF-8 too), and words as they come
    texts = [bytes(rng.randrange(256) for _ in range(n)).decode("latin-1") for n in range(41) for _ in range(200)]
    texts += ["", "a", "the", "word", "hyphenated", "internationalisation", "中文", "ünïcödé", "x" * 16, "y" * 17, None]
    for batch in (pa.array(texts, pa.string()), pa.array(texts, pa.large_string()).slice(7, 5000)):
        expected = [xxhash.xxh3_64_intdigest((t or "").encode()) for t in batch.to_pylist()]
        assert np.array_equal(hash64(batch), np.array(expected, np.uint64))
    assert len(hash64(pa.array([], pa.string()))) == 0


def test_hash128_halves_are_xxh3_128():
    texts = ["", "a", "the same text", "x" * 1000]
    hi, lo, valid = hash128(pa.array(texts + [None], pa.string()))
    for i, t in enumerate(texts):
        h = xxhash.xxh3_128_intdigest(t.encode())
        assert (int(hi[i]), int(lo[i])) == (h >> 64, h & (2**64 - 1))
    assert valid.tolist() == [True] * 4 + [False]

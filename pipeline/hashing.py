"""Hashes of Arrow string columns, read straight from Arrow's buffers (no Python strings)."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import xxhash


def _buffers(values: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, np.ndarray, memoryview]:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    values = values.cast(pa.large_string())
    _, offsets_buf, data_buf = values.buffers()
    offsets = np.frombuffer(offsets_buf, np.int64)[values.offset: values.offset + len(values) + 1]
    return values, offsets, memoryview(data_buf) if data_buf is not None else memoryview(b"")


def hash64(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """xxh3-64 of every string (a null hashes like the empty string)."""
    values, offsets, data = _buffers(values)
    digest = xxhash.xxh3_64_intdigest
    return np.fromiter((digest(data[offsets[i]:offsets[i + 1]]) for i in range(len(values))),
                       dtype=np.uint64, count=len(values))


def hash128(values: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(high, low, valid) halves of xxh3-128 of every non-null string."""
    values, offsets, data = _buffers(values)
    n = len(values)
    hi, lo = np.zeros(n, np.uint64), np.zeros(n, np.uint64)
    valid = np.ones(n, bool) if values.null_count == 0 else values.is_valid().to_numpy(zero_copy_only=False)
    digest = xxhash.xxh3_128_intdigest
    for i in range(n):
        if valid[i]:
            h = digest(data[offsets[i]:offsets[i + 1]])
            hi[i], lo[i] = h >> 64, h & 0xFFFFFFFFFFFFFFFF
    return hi, lo, valid

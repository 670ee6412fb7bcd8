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
    """xxh3-64 of every string (a null hashes like the empty string): strings of up to 16 bytes
    (words, ids) in numpy, longer ones by the xxhash library."""
    values, offsets, data = _buffers(values)
    long = np.diff(offsets) > SHORT
    out = np.zeros(len(values), np.uint64) if long.all() else xxh3_64_short(np.frombuffer(data, np.uint8), offsets)
    digest = xxhash.xxh3_64_intdigest
    for i in np.flatnonzero(long).tolist():
        out[i] = digest(data[offsets[i]:offsets[i + 1]])
    return out


# xxh3's default secret, the part strings of up to 16 bytes read, and its constants
_SECRET = bytes.fromhex("b8fe6c3923a44bbe7c01812cf721ad1cded46de9839097db7240a4a4b7b3671f"
                        "cb79e64eccc0e578825ad07dccff7221b8084674f743248ee03590e6813a264c"
                        "3c2852bb91c300cb88d0658b1b532ea3")
_PRIME64_2, _PRIME64_3 = np.uint64(0xC2B2AE3D27D4EB4F), np.uint64(0x165667B19E3779F9)
_PRIME_MX1, _PRIME_MX2 = np.uint64(0x165667919E3779F9), np.uint64(0x9FB21C651E98DF25)
SHORT = 16
_U32 = np.uint64(0xFFFFFFFF)


def _secret64(at: int) -> np.uint64:
    return np.uint64(int.from_bytes(_SECRET[at:at + 8], "little"))


def _secret32(at: int) -> np.uint64:
    return np.uint64(int.from_bytes(_SECRET[at:at + 4], "little"))


def _shift(x: np.ndarray, bits: int) -> np.ndarray:
    return x >> np.uint64(bits)


def _avalanche_xxh64(h: np.ndarray) -> np.ndarray:
    h ^= _shift(h, 33)
    h *= _PRIME64_2
    h ^= _shift(h, 29)
    h *= _PRIME64_3
    h ^= _shift(h, 32)
    return h


def _avalanche_xxh3(h: np.ndarray) -> np.ndarray:
    h ^= _shift(h, 37)
    h *= _PRIME_MX1
    h ^= _shift(h, 32)
    return h


def _rrmxmx(h: np.ndarray, length: np.ndarray) -> np.ndarray:
    h ^= ((h << np.uint64(49)) | _shift(h, 15)) ^ ((h << np.uint64(24)) | _shift(h, 40))
    h *= _PRIME_MX2
    h ^= _shift(h, 35) + length
    h *= _PRIME_MX2
    h ^= _shift(h, 28)
    return h


def _mul128_fold64(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Low 64 bits xor high 64 bits of the 128-bit product, from 32-bit halves."""
    a_lo, a_hi, b_lo, b_hi = a & _U32, _shift(a, 32), b & _U32, _shift(b, 32)
    lo_lo, hi_lo, lo_hi = a_lo * b_lo, a_hi * b_lo, a_lo * b_hi
    cross = _shift(lo_lo, 32) + (hi_lo & _U32) + lo_hi
    upper = _shift(hi_lo, 32) + _shift(cross, 32) + a_hi * b_hi
    lower = (cross << np.uint64(32)) | (lo_lo & _U32)
    return lower ^ upper


def xxh3_64_short(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """XXH3_64bits (seed 0) of each string `data[offsets[i]:offsets[i+1]]` of up to 16 bytes, as
    the reference implementation computes it for those lengths; longer strings get 0."""
    n = len(offsets) - 1
    starts = np.asarray(offsets[:-1], np.int64)
    length = np.diff(offsets).astype(np.int64)
    out = np.zeros(n, np.uint64)
    padded = np.zeros(len(data) + 8, np.uint8)
    padded[:len(data)] = data
    # little-endian words at every byte offset (unaligned reads, as the reference does)
    at64 = np.ndarray((len(data) + 1,), "<u8", padded, 0, (1,))
    at32 = np.ndarray((len(data) + 5,), "<u4", padded, 0, (1,))
    ulen = length.astype(np.uint64)
    with np.errstate(over="ignore"):
        out[length == 0] = _avalanche_xxh64(np.array([_secret64(56) ^ _secret64(64)], np.uint64))[0]
        i = np.flatnonzero((length >= 1) & (length <= 3))
        if len(i):
            s, k = starts[i], length[i]
            c1, c2, c3 = (padded[s + d].astype(np.uint64) for d in (0, k >> 1, k - 1))
            combined = (c1 << np.uint64(16)) | (c2 << np.uint64(24)) | c3 | (ulen[i] << np.uint64(8))
            out[i] = _avalanche_xxh64(combined ^ (_secret32(0) ^ _secret32(4)))
        i = np.flatnonzero((length >= 4) & (length <= 8))
        if len(i):
            s, k = starts[i], length[i]
            first, last = at32[s].astype(np.uint64), at32[s + k - 4].astype(np.uint64)
            keyed = (last + (first << np.uint64(32))) ^ (_secret64(8) ^ _secret64(16))
            out[i] = _rrmxmx(keyed, ulen[i])
        i = np.flatnonzero((length >= 9) & (length <= 16))
        if len(i):
            s, k = starts[i], length[i]
            lo = at64[s] ^ (_secret64(24) ^ _secret64(32))
            hi = at64[s + k - 8] ^ (_secret64(40) ^ _secret64(48))
            acc = ulen[i] + lo.byteswap() + hi + _mul128_fold64(lo, hi)
            out[i] = _avalanche_xxh3(acc)
    return out


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

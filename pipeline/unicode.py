"""Unicode normalisation of Arrow string arrays, paying only for the texts that need it.

Most text on the web is already in NFC, and most of it in NFKC: CPython's quick check
(`unicodedata.is_normalized`, C, ~0.7 GB/s here) finds those, and only the rest go through
Arrow's `utf8_normalize` (utf8proc, ~55 MB/s here). The result is the same array.

The quick check reads only what can be out of form: every ASCII character is a starter that
nothing combines into from before and that is its own normal form, so a text is normalised
(in each of the four forms) exactly when each run of non-ASCII characters, taken with the ASCII
character before it (what a combining mark could attach to), is. Those pieces are found with
numpy, which releases the GIL, and are a fifth of the benchmark corpus's bytes: Python strings
of whole texts cost ~0.25 s per 100 MB holding the GIL, which two threads of a dedup stage share.
"""
from __future__ import annotations

import unicodedata

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def normalize(texts: pa.Array | pa.ChunkedArray, form: str) -> pa.Array:
    """`pc.utf8_normalize(texts, form)`, computed on the texts not already in `form`."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    if len(texts) == 0:
        return texts
    if pc.all(pc.string_is_ascii(texts)).as_py():  # ASCII is in every normal form (nulls too)
        return texts
    todo = np.array([s is not None and not unicodedata.is_normalized(form, s)
                     for s in _around_non_ascii(texts).to_pylist()], dtype=bool)
    if not todo.any():
        return texts
    mask = pa.array(todo)
    return pc.replace_with_mask(texts, mask, pc.utf8_normalize(texts.filter(mask), form))


def _around_non_ascii(texts: pa.Array) -> pa.Array:
    """Per text, its runs of non-ASCII characters, each after the ASCII character before it in
    that text (if any), end to end; nulls stay null. In a normal form exactly when the text is."""
    offsets, data = string_bytes(texts)
    high = data >= 0x80  # every byte of a multi-byte character: runs hold whole characters
    keep = high.copy()
    keep[:-1] |= high[1:]  # and the ASCII character just before a run
    last = offsets[1:-1] - 1  # ... but not the last one of the text before
    last = last[last >= 0]
    keep[last] &= high[last]
    kept = np.flatnonzero(keep)
    new_offsets = np.searchsorted(kept, offsets).astype(np.int64)
    n = len(texts)
    return pa.Array.from_buffers(pa.large_string(), n, [_validity(texts.buffers()[0], texts.offset, n),
                                                        pa.py_buffer(new_offsets), pa.py_buffer(data[kept])],
                                 texts.null_count)


def string_bytes(chunk: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets of each string from the first one's start, the strings' UTF-8 bytes end to end)
    of a string or large_string array, read from its buffers without copying."""
    width = np.int64 if pa.types.is_large_string(chunk.type) or pa.types.is_large_binary(chunk.type) else np.int32
    offsets_buf, data_buf = chunk.buffers()[1:3]
    if offsets_buf is None or len(chunk) == 0:
        return np.zeros(len(chunk) + 1, width), np.zeros(0, np.uint8)
    offsets = np.frombuffer(offsets_buf, width, count=len(chunk) + 1, offset=chunk.offset * np.dtype(width).itemsize)
    data = np.frombuffer(data_buf, np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    return offsets - offsets[0], data[offsets[0]:offsets[-1]]


# Whitespace as Python's str.split and Arrow's utf8_split_whitespace see it: these ASCII bytes, and
# U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000.
_ASCII_SPACE = np.zeros(256, bool)
_ASCII_SPACE[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = True


def collapse_whitespace(texts: pa.Array | pa.ChunkedArray) -> pa.Array:
    """`" ".join(s.split())` of every string: no whitespace at either end, one space for each run
    inside. Byte-level on the whole array (~3x Arrow's split + join, whose pieces would also
    keep one space per trailing whitespace character); a string holding non-ASCII whitespace
    goes through Arrow's split + join after the trim."""
    texts = pc.utf8_trim_whitespace(texts)
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    n = len(texts)
    offsets, data = string_bytes(texts)
    if len(data) == 0:
        return texts
    space = data <= 32
    control = np.flatnonzero(data < 32)  # tabs and newlines mostly: few next to all the bytes
    control_space = _ASCII_SPACE[data[control]]
    space[control[~control_space]] = False
    # after the trim no string starts or ends in whitespace, so no run crosses two strings
    keep = np.empty(len(data), bool)
    keep[0] = True
    np.logical_not(space[1:] & space[:-1], out=keep[1:])
    out = data.copy()
    out[control[control_space]] = 32
    out = out[keep]
    repeat = np.flatnonzero(~keep)
    new_offsets = (offsets - np.searchsorted(repeat, offsets)).astype(offsets.dtype)
    result = pa.Array.from_buffers(texts.type, n, [_validity(texts.buffers()[0], texts.offset, n),
                                                   pa.py_buffer(new_offsets), pa.py_buffer(out)], texts.null_count)
    odd = _rows_with_unicode_space(data, offsets)
    if odd.size:
        mask = np.zeros(n, bool)
        mask[odd] = True
        mask = pa.array(mask)
        result = pc.replace_with_mask(result, mask, pc.binary_join(pc.utf8_split_whitespace(texts.filter(mask)),
                                                                  pa.scalar(" ", texts.type)))
    return result


def _validity(validity: pa.Buffer | None, offset: int, n: int) -> pa.Buffer | None:
    """The validity bitmap of a slice, re-based to bit 0."""
    if validity is None or offset == 0:
        return validity
    bits = np.unpackbits(np.frombuffer(validity, np.uint8), bitorder="little")[offset:offset + n]
    return pa.py_buffer(np.packbits(bits, bitorder="little"))


def _rows_with_unicode_space(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Rows holding non-ASCII whitespace: U+0085, U+00A0 (UTF-8 C2 85, C2 A0), U+1680 (E1 9A 80),
    U+2000-U+200A, U+2028, U+2029, U+202F (E2 80 80-8A, A8, A9, AF), U+205F (E2 81 9F), U+3000 (E3 80 80)."""
    maybe = data == 0xC2
    maybe |= (data - np.uint8(0xE1)) <= 2  # E1, E2, E3
    lead = np.flatnonzero(maybe)
    if lead.size == 0:
        return lead
    last = len(data) - 1  # UTF-8 does not end inside a character; a false hit only costs the slow path
    b0, b1, b2 = data[lead], data[np.minimum(lead + 1, last)], data[np.minimum(lead + 2, last)]
    hit = ((b0 == 0xC2) & ((b1 == 0x85) | (b1 == 0xA0))) | ((b0 == 0xE1) & (b1 == 0x9A) & (b2 == 0x80)) | \
          ((b0 == 0xE2) & (b1 == 0x80) & ((b2 <= 0x8A) | (b2 == 0xA8) | (b2 == 0xA9) | (b2 == 0xAF))) | \
          ((b0 == 0xE2) & (b1 == 0x81) & (b2 == 0x9F)) | ((b0 == 0xE3) & (b1 == 0x80) & (b2 == 0x80))
    return np.unique(np.searchsorted(offsets, lead[hit], "right") - 1)

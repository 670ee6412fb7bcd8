"""Unicode normalisation of Arrow string arrays, paying only for the texts that need it.

Most text on the web is already in NFC, and most of it in NFKC: CPython's quick check
(`unicodedata.is_normalized`, C, ~0.7 GB/s here) finds those, and only the rest go through
Arrow's `utf8_normalize` (utf8proc, ~55 MB/s here). The result is the same array.
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
    todo = np.array([s is not None and not unicodedata.is_normalized(form, s) for s in texts.to_pylist()])
    if not todo.any():
        return texts
    mask = pa.array(todo)
    return pc.replace_with_mask(texts, mask, pc.utf8_normalize(texts.filter(mask), form))

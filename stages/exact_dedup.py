"""exact_dedup: one document per normalised text (NFKC, lower case, whitespace collapsed as
Python's `" ".join(text.split())`: none at either end, one space per run).

Keys are xxh3-128 hashes, hash-partitioned on Ray; the smallest `id` of each group is kept and
the others are rejected as `exact_duplicate` with `duplicate_of` = the kept id.
"""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from pipeline import unicode
from pipeline.stage import Resources, register
from stages.keyed_dedup import KeyedDedup


def normalize_for_dedup(text: pa.Array) -> pa.Array:
    return unicode.collapse_whitespace(pc.utf8_lower(unicode.normalize(text, "NFKC")))


@dataclass
class ExactDedupConfig:
    # Compare normalised text (NFKC, lower case, collapsed whitespace); false: the raw bytes.
    normalize: bool = True


@register
class ExactDedup(KeyedDedup):
    name = "exact_dedup"
    resources = Resources(mb_per_s=15, threads=True)  # one core, bench/bench_whole.py's corpus
    Config = ExactDedupConfig
    reason = "exact_duplicate"
    columns = ["text"]
    prefer = [("id", "ascending")]

    def keys(self, table: pa.Table) -> pa.Array:
        text = table.column("text")
        return normalize_for_dedup(text) if self.config.normalize else text

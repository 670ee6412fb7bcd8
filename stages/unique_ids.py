"""unique_ids: one document per `id`, the first in input order; later documents with an id already
seen are rejected as `duplicate_id`, with `duplicate_of` naming it.

The dedup stages keep "the smallest id" of a group and `duplicate_of` names documents by id, so
ids must be unique; `read` can only see one group of input files at a time, so uniqueness across
files takes this global stage, right after `read` in the default pipeline. Documents without an
id in the input already have a unique one (`<file>#<record index>`); a collision means two
inputs used the same ids (two JSONL exports numbered from 0, say), so the later document is
rejected, visibly and counted, rather than renamed.
"""
from __future__ import annotations

import pyarrow as pa

from pipeline.stage import NoOptions, Resources, register
from stages.keyed_dedup import KeyedDedup


@register
class UniqueIds(KeyedDedup):
    name = "unique_ids"
    resources = Resources(mb_per_s=40, threads=True)  # one core, bench/bench_whole.py's corpus
    Config = NoOptions
    reason = "duplicate_id"
    columns = ["id"]
    prefer = []  # ties go to the document that comes first in the input (part, then row)

    def keys(self, table: pa.Table) -> pa.Array:
        return table.column("id")

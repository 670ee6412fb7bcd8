"""Keep one document per key: the machinery shared by `exact_dedup` and `url_dedup`.

Phase 1 (per upstream part): each document's 128-bit key, bucketed by key to the shuffle.
Phase 2 (per bucket): sort by key then by the stage's preference; the first of each key is
kept, the others are rejected with `duplicate_of` = the kept id. Decisions go to the part
they came from. No process ever holds more than one part or one bucket.
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.hashing import hash128
from pipeline.parts import record_batches
from pipeline.schema import REJECT_REASON
from pipeline.shuffle import (bucket_of, column_u64, gid_part, gid_row, group_bounds, make_gids,
                              read_bucket, sort_table, write_buckets)
from pipeline.stage import GlobalContext, GlobalStage

KEYS_SCHEMA = pa.schema([("key_hi", pa.uint64()), ("key_lo", pa.uint64()), ("gid", pa.uint64()),
                         ("id", pa.string()), ("length", pa.int64())])
# Rows per batch while keying: a batch's temporaries (byte masks over its text) stay a few MB,
# in cache and reused by the next batch (8,192 rows: ~30 MB each, 15 % slower here).
KEY_BATCH_ROWS = 2048


class KeyedDedup(GlobalStage):
    reason: ClassVar[str]
    columns: ClassVar[list[str]]                    # the input columns `keys` needs
    prefer: ClassVar[list[tuple[str, str]]]         # sort order within a key: first is kept
    decision_columns = {"duplicate_of": (pa.string(), None)}

    def keys(self, table: pa.Table) -> pa.Array:
        """The value to deduplicate on, per row (null: the row takes no part and is kept)."""
        raise NotImplementedError

    def analyze(self, ctx: GlobalContext) -> None:
        keyed = ctx.map("emit_keys", [(i, p, ctx.work, ctx.buckets) for i, p in enumerate(ctx.parts)])
        resolved = ctx.map("resolve_keys", [(b, ctx.work) for b in range(ctx.buckets)])
        ctx.extra_stats.update({
            "keyed_documents": int(sum(keyed)),
            "duplicate_groups": int(sum(r[0] for r in resolved)),
            "duplicates": int(sum(r[1] for r in resolved)),
        })

    def emit_keys(self, part: int, path: str, work: str, buckets: int) -> int:
        pieces, start = [], 0
        for batch in record_batches(path, KEY_BATCH_ROWS, sorted({"id", "text", *self.columns})):
            table = pa.Table.from_batches([batch])
            hi, lo, valid = hash128(self.keys(table))
            gids = make_gids(part, start, table.num_rows)
            start += table.num_rows
            length = pc.binary_length(table.column("text")).to_numpy(zero_copy_only=False).astype(np.int64)
            idx = np.flatnonzero(valid)
            pieces.append(pa.table({"key_hi": hi[idx], "key_lo": lo[idx], "gid": gids[idx],
                                    "id": table.column("id").take(pa.array(idx)),
                                    "length": length[idx]}, schema=KEYS_SCHEMA))
        keys = pa.concat_tables(pieces) if pieces else KEYS_SCHEMA.empty_table()
        write_buckets(keys, bucket_of(column_u64(keys, "key_hi"), buckets), work, "keys", part)
        return keys.num_rows

    def resolve_keys(self, bucket: int, work: str) -> tuple[int, int]:
        t = read_bucket(work, "keys", bucket, KEYS_SCHEMA)
        if t.num_rows == 0:
            return 0, 0
        t = sort_table(t, [("key_hi", "ascending"), ("key_lo", "ascending"), *self.prefer,
                           ("gid", "ascending")])
        hi, lo = column_u64(t, "key_hi"), column_u64(t, "key_lo")
        change = np.ones(len(hi), bool)
        change[1:] = (hi[1:] != hi[:-1]) | (lo[1:] != lo[:-1])
        starts, ends = group_bounds(np.cumsum(change))
        keeper = np.repeat(starts, ends - starts)
        losers = np.flatnonzero(~change)
        ids = t.column("id").to_numpy(zero_copy_only=False)
        gids = column_u64(t, "gid")[losers]
        decisions = pa.table({
            "_row": gid_row(gids), REJECT_REASON: pa.array([self.reason] * len(losers), pa.string()),
            "duplicate_of": pa.array(ids[keeper[losers]], pa.string()),
        })
        write_buckets(decisions, gid_part(gids), work, "decisions", bucket)
        return int(np.sum(ends - starts > 1)), len(losers)

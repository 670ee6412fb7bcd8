"""Bucketed exchange files for global stages: how data moves between distributed phases.

A phase writes each of its outputs split by destination bucket to
`<dir>/<step>/b<bucket>/s<source>.arrow` (Arrow IPC, lz4); the next phase's task for bucket b
reads `<dir>/<step>/b<bucket>/*` in name order. No process ever holds more than one bucket, and
file names depend only on (step, bucket, source), so a retried task rewrites the same files and
the result does not depend on the worker count.

Documents are named by a `gid`: (upstream part index << 32) | row within the part.
"""
from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.storage import Loc

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def make_gids(part: int, start: int, n: int) -> np.ndarray:
    return (np.uint64(part) << np.uint64(32)) | np.arange(start, start + n, dtype=np.uint64)


def gid_part(gids: np.ndarray) -> np.ndarray:
    return (gids >> np.uint64(32)).astype(np.int64)


def gid_row(gids: np.ndarray) -> np.ndarray:
    return (gids & np.uint64(0xFFFFFFFF)).astype(np.int64)


def mix64(x: np.ndarray) -> np.ndarray:
    """A cheap 64-bit mixer (splitmix64 finaliser): spreads keys evenly over buckets."""
    x = np.asarray(x, dtype=np.uint64).copy()
    with np.errstate(over="ignore"):
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return x


def bucket_of(keys: np.ndarray, buckets: int) -> np.ndarray:
    return (mix64(keys) % np.uint64(buckets)).astype(np.int64)


def write_buckets(table: pa.Table, dest: np.ndarray, directory: str | os.PathLike | Loc, step: str,
                  source: int) -> None:
    """Rows of `table` to the bucket files `dest` names (one file per non-empty bucket)."""
    if table.num_rows == 0:
        return
    order = np.argsort(dest, kind="stable")
    dest_sorted = dest[order]
    table = table.take(pa.array(order))
    bounds = np.flatnonzero(np.diff(dest_sorted)) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [len(dest_sorted)]])
    for s, e in zip(starts, ends):
        b = int(dest_sorted[s])
        target = Loc(directory) / step / f"b{b:05d}" / f"s{source:05d}.arrow"
        target.parent.mkdir()
        tmp = target.staged()
        with tmp.open_output() as sink, pa.ipc.new_file(
                sink, table.schema, options=pa.ipc.IpcWriteOptions(compression="lz4")) as w:
            w.write_table(table.slice(s, e - s))
        target.publish(tmp)


def read_bucket(directory: str | os.PathLike | Loc, step: str, bucket: int, schema: pa.Schema | None
                ) -> pa.Table | None:
    """All files of one bucket, in name order; an empty bucket is `schema`'s empty table (None
    when no schema is given)."""
    folder = Loc(directory) / step / f"b{bucket:05d}"
    tables = []
    for f in folder.glob("s*.arrow"):
        with (pa.memory_map(f.path) if f.local else f.open_input()) as src:
            tables.append(pa.ipc.open_file(src).read_all())
    if not tables:
        return None if schema is None else schema.empty_table()
    # parts from different inputs may differ in their extra columns: union them
    return pa.concat_tables(tables, promote_options="permissive").combine_chunks()


def group_bounds(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) of each run of equal values in a sorted array."""
    if len(sorted_keys) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    bounds = np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1
    return np.concatenate([[0], bounds]), np.concatenate([bounds, [len(sorted_keys)]])


def column_u64(table: pa.Table, name: str) -> np.ndarray:
    col = table.column(name)
    if col.num_chunks != 1:
        col = col.combine_chunks()
    else:
        col = col.chunk(0)
    return np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.uint64)


def sort_table(table: pa.Table, keys: list[tuple[str, str]]) -> pa.Table:
    return table.take(pc.sort_indices(table, sort_keys=keys))

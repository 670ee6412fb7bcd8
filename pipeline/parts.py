"""Parquet parts: how the pipeline writes and reads its files.

A part either exists whole or not at all: on a local disk it is written under a temporary name
and renamed when complete; in an object store its upload completes or it never appears
(pipeline.storage). Settings are fixed here so output is byte-identical run to run.
"""
from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.storage import Loc, close_sink

COMPRESSION = "zstd"
COMPRESSION_LEVEL = 3
# Rejected parts are written once and seldom read: zstd 1 writes them twice as fast as 3 for
# ~20 % more bytes (12.9 MB of web text: 34 vs 70 ms), and they are often most of what a stage writes.
REJECTED_COMPRESSION_LEVEL = 1


def sha256_file(path: str | os.PathLike | Loc) -> str:
    h = hashlib.sha256()
    with Loc(path).open_input() as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def atomic_write_bytes(path: str | os.PathLike | Loc, data: bytes) -> None:
    Loc(path).write_bytes(data)


def atomic_write_arrays(path: Path, arrays: dict) -> Path:
    """Named numpy arrays in one .npz (a model's weights), written whole or not at all."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def parquet_file(path: str | os.PathLike | Loc) -> pq.ParquetFile:
    return pq.ParquetFile(Loc(path).arrow_source())


@dataclass(frozen=True)
class InPlacePart:
    """A kept part of `read` that is a row range of an input Parquet file, read where it is.

    `read` lists one where the file needs no conversion (the base columns it has are of their
    types, every row passes its checks), so a 100 MB input is not copied before the next stage;
    the columns a copy would have added are added as the part is read: `source` (one value for
    the file), `id` (`file#row`, where the file has no ids), and nulls for the other base columns.
    """

    name: str                  # what a copy would have been called (`part-00003-000`): the next stage's part name
    path: str                  # absolute local path or URI of the input file
    row_groups: tuple[int, int]  # [start, stop) of the file's row groups
    first_row: int             # row number of the first row in the file (for `file#row` ids)
    rows: int
    bytes: int                 # an estimate: the file's size times this part's share of its rows
    source: str | None         # the `source` of every row, or None: the file's column as it is
    id_prefix: str | None      # ids `f"{id_prefix}#{row}"`, or None: the file's `id` column
    mtime_ns: int              # of the file when `read` checked it; a changed file is an error

    def to_json(self) -> dict:
        return {"path": self.path, "rows": self.rows, "bytes": self.bytes, "sha256": None,
                "in_place": {"name": self.name, "row_groups": list(self.row_groups), "first_row": self.first_row,
                             "source": self.source, "id_prefix": self.id_prefix, "mtime_ns": self.mtime_ns}}

    @classmethod
    def from_json(cls, d: dict) -> "InPlacePart":
        p = d["in_place"]
        return cls(p["name"], d["path"], tuple(p["row_groups"]), p["first_row"], d["rows"], d["bytes"], p["source"],
                   p["id_prefix"], p["mtime_ns"])


Part = "str | os.PathLike | Loc | InPlacePart"


def part_source(stage_dir: Loc, entry: dict) -> "str | InPlacePart":
    """What a stage reads for one kept-file entry of an upstream manifest."""
    if entry.get("in_place") is None:
        return str(stage_dir / entry["path"])
    part = InPlacePart.from_json(entry)
    now = Loc(part.path)
    if not now.is_file() or now.mtime_ns() != part.mtime_ns:
        raise RuntimeError(f"{part.path}: the input file changed or vanished after {Loc(stage_dir).name} "
                           "read it in place; re-run that stage (curate run CONFIG --from read)")
    return part


def _file_columns(part: InPlacePart, names: list[str], columns: list[str] | None) -> list[str] | None:
    """Of `columns`, those to read from the file (with column `names`); the rest are made."""
    if columns is None:
        return None
    return [c for c in columns if c in names and not (c == "id" and part.id_prefix is not None)]


def _complete(batch: pa.Table, part: InPlacePart, first_row: int, columns: list[str] | None) -> pa.Table:
    """`batch` of an in-place part with the columns `read` would have written (those asked for)."""
    from pipeline.schema import BASE_SCHEMA, conform, set_column

    n = batch.num_rows
    want = (lambda c: True) if columns is None else (lambda c: c in columns)
    if part.id_prefix is not None and want("id"):
        batch = set_column(batch, "id", pa.array([f"{part.id_prefix}#{i}" for i in range(first_row, first_row + n)],
                                                 pa.string()))
    if part.source is not None and want("source"):
        batch = set_column(batch, "source", pa.array([part.source] * n, pa.string()))
    if columns is None:
        return conform(batch)
    for f in BASE_SCHEMA:
        if f.name in columns and f.name not in batch.column_names:
            batch = batch.append_column(f.name, pa.nulls(n, f.type))
    return batch.select([c for c in columns if c in batch.column_names])


def _in_place_batches(part: InPlacePart, batch_size: int, columns: list[str] | None) -> Iterator[pa.Table]:
    row = part.first_row
    pf = parquet_file(part.path)
    for batch in pf.iter_batches(batch_size=batch_size, row_groups=range(*part.row_groups),
                                 columns=_file_columns(part, pf.schema_arrow.names, columns)):
        yield _complete(pa.Table.from_batches([batch]), part, row, columns)
        row += batch.num_rows


def read_table(path: Part, columns: list[str] | None = None) -> pa.Table:
    if isinstance(path, InPlacePart):
        return pa.concat_tables(_in_place_batches(path, 1 << 16, columns))
    return parquet_file(path).read(columns=columns)


def read_schema(path: Part) -> pa.Schema:
    if isinstance(path, InPlacePart):
        return _complete(parquet_file(path.path).schema_arrow.empty_table(), path, 0, None).schema
    return parquet_file(path).schema_arrow


def num_rows(path: Part) -> int:
    if isinstance(path, InPlacePart):
        return path.rows
    return parquet_file(path).metadata.num_rows


def part_bytes(path: Part) -> int:
    return path.bytes if isinstance(path, InPlacePart) else Loc(path).size()


def record_batches(path: Part, batch_size: int, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
    """A part's rows as record batches of at most `batch_size` rows, `columns` in that order."""
    if not isinstance(path, InPlacePart):
        yield from parquet_file(path).iter_batches(batch_size=batch_size, columns=columns)
        return
    for table in _in_place_batches(path, batch_size, columns):
        yield from table.combine_chunks().to_batches()


def write_table(table: pa.Table, path: str | os.PathLike | Loc, **options) -> dict:
    """Writes `table` as one Parquet file atomically; its {bytes, sha256}."""
    target = Loc(path)
    target.parent.mkdir()
    tmp = target.staged()
    sink = tmp.arrow_sink()
    pq.write_table(table, sink, compression=COMPRESSION, compression_level=COMPRESSION_LEVEL, **options)
    close_sink(sink)
    target.publish(tmp)
    return {"bytes": target.size(), "sha256": sha256_file(target)}


def iter_batches(path: Part, batch_size: int, columns: list[str] | None = None) -> Iterator[pa.Table]:
    """A part's rows as tables of at most `batch_size` rows (fewer at row-group ends)."""
    if isinstance(path, InPlacePart):
        yield from _in_place_batches(path, batch_size, columns)
        return
    for batch in parquet_file(path).iter_batches(batch_size=batch_size, columns=columns):
        yield pa.Table.from_batches([batch])


class PartWriter:
    """Writes tables to `directory/<name(k)>.parquet`, rolling to part k+1 after `max_rows`
    rows or when the schema changes; files appear only when closed (temp name, then rename)."""

    def __init__(self, directory: str | os.PathLike | Loc, name: Callable[[int], str], row_group_size: int,
                 max_rows: int | None = None, compression_level: int = COMPRESSION_LEVEL) -> None:
        self.directory, self.name = Loc(directory), name
        self.row_group_size, self.max_rows = row_group_size, max_rows
        self.compression_level = compression_level
        self.files: list[dict] = []
        self._writer: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None
        self._rows = 0
        self._k = 0

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        if self._writer is not None and (
            not table.schema.equals(self._schema) or
            (self.max_rows is not None and self._rows + table.num_rows > self.max_rows)
        ):
            self._close()
        if self._writer is None:
            self._open(table.schema)
        self._writer.write_table(table, row_group_size=self.row_group_size)
        self._rows += table.num_rows

    def _open(self, schema: pa.Schema) -> None:
        self._final = self.directory / f"{self.name(self._k)}.parquet"
        self._tmp = self._final.staged()
        self._schema = schema
        self._sink = self._tmp.arrow_sink()
        self._writer = pq.ParquetWriter(
            self._sink, schema, compression=COMPRESSION, compression_level=self.compression_level,
            use_dictionary=False, write_statistics=True,
        )
        self._rows = 0

    def _close(self) -> None:
        self._writer.close()
        close_sink(self._sink)
        self._final.publish(self._tmp)
        self.files.append({
            "path": self._final.name, "rows": self._rows,
            "bytes": self._final.size(), "sha256": sha256_file(self._final),
        })
        self._writer = None
        self._k += 1

    def close(self) -> list[dict]:
        if self._writer is not None:
            self._close()
        return self.files

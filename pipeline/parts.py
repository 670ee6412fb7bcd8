"""Parquet parts: how the pipeline writes and reads its files.

A part either exists whole or not at all: on a local disk it is written under a temporary name
and renamed when complete; in an object store its upload completes or it never appears
(pipeline.storage). Settings are fixed here so output is byte-identical run to run.
"""
from __future__ import annotations

import hashlib
import os
from typing import Callable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.storage import Loc, close_sink

COMPRESSION = "zstd"
COMPRESSION_LEVEL = 3


def sha256_file(path: str | os.PathLike | Loc) -> str:
    h = hashlib.sha256()
    with Loc(path).open_input() as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def atomic_write_bytes(path: str | os.PathLike | Loc, data: bytes) -> None:
    Loc(path).write_bytes(data)


def parquet_file(path: str | os.PathLike | Loc) -> pq.ParquetFile:
    return pq.ParquetFile(Loc(path).arrow_source())


def read_table(path: str | os.PathLike | Loc, columns: list[str] | None = None) -> pa.Table:
    return parquet_file(path).read(columns=columns)


def read_schema(path: str | os.PathLike | Loc) -> pa.Schema:
    return parquet_file(path).schema_arrow


def num_rows(path: str | os.PathLike | Loc) -> int:
    return parquet_file(path).metadata.num_rows


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


def iter_batches(path: str | os.PathLike | Loc, batch_size: int, columns: list[str] | None = None
                 ) -> Iterator[pa.Table]:
    for batch in parquet_file(path).iter_batches(batch_size=batch_size, columns=columns):
        yield pa.Table.from_batches([batch])


class PartWriter:
    """Writes tables to `directory/<name(k)>.parquet`, rolling to part k+1 after `max_rows`
    rows or when the schema changes; files appear only when closed (temp name, then rename)."""

    def __init__(self, directory: str | os.PathLike | Loc, name: Callable[[int], str], row_group_size: int,
                 max_rows: int | None = None) -> None:
        self.directory, self.name = Loc(directory), name
        self.row_group_size, self.max_rows = row_group_size, max_rows
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
            self._sink, schema, compression=COMPRESSION, compression_level=COMPRESSION_LEVEL,
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

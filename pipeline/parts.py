"""Parquet parts: how the pipeline writes and reads its files.

Every file is written under a temporary name and renamed when complete, so a part either
exists whole or not at all. Settings are fixed here so output is byte-identical run to run.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

COMPRESSION = "zstd"
COMPRESSION_LEVEL = 3


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def iter_batches(path: str | Path, batch_size: int) -> Iterator[pa.Table]:
    pf = pq.ParquetFile(path)
    for batch in pf.iter_batches(batch_size=batch_size):
        yield pa.Table.from_batches([batch])


class PartWriter:
    """Writes tables to `directory/<name(k)>.parquet`, rolling to part k+1 after `max_rows`
    rows or when the schema changes; files appear only when closed (temp name, then rename)."""

    def __init__(self, directory: Path, name: Callable[[int], str], row_group_size: int,
                 max_rows: int | None = None) -> None:
        self.directory, self.name = directory, name
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
        self._tmp = self.directory / f".{self._final.name}.tmp"
        self._schema = schema
        self._writer = pq.ParquetWriter(
            self._tmp, schema, compression=COMPRESSION, compression_level=COMPRESSION_LEVEL,
            use_dictionary=False, write_statistics=True,
        )
        self._rows = 0

    def _close(self) -> None:
        self._writer.close()
        os.replace(self._tmp, self._final)
        self.files.append({
            "path": self._final.name, "rows": self._rows,
            "bytes": self._final.stat().st_size, "sha256": sha256_file(self._final),
        })
        self._writer = None
        self._k += 1

    def close(self) -> list[dict]:
        if self._writer is not None:
            self._close()
        return self.files

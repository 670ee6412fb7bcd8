"""Parquet files: `text` required; base columns are cast to the schema, other columns kept."""
from __future__ import annotations

from typing import Iterator

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.readers import FIELD_CANDIDATES, FileRef, ReadOptions, RowBuffer, describe_error, register_reader
from pipeline.parts import parquet_file
from pipeline.schema import REJECT_REASON, conform, set_column
from pipeline.stage import first_reason


@register_reader(".parquet", ".pq")
def read_parquet(ref: FileRef, opts: ReadOptions) -> Iterator[pa.Table]:
    start = 0
    try:
        pf = parquet_file(ref.path)
        text_field = opts.text_field
        if text_field not in pf.schema_arrow.names:
            yield from _missing_text(ref, opts, pf.metadata.num_rows, pf.schema_arrow.names)
            return
        for batch in pf.iter_batches(batch_size=opts.batch_rows):
            table = pa.Table.from_batches([batch])
            yield _to_documents(table, ref, opts, start)
            start += table.num_rows
    except (OSError, pa.ArrowException) as e:
        reason, msg = describe_error(e)
        buf = RowBuffer(ref, opts)
        buf.reject(f"{ref.rel}#{start}", "", reason, {"error": msg, "file": ref.rel, "row": start})
        yield from buf.flush()


def _missing_text(ref: FileRef, opts: ReadOptions, rows: int, columns: list[str]) -> Iterator[pa.Table]:
    buf = RowBuffer(ref, opts)
    meta = {"error": f"no {opts.text_field!r} column (columns: {', '.join(columns)})", "file": ref.rel}
    for i in range(rows):
        buf.reject(f"{ref.rel}#{i}", "", "missing_text", meta)
        if buf.full():
            yield from buf.flush()
    yield from buf.flush()


def _to_documents(table: pa.Table, ref: FileRef, opts: ReadOptions, start: int) -> pa.Table:
    n = table.num_rows
    if REJECT_REASON in table.column_names:  # re-reading a rejected/ directory
        table = table.drop_columns([REJECT_REASON])
    if opts.text_field != "text":
        table = table.drop_columns([c for c in ["text"] if c in table.column_names])
        table = table.rename_columns(["text" if c == opts.text_field else c for c in table.column_names])
    for col, names in FIELD_CANDIDATES.items():
        if col not in table.column_names:
            alt = next((c for c in names if c in table.column_names), None)
            if alt is not None:
                table = table.rename_columns([col if c == alt else c for c in table.column_names])
    reasons = pa.nulls(n, pa.string())
    text = table.column("text")
    if not pa.types.is_string(text.type) and not pa.types.is_large_string(text.type):
        text, reasons = _text_as_string(text)
    table = table.set_column(table.column_names.index("text"), "text", text)
    fallback = pa.array([f"{ref.rel}#{i}" for i in range(start, start + n)], pa.string())
    ids = table.column("id").cast(pa.string()) if "id" in table.column_names else fallback
    ids = pc.coalesce(ids, fallback)
    table = set_column(table, "id", ids)
    source = ref.source or None
    src = pa.array([source or ref.rel] * n, pa.string())
    if "source" in table.column_names and source is None:
        src = pc.coalesce(table.column("source").cast(pa.string()), src)
    table = set_column(table, "source", src)
    if "metadata" in table.column_names and not pa.types.is_string(table.column("metadata").type):
        meta = [None if v is None else orjson.dumps(v, option=orjson.OPT_SORT_KEYS).decode()
                for v in table.column("metadata").to_pylist()]
        table = set_column(table, "metadata", pa.array(meta, pa.string()))
    missing = pc.is_null(table.column("text"))
    reasons = first_reason([(missing, "missing_text")], n, prior=reasons)
    table = set_column(table, "text", pc.fill_null(table.column("text"), ""))
    table = conform(table)
    return table.append_column(REJECT_REASON, reasons)


def _text_as_string(col: pa.ChunkedArray) -> tuple[pa.Array, pa.Array]:
    """A binary (or other) text column as strings; undecodable values are rejected per row."""
    texts, reasons = [], []
    for v in col.to_pylist():
        if isinstance(v, bytes):
            try:
                texts.append(v.decode("utf-8"))
                reasons.append(None)
            except UnicodeDecodeError:
                texts.append(v.decode("utf-8", "replace"))
                reasons.append("invalid_utf8")
        elif v is None or isinstance(v, str):
            texts.append(v)
            reasons.append(None)
        else:
            texts.append(str(v))
            reasons.append("missing_text")
    return pa.array(texts, pa.string()), pa.array(reasons, pa.string())

"""Plain-text files: one document per file, its path (under the input directory) as id."""
from __future__ import annotations

from typing import Iterator

import pyarrow as pa

from pipeline.readers import FileRef, ReadOptions, RowBuffer, describe_error, register_reader
from pipeline.storage import Loc


@register_reader(".txt", ".text", ".md", ".rst")
def read_text(ref: FileRef, opts: ReadOptions) -> Iterator[pa.Table]:
    buf = RowBuffer(ref, opts)
    try:
        with Loc(ref.path).open_input() as f:
            raw = f.read(opts.max_file_bytes + 1)
    except OSError as e:
        reason, msg = describe_error(e)
        buf.reject(ref.rel, "", reason, {"error": msg, "file": ref.rel})
        yield from buf.flush()
        return
    meta = None
    if len(raw) > opts.max_file_bytes:
        # Too big to hold: keep its head for the record; the read stage rejects it as too long.
        raw = raw[: opts.max_file_bytes]
        meta = {"file_bytes": ref.size, "text_is_head_of_file": True}
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        if meta is None or e.start < len(raw) - 4:  # a cut multi-byte char at the head's end is fine
            buf.reject(ref.rel, raw.decode("utf-8", "replace"), "invalid_utf8",
                       {"error": str(e), "file": ref.rel, **(meta or {})})
            yield from buf.flush()
            return
        text = raw.decode("utf-8", "ignore")
    buf.add(ref.rel, text, metadata=meta)
    yield from buf.flush()

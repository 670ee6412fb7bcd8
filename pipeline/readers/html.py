"""Raw HTML files (.html, .htm, .xhtml): one document per file, main text extracted.

The id is the file's path under its input directory; the charset is the page's <meta charset>,
else UTF-8, else detected. Same columns and rejection reasons as the WARC reader.
"""
from __future__ import annotations

from typing import Iterator

import pyarrow as pa

from pipeline.readers import FileRef, ReadOptions, RowBuffer, describe_error, register_reader
from pipeline.readers.warc import WEB_COLUMNS, add_html
from pipeline.storage import Loc


@register_reader(".html", ".htm", ".xhtml")
def read_html(ref: FileRef, opts: ReadOptions) -> Iterator[pa.Table]:
    buf = RowBuffer(ref, opts, WEB_COLUMNS)
    try:
        with Loc(ref.path).open_input() as f:
            raw = f.read(opts.max_file_bytes + 1)
    except OSError as e:
        reason, msg = describe_error(e)
        buf.reject(ref.rel, "", reason, {"error": msg, "file": ref.rel})
        yield from buf.flush()
        return
    if len(raw) > opts.max_file_bytes:
        buf.reject(ref.rel, "", "too_long", {"file": ref.rel, "file_bytes": ref.size})
    else:
        add_html(buf, ref.rel, raw, None, opts, {"file": ref.rel})
    yield from buf.flush()

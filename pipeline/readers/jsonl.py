"""JSON Lines, plain or compressed (.gz, .zst): one record per line, `text` required."""
from __future__ import annotations

from typing import Iterator

import orjson
import pyarrow as pa

from pipeline.readers import FileRef, ReadOptions, RowBuffer, describe_error, record_fields, register_reader
from pipeline.storage import Loc

_COMPRESSION = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd", ".bz2": "bz2"}
_CHUNK = 1 << 20


def _compression(path: str) -> str | None:
    for suffix, codec in _COMPRESSION.items():
        if path.lower().endswith(suffix):
            return codec
    return None


def _lines(path: str) -> Iterator[tuple[bytes, bool]]:
    """Lines of the (decompressed) file; the last item is (partial bytes, True) if it was cut."""
    # pyarrow's streams notice a truncated gzip *and* zstd stream (python's zstandard does not).
    where = Loc(path)
    stream = pa.input_stream(where.path if where.local else where.open_input(), compression=_compression(path))
    tail = b""
    try:
        while True:
            chunk = stream.read(_CHUNK)
            if not chunk:
                break
            parts = (tail + chunk).split(b"\n")
            tail = parts.pop()
            for line in parts:
                yield line, False
    except (OSError, EOFError, pa.ArrowException) as e:
        raise _Broken(tail, e) from e
    finally:
        stream.close()
    if tail:
        yield tail, False


class _Broken(Exception):
    def __init__(self, tail: bytes, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.tail, self.cause = tail, cause


@register_reader(".jsonl", ".jsonl.gz", ".jsonl.zst", ".jsonl.zstd", ".jsonl.bz2",
                 ".json.gz", ".json.zst", ".ndjson", ".ndjson.gz", ".ndjson.zst")
def read_jsonl(ref: FileRef, opts: ReadOptions) -> Iterator[pa.Table]:
    buf = RowBuffer(ref, opts)
    position = -1
    try:
        for position, (line, _) in enumerate(_lines(ref.path)):
            if not line.strip():
                continue
            _parse_line(buf, ref, opts, position, line)
            if buf.full():
                yield from buf.flush()
    except _Broken as broken:
        reason, msg = describe_error(broken.cause)
        buf.reject(f"{ref.rel}#{position + 1}", broken.tail.decode("utf-8", "replace"), reason,
                   {"error": msg, "file": ref.rel})
    yield from buf.flush()


def _parse_line(buf: RowBuffer, ref: FileRef, opts: ReadOptions, position: int, line: bytes) -> None:
    fallback_id = f"{ref.rel}#{position}"
    try:
        rec = orjson.loads(line)
    except orjson.JSONDecodeError as e:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as ue:
            buf.reject(fallback_id, line.decode("utf-8", "replace"), "invalid_utf8",
                       {"error": str(ue), "file": ref.rel, "line": position + 1})
            return
        buf.reject(fallback_id, line.decode("utf-8", "replace"), "invalid_json",
                   {"error": str(e), "file": ref.rel, "line": position + 1})
        return
    if not isinstance(rec, dict):
        buf.reject(fallback_id, line.decode("utf-8", "replace"), "invalid_json",
                   {"error": "record is not a JSON object", "file": ref.rel, "line": position + 1})
        return
    base, rest = record_fields(rec, opts.text_field)
    text = rec.get(opts.text_field)
    doc_id = base.get("id", fallback_id)
    if not isinstance(text, str):
        rest["error"] = f"field {opts.text_field!r} is missing or not a string"
        buf.add(doc_id, "" if text is None else orjson.dumps(text).decode(), base.get("url"),
                base.get("source"), base.get("timestamp"), rest, reason="missing_text")
        return
    buf.add(doc_id, text, base.get("url"), base.get("source"), base.get("timestamp"), rest)

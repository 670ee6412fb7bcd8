"""Input formats: a registry from file-name suffix to a reader.

A reader turns one file into Arrow tables of documents in the base schema plus a
`reject_reason` column (null = readable). It never raises on bad content: an undecodable,
truncated or malformed record becomes a row with a reason, so the read stage can count it.
New formats (WARC, WET, HTML) register here with `@register_reader` and nothing else changes.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import orjson
import pyarrow as pa

from pipeline.schema import BASE_SCHEMA, REJECT_REASON

# Candidate field names, tried in order, for the base columns in JSON-like records.
FIELD_CANDIDATES: dict[str, tuple[str, ...]] = {
    "id": ("id", "doc_id"),
    "url": ("url", "WARC-Target-URI"),
    "source": ("source",),
    "timestamp": ("timestamp", "created", "date", "WARC-Date"),
}


@dataclass(frozen=True)
class FileRef:
    """One input file: where it is, and the stable name (`rel`) its ids and sources derive from."""

    path: str  # a local path or a URI (pipeline.storage)
    rel: str
    size: int
    source: str | None = None  # from the config's input entry; overrides the record's
    mtime_ns: int = 0          # with size, what says the file changed (the input hash)


@dataclass
class ReadOptions:
    text_field: str = "text"
    batch_rows: int = 1024
    batch_bytes: int = 64 << 20
    # Text files larger than this are not loaded whole: their head is kept for the record.
    max_file_bytes: int = 64 << 20
    # Main-text extractor for HTML (WARC responses, .html files): a key of pipeline.html.EXTRACTORS.
    html_extractor: str = "trafilatura"


Reader = Callable[[FileRef, ReadOptions], Iterator[pa.Table]]
_READERS: list[tuple[str, Reader]] = []
_FORMAT_MODULES = ("jsonl", "parquet", "text", "warc", "html")


def register_reader(*suffixes: str) -> Callable[[Reader], Reader]:
    """Registers a reader for file names ending in any of `suffixes` (longest match wins)."""

    def wrap(fn: Reader) -> Reader:
        for s in suffixes:
            _READERS.append((s.lower(), fn))
        _READERS.sort(key=lambda item: -len(item[0]))
        return fn

    return wrap


def _load_formats() -> None:
    # every module, whether or not one of them was imported (and registered) before
    for mod in _FORMAT_MODULES:
        importlib.import_module(f"pipeline.readers.{mod}")


def reader_for(path: str) -> Reader | None:
    _load_formats()
    name = Path(path).name.lower()
    for suffix, fn in _READERS:
        if name.endswith(suffix):
            return fn
    if "." not in name:  # extension-less files (fortunes, READMEs) are plain text
        from pipeline.readers.text import read_text

        return read_text
    return None


def read_file(ref: FileRef, opts: ReadOptions) -> Iterator[pa.Table]:
    fn = reader_for(ref.path)
    if fn is None:
        b = RowBuffer(ref, opts)
        b.reject(f"{ref.rel}", "", "unsupported_format", {"error": "no reader for this file type"})
        yield from b.flush()
        return
    yield from fn(ref, opts)


def expand_inputs(specs: list[tuple[str, str | None]]) -> list[FileRef]:
    """Files of each (path, source) input, sorted; directories are walked, dotfiles skipped.
    Paths may be URIs (`s3://bucket/prefix`): a prefix is walked like a directory."""
    from pipeline.storage import Loc, is_uri

    refs: list[FileRef] = []
    for raw, source in specs:
        p = Loc(raw if is_uri(raw) else str(Path(raw).resolve()))
        if p.is_file():
            refs.append(FileRef(str(p), p.name, p.size(), source, p.mtime_ns()))
        elif p.is_dir():
            for f in p.files(recursive=True):
                rel = f.relative_to(p)
                if not any(part.startswith(".") for part in rel.split("/")):
                    refs.append(FileRef(str(f), f"{p.name}/{rel}", f.size(), source, f.mtime_ns()))
        else:
            from pipeline.config import ConfigError

            raise ConfigError(f"input {raw!r}: no such file or directory")
    return refs


class RowBuffer:
    """Accumulates documents of one file and emits them as base-schema tables."""

    def __init__(self, ref: FileRef, opts: ReadOptions, columns: tuple[str, ...] = ()) -> None:
        """`columns`: extra string columns this reader fills (web readers: charset, html_lang)."""
        self.ref, self.opts, self.extra = ref, opts, columns
        self.cols: dict[str, list] = {n: [] for n in (*BASE_SCHEMA.names, *columns, REJECT_REASON)}
        self.nbytes = 0

    def __len__(self) -> int:
        return len(self.cols["id"])

    def add(self, doc_id: str, text: str, url: str | None = None, source: str | None = None,
            timestamp: str | None = None, metadata: dict | None = None,
            reason: str | None = None, columns: dict | None = None) -> None:
        c = self.cols
        for name in self.extra:
            c[name].append((columns or {}).get(name))
        c["id"].append(doc_id)
        c["text"].append(text)
        c["url"].append(url)
        c["source"].append(self.ref.source or source or self.ref.rel)
        c["timestamp"].append(timestamp)
        c["metadata"].append(orjson.dumps(metadata, option=orjson.OPT_SORT_KEYS).decode()
                             if metadata else None)
        c[REJECT_REASON].append(reason)
        self.nbytes += len(text)

    def reject(self, doc_id: str, text: str, reason: str, metadata: dict | None = None, **fields) -> None:
        self.add(doc_id, text, metadata=metadata, reason=reason, **fields)

    def full(self) -> bool:
        return len(self) >= self.opts.batch_rows or self.nbytes >= self.opts.batch_bytes

    def flush(self) -> Iterator[pa.Table]:
        if len(self):
            schema = pa.schema([*BASE_SCHEMA, *(pa.field(n, pa.string()) for n in self.extra),
                                pa.field(REJECT_REASON, pa.string())])
            yield pa.table(self.cols, schema=schema)
            self.cols = {n: [] for n in self.cols}
            self.nbytes = 0


def record_fields(rec: dict, text_field: str) -> tuple[dict, dict]:
    """Splits a JSON record into base-column values and the rest (metadata)."""
    base: dict = {}
    rest = dict(rec)
    rest.pop(text_field, None)
    for col, names in FIELD_CANDIDATES.items():
        for n in names:
            if rest.get(n) is not None:
                v = rest.pop(n)
                base[col] = v if isinstance(v, str) else orjson.dumps(v).decode()
                break
    return base, rest


def describe_error(e: BaseException) -> tuple[str, str]:
    """(reason, message) for an exception raised while reading a compressed or binary stream."""
    msg = f"{type(e).__name__}: {e}"
    low = msg.lower()
    if "truncat" in low or "end-of-stream" in low or "unexpected end" in low or isinstance(e, EOFError):
        return "truncated_input", msg
    return "corrupt_input", msg

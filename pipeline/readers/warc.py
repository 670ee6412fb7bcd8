"""WARC and WET files (FastWARC): HTML responses to main text, WET conversion records as they are.

One document per `response` (or `resource`) record with an HTML payload, and per WET `conversion`
record. Columns: `url` (WARC-Target-URI), `timestamp` (WARC-Date), `source` (the file), plus
`charset` (the one that decoded the payload) and `html_lang` (the page's <html lang>); the
declared charset, HTTP status and content type go to `metadata`. request, metadata, warcinfo and
revisit records carry no document and are passed over.

Rejected, with the reason: `http_status` (not 2xx), `not_html`, `undecodable`, `no_text` (the
extractor found no main text), `truncated_input` (the file ends inside the record), and
`corrupt_record` (bad header or gzip member): reading resumes at the next record that parses,
so one broken record costs one document, and a truncated file ends that file only.
"""
from __future__ import annotations

import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import BinaryIO, Iterator

import pyarrow as pa

from pipeline.html import Undecodable, declared_charset, decode, extract_main_text, html_lang, is_html
from pipeline.readers import FileRef, ReadOptions, RowBuffer, describe_error, register_reader
from pipeline.storage import Loc

WEB_COLUMNS = ("charset", "html_lang")
_DOC_TYPES = {"response", "resource", "conversion"}
_GZIP_MAGIC = b"\x1f\x8b\x08"
_SCAN = 1 << 20


@dataclass
class _Record:
    type: str
    offset: int
    record_id: str | None = None
    url: str | None = None
    date: str | None = None
    status: int | None = None
    content_type: str | None = None
    payload: bytes = b""
    truncated: bool = False
    headers: dict = field(default_factory=dict)


@dataclass
class _Broken:
    offset: int
    error: str


@register_reader(".warc", ".warc.gz", ".wet", ".wet.gz", ".warc.wet", ".warc.wet.gz", ".warc.txt")
def read_warc(ref: FileRef, opts: ReadOptions) -> Iterator[pa.Table]:
    buf = RowBuffer(ref, opts, WEB_COLUMNS)
    try:
        records = _lenient_records(ref.path) if _lf_framed(ref.path) else _fastwarc_records(ref.path)
        for rec in records:
            if isinstance(rec, _Broken):
                buf.reject(f"{ref.rel}@{rec.offset}", "", "corrupt_record",
                           {"error": rec.error, "file": ref.rel, "offset": rec.offset})
            elif rec.type in _DOC_TYPES:
                _add(buf, ref, opts, rec)
            if buf.full():
                yield from buf.flush()
    except OSError as e:  # the file itself cannot be opened or read
        reason, msg = describe_error(e)
        buf.reject(ref.rel, "", reason, {"error": msg, "file": ref.rel})
    yield from buf.flush()


def _add(buf: RowBuffer, ref: FileRef, opts: ReadOptions, rec: _Record) -> None:
    doc_id = rec.record_id or f"{ref.rel}@{rec.offset}"
    meta = {"file": ref.rel, "offset": rec.offset, "warc_type": rec.type}
    if rec.content_type:
        meta["content_type"] = rec.content_type
    if rec.status is not None:
        meta["http_status"] = rec.status
    meta.update(rec.headers)
    common = {"url": rec.url, "timestamp": rec.date}
    if rec.truncated:
        buf.add(doc_id, "", metadata={**meta, "error": "file ends inside this record"},
                reason="truncated_input", **common)
        return
    if rec.type == "conversion":  # WET: already text, UTF-8 by the format's definition
        try:
            text, charset, replaced = decode(rec.payload, "utf-8")
        except Undecodable as e:
            buf.add(doc_id, "", metadata={**meta, "error": str(e)}, reason="undecodable", **common)
            return
        if replaced:
            meta["replaced_chars"] = replaced
        buf.add(doc_id, text, metadata=meta, columns={"charset": charset}, **common)
        return
    if rec.status is not None and not 200 <= rec.status < 300:
        buf.add(doc_id, "", metadata=meta, reason="http_status", **common)
        return
    if "http_decoding_error" in rec.headers:
        buf.add(doc_id, "", metadata=meta, reason="undecodable", **common)
        return
    if not is_html(rec.content_type, rec.payload):
        buf.add(doc_id, "", metadata=meta, reason="not_html", **common)
        return
    add_html(buf, doc_id, rec.payload, rec.content_type, opts, meta, **common)


def add_html(buf: RowBuffer, doc_id: str, raw: bytes, content_type: str | None, opts: ReadOptions,
             meta: dict, url: str | None = None, timestamp: str | None = None) -> None:
    """Decode an HTML payload, extract its main text and add it (or its rejection) to `buf`."""
    declared = declared_charset(content_type, raw)
    if declared:
        meta["declared_charset"] = declared
    try:
        html, charset, replaced = decode(raw, declared)
    except Undecodable as e:
        buf.add(doc_id, "", url=url, timestamp=timestamp, metadata={**meta, "error": str(e)},
                reason="undecodable")
        return
    if replaced:
        meta["replaced_chars"] = replaced
    cols = {"charset": charset, "html_lang": html_lang(html)}
    try:
        text = extract_main_text(html, opts.html_extractor)
    except Exception as e:  # noqa: BLE001 - an extractor bug on one page must not end the file
        buf.add(doc_id, "", url=url, timestamp=timestamp, columns=cols,
                metadata={**meta, "error": f"{opts.html_extractor}: {type(e).__name__}: {e}"},
                reason="no_text")
        return
    buf.add(doc_id, text, url=url, timestamp=timestamp, metadata=meta, columns=cols,
            reason=None if text else "no_text")


def _record(r, offset: int) -> _Record:
    kind = str(r.record_type)  # "response", "conversion", ...
    rec = _Record(kind, offset)
    if kind not in _DOC_TYPES:
        r.reader.consume()
        return rec
    h = r.headers
    rec.record_id = (h.get("WARC-Record-ID") or "").strip("<>") or None
    rec.url, rec.date = h.get("WARC-Target-URI"), h.get("WARC-Date")
    if lang := h.get("WARC-Identified-Content-Language"):
        rec.headers["cc_languages"] = lang
    rec.url = rec.url.strip("<>") if rec.url else None  # some writers keep WARC 1.1's <uri> brackets
    http = kind == "response" and r.is_http
    if http:
        rec.status = r.http_headers.status_code
        rec.content_type = r.http_headers.get("Content-Type")
    else:
        rec.content_type = h.get("Content-Type")
    rec.payload = r.reader.read()
    # with parse_http, content_length counts the payload after the HTTP headers: a shorter
    # payload means the file ends inside this record
    rec.truncated = len(rec.payload) < r.content_length
    if http and not rec.truncated:
        rec.payload, problem = _http_decode(rec.payload, r.http_headers.get("Transfer-Encoding"),
                                            r.http_headers.get("Content-Encoding"))
        if problem:
            rec.headers["http_decoding_error"] = problem
    return rec


def _http_decode(body: bytes, transfer: str | None, encoding: str | None) -> tuple[bytes, str | None]:
    """Undo chunked transfer and gzip/deflate content encoding as stored by the crawler."""
    try:
        if transfer and "chunked" in transfer.lower():
            body = _dechunk(body)
        enc = (encoding or "").strip().lower()
        if enc in ("gzip", "x-gzip"):
            body = zlib.decompressobj(47).decompress(body)
        elif enc == "deflate":
            try:
                body = zlib.decompress(body)
            except zlib.error:
                body = zlib.decompress(body, -15)
        elif enc not in ("", "identity"):
            return body, f"unsupported Content-Encoding {encoding!r}"
    except (zlib.error, ValueError) as e:
        return body, f"{type(e).__name__}: {e}"
    return body, None


def _dechunk(body: bytes) -> bytes:
    out, pos = [], 0
    while pos < len(body):
        eol = body.find(b"\r\n", pos)
        if eol == -1:
            raise ValueError("chunked body without a size line")
        size = int(body[pos:eol].split(b";")[0].strip() or b"0", 16)
        if size == 0:
            break
        out.append(body[eol + 2:eol + 2 + size])
        pos = eol + 2 + size + 2
    return b"".join(out)


def _fastwarc_records(path: str) -> Iterator[_Record | _Broken]:
    from fastwarc.warc import ArchiveIterator

    gz = path.lower().endswith(".gz")
    pos, owed = 0, None
    with Loc(path).open_input() as f:
        while pos is not None:
            f.seek(pos)
            last = None
            try:
                last_broken = False
                for r in ArchiveIterator(f, parse_http=True):
                    if owed is not None:  # the broken stretch lay before this record
                        yield owed
                        owed = None
                    last = r.stream_pos
                    if "Content-Length" not in r.headers:  # its block's end is unknowable
                        last_broken = True
                        yield _Broken(last, "WARC header without Content-Length")
                        break
                    yield _record(r, last)
                else:
                    return
                error = None
            except (OSError, ValueError) as e:
                error = f"{type(e).__name__}: {e}"
            if last is None:  # the record at `pos` itself is broken
                yield _Broken(pos, error) if owed is None else owed
                owed = None
                pos = _next_record(f, gz, pos + 1)
            else:  # a record after `last` is broken (unless it was `last`, already rejected)
                owed = None if last_broken else _Broken(last + 1, error)
                pos = _next_record(f, gz, last + 1)
        if owed is not None:
            yield owed


def _next_record(f: BinaryIO, gz: bool, start: int) -> int | None:
    """Offset of the next plausible record start at or after `start` (gzip member or WARC/ line)."""
    needle = _GZIP_MAGIC if gz else b"\nWARC/1."
    at = start
    while True:
        f.seek(at)
        chunk = f.read(_SCAN + 16)
        if not chunk:
            return None
        i = chunk.find(needle)
        while i != -1 and i < _SCAN:
            cand = at + i + (0 if gz else 1)
            if not gz or _gzip_starts_warc(f, cand):
                return cand
            i = chunk.find(needle, i + 1)
        if len(chunk) <= _SCAN:
            return None
        at += _SCAN


def _gzip_starts_warc(f: BinaryIO, offset: int) -> bool:
    f.seek(offset)
    try:
        return zlib.decompressobj(31).decompress(f.read(1024), 16).startswith(b"WARC/")
    except zlib.error:
        return False


@contextmanager
def _open(path: str) -> Iterator[BinaryIO]:
    """The file's bytes, gunzipped when its name ends in .gz."""
    import gzip

    with Loc(path).open_input() as f:
        if path.lower().endswith(".gz"):
            with gzip.GzipFile(fileobj=f, mode="rb") as g:
                yield g
        else:
            yield f


def _lf_framed(path: str) -> bool:
    """A WET file written with bare \\n line ends (cc_net's test data): not parseable as WARC."""
    try:
        with _open(path) as f:
            head = f.read(64)  # as readline(64), which Arrow's remote files lack
    except (OSError, EOFError):
        return False
    first = head[:head.find(b"\n") + 1] if b"\n" in head else head
    return first.startswith(b"WARC/") and not first.endswith(b"\r\n")


def _lenient_records(path: str) -> Iterator[_Record]:
    """Records of an LF-framed file: headers to the first blank line, the block up to the next
    `WARC/1.` line (Content-Length is not trusted: such files were edited by hand)."""
    with _open(path) as f:
        data = f.read()
    starts = [0] + [i + 1 for i in _find_all(data, b"\nWARC/1.")]
    for k, start in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else len(data)
        head, _, block = data[start:end].partition(b"\n\n")
        headers = {}
        for line in head.decode("utf-8", "replace").splitlines()[1:]:
            name, _, value = line.partition(":")
            headers[name.strip()] = value.strip()
        kind = headers.get("WARC-Type", "unknown")
        yield _Record(kind, start, (headers.get("WARC-Record-ID") or "").strip("<>") or None,
                      headers.get("WARC-Target-URI"), headers.get("WARC-Date"), None,
                      headers.get("Content-Type"), block.rstrip(b"\n"))


def _find_all(data: bytes, needle: bytes) -> Iterator[int]:
    i = data.find(needle)
    while i != -1:
        yield i
        i = data.find(needle, i + 1)

"""HTML payloads to text: charset decoding with a fallback, the `lang` attribute, and main-text
extraction by a selectable extractor (resiliparse or trafilatura; see README "Web formats").
"""
from __future__ import annotations

import codecs
import logging
import re
import threading
from typing import Callable

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_HTML_LANG = re.compile(r"""<html\b[^>]*?\blang\s*=\s*["']?\s*([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*)""", re.I)
_CT_CHARSET = re.compile(r"charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.I)
HTML_TYPES = ("text/html", "application/xhtml+xml", "application/xml+xhtml")


class Undecodable(ValueError):
    """Neither the declared charset, UTF-8, nor the detected one decodes the bytes."""


def is_html(content_type: str | None, raw: bytes) -> bool:
    if content_type:
        return content_type.split(";")[0].strip().lower() in HTML_TYPES
    head = raw[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head


def declared_charset(content_type: str | None, raw: bytes) -> str | None:
    """The charset the server (Content-Type) or the page (<meta charset>) declares."""
    if content_type and (m := _CT_CHARSET.search(content_type)):
        return m.group(1)
    if m := _META_CHARSET.search(raw[:4096]):
        return m.group(1).decode("ascii", "replace")
    return None


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name.strip().lower()).name
    except LookupError:
        return None


# Pages that declare UTF-8 often hold a few stray bytes; browsers show U+FFFD for them. Up to this
# share of replaced characters the page is kept (and the count recorded); beyond it, rejected.
MAX_REPLACED = 0.01


def decode(raw: bytes, declared: str | None) -> tuple[str, str, int]:
    """(text, codec, replaced characters): the declared charset, else UTF-8, else the detected one,
    each strictly; failing all three, the first of them with replacement if little is replaced."""
    from resiliparse.parse.encoding import detect_encoding

    tried = []
    for name in (_codec(declared), "utf-8", _codec(detect_encoding(raw))):
        if name is None or name in tried:
            continue
        tried.append(name)
        try:
            return raw.decode(name), name, 0
        except (UnicodeDecodeError, LookupError):
            continue
    text = raw.decode(tried[0], errors="replace")
    replaced = text.count("\ufffd") - raw.decode(tried[0], errors="ignore").count("\ufffd")
    if replaced <= MAX_REPLACED * max(len(text), 1):
        return text, tried[0], replaced
    raise Undecodable(f"declared {declared!r}; {replaced} of {len(text)} characters undecodable "
                      f"as {tried[0]} (tried {', '.join(tried)})")


def html_lang(html: str) -> str | None:
    m = _HTML_LANG.search(html, 0, 8192)
    return m.group(1).replace("_", "-") if m else None


def _resiliparse(html: str) -> str:
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    return extract_plain_text(HTMLTree.parse(html), main_content=True, alt_texts=False, noscript=False)


# trafilatura (lxml) on two threads at once crashes the process now and then (SIGSEGV/SIGABRT in
# basic_cleaning, _prepare_tree's copy, prune_unwanted_nodes: 4 of 180 inline runs of the sample's
# read stage, whose threads extract pages side by side; 0 of 120 with this lock), so one thread at a
# time extracts with it. It holds the GIL for most of its work, so little parallelism is lost.
_TRAFILATURA_LOCK = threading.Lock()


def _trafilatura(html: str, fast: bool = True) -> str:
    import trafilatura

    # it logs a warning per page it finds nothing in; that page is already a `no_text` rejection
    logging.getLogger("trafilatura").setLevel(logging.ERROR)

    # fast=True skips the readability/justext fallbacks: F1 0.919 vs 0.924, 35 % more pages/s
    with _TRAFILATURA_LOCK:
        return trafilatura.extract(html, include_comments=False, include_tables=True, deduplicate=False,
                                   fast=fast) or ""


# bench/EXTRACTION.md compares them; `read`'s `html_extractor` option picks one.
EXTRACTORS: dict[str, Callable[[str], str]] = {
    "trafilatura": _trafilatura,
    "trafilatura_full": lambda html: _trafilatura(html, fast=False),
    "resiliparse": _resiliparse,
}


def extract_main_text(html: str, extractor: str) -> str:
    return EXTRACTORS[extractor](html).strip()

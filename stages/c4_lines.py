"""C4's line filter for a whole batch of documents at once, in numpy on the batch's bytes.

Per document, line by line (`str.splitlines`, each line `str.strip`ped): a line with a word
(`str.split`) of more than `max_word_length` characters goes, then citation marks (`[1]`, `[edit]`,
`[citation needed]`) are removed, a line of fewer than `min_words_per_line` words goes (and,
optionally, one without terminal punctuation); of the rest, the first line that mentions "lorem
ipsum" (lower-cased) or holds a "{" rejects the document, and lines mentioning javascript or
cookie/terms-of-use boilerplate go. The kept lines, joined by "\n" and stripped, are what later
rules read; their sentences (runs of sentence-ending punctuation before white space or the line's
end, at least one a line) must reach `min_sentences`.

Lines, words and sentence ends are found for the whole batch from its bytes (`pipeline/tokens.py`,
Python's own character classes), phrases by searching the ASCII-lower-cased bytes, and a document's
answer is the first of its lines that decides it. A line holding "[" (a citation may go, and what
is left is another line) or the Kelvin sign (the one character outside ASCII whose `str.lower` is a
letter of the phrases) is read by Python, as the rules are written (`_line`). İ lowers to "i" and a
combining dot in Python, and stays as it is here: no phrase can match across either.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline import unicode
from pipeline.tokens import WHITESPACE, code_points, counts_before, python_whitespace, token_spans

POLICY = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")
C4_END = (".", "?", "!", '"', "'")
SENTENCE_ENDS = ".!?…。！？"
# the line breaks of str.splitlines (Python 3.11)
LINE_BREAKS = "\n\x0b\x0c\r\x1c\x1d\x1e\x85\u2028\u2029"
SENTENCE_END_RE = re.compile(r"[.!?…。！？]+(?=\s|$)")
CITATION_RE = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
KELVIN = "\u212a".encode()
DROP, KEEP, LOREM, CURLY = 0, 1, 2, 3  # what a line does to its document


def _multibyte_at(data: np.ndarray, chars: str) -> np.ndarray:
    """Where one of `chars` (each two or three bytes in UTF-8) starts in `data`."""
    found = []
    for ch in chars:
        b = np.frombuffer(ch.encode(), np.uint8)
        at = np.flatnonzero(data[:len(data) - len(b) + 1] == b[0])
        for k in range(1, len(b)):
            at = at[data[at + k] == b[k]]
        found.append(at)
    return np.concatenate(found) if found else np.zeros(0, np.int64)


def _ascii_at(data: np.ndarray, chars: str) -> np.ndarray:
    mask = np.zeros(len(data), bool)
    for ch in chars:
        mask |= data == ord(ch)
    return np.flatnonzero(mask)


def _starts(data: np.ndarray, chars: str) -> np.ndarray:
    """Where one of `chars` starts in `data`, in order."""
    ascii_ = "".join(ch for ch in chars if ord(ch) < 0x80)
    return np.sort(np.concatenate([_ascii_at(data, ascii_),
                                   _multibyte_at(data, "".join(ch for ch in chars if ord(ch) >= 0x80))]))


def _is_space(data: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Whether a white space character (str.isspace) starts at each position of `at` (a
    character's first byte or the end of `data`)."""
    out = np.zeros(len(at), bool)
    inside = at < len(data)
    first = data[at[inside]]
    space = np.isin(first, np.frombuffer("".join(ch for ch in WHITESPACE if ord(ch) < 0x80).encode(), np.uint8))
    multi = np.flatnonzero(first >= 0xC0)
    if len(multi):
        lead = at[inside][multi]
        space[multi] = np.isin(code_points(data, lead, 2 + (data[lead] >= 0xE0) + (data[lead] >= 0xF0)),
                               [ord(ch) for ch in WHITESPACE if ord(ch) >= 0x80])
    out[inside] = space
    return out


@dataclass
class C4Rules:
    enabled: bool = True
    min_sentences: int = 5
    min_words_per_line: int = 3
    max_word_length: int = 1000
    drop_lines_without_terminal_punct: bool = False  # C4 does; FineWeb's recipe turns it off
    reject_lorem_ipsum: bool = True
    reject_curly_bracket: bool = True
    drop_javascript_lines: bool = True
    drop_policy_lines: bool = True
    remove_citations: bool = True


@dataclass
class C4Lines:
    """Per document: `reasons` (None where C4 keeps it), `texts` (the kept lines joined and
    stripped), `sentences` (their sentences; counted for documents not rejected)."""
    reasons: list[str | None]
    texts: pa.Array
    sentences: np.ndarray


def _line(text: str, words: int, c: C4Rules) -> tuple[int, str, int]:
    """(what the line does, its text, its sentences) of one stripped line of `words` words that
    no long word removed: the rules as C4 writes them."""
    if c.remove_citations:
        text = CITATION_RE.sub("", text)
    if (c.drop_lines_without_terminal_punct and (not text.endswith(C4_END) or text.endswith("..."))) \
            or words < c.min_words_per_line:
        return DROP, text, 0
    low = text.lower()
    if c.reject_lorem_ipsum and "lorem ipsum" in low:
        return LOREM, text, 0
    if c.drop_javascript_lines and "javascript" in low:
        return DROP, text, 0
    if c.reject_curly_bracket and "{" in text:
        return CURLY, text, 0
    if c.drop_policy_lines and any(p in low for p in POLICY):
        return DROP, text, 0
    return KEEP, text, max(len(SENTENCE_END_RE.findall(text)), 1)


def in_text_order(starts: np.ndarray, ends: np.ndarray, start_doc: np.ndarray, end_doc: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pieces of texts given as their starts and their ends, each with its text, in any order:
    (starts, ends, text) in (text, position) order, paired."""
    return (starts[np.lexsort((starts, start_doc))], ends[np.lexsort((ends, end_doc))],
            np.sort(start_doc, kind="stable"))


@dataclass
class Lines:
    """Every line `str.splitlines` gives of a batch's texts, in order: its bytes `start`..`end`
    and its text `doc`; its `str.split` words (`words`, and `word_line`: each word's line); and the
    line `str.strip`ped: `first`..`last`, from its first word to the end of its last (empty at
    `start` where it has none)."""
    start: np.ndarray
    end: np.ndarray
    doc: np.ndarray
    words: np.ndarray
    word_line: np.ndarray
    first: np.ndarray
    last: np.ndarray


def lines_of(data: np.ndarray, offsets: np.ndarray, begin: np.ndarray, length: np.ndarray) -> Lines:
    """The lines of the texts whose bytes `data` holds from `offsets`; `begin`, `length`: their
    `str.split` words (`tokens` with `python_whitespace()`), which never span a line break."""
    docs = len(offsets) - 1
    brk = _starts(data, LINE_BREAKS)
    width = 1 + (data[brk] >= 0xC0).astype(np.int64) + (data[brk] >= 0xE0)
    bdoc = np.searchsorted(offsets, brk, "right") - 1
    after = np.minimum(brk + 1, max(len(data) - 1, 0))
    crlf = (data[brk] == 13) & (brk + 1 < offsets[bdoc + 1]) & (data[after] == 10)
    width[crlf] = 2
    single = np.ones(len(brk), bool)
    single[1:] = ~crlf[:-1]  # the "\n" of "\r\n" is not a break of its own
    brk, width, bdoc = brk[single], width[single], bdoc[single]
    every = np.arange(docs)
    starts, ends, doc = in_text_order(np.concatenate([offsets[:-1], brk + width]), np.concatenate([brk, offsets[1:]]),
                                      np.concatenate([every, bdoc]), np.concatenate([bdoc, every]))
    # nothing after a final line break, and no line for ""
    last = np.ones(len(doc), bool)
    last[:-1] = doc[1:] != doc[:-1]
    keep = ~(last & (starts == ends))
    starts, ends, doc = starts[keep], ends[keep], doc[keep]
    word_line = np.searchsorted(starts, begin, "right") - 1
    words = np.bincount(word_line, minlength=len(starts))
    last_word = np.cumsum(words) - 1
    has = words > 0
    first, end_of_words = starts.copy(), starts.copy()
    first[has] = begin[last_word[has] - words[has] + 1]
    end_of_words[has] = begin[last_word[has]] + length[last_word[has]]
    return Lines(starts, ends, doc, words, word_line, first, end_of_words)


def _in_lines(at: np.ndarray, length: int, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The lines that hold the `length` bytes at each position of `at` whole."""
    line = np.searchsorted(starts, at, "right") - 1
    inside = (line >= 0) & (at + length <= ends[np.maximum(line, 0)])
    return line[inside]


def _find(haystack: bytes, needle: bytes) -> np.ndarray:
    found, i = [], haystack.find(needle)
    while i >= 0:
        found.append(i)
        i = haystack.find(needle, i + 1)
    return np.array(found, np.int64)


def c4_lines(texts: pa.Array, c: C4Rules) -> C4Lines:
    offsets, data = unicode.string_bytes(texts)
    offsets = offsets.astype(np.int64)
    docs = len(offsets) - 1
    begin, length = token_spans(data, offsets, python_whitespace())
    lines = lines_of(data, offsets, begin, length)
    ls, le, ldoc, words, s, e = lines.start, lines.end, lines.doc, lines.words, lines.first, lines.last
    n = len(ls)
    alive = np.ones(n, bool)
    long = np.flatnonzero(length > c.max_word_length)  # bytes: at least as many as characters
    if len(long):
        later_bytes = counts_before((data & 0xC0) == 0x80)
        chars = length[long] - (later_bytes[begin[long] + length[long]] - later_bytes[begin[long]])
        alive[lines.word_line[long[chars > c.max_word_length]]] = False

    short = words < c.min_words_per_line
    if c.drop_lines_without_terminal_punct:
        tail = [data[np.maximum(e - k, 0)] for k in (1, 2, 3)]
        ends_well = (e > s) & np.isin(tail[0], np.frombuffer("".join(C4_END).encode(), np.uint8))
        dots = (e - s >= 3) & (tail[0] == 46) & (tail[1] == 46) & (tail[2] == 46)
        short |= ~ends_well | dots
    haystack = (data + np.uint8(32) * ((data >= 65) & (data <= 90))).tobytes()  # ASCII lower-cased

    def mentions(on: bool, *phrases: str) -> np.ndarray:
        found = np.zeros(n, bool)
        for phrase in phrases if on else ():
            found[_in_lines(_find(haystack, phrase.encode()), len(phrase), ls, le)] = True
        return found

    curly = np.zeros(n, bool)
    if c.reject_curly_bracket:
        curly[_in_lines(np.flatnonzero(data == ord("{")), 1, ls, le)] = True
    # in the order C4 asks: the first that holds decides
    action = np.select([~alive | short, mentions(c.reject_lorem_ipsum, "lorem ipsum"),
                        mentions(c.drop_javascript_lines, "javascript"), curly, mentions(c.drop_policy_lines, *POLICY)],
                       [DROP, LOREM, DROP, CURLY, DROP], KEEP).astype(np.int8)

    # sentence ends: the last of a run, before white space or the end of its text
    end_at = _starts(data, SENTENCE_ENDS)
    after = end_at + 1 + (data[end_at] >= 0xC0) + (data[end_at] >= 0xE0)  # none is four bytes long
    text_end = np.zeros(len(data) + 1, bool)
    text_end[offsets[1:]] = True
    ending = end_at[_is_space(data, after) | text_end[after]]
    sentences = np.maximum(np.bincount(np.searchsorted(ls, ending, "right") - 1, minlength=n), 1)

    # lines Python reads: where a citation may go, or str.lower differs from ASCII's
    texts_of = {}
    special = [_find(haystack, KELVIN)]  # ASCII lower-casing leaves its bytes as they are
    if c.remove_citations:
        special.append(np.flatnonzero(data == ord("[")))
    for i in np.unique(np.concatenate([np.searchsorted(ls, at, "right") - 1 for at in special])).tolist():
        if alive[i]:
            action[i], texts_of[i], sentences[i] = _line(data[s[i]:e[i]].tobytes().decode(), int(words[i]), c)

    rejecting = np.flatnonzero((action == LOREM) | (action == CURLY))
    reasons: list[str | None] = [None] * docs
    if len(rejecting):
        first = rejecting[np.unique(ldoc[rejecting], return_index=True)[1]]
        for d, a in zip(ldoc[first].tolist(), action[first].tolist()):
            reasons[d] = "c4_lorem_ipsum" if a == LOREM else "c4_curly_bracket"
    kept = np.flatnonzero(action == KEEP)
    counted = np.bincount(ldoc[kept], weights=sentences[kept], minlength=docs).astype(np.int64)
    for d in np.flatnonzero(counted < c.min_sentences).tolist():
        reasons[d] = reasons[d] or "c4_too_few_sentences"
    return C4Lines(reasons, _joined(data, s, e, ldoc, kept, texts_of, docs), counted)


def _joined(data: np.ndarray, s: np.ndarray, e: np.ndarray, ldoc: np.ndarray, kept: np.ndarray,
            texts_of: dict[int, str], docs: int) -> pa.Array:
    """Per document its kept lines, joined by "\n" and stripped; `texts_of`: lines Python rewrote."""
    bounds = np.empty(2 * len(kept) + 2, np.int64)
    bounds[0], bounds[-1] = 0, len(data)
    bounds[1:-1:2], bounds[2:-1:2] = s[kept], e[kept]
    tiles = pa.LargeStringArray.from_buffers(len(bounds) - 1, pa.py_buffer(bounds), pa.py_buffer(data))
    lines = tiles.take(pa.array(np.arange(1, len(bounds) - 1, 2)))
    mask = np.isin(kept, list(texts_of))
    if mask.any():
        lines = pc.replace_with_mask(lines, pa.array(mask), pa.array([texts_of[i] for i in kept[mask].tolist()],
                                                                      pa.large_string()))
    offsets = np.zeros(docs + 1, np.int64)
    np.cumsum(np.bincount(ldoc[kept], minlength=docs), out=offsets[1:])
    joined = pc.binary_join(pa.LargeListArray.from_arrays(pa.array(offsets), lines), pa.scalar("\n", pa.large_string()))
    return pc.utf8_trim(joined, WHITESPACE)

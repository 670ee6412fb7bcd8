"""Tokens of a whole batch of UTF-8 text, found in numpy on its bytes.

A tokenizer is three classes of character - part of a word (runs of them are one token), a
separator (no token), alone (a token by itself) - asked of the engine whose tokens it must
reproduce (RE2 and Arrow's split for `stages.ngrams.words`, Python's `re` for `quality`'s word
regex) once per code point a process meets, so the tokens are exactly that engine's while the
work per byte is a few numpy passes instead of a regex, and no Python string per token.
"""
from __future__ import annotations

import functools
from typing import Callable

import numpy as np

WORD, SEPARATOR, ALONE = 0, 1, 2
_UNKNOWN = -1
# str.isspace's characters (Python 3.11): what str.split splits on and str.strip takes away
WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
              "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


class CharClasses:
    """The class of every code point, from `classify` (characters -> their classes) the first
    time a batch holds it; kept for the process. Two threads may learn the same code points at
    once: they write the same values."""

    def __init__(self, classify: Callable[[list[str]], np.ndarray]) -> None:
        self.classify = classify
        self.table = np.full(0x110000, _UNKNOWN, np.int8)
        self.learn(np.arange(128))
        # the ASCII separators and lone characters as runs [lo, hi] of byte values
        self.ascii_runs = {k: _runs(self.table[:128] == k) for k in (SEPARATOR, ALONE)}

    def learn(self, cps: np.ndarray) -> None:
        cps = cps[(cps < 0xD800) | (cps > 0xDFFF)]  # surrogates: never in valid UTF-8
        self.table[cps] = np.asarray(self.classify([chr(c) for c in cps.tolist()]), np.int8)

    def of(self, cps: np.ndarray) -> np.ndarray:
        classes = self.table[cps]
        unknown = classes == _UNKNOWN
        if unknown.any():
            self.learn(np.unique(cps[unknown]))
            classes = self.table[cps]
        return classes


@functools.cache
def python_whitespace() -> CharClasses:
    """White space (str.isspace) separates; everything else is a word: `str.split`'s words."""
    return CharClasses(lambda chars: np.array([SEPARATOR if c.isspace() else WORD for c in chars], np.int8))


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return [(int(lo), int(hi) - 1) for lo, hi in zip(edges[::2], edges[1::2])]


def _in_runs(data: np.ndarray, runs: list[tuple[int, int]]) -> np.ndarray:
    """Bytes whose value is in one of the runs: a few comparisons, cheaper than a table lookup."""
    out = np.zeros(len(data), bool)
    for lo, hi in runs:
        out |= (data - np.uint8(lo)) <= np.uint8(hi - lo)
    return out


def tokens(data: np.ndarray, offsets: np.ndarray, classes: CharClasses
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(byte position of every token's first character, each token's length in bytes, the bytes
    of the tokens end to end) of UTF-8 text whose documents start at `offsets`: a token is a run
    of word characters or one lone character; separators end tokens and belong to none."""
    begin_at, lengths, separator = _token_spans(data, offsets, classes)
    return begin_at, lengths, np.compress(~separator, data)


def token_spans(data: np.ndarray, offsets: np.ndarray, classes: CharClasses) -> tuple[np.ndarray, np.ndarray]:
    """`tokens` without the tokens' bytes (a copy of most of the batch) where only their places count."""
    return _token_spans(data, offsets, classes)[:2]


def _token_spans(data: np.ndarray, offsets: np.ndarray, classes: CharClasses
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(token starts, token lengths, which bytes are separators)."""
    if len(data) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, bool)
    offsets = np.asarray(offsets, np.int64)
    separator = _in_runs(data, classes.ascii_runs[SEPARATOR])
    alone_byte = _in_runs(data, classes.ascii_runs[ALONE])
    word = ~(separator | alone_byte)
    lead, length, kinds = _multibyte(data, classes)
    if len(lead):
        for k in range(4):  # each byte of a character takes its class
            more = length > k
            at = lead[more] + k
            separator[at] = kinds[more] == SEPARATOR
            word[at] = kinds[more] == WORD
        alone_byte[lead[kinds == ALONE]] = True
    prev_word = np.empty(len(data), bool)
    prev_word[0] = False
    prev_word[1:] = word[:-1]
    prev_word[offsets[:-1][offsets[:-1] < len(data)]] = False  # a document's first byte follows none
    begins = word & ~prev_word  # (a character's later bytes follow its first, of its class)
    begins |= alone_byte
    # a token ends where the next token or a separator begins
    bounds = np.flatnonzero(begins | separator)
    first = np.flatnonzero(begins[bounds])
    ends = np.append(bounds, len(data))[first + 1]
    begin_at = bounds[first]
    return begin_at, ends - begin_at, separator


def counts_before(mask: np.ndarray) -> np.ndarray:
    """`out[i]`: how many of `mask[:i]` are true, for i = 0..len(mask); int32 where that holds
    them, so a batch's bytes cost 4 bytes each here, not 8."""
    out = np.zeros(len(mask) + 1, np.int32 if len(mask) < 2**31 else np.int64)
    np.cumsum(mask, out=out[1:])
    return out


def starts_of(data: np.ndarray, classes: CharClasses, kind: int) -> np.ndarray:
    """Per byte of UTF-8 text, whether a character of class `kind` starts there."""
    by_byte = np.zeros(256, bool)  # a byte >= 0x80 is part of a multi-byte character: set below
    by_byte[:128] = classes.table[:128] == kind
    out = by_byte[data]
    lead, _, kinds = _multibyte(data, classes)
    out[lead] = kinds == kind
    return out


def _multibyte(data: np.ndarray, classes: CharClasses) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first byte, length in bytes, class) of every multi-byte character."""
    lead = np.flatnonzero(data >= 0xC0)
    length = 2 + (data[lead] >= 0xE0) + (data[lead] >= 0xF0)
    return lead, length, classes.of(code_points(data, lead, length)) if len(lead) else np.zeros(0, np.int8)


def code_points(data: np.ndarray, lead: np.ndarray, length: np.ndarray) -> np.ndarray:
    """The code points of the multi-byte UTF-8 characters starting at `lead` (valid UTF-8)."""
    last = len(data) - 1
    b = [data[np.minimum(lead + k, last)].astype(np.int32) for k in range(4)]
    two = ((b[0] & 0x1F) << 6) | (b[1] & 0x3F)
    three = ((b[0] & 0x0F) << 12) | ((b[1] & 0x3F) << 6) | (b[2] & 0x3F)
    four = ((b[0] & 0x07) << 18) | ((b[1] & 0x3F) << 12) | ((b[2] & 0x3F) << 6) | (b[3] & 0x3F)
    return np.where(length == 2, two, np.where(length == 3, three, four))

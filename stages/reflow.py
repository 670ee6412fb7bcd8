"""Re-flowing hard-wrapped text: one line per paragraph where a text was evidently wrapped at a
fixed width (Project Gutenberg books at ~70 columns, man pages, RFCs, e-mail).

Line-level quality rules (FineWeb's share of lines ending in punctuation, C4's per-line checks)
were written for web text, where a line is a paragraph; a book wrapped at 70 columns ends most
lines mid-sentence and fails them. Joining the wrapped lines gives those rules real lines.

A paragraph reads as prose when it has no list markers, no table gaps or bars, mostly letters,
and lines that end and begin as prose does. A document counts as wrapped when its multi-line
paragraphs have a width W (the 95th percentile of their line lengths) between 40 and 100
characters and most lines of its prose paragraphs were broken because the next word did not fit
(line + space + next word > 0.9 W). Then each prose paragraph whose every line but the last was
broken that way is joined. Code, lists, tables, poetry and short lines are left as they are.
"""
from __future__ import annotations

import re

import numpy as np

MIN_WIDTH, MAX_WIDTH = 40, 100
MIN_WRAPPED_LINES = 6       # evidence a document needs before any of it is joined
MIN_WRAPPED_SHARE = 0.7     # of the non-final lines of its multi-line paragraphs
FIT = 0.9                   # a line was broken if line + space + next word > FIT * width
MIN_PROSE_CHARS = 0.8       # letters and spaces, of a joined paragraph's characters

_LIST_ITEM = re.compile(r"^\s*(?:[-*•·▪◦–—+>]|\(?\d{1,3}[.)]|\(?[a-zA-Z][.)]|[IVXLC]+\.)\s")
_TABLE = re.compile(r"\S {3,}\S|\t|\|")
_PROSE_END = re.compile(r"[\w,;:.!?'\"’”)\]-]$")
_PROSE_START = re.compile(r"^\s*[\w'\"‘“(\[]")
_FIRST_WORD = re.compile(r"\S+")
_LETTER_OR_SPACE = re.compile(r"[^\W\d_]| ")


def _paragraphs(lines: list[str]) -> list[tuple[int, int]]:
    """(start, end) line ranges of runs of non-blank lines."""
    out, start = [], None
    for i, line in enumerate(lines):
        if line.strip():
            if start is None:
                start = i
        elif start is not None:
            out.append((start, i))
            start = None
    if start is not None:
        out.append((start, len(lines)))
    return out


def _broken(line: str, nxt: str, width: float) -> bool:
    """Whether `line` ends where a fixed-width wrapper would have broken it before `nxt`."""
    m = _FIRST_WORD.search(nxt)
    return m is not None and len(line) + 1 + len(m.group()) > FIT * width and len(line) <= width * 1.05 + 2


def _prose(lines: list[str]) -> bool:
    text = " ".join(line.strip() for line in lines)
    if any(_LIST_ITEM.match(line) or _TABLE.search(line.strip()) for line in lines):
        return False
    if any(not _PROSE_END.search(a.rstrip()) or not _PROSE_START.match(b) for a, b in zip(lines, lines[1:])):
        return False
    other = len(_LETTER_OR_SPACE.sub("", text))
    return other <= (1 - MIN_PROSE_CHARS) * len(text)


def _join(lines: list[str]) -> str:
    out = lines[0].rstrip()
    for line in lines[1:]:
        piece = line.strip()
        # a line ending in a hyphen (a split word, or Gutenberg's `--` dash) joins without a space
        out += piece if out.endswith("-") else " " + piece
    return out


def reflow(text: str) -> tuple[str, int]:
    """(`text` with its wrapped paragraphs on one line each, lines joined); unchanged when the
    text is not evidently wrapped."""
    lines = text.split("\n")
    paragraphs = [(a, b) for a, b in _paragraphs(lines) if b - a >= 2]
    if not paragraphs:
        return text, 0
    lengths = np.array([len(lines[i]) for a, b in paragraphs for i in range(a, b)])
    width = float(np.percentile(lengths, 95))
    if not MIN_WIDTH <= width <= MAX_WIDTH:
        return text, 0
    prose = [(a, b) for a, b in paragraphs if _prose(lines[a:b])]
    broken = {i: _broken(lines[i], lines[i + 1], width) for a, b in prose for i in range(a, b - 1)}
    n_broken = sum(broken.values())
    if n_broken < MIN_WRAPPED_LINES or n_broken < MIN_WRAPPED_SHARE * len(broken):
        return text, 0
    out, joined, pos = [], 0, 0
    for a, b in prose:
        block = lines[a:b]
        if all(broken[i] for i in range(a, b - 1)):
            out += lines[pos:a] + [_join(block)]
            joined += b - a - 1
            pos = b
    if not joined:
        return text, 0
    return "\n".join(out + lines[pos:]), joined
